/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <fnmatch.h>
#include <malloc.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* strtoull accepts leading whitespace and a minus sign; configuration values must not. */
static int parse_u64_prefix(const char *s, uint64_t *ret, const char **ret_end) {
        char *end;
        unsigned long long v;

        if (!isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        *ret = v;
        *ret_end = end;
        return 0;
}

int parse_u64_field(const char *s, uint64_t *ret) {
        const char *end;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        r = parse_u64_prefix(s, &v, &end);
        if (r < 0)
                return r;
        if (*end != ' ' && *end != '\n' && *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static bool mul_overflows(uint64_t a, uint64_t b, uint64_t *ret) {
        return __builtin_mul_overflow(a, b, ret);
}

struct unit_suffix {
        const char *suffix;
        uint64_t factor;
};

/* A whole number followed by exactly one of the table's suffixes, scaled without overflow. */
static int parse_scaled(const char *s, const struct unit_suffix *table, size_t n_table, uint64_t *ret) {
        const char *end;
        uint64_t v, out;
        int r;

        r = parse_u64_prefix(s, &v, &end);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_table; i++)
                if (streq(end, table[i].suffix)) {
                        if (mul_overflows(v, table[i].factor, &out))
                                return -ERANGE;
                        *ret = out;
                        return 0;
                }
        return -EINVAL;
}

uint64_t now_monotonic_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

int parse_size(const char *s, uint64_t *ret_bytes) {
        static const struct unit_suffix table[] = {
                { "", 1 },
                { "B", 1 },
                { "K", UINT64_C(1) << 10 },
                { "KB", UINT64_C(1) << 10 },
                { "KiB", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 },
                { "MB", UINT64_C(1) << 20 },
                { "MiB", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 },
                { "GB", UINT64_C(1) << 30 },
                { "GiB", UINT64_C(1) << 30 },
                { "T", UINT64_C(1) << 40 },
                { "TB", UINT64_C(1) << 40 },
                { "TiB", UINT64_C(1) << 40 },
        };

        return parse_scaled(s, table, ELEMENTSOF(table), ret_bytes);
}

int parse_duration(const char *s, uint64_t *ret_us) {
        static const struct unit_suffix table[] = {
                { "", USEC_PER_SEC },
                { "us", 1 },
                { "ms", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "m", 60 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
        };

        return parse_scaled(s, table, ELEMENTSOF(table), ret_us);
}

int parse_percent(const char *s, unsigned *ret_basis_points) {
        const char *end;
        uint64_t whole, frac = 0;
        int r;

        r = parse_u64_prefix(s, &whole, &end);
        if (r < 0)
                return r;
        if (*end == '.') {
                const char *f = end + 1;

                if (!isdigit((unsigned char) f[0]))
                        return -EINVAL;
                frac = (uint64_t) (f[0] - '0') * 10;
                f++;
                if (isdigit((unsigned char) f[0])) {
                        frac += (uint64_t) (f[0] - '0');
                        f++;
                }
                if (isdigit((unsigned char) f[0]))
                        return -EINVAL; /* more precision than basis points would be silently dropped */
                end = f;
        }
        if (!streq(end, "%"))
                return -EINVAL;
        if (whole > 100 || (whole == 100 && frac > 0))
                return -ERANGE;
        *ret_basis_points = (unsigned) (whole * 100 + frac);
        return 0;
}

int parse_size_or_percent(const char *s, struct size_or_percent *ret) {
        size_t len = strlen(s);
        int r;

        if (len > 0 && s[len - 1] == '%') {
                unsigned bp;

                r = parse_percent(s, &bp);
                if (r < 0)
                        return r;
                *ret = (struct size_or_percent) { .is_percent = true, .basis_points = bp };
                return 0;
        }

        uint64_t bytes;
        r = parse_size(s, &bytes);
        if (r < 0)
                return r;
        *ret = (struct size_or_percent) { .bytes = bytes };
        return 0;
}

uint64_t size_or_percent_resolve(const struct size_or_percent *v, uint64_t total_bytes) {
        if (!v->is_percent)
                return v->bytes;
        /* Split to avoid overflow on multi-terabyte totals. */
        return total_bytes / 10000 * v->basis_points + total_bytes % 10000 * v->basis_points / 10000;
}

int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int parse_uint(const char *s, unsigned *ret) {
        const char *end;
        uint64_t v;
        int r;

        r = parse_u64_prefix(s, &v, &end);
        if (r < 0)
                return r;
        if (*end != '\0')
                return -EINVAL;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int parse_pid(const char *s, int *ret) {
        unsigned v;
        int r;

        r = parse_uint(s, &v);
        if (r < 0)
                return r;
        if (v == 0 || v > INT_MAX)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

const char *format_bytes(char *buf, size_t size, uint64_t bytes) {
        static const char suffixes[] = "KMGTPE";
        double v = (double) bytes;
        int i = -1;

        if (bytes < 1024) {
                snprintf(buf, size, "%" PRIu64 "B", bytes);
                return buf;
        }
        while (v >= 1024.0 && i < (int) sizeof(suffixes) - 2) {
                v /= 1024.0;
                i++;
        }
        snprintf(buf, size, "%.1f%c", v, suffixes[i]);
        return buf;
}

const char *format_duration(char *buf, size_t size, uint64_t us) {
        if (us < USEC_PER_MSEC)
                snprintf(buf, size, "%" PRIu64 "us", us);
        else if (us < USEC_PER_SEC)
                snprintf(buf, size, "%.1fms", (double) us / USEC_PER_MSEC);
        else if (us < 60 * USEC_PER_SEC)
                snprintf(buf, size, "%.3fs", (double) us / USEC_PER_SEC);
        else {
                uint64_t s = us / USEC_PER_SEC;
                if (s < 3600)
                        snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
                else if (s < 86400)
                        snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "min", s / 3600, s % 3600 / 60);
                else
                        snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h", s / 86400, s % 86400 / 3600);
        }
        return buf;
}

int parse_range_list(const char *s, int (*cb)(unsigned lo, unsigned hi, void *userdata), void *userdata) {
        const char *p = s;

        while (*p && !isspace((unsigned char) *p)) {
                uint64_t lo, hi;
                const char *end;
                int r;

                r = parse_u64_prefix(p, &lo, &end);
                if (r < 0)
                        return -EINVAL;
                hi = lo;
                p = end;
                if (*p == '-') {
                        r = parse_u64_prefix(p + 1, &hi, &end);
                        if (r < 0)
                                return -EINVAL;
                        p = end;
                }
                if (lo > hi || hi > INT_MAX)
                        return -ERANGE;
                r = cb((unsigned) lo, (unsigned) hi, userdata);
                if (r < 0)
                        return r;
                if (*p == ',')
                        p++;
                else if (*p && !isspace((unsigned char) *p))
                        return -EINVAL;
        }
        while (isspace((unsigned char) *p))
                p++;
        return *p ? -EINVAL : 0;
}

static int count_cb(unsigned lo, unsigned hi, void *userdata) {
        *(unsigned *) userdata += hi - lo + 1;
        return 0;
}

int range_list_count(const char *s, unsigned *ret) {
        unsigned n = 0;
        int r;

        r = parse_range_list(s, count_cb, &n);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}

static int node_set_cb(unsigned lo, unsigned hi, void *userdata) {
        struct node_set *set = userdata;

        if (hi >= NODE_SET_MAX)
                return -ERANGE;
        for (unsigned n = lo; n <= hi; n++)
                node_set_add(set, n);
        return 0;
}

int node_set_parse(const char *s, struct node_set *ret) {
        struct node_set set = {};
        int r;

        r = parse_range_list(s, node_set_cb, &set);
        if (r < 0)
                return r;
        *ret = set;
        return 0;
}

int node_set_next(const struct node_set *set, int from) {
        for (int n = MAX(from, 0); n < NODE_SET_MAX; n++) {
                uint64_t word = set->bits[n / 64] >> (n % 64);

                if (word == 0) {
                        n = (n / 64 + 1) * 64 - 1; /* skip the rest of an empty word */
                        continue;
                }
                n += __builtin_ctzll(word);
                return n;
        }
        return -1;
}

unsigned node_set_count(const struct node_set *set) {
        unsigned n = 0;

        for (size_t i = 0; i < ELEMENTSOF(set->bits); i++)
                n += (unsigned) __builtin_popcountll(set->bits[i]);
        return n;
}

bool node_set_is_empty(const struct node_set *set) {
        return node_set_count(set) == 0;
}

bool node_set_intersects(const struct node_set *a, const struct node_set *b) {
        for (size_t i = 0; i < ELEMENTSOF(a->bits); i++)
                if (a->bits[i] & b->bits[i])
                        return true;
        return false;
}

char *node_set_format(const struct node_set *set) {
        /* Worst case "0,2,4,...": 1024 entries of up to 5 characters. */
        char *buf = malloc(NODE_SET_MAX * 6 + 1);
        size_t pos = 0;

        if (!buf)
                return NULL;
        buf[0] = '\0';

        for (int n = node_set_next(set, 0); n >= 0;) {
                int end = n;

                while (end + 1 < NODE_SET_MAX && node_set_test(set, (unsigned) end + 1))
                        end++;
                if (end == n)
                        pos += (size_t) sprintf(buf + pos, "%s%d", pos ? "," : "", n);
                else
                        pos += (size_t) sprintf(buf + pos, "%s%d-%d", pos ? "," : "", n, end);
                n = node_set_next(set, end + 1);
        }
        return buf;
}

void strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

int strv_push(char ***l, const char *value) {
        size_t n = strv_length(*l);
        char **nl, *copy;

        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(copy);
                return -ENOMEM;
        }
        nl[n] = copy;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

char **strv_copy(char *const *l) {
        char **c = calloc(strv_length(l) + 1, sizeof(char *));

        if (!c)
                return NULL;
        for (size_t i = 0; l && l[i]; i++) {
                c[i] = strdup(l[i]);
                if (!c[i]) {
                        strv_free(c);
                        return NULL;
                }
        }
        return c;
}

int strv_split_ws(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        const char *p = s;

        if (!l)
                return -ENOMEM;
        for (;;) {
                size_t len;
                char *word;
                int r;

                p += strspn(p, " \t\n");
                if (!*p)
                        break;
                len = strcspn(p, " \t\n");
                word = strndup(p, len);
                if (!word)
                        return -ENOMEM;
                r = strv_push(&l, word);
                free(word);
                if (r < 0)
                        return r;
                p += len;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

bool strv_fnmatch(char *const *globs, const char *s) {
        STRV_FOREACH(g, globs)
                if (fnmatch(*g, s, 0) == 0)
                        return true;
        return false;
}

char *strstrip(char *s) {
        size_t len;

        s += strspn(s, " \t\n\r");
        len = strlen(s);
        while (len > 0 && strchr(" \t\n\r", s[len - 1]))
                s[--len] = '\0';
        return s;
}

bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

void memory_return_freed(void) {
        /* A round allocates and frees arrays of megabytes (the plan, candidate sets, the move table as it grows).
         * glibc raises its mmap threshold to the size of each such array freed, after which the next ones come from
         * the heap, where memory freed between live blocks stays in the process: at 1 TiB tracked that held 16 to
         * 35 MiB more than the live data. A fixed threshold (which also fixes the trim threshold) keeps them mapped. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        (void) mallopt(M_TRIM_THRESHOLD, 128 * 1024);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        if (!path || path[0] == '\0')
                return -EINVAL;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* Each prefix that ends before a '/', then the whole path. */
        for (char *s = p + 1;; s++) {
                bool end = *s == '\0';

                if (*s != '/' && !end)
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0) {
                        if (errno != EEXIST)
                                return negative_errno();
                        if (stat(p, &st) < 0)
                                return negative_errno();
                        if (!S_ISDIR(st.st_mode))
                                return -ENOTDIR;
                }
                if (end)
                        return 0;
                *s = '/';
        }
}
