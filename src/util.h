/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Value parsers for configuration and kernel files. All are pure and return 0 or -EINVAL/-ERANGE. */

/* "4096", "4K", "256M", "1G", "2T" (binary multiples; an optional trailing "B"/"iB" is accepted). */
/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_monotonic_us(void);

int parse_size(const char *s, uint64_t *ret_bytes);
/* "500ms", "2s", "100us", "1min", "1h"; a bare number means seconds, as in systemd. */
int parse_duration(const char *s, uint64_t *ret_us);
/* "10%" or "10.5%" -> basis points (1/100 of a percent), 0..10000. */
/* A decimal number that ends a field of a /proc file: at a space, a newline or the end of the string. NULL: -EINVAL. */
int parse_u64_field(const char *s, uint64_t *ret);
int parse_percent(const char *s, unsigned *ret_basis_points);
int parse_bool(const char *s, bool *ret);
int parse_uint(const char *s, unsigned *ret);
int parse_pid(const char *s, int *ret);

/* A size given either in bytes or as a share of some total ("256M" or "10%"). */
struct size_or_percent {
        bool is_percent;
        uint64_t bytes;
        unsigned basis_points;
};
int parse_size_or_percent(const char *s, struct size_or_percent *ret);
uint64_t size_or_percent_resolve(const struct size_or_percent *v, uint64_t total_bytes);

/* Human-readable formatting into a caller buffer (FORMAT_*_MAX bytes). */
#define FORMAT_BYTES_MAX 16
const char *format_bytes(char *buf, size_t size, uint64_t bytes);
#define FORMAT_DURATION_MAX 32
const char *format_duration(char *buf, size_t size, uint64_t us);

/* Kernel range lists ("0-3,8,10-11"), as in sysfs nodelist/cpulist files. The callback gets each inclusive
 * range; a negative return stops the walk and is passed back. Trailing whitespace is allowed. */
int parse_range_list(const char *s, int (*cb)(unsigned lo, unsigned hi, void *userdata), void *userdata);
/* Counts the entries of a range list (e.g. CPUs in a cpulist). */
int range_list_count(const char *s, unsigned *ret);

#define NODE_SET_MAX 1024 /* the kernel's MAX_NUMNODES with NODES_SHIFT=10, as in Debian's kernels */

struct node_set {
        uint64_t bits[NODE_SET_MAX / 64];
};

int node_set_parse(const char *s, struct node_set *ret);
/* Formats as a compact range list ("0-1,3"); "" for the empty set. */
char *node_set_format(const struct node_set *set);
static inline bool node_set_test(const struct node_set *set, unsigned node) {
        return node < NODE_SET_MAX && (set->bits[node / 64] >> (node % 64)) & 1;
}
static inline void node_set_add(struct node_set *set, unsigned node) {
        if (node < NODE_SET_MAX)
                set->bits[node / 64] |= UINT64_C(1) << (node % 64);
}
unsigned node_set_count(const struct node_set *set);
bool node_set_is_empty(const struct node_set *set);
bool node_set_intersects(const struct node_set *a, const struct node_set *b);
/* Returns the first node >= from in the set, or -1. */
int node_set_next(const struct node_set *set, int from);
#define NODE_SET_FOREACH(node, set) \
        for (int node = node_set_next((set), 0); node >= 0; node = node_set_next((set), node + 1))

/* Creates path and whatever of its parents is missing with mode (before the umask), as mkdir -p does. An existing
 * directory is fine; an existing non-directory is -ENOTDIR. Returns 0 or a negative errno. */
int mkdir_p(const char *path, mode_t mode);

/* NULL-terminated string vectors. */
void strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
int strv_push(char ***l, const char *value); /* copies value */
char **strv_copy(char *const *l);
/* Splits on whitespace; empty input gives an empty (non-NULL) vector. */
int strv_split_ws(const char *s, char ***ret);
bool strv_contains(char *const *l, const char *s);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

/* Matches s against any of the fnmatch(3) globs. */
bool strv_fnmatch(char *const *globs, const char *s);

char *strstrip(char *s);

/* Hands every allocation of 128 KiB or more to its own mapping, so that what a round frees goes back to the system
 * (tierd.c and bench/scale call it first thing). */
void memory_return_freed(void);
bool startswith(const char *s, const char *prefix);
