/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "tierbench-stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static const char *const kind_names[_TB_KIND_MAX] = {
        [TB_UNIFORM] = "uniform",
        [TB_HOTSET] = "hotset",
        [TB_MOVE] = "move",
        [TB_ZIGZAG] = "zigzag",
        [TB_ZIPF] = "zipf",
};

int tb_kind_from_string(const char *s, enum tb_kind *ret) {
        for (size_t i = 0; i < ELEMENTSOF(kind_names); i++)
                if (streq(s, kind_names[i])) {
                        *ret = (enum tb_kind) i;
                        return 0;
                }
        return -EINVAL;
}

const char *tb_kind_to_string(enum tb_kind k) {
        return k < _TB_KIND_MAX ? kind_names[k] : NULL;
}

static void hotset_set(struct tb_hotset *h, uint64_t s0, uint64_t l0, uint64_t s1, uint64_t l1) {
        *h = (struct tb_hotset) {};
        h->ranges[h->n_ranges++] = (struct tb_range) { s0, l0 };
        if (l1 > 0)
                h->ranges[h->n_ranges++] = (struct tb_range) { s1, l1 };
        h->pages = l0 + l1;
}

int tb_pattern_init(struct tb_pattern *p, enum tb_kind kind, uint64_t n_pages, uint64_t hot_pages,
                    double hot_frac, double zipf_s) {
        uint64_t n = n_pages, h = hot_pages;

        if (n == 0 || n > UINT32_MAX || !(hot_frac >= 0.0 && hot_frac <= 1.0))
                return -EINVAL;
        *p = (struct tb_pattern) {
                .kind = kind,
                .n_pages = n,
                .hot_pages = h,
                .hot_frac = hot_frac,
                .zipf_s = zipf_s,
                .n_phases = 1,
        };

        switch (kind) {
        case TB_UNIFORM:
                break;
        case TB_ZIPF:
                if (!(zipf_s >= 0.0))
                        return -EINVAL;
                break;
        case TB_HOTSET:
                if (h == 0 || h > n)
                        return -EINVAL;
                hotset_set(&p->phases[0], n - h, h, 0, 0);
                break;
        case TB_ZIGZAG:
                if (h == 0 || 2 * h > n)
                        return -EINVAL;
                p->n_phases = 2;
                hotset_set(&p->phases[0], n - h, h, 0, 0);
                hotset_set(&p->phases[1], n - 2 * h, h, 0, 0);
                break;
        case TB_MOVE: {
                uint64_t q = h / 4;

                if (h < 4 || 2 * h + q > n)
                        return -EINVAL;
                p->n_phases = 3;
                hotset_set(&p->phases[0], n - h, h, 0, 0);
                hotset_set(&p->phases[1], n - 2 * h, h, 0, 0);
                /* The first quarter of the moved set moves again, to pages never hot before. */
                hotset_set(&p->phases[2], n - 2 * h - q, q, n - 2 * h + q, h - q);
                break;
        }
        default:
                return -EINVAL;
        }
        return 0;
}

uint64_t tb_hotset_page(const struct tb_hotset *h, uint64_t r) {
        for (unsigned i = 0; i < h->n_ranges; i++) {
                if (r < h->ranges[i].len)
                        return h->ranges[i].start + r;
                r -= h->ranges[i].len;
        }
        /* r out of range: callers draw r below h->pages; stay inside the buffer anyway */
        return h->ranges[0].start;
}

int tb_pattern_probs(const struct tb_pattern *p, unsigned phase, const uint32_t *perm, double *probs) {
        uint64_t n = p->n_pages;

        if (phase >= p->n_phases)
                return -EINVAL;

        switch (p->kind) {
        case TB_UNIFORM:
                for (uint64_t i = 0; i < n; i++)
                        probs[i] = 1.0 / (double) n;
                return 0;
        case TB_ZIPF: {
                double sum = 0.0;

                if (!perm)
                        return -EINVAL;
                for (uint64_t r = 0; r < n; r++)
                        sum += pow((double) (r + 1), -p->zipf_s);
                for (uint64_t r = 0; r < n; r++)
                        probs[perm[r]] = pow((double) (r + 1), -p->zipf_s) / sum;
                return 0;
        }
        case TB_HOTSET:
        case TB_MOVE:
        case TB_ZIGZAG: {
                const struct tb_hotset *h = &p->phases[phase];
                double base = (1.0 - p->hot_frac) / (double) n;
                double hot = base + p->hot_frac / (double) h->pages;

                for (uint64_t i = 0; i < n; i++)
                        probs[i] = base;
                for (unsigned k = 0; k < h->n_ranges; k++)
                        for (uint64_t i = 0; i < h->ranges[k].len; i++)
                                probs[h->ranges[k].start + i] = hot;
                return 0;
        }
        default:
                return -EINVAL;
        }
}

int tb_zipf_cdf(size_t n, double s, double *cdf) {
        double sum = 0.0, acc = 0.0;

        if (n == 0 || !(s >= 0.0))
                return -EINVAL;
        for (size_t r = 0; r < n; r++)
                sum += pow((double) (r + 1), -s);
        for (size_t r = 0; r < n; r++) {
                acc += pow((double) (r + 1), -s);
                cdf[r] = acc / sum;
        }
        /* rounding must never leave a u in [0, 1) without a rank */
        cdf[n - 1] = 1.0;
        return 0;
}

size_t tb_zipf_pick(const double *cdf, size_t n, double u) {
        size_t lo = 0, hi = n - 1;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cdf[mid] > u)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo;
}

uint64_t tb_splitmix64(uint64_t *state) {
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

void tb_permutation(uint32_t *perm, size_t n, uint64_t seed) {
        for (size_t i = 0; i < n; i++)
                perm[i] = (uint32_t) i;
        for (size_t i = n; i > 1; i--) {
                size_t j = (size_t) (tb_splitmix64(&seed) % i);
                uint32_t t = perm[i - 1];
                perm[i - 1] = perm[j];
                perm[j] = t;
        }
}

static int cmp_double_desc(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? 1 : x > y ? -1 : 0;
}

int tb_oracle_compute(const double *probs, size_t n, uint64_t cap, struct tb_oracle *ret) {
        _cleanup_free_ double *sorted = NULL;
        struct tb_oracle o = {};

        if (n == 0)
                return -EINVAL;
        o.cap = MIN(cap, (uint64_t) n);
        if (o.cap == 0) {
                *ret = o;
                return 0;
        }

        sorted = malloc(n * sizeof(double));
        if (!sorted)
                return -ENOMEM;
        memcpy(sorted, probs, n * sizeof(double));
        qsort(sorted, n, sizeof(double), cmp_double_desc);

        for (uint64_t i = 0; i < o.cap; i++)
                o.f_star += sorted[i];
        o.threshold = sorted[o.cap - 1];
        for (size_t i = 0; i < n; i++) {
                if (probs[i] > o.threshold)
                        o.n_above++;
                else if (probs[i] == o.threshold)
                        o.n_tie++;
        }
        *ret = o;
        return 0;
}

int tb_eval_sample(const double *probs, size_t n, const struct tb_oracle *o, const int *node, int fast_node,
                   struct tb_eval *ret) {
        struct tb_eval e = {};
        uint64_t above = 0, tie = 0;

        if (n == 0 || o->n_above > o->cap)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (node[i] < 0) {
                        e.absent_pages++;
                        continue;
                }
                if (node[i] != fast_node) {
                        e.slow_pages++;
                        continue;
                }
                e.fast_pages++;
                e.f += probs[i];
                if (o->cap == 0)
                        continue;
                if (probs[i] > o->threshold)
                        above++;
                else if (probs[i] == o->threshold)
                        tie++;
        }
        e.hits = above + MIN(tie, o->cap - o->n_above);
        e.q = o->f_star > 0.0 ? e.f / o->f_star : 0.0;
        e.precision = e.fast_pages > 0 ? (double) e.hits / (double) e.fast_pages : 0.0;
        e.recall = o->cap > 0 ? (double) e.hits / (double) o->cap : 1.0;
        *ret = e;
        return 0;
}

int tb_t90(const double *t, const double *f, size_t n, double t_event, double t_end, double f_star, double frac,
           unsigned hold, double *ret) {
        size_t i0;
        double goal;

        if (hold == 0 || !(frac >= 0.0 && frac <= 1.0) || !(t_end > t_event))
                return -EINVAL;
        for (i0 = 0; i0 < n && t[i0] < t_event; i0++)
                ;
        if (i0 >= n || t[i0] >= t_end)
                return -ENOENT;

        goal = f[i0] + frac * (f_star - f[i0]);
        for (size_t k = i0; k < n && t[k] < t_end; k++) {
                unsigned ok = 0;

                for (size_t j = k; j < n && j < k + hold && t[j] < t_end && f[j] >= goal; j++)
                        ok++;
                if (ok == hold) {
                        *ret = t[k] - t_event;
                        return 0;
                }
        }
        return -ENOENT;
}

double tb_mean_last_third(const double *v, size_t n) {
        size_t first, cnt;
        double sum = 0.0;

        if (n == 0)
                return NAN;
        cnt = MAX(n / 3, (size_t) 1);
        first = n - cnt;
        for (size_t i = first; i < n; i++)
                sum += v[i];
        return sum / (double) cnt;
}

void tb_pingpong_init(struct tb_pp_page *state, size_t n) {
        for (size_t i = 0; i < n; i++)
                state[i] = (struct tb_pp_page) { .node = -1, .from = -1 };
}

uint64_t tb_pingpong_update(struct tb_pp_page *state, const int *node, size_t n, uint32_t sample, uint32_t window,
                            uint64_t *pingpongs) {
        uint64_t moves = 0;

        for (size_t i = 0; i < n; i++) {
                struct tb_pp_page *s = &state[i];

                /* absent pages (not yet faulted in, or being migrated) tell nothing about placement */
                if (node[i] < 0)
                        continue;
                if (s->node < 0) {
                        s->node = (int16_t) node[i];
                        continue;
                }
                if (node[i] == s->node)
                        continue;
                moves++;
                if (s->from == node[i] && sample - s->changed <= window)
                        (*pingpongs)++;
                s->from = s->node;
                s->node = (int16_t) node[i];
                s->changed = sample;
        }
        return moves;
}

int tb_parse_vmstat(const char *buf, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);

        for (const char *line = buf; line && *line; ) {
                const char *eol = strchr(line, '\n');

                if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
                        char *end;
                        unsigned long long v;

                        errno = 0;
                        v = strtoull(line + klen + 1, &end, 10);
                        if (errno != 0 || end == line + klen + 1)
                                return -EBADMSG;
                        *ret = v;
                        return 0;
                }
                line = eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

int tb_parse_pid_stat(const char *buf, char *comm, size_t comm_size, uint64_t *ret_utime, uint64_t *ret_stime) {
        const char *open = strchr(buf, '('), *close = strrchr(buf, ')'), *p;
        unsigned long long v[2];
        size_t len;

        if (!open || !close || close < open || comm_size == 0)
                return -EBADMSG;
        len = MIN((size_t) (close - open - 1), comm_size - 1);
        memcpy(comm, open + 1, len);
        comm[len] = '\0';

        /* After ") ": field 3 (state) ... utime is field 14, stime field 15. */
        p = close + 1;
        for (int field = 3; field <= 15; field++) {
                char *end;

                while (*p == ' ')
                        p++;
                if (*p == '\0' || *p == '\n')
                        return -EBADMSG;
                if (field < 14) {
                        p = strchr(p, ' ');
                        if (!p)
                                return -EBADMSG;
                        continue;
                }
                errno = 0;
                v[field - 14] = strtoull(p, &end, 10);
                if (errno != 0 || end == p)
                        return -EBADMSG;
                p = end;
        }
        *ret_utime = v[0];
        *ret_stime = v[1];
        return 0;
}
