/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Pure computation of tierbench (bench/tierbench/tierbench.c): the access patterns and their exact per-page
 * probabilities, the oracle placement, the placement quality of one location sample, T90, ping-pong counting
 * and the parsers of /proc/vmstat and /proc/PID/stat. Buffers in, structs out, no I/O, so every figure the
 * benchmark reports can be unit-tested (bench/tierbench/test-tierbench-stats.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tb_kind {
        TB_UNIFORM,     /* every page equally likely: the negative control, no placement beats another */
        TB_HOTSET,      /* hot_frac of the accesses uniform over a hot set, the rest uniform over everything */
        TB_MOVE,        /* hot set; at shift1 it moves whole to a disjoint region, at shift2 a quarter moves again */
        TB_ZIGZAG,      /* hot set alternates between two disjoint regions every zigzag period */
        TB_ZIPF,        /* zipf over page ranks; ranks scattered over the buffer by a fixed permutation */
        _TB_KIND_MAX,
};

#define TB_MAX_PHASES 3
#define TB_MAX_RANGES 2

struct tb_range {
        uint64_t start;         /* first page */
        uint64_t len;           /* pages */
};

/* The hot set of one phase: up to two page ranges (the partial move leaves the hot set in two pieces). */
struct tb_hotset {
        struct tb_range ranges[TB_MAX_RANGES];
        unsigned n_ranges;
        uint64_t pages;         /* sum of the lengths */
};

struct tb_pattern {
        enum tb_kind kind;
        uint64_t n_pages;
        uint64_t hot_pages;     /* H */
        double hot_frac;        /* h, in [0, 1] */
        double zipf_s;          /* zipf exponent */
        unsigned n_phases;
        struct tb_hotset phases[TB_MAX_PHASES];
};

int tb_kind_from_string(const char *s, enum tb_kind *ret);
const char *tb_kind_to_string(enum tb_kind k);

/* Lays out the hot sets of each phase for n_pages pages and a hot set of hot_pages. Hot sets sit at the end of
 * the buffer, the part a default first-touch policy places on the slow node last (see tierbench.c): TB_HOTSET
 * and phase 0 of the others use [n - H, n); the move target and the zigzag's other half [n - 2H, n - H); the
 * partial move replaces the first quarter of that region by [n - 2H - H/4, n - 2H). Needs H >= 4 (for the
 * quarter) and n >= 2H + H/4 for TB_MOVE, n >= 2H for TB_ZIGZAG, 1 <= H <= n otherwise. */
int tb_pattern_init(struct tb_pattern *p, enum tb_kind kind, uint64_t n_pages, uint64_t hot_pages,
                    double hot_frac, double zipf_s);

/* Exact access probability of every page during one phase (sums to 1). perm (zipf only): perm[rank] is the page
 * of that rank, rank 0 the most likely. */
int tb_pattern_probs(const struct tb_pattern *p, unsigned phase, const uint32_t *perm, double *probs);

/* Maps a uniform index r in [0, pages of the hot set) to a page of the phase's hot set. */
uint64_t tb_hotset_page(const struct tb_hotset *h, uint64_t r);

/* Zipf: cdf[r] = P(rank <= r), cdf[n - 1] = 1 exactly. pick: the smallest rank with cdf[rank] > u, u in [0, 1). */
int tb_zipf_cdf(size_t n, double s, double *cdf);
size_t tb_zipf_pick(const double *cdf, size_t n, double u);

/* Deterministic Fisher-Yates permutation of 0..n-1 from a seed (splitmix64). */
void tb_permutation(uint32_t *perm, size_t n, uint64_t seed);
uint64_t tb_splitmix64(uint64_t *state);

/* The oracle for a fast node holding cap pages: the top-cap pages by probability. Pages with probability equal to
 * the cap-th largest are interchangeable, so the oracle is a class, not one set: n_above pages are strictly more
 * likely than threshold and must be in it; n_tie pages equal threshold and (cap - n_above) of them are. */
struct tb_oracle {
        uint64_t cap;           /* min(cap, n) */
        double threshold;       /* probability of the cap-th most likely page (0 when cap == 0) */
        uint64_t n_above;
        uint64_t n_tie;
        double f_star;          /* sum of the top-cap probabilities */
};

int tb_oracle_compute(const double *probs, size_t n, uint64_t cap, struct tb_oracle *ret);

/* One location sample against the oracle. node[i]: node of page i, negative when not present. hits: pages of the
 * fast set that some oracle set of the class holds, |fast & above| + min(|fast & tie|, cap - n_above).
 * precision = hits / |fast| (0 when the fast node holds none), recall = hits / cap (1 when cap == 0). */
struct tb_eval {
        uint64_t fast_pages;
        uint64_t slow_pages;    /* present on another node */
        uint64_t absent_pages;
        uint64_t hits;
        double f;               /* fraction of accesses the fast node serves: sum of the fast pages' probabilities */
        double q;               /* f / f_star (0 when f_star is 0) */
        double precision;
        double recall;
};

int tb_eval_sample(const double *probs, size_t n, const struct tb_oracle *o, const int *node, int fast_node,
                   struct tb_eval *ret);

/* T90 of an event at time t_event (seconds): F0 is F of the first sample at or after t_event, the goal
 * F0 + frac x (f_star - F0); T90 is t[k] - t_event for the first sample k from there on whose F and the F of the
 * next hold - 1 samples all reach the goal, searching only samples before t_end (the next event, or infinity).
 * Returns 0 and *ret, -ENOENT when not reached (or too few samples left to hold), -EINVAL on bad input. */
int tb_t90(const double *t, const double *f, size_t n, double t_event, double t_end, double f_star, double frac,
           unsigned hold, double *ret);

/* Mean of the last third of the values (at least one value): the steady state. NAN when n == 0. */
double tb_mean_last_third(const double *v, size_t n);

/* Ping-pongs seen in location samples: a page that changes node and, within window samples of that change,
 * changes back to the node it came from. state holds 8 bytes per page, initialised by tb_pingpong_init. Returns
 * the number of moves seen in this sample; *pingpongs grows by the reversals. */
struct tb_pp_page {
        int16_t node;           /* node at the last sample, -1 unknown */
        int16_t from;           /* node before the last change, -1 none */
        uint32_t changed;       /* sample index of the last change */
};
void tb_pingpong_init(struct tb_pp_page *state, size_t n);
uint64_t tb_pingpong_update(struct tb_pp_page *state, const int *node, size_t n, uint32_t sample, uint32_t window,
                            uint64_t *pingpongs);

/* "key value" of /proc/vmstat. Returns 0 and *ret, -ENOENT when the key is missing. */
int tb_parse_vmstat(const char *buf, const char *key, uint64_t *ret);

/* /proc/PID/stat or /proc/PID/task/TID/stat: comm (without parentheses, truncated to comm_size - 1) and
 * utime + stime in clock ticks. The comm may contain spaces and parentheses: it ends at the last ')'. */
int tb_parse_pid_stat(const char *buf, char *comm, size_t comm_size, uint64_t *ret_utime, uint64_t *ret_stime);
