/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "damon.h"
#include "fsroot.h"
#include "log.h"
#include "macro.h"
#include "read-full.h"
#include "util.h"

/* A marker is a few lines (damon_marker_write()). */
#define DAMON_MARKER_MAX_BYTES 1023

/* Pure parsers. */

static const char *skip_ws(const char *p) {
        while (*p && isspace((unsigned char) *p))
                p++;
        return p;
}

/* A decimal unsigned number followed only by whitespace. */
static int parse_u64_strict(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s)
                return -EINVAL;
        s = skip_ws(s);
        if (!isdigit((unsigned char) *s))
                return -EBADMSG;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -EBADMSG;
        if (*skip_ws(end) != '\0')
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int parse_uint_strict(const char *s, unsigned *ret) {
        uint64_t v;
        int r;

        r = parse_u64_strict(s, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -EBADMSG;
        *ret = (unsigned) v;
        return 0;
}

int damon_int_parse(const char *buf, int *ret) {
        long v;
        char *end;
        const char *p;

        if (!buf || !ret)
                return -EINVAL;
        p = skip_ws(buf);
        if (!isdigit((unsigned char) *p) && !(*p == '-' && isdigit((unsigned char) p[1])))
                return -EBADMSG;
        errno = 0;
        v = strtol(p, &end, 10);
        if (errno != 0 || v < INT_MIN || v > INT_MAX)
                return -EBADMSG;
        if (*skip_ws(end) != '\0')
                return -EBADMSG;
        *ret = (int) v;
        return 0;
}

int damon_region_parse(const char *start, const char *end, const char *nr_accesses, const char *age,
                       struct damon_region *ret) {
        struct damon_region r;
        int k;

        if (!start || !end || !nr_accesses || !age || !ret)
                return -EINVAL;
        k = parse_u64_strict(start, &r.start);
        if (k < 0)
                return k;
        k = parse_u64_strict(end, &r.end);
        if (k < 0)
                return k;
        k = parse_uint_strict(nr_accesses, &r.nr_accesses);
        if (k < 0)
                return k;
        k = parse_uint_strict(age, &r.age);
        if (k < 0)
                return k;
        /* DAMON never reports an empty or inverted region; one would mean we read a region directory while it
         * was being replaced, or something that is not a region at all. */
        if (r.start >= r.end)
                return -EBADMSG;
        *ret = r;
        return 0;
}

int damon_avail_operations_parse(const char *buf, unsigned *ret_mask) {
        static const struct {
                const char *name;
                unsigned bit;
        } names[] = {
                { "vaddr", DAMON_OPS_VADDR },
                { "fvaddr", DAMON_OPS_FVADDR },
                { "paddr", DAMON_OPS_PADDR },
        };
        unsigned mask = 0;
        const char *p;

        if (!buf || !ret_mask)
                return -EINVAL;

        /* One name a line; split on any whitespace so a kernel that lists them on one line works too. */
        for (p = skip_ws(buf); *p; p = skip_ws(p)) {
                size_t n = 0;

                while (p[n] && !isspace((unsigned char) p[n]))
                        n++;
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (strlen(names[i].name) == n && strncmp(p, names[i].name, n) == 0)
                                mask |= names[i].bit;
                p += n;
        }
        *ret_mask = mask;
        return 0;
}

int damon_state_parse(const char *buf, bool *ret_on) {
        const char *p;
        size_t n = 0;

        if (!buf || !ret_on)
                return -EINVAL;
        p = skip_ws(buf);
        while (p[n] && !isspace((unsigned char) p[n]))
                n++;
        if (*skip_ws(p + n) != '\0')
                return -EBADMSG;
        if (n == 2 && strncmp(p, "on", 2) == 0)
                *ret_on = true;
        else if (n == 3 && strncmp(p, "off", 3) == 0)
                *ret_on = false;
        else
                return -EBADMSG;
        return 0;
}

int damon_kernel_version_parse(const char *osrelease, unsigned *ret_major, unsigned *ret_minor) {
        unsigned long major, minor;
        char *end;
        const char *p;

        if (!osrelease || !ret_major || !ret_minor)
                return -EINVAL;
        p = skip_ws(osrelease);
        if (!isdigit((unsigned char) *p))
                return -EBADMSG;
        errno = 0;
        major = strtoul(p, &end, 10);
        if (errno != 0 || *end != '.' || !isdigit((unsigned char) end[1]) || major > UINT_MAX)
                return -EBADMSG;
        minor = strtoul(end + 1, &end, 10);
        if (errno != 0 || minor > UINT_MAX)
                return -EBADMSG;
        *ret_major = (unsigned) major;
        *ret_minor = (unsigned) minor;
        return 0;
}

int damon_marker_parse(const char *buf, struct damon_marker *ret) {
        struct damon_marker m = { .index = -1, .pid = -1 };
        bool have_index = false, have_pid = false, have_token = false;
        const char *line = buf;

        if (!buf || !ret)
                return -EINVAL;

        while (*line) {
                const char *eol = strchrnul(line, '\n');
                char l[128];
                size_t n = (size_t) (eol - line);
                char *eq, *key, *value;

                if (n >= sizeof(l))
                        return -EBADMSG;
                memcpy(l, line, n);
                l[n] = '\0';
                line = *eol ? eol + 1 : eol;

                key = (char *) skip_ws(l);
                if (*key == '\0' || *key == '#')
                        continue;
                eq = strchr(key, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = '\0';
                value = eq + 1;
                /* Trim the key's trailing blanks. */
                for (char *e = eq; e > key && isspace((unsigned char) e[-1]); e--)
                        e[-1] = '\0';

                if (streq(key, "kdamond")) {
                        if (damon_int_parse(value, &m.index) < 0 || m.index < 0)
                                return -EBADMSG;
                        have_index = true;
                } else if (streq(key, "pid")) {
                        /* -1: held off; any other value must be a real pid. */
                        if (damon_int_parse(value, &m.pid) < 0 || m.pid == 0 || m.pid < -1)
                                return -EBADMSG;
                        have_pid = true;
                } else if (streq(key, "created")) {
                        unsigned c;

                        if (parse_uint_strict(value, &c) < 0 || c > 1)
                                return -EBADMSG;
                        m.created = c;
                } else if (streq(key, "token")) {
                        unsigned long long t;
                        char *end;
                        const char *v = skip_ws(value);

                        if (!isxdigit((unsigned char) *v))
                                return -EBADMSG;
                        errno = 0;
                        t = strtoull(v, &end, 16);
                        if (errno != 0 || *skip_ws(end) != '\0')
                                return -EBADMSG;
                        m.token = t;
                        have_token = true;
                }
                /* Unknown keys: written by a newer tierd; what we need is all there. */
        }

        if (!have_index || !have_pid || !have_token)
                return -EBADMSG;
        *ret = m;
        return 0;
}

int damon_marker_format(const struct damon_marker *m, char *buf, size_t size) {
        int n;

        if (!m || !buf || m->index < 0)
                return -EINVAL;
        n = snprintf(buf, size,
                     "# tierd's DAMON kdamond: tierd turns it off when it stops, and after a crash on its next "
                     "start\n"
                     "kdamond=%d\npid=%d\ncreated=%d\ntoken=%016" PRIx64 "\n",
                     m->index, m->pid, m->created ? 1 : 0, m->token);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

const char *damon_ownership_action_to_string(enum damon_ownership_action a) {
        static const char *const names[] = {
                [DAMON_OWN_CREATE] = "create",
                [DAMON_OWN_REUSE] = "reuse",
                [DAMON_OWN_CONFIGURED] = "configured",
                [DAMON_OWN_REFUSE] = "refuse",
        };

        if ((unsigned) a >= ELEMENTSOF(names))
                return NULL;
        return names[a];
}

static void describe_kdamond(const struct damon_kdamond_status *k, char *buf, size_t size) {
        if (k->unknown)
                snprintf(buf, size, "state unreadable (busy)");
        else if (k->running)
                snprintf(buf, size, "running, pid %d", k->pid);
        else
                snprintf(buf, size, "off");
}

int damon_ownership_decide(const struct damon_ownership_input *in, struct damon_ownership *ret) {
        struct damon_ownership o = {
                .action = DAMON_OWN_REFUSE,
                .index = -1,
                .tidy_index = -1,
        };
        bool marker_ours = false;
        char desc[64];

        if (!in || !ret || in->nr_kdamonds < 0 || in->configured < -1)
                return -EINVAL;

        if (in->has_marker) {
                const struct damon_marker *m = &in->marker;
                const struct damon_kdamond_status *k = &in->marker_kdamond;

                if (m->index < in->nr_kdamonds && k->unknown) {
                        /* Neither ours nor stale as far as we can tell: do not touch it, and do not forget it. */
                        snprintf(o.reason, sizeof(o.reason),
                                 "kdamond %d (named by tierd's marker) cannot be inspected now: its state is busy; "
                                 "try again", m->index);
                        *ret = o;
                        return 0;
                }
                if (m->index < in->nr_kdamonds &&
                    ((k->running && m->pid > 0 && k->pid == m->pid) || (!k->running && m->pid == -1)))
                        marker_ours = true;
                else
                        o.marker_stale = true;
        }

        if (marker_ours && (in->configured < 0 || in->configured == in->marker.index)) {
                o.action = DAMON_OWN_REUSE;
                o.index = in->marker.index;
                o.turn_off = in->marker_kdamond.running;
                o.created = in->marker.created;
                snprintf(o.reason, sizeof(o.reason), "kdamond %d is tierd's own (marker matches, %s)", o.index,
                         in->marker_kdamond.running ? "left running by a previous tierd" : "held off");
                *ret = o;
                return 0;
        }
        if (marker_ours && in->marker_kdamond.running)
                /* The configuration moved tierd to another kdamond; the old one is still ours to stop. */
                o.tidy_index = in->marker.index;

        if (in->nr_kdamonds == 0) {
                o.action = DAMON_OWN_CREATE;
                o.index = 0;
                o.created = true;
                snprintf(o.reason, sizeof(o.reason), "no kdamond exists: tierd creates kdamond 0");
                *ret = o;
                return 0;
        }

        if (in->configured >= 0) {
                if (in->configured >= in->nr_kdamonds) {
                        snprintf(o.reason, sizeof(o.reason),
                                 "[scan] damon_kdamond = %d, but only kdamonds 0..%d exist (nr_kdamonds = %d); "
                                 "tierd never writes nr_kdamonds while kdamonds exist (it would destroy them)",
                                 in->configured, in->nr_kdamonds - 1, in->nr_kdamonds);
                        *ret = o;
                        return 0;
                }
                if (in->configured_kdamond.unknown || in->configured_kdamond.running) {
                        describe_kdamond(&in->configured_kdamond, desc, sizeof(desc));
                        snprintf(o.reason, sizeof(o.reason),
                                 "kdamond %d ([scan] damon_kdamond) is %s and is not tierd's: tierd only takes a "
                                 "kdamond that is off", in->configured, desc);
                        *ret = o;
                        return 0;
                }
                o.action = DAMON_OWN_CONFIGURED;
                o.index = in->configured;
                snprintf(o.reason, sizeof(o.reason), "kdamond %d is off and named by [scan] damon_kdamond",
                         o.index);
                *ret = o;
                return 0;
        }

        if (in->has_marker && o.marker_stale && in->marker.index < in->nr_kdamonds)
                snprintf(o.reason, sizeof(o.reason),
                         "nr_kdamonds = %d and none is known to be tierd's (the marker names kdamond %d with pid %d, "
                         "which no longer runs there, so its directory may be someone else's now); writing "
                         "nr_kdamonds would destroy them: set [scan] damon_kdamond to a kdamond tierd may use",
                         in->nr_kdamonds, in->marker.index, in->marker.pid);
        else
                snprintf(o.reason, sizeof(o.reason),
                         "nr_kdamonds = %d: kdamonds of someone else exist and writing nr_kdamonds would destroy "
                         "them; [scan] damon_kdamond is not set", in->nr_kdamonds);
        *ret = o;
        return 0;
}

void damon_attrs_for_pass(uint64_t pass_interval_us, uint64_t sample_us, unsigned min_nr_regions,
                          unsigned max_nr_regions, struct damon_attrs *ret) {
        uint64_t aggr;

        if (sample_us == 0)
                sample_us = 1;
        aggr = pass_interval_us + DAMON_AGGR_MARGIN_US + 2 * sample_us;

        *ret = (struct damon_attrs) {
                .sample_us = sample_us,
                .aggr_us = aggr,
                .update_us = MIN(aggr, DAMON_UPDATE_MAX_US),
                /* The kernel rejects fewer than 3 and min > max at "on"/commit; config.c validates both, this
                 * only keeps a bad caller from turning into a kdamond that will not start. */
                .min_nr_regions = MAX(min_nr_regions, 3U),
                .max_nr_regions = MAX(max_nr_regions, MAX(min_nr_regions, 3U)),
        };
}

bool damon_attrs_equal(const struct damon_attrs *a, const struct damon_attrs *b) {
        return a->sample_us == b->sample_us && a->aggr_us == b->aggr_us && a->update_us == b->update_us &&
               a->min_nr_regions == b->min_nr_regions && a->max_nr_regions == b->max_nr_regions;
}

static int pid_cmp(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

static bool pid_in_sorted(const pid_t *sorted, size_t n, pid_t pid) {
        return n > 0 && bsearch(&pid, sorted, n, sizeof(pid_t), pid_cmp);
}

int damon_slots_assign(const pid_t *cur, size_t n_cur, const pid_t *want, size_t n_want, pid_t *ret) {
        _cleanup_free_ pid_t *want_sorted = NULL, *cur_sorted = NULL, *slots = NULL;
        size_t n_slots, next_new = 0;

        if ((n_cur > 0 && !cur) || (n_want > 0 && (!want || !ret)))
                return -EINVAL;
        if (n_want == 0)
                return 0;

        want_sorted = malloc(n_want * sizeof(pid_t));
        cur_sorted = malloc((n_cur + 1) * sizeof(pid_t));
        slots = malloc((MAX(n_cur, n_want) + 1) * sizeof(pid_t));
        if (!want_sorted || !cur_sorted || !slots)
                return -ENOMEM;
        memcpy(want_sorted, want, n_want * sizeof(pid_t));
        qsort(want_sorted, n_want, sizeof(pid_t), pid_cmp);
        for (size_t i = 1; i < n_want; i++)
                if (want_sorted[i] == want_sorted[i - 1] || want_sorted[i] <= 0)
                        return -EINVAL;
        if (want_sorted[0] <= 0)
                return -EINVAL;
        if (n_cur > 0)
                memcpy(cur_sorted, cur, n_cur * sizeof(pid_t));
        qsort(cur_sorted, n_cur, sizeof(pid_t), pid_cmp);

        /* Survivors keep their index; 0 marks a hole. */
        n_slots = n_cur;
        for (size_t i = 0; i < n_cur; i++)
                slots[i] = pid_in_sorted(want_sorted, n_want, cur[i]) ? cur[i] : 0;

        /* New pids, in the caller's order: holes first, then appended. */
        for (size_t i = 0; i < n_slots; i++) {
                if (slots[i] != 0)
                        continue;
                while (next_new < n_want && pid_in_sorted(cur_sorted, n_cur, want[next_new]))
                        next_new++;
                if (next_new == n_want)
                        break;
                slots[i] = want[next_new++];
        }
        for (; next_new < n_want; next_new++)
                if (!pid_in_sorted(cur_sorted, n_cur, want[next_new]))
                        slots[n_slots++] = want[next_new];

        /* Holes left over (more gone than new): move the last slots down into them. */
        for (size_t i = 0; i < n_slots; i++) {
                if (slots[i] != 0)
                        continue;
                while (n_slots > i + 1 && slots[n_slots - 1] == 0)
                        n_slots--;
                if (n_slots <= i + 1) {
                        n_slots = i;
                        break;
                }
                slots[i] = slots[--n_slots];
        }

        if (n_slots != n_want) /* cannot happen with distinct pids; never hand out a wrong table */
                return -EINVAL;
        memcpy(ret, slots, n_want * sizeof(pid_t));
        return 0;
}

/* I/O. */

static damon_write_func_t write_func;
static void *write_userdata;

void damon_set_write_func(damon_write_func_t f, void *userdata) {
        write_func = f;
        write_userdata = userdata;
}

int damon_write(const char *path, const char *value) {
        if (write_func)
                return write_func(path, value, write_userdata);
        return fsroot_write_string(path, value);
}

/* Back-off for EBUSY: damon_sysfs_lock is taken with mutex_trylock() by every state/nr_* store and show, so a
 * concurrent writer makes us fail rather than wait. A few short sleeps ride out another writer; a kdamond in the
 * middle of a tried-regions update holds the lock much longer, and then the caller gives up for now rather than
 * block the event loop. */
static const unsigned backoff_ms[] = { 1, 2, 4, 8 };

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The file (and value written) whose last access on the event loop ended in EBUSY after the back-off. The
 * back-off is for a writer passing by; a lock that stays taken (an exclusive DAMON module, another tool's kdamond)
 * would cost the event loop 15 ms of sleep each round for nothing, so while the same file stays EBUSY from call
 * to call each call tries once, and the next round retries. */
static char busy_key[PATH_MAX + 64];

/* Whether to try again after result r of try i. on_loop: the event loop's calls keep busy_key; the state command
 * thread's (off_loop) always take the whole back-off and leave busy_key alone. The key is the path, and for a
 * write what is written ("state" stays readable while "on" is refused). */
static bool backoff_next(const char *path, const char *value, int r, size_t i, bool on_loop) {
        char key[sizeof(busy_key)];
        bool was_busy;

        if (!on_loop || (r != -EBUSY && busy_key[0] == '\0')) {
                if (r != -EBUSY || i >= ELEMENTSOF(backoff_ms))
                        return false;
                sleep_ms(backoff_ms[i]);
                return true;
        }
        snprintf(key, sizeof(key), "%s%s%s", path, value ? "=" : "", value ?: "");
        was_busy = streq(busy_key, key);
        if (r != -EBUSY) {
                if (was_busy)
                        busy_key[0] = '\0';
                return false;
        }
        if (was_busy || i >= ELEMENTSOF(backoff_ms)) {
                snprintf(busy_key, sizeof(busy_key), "%s", key);
                return false;
        }
        sleep_ms(backoff_ms[i]);
        return true;
}

static int write_retry(const char *path, const char *value, bool on_loop) {
        for (size_t i = 0;; i++) {
                int r = damon_write(path, value);

                if (!backoff_next(path, value, r, i, on_loop))
                        return r;
        }
}

int damon_write_retry(const char *path, const char *value) {
        return write_retry(path, value, /* on_loop= */ true);
}

struct damon_state_cmd {
        pthread_t thread;
        bool joined;
        char *path, *cmd;
        int result;
        atomic_bool done; /* result is set */
};

static void *state_cmd_thread(void *userdata) {
        struct damon_state_cmd *c = userdata;

        c->result = write_retry(c->path, c->cmd, /* on_loop= */ false);
        atomic_store_explicit(&c->done, true, memory_order_release);
        return NULL;
}

int damon_state_cmd_start(const char *path, const char *cmd, struct damon_state_cmd **ret) {
        struct damon_state_cmd *c;
        sigset_t all, saved;
        int r;

        if (!path || !cmd || !ret)
                return -EINVAL;
        c = calloc(1, sizeof(struct damon_state_cmd));
        if (!c)
                return -ENOMEM;
        c->path = strdup(path);
        c->cmd = strdup(cmd);
        if (!c->path || !c->cmd) {
                c->joined = true;
                (void) damon_state_cmd_free(c);
                return -ENOMEM;
        }
        atomic_init(&c->done, false);
        /* The daemon takes its signals through signalfd: the thread must not be the one they land on. */
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &saved);
        r = pthread_create(&c->thread, NULL, state_cmd_thread, c);
        (void) pthread_sigmask(SIG_SETMASK, &saved, NULL);
        if (r != 0) {
                c->joined = true;
                (void) damon_state_cmd_free(c);
                return -r;
        }
        *ret = c;
        return 0;
}

int damon_state_cmd_poll(const struct damon_state_cmd *c) {
        if (!c)
                return -EINVAL;
        if (!atomic_load_explicit(&c->done, memory_order_acquire))
                return 1;
        return c->result;
}

int damon_state_cmd_wait(struct damon_state_cmd *c) {
        if (!c)
                return -EINVAL;
        if (!c->joined) {
                (void) pthread_join(c->thread, NULL);
                c->joined = true;
        }
        return c->result;
}

struct damon_state_cmd *damon_state_cmd_free(struct damon_state_cmd *c) {
        if (!c)
                return NULL;
        (void) damon_state_cmd_wait(c);
        free(c->path);
        free(c->cmd);
        return mfree(c);
}

int damon_write_u64_retry(const char *path, uint64_t value) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, value);
        return damon_write_retry(path, buf);
}

int damon_read_line_retry(const char *path, char **ret) {
        for (size_t i = 0;; i++) {
                int r = fsroot_read_line(path, ret);

                if (!backoff_next(path, NULL, r, i, /* on_loop= */ true))
                        return r;
        }
}

int damon_kdamond_path(int index, const char *suffix, char *buf, size_t size) {
        int n;

        if (index < 0)
                return -EINVAL;
        n = snprintf(buf, size, DAMON_ADMIN_PATH "/kdamonds/%d%s%s", index, suffix && *suffix ? "/" : "",
                     suffix ?: "");
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int damon_read_nr_kdamonds(int *ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = damon_read_line_retry(DAMON_NR_KDAMONDS_PATH, &s);
        if (r < 0)
                return r;
        r = damon_int_parse(s, ret);
        if (r < 0 || *ret < 0)
                return -EBADMSG;
        return 0;
}

int damon_read_kdamond(int index, struct damon_kdamond_status *ret) {
        _cleanup_free_ char *state = NULL, *pid = NULL;
        char path[PATH_MAX];
        struct damon_kdamond_status k = { .pid = -1 };
        int r;

        r = damon_kdamond_path(index, "state", path, sizeof(path));
        if (r < 0)
                return r;
        r = damon_read_line_retry(path, &state);
        if (r == -EBUSY) {
                k.unknown = true;
                *ret = k;
                return 0;
        }
        if (r < 0)
                return r;
        r = damon_state_parse(state, &k.running);
        if (r < 0)
                return r;

        r = damon_kdamond_path(index, "pid", path, sizeof(path));
        if (r < 0)
                return r;
        r = damon_read_line_retry(path, &pid);
        if (r == -EBUSY) {
                /* A running kdamond whose pid we cannot see cannot be matched against a marker. */
                k.unknown = true;
                *ret = k;
                return 0;
        }
        if (r < 0)
                return r;
        r = damon_int_parse(pid, &k.pid);
        if (r < 0)
                return r;
        /* state and pid are two reads: the kdamond may stop between them (it does when its targets exit). */
        if (k.pid <= 0)
                k.running = false;
        if (!k.running)
                k.pid = -1;
        *ret = k;
        return 0;
}

static int marker_path(const char *runtime_dir, const char *suffix, char *buf, size_t size) {
        int n;

        if (!runtime_dir || !*runtime_dir)
                return -EINVAL;
        n = snprintf(buf, size, "%s/" DAMON_MARKER_NAME "%s", runtime_dir, suffix);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int damon_marker_read(const char *runtime_dir, struct damon_marker *ret) {
        _cleanup_free_ char *buf = NULL;
        char path[PATH_MAX];
        int r;

        r = marker_path(runtime_dir, "", path, sizeof(path));
        if (r < 0)
                return r;
        r = read_full_file(path, DAMON_MARKER_MAX_BYTES, &buf, NULL);
        if (r == -EFBIG)
                return -EBADMSG; /* far larger than any marker we write */
        if (r < 0)
                return r;
        return damon_marker_parse(buf, ret);
}

int damon_marker_write(const char *runtime_dir, const struct damon_marker *m) {
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX], tmp[PATH_MAX], buf[512];
        ssize_t n;
        int r, len;

        r = marker_path(runtime_dir, "", path, sizeof(path));
        if (r < 0)
                return r;
        r = marker_path(runtime_dir, ".tmp", tmp, sizeof(tmp));
        if (r < 0)
                return r;
        len = damon_marker_format(m, buf, sizeof(buf));
        if (len < 0)
                return len;

        /* The runtime directory is normally systemd's RuntimeDirectory=; create it for other setups. */
        if (mkdir(runtime_dir, 0755) < 0 && errno != EEXIST)
                return negative_errno();

        /* Write then rename: after a crash the marker is either the old one or the new one, never half. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return negative_errno();
        n = write(fd, buf, (size_t) len);
        if (n < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        if (n != len) {
                (void) unlink(tmp);
                return -EIO;
        }
        if (close(TAKE_FD(fd)) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        if (rename(tmp, path) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

int damon_marker_remove(const char *runtime_dir) {
        char path[PATH_MAX];
        int r;

        r = marker_path(runtime_dir, "", path, sizeof(path));
        if (r < 0)
                return r;
        if (unlink(path) < 0)
                return negative_errno();
        return 0;
}

int damon_ownership_gather(const char *runtime_dir, int configured, struct damon_ownership_input *ret) {
        struct damon_ownership_input in = {
                .configured = configured,
                .configured_kdamond = { .pid = -1 },
                .marker_kdamond = { .pid = -1 },
        };
        int r;

        r = damon_read_nr_kdamonds(&in.nr_kdamonds);
        if (r < 0)
                return r;

        if (runtime_dir) {
                r = damon_marker_read(runtime_dir, &in.marker);
                if (r >= 0)
                        in.has_marker = true;
                else if (r != -ENOENT)
                        log_warning_errno(r, "Cannot read the DAMON marker %s/" DAMON_MARKER_NAME ": %m; treating "
                                          "no kdamond as tierd's", runtime_dir);
        }

        if (in.has_marker && in.marker.index < in.nr_kdamonds) {
                r = damon_read_kdamond(in.marker.index, &in.marker_kdamond);
                if (r == -ENOENT)
                        /* nr_kdamonds changed between the reads: someone is at work there, try again later. */
                        in.marker_kdamond.unknown = true;
                else if (r < 0)
                        return r;
        }
        if (configured >= 0 && configured < in.nr_kdamonds) {
                r = damon_read_kdamond(configured, &in.configured_kdamond);
                if (r == -ENOENT)
                        /* nr_kdamonds changed between the reads: treat as busy, someone is at work there. */
                        in.configured_kdamond.unknown = true;
                else if (r < 0)
                        return r;
        }

        *ret = in;
        return 0;
}

void damon_exclusive_modules_enabled(char *buf, size_t size) {
        static const char *const modules[] = { "damon_reclaim", "damon_lru_sort", "damon_stat" };
        size_t used = 0;

        if (size == 0)
                return;
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(modules); i++) {
                _cleanup_free_ char *v = NULL;
                char path[128];
                int n;

                snprintf(path, sizeof(path), "/sys/module/%s/parameters/enabled", modules[i]);
                if (fsroot_read_line(path, &v) < 0)
                        continue; /* not loaded, or built without it */
                const char *s = strstrip(v);
                if (!streq(s, "Y") && !streq(s, "1"))
                        continue;
                n = snprintf(buf + used, size - used, "%s%s", used > 0 ? ", " : "", modules[i]);
                if (n < 0 || (size_t) n >= size - used)
                        break;
                used += (size_t) n;
        }
}
