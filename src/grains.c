/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "grains.h"
#include "macro.h"

struct grain_target {
        pid_t pid;
        uint64_t pass;   /* the last pass that added to it */
        bool sorted;     /* backends report in any order (DAMON's tried_regions: readdir's) */
        uint64_t *starts;
        size_t n, n_allocated;
};

struct grain_map {
        struct grain_target *targets; /* few: one per target process */
        size_t n_targets, n_allocated;
        uint64_t pass;
};

int grain_map_new(struct grain_map **ret) {
        struct grain_map *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->pass = 1;
        *ret = m;
        return 0;
}

static void grain_target_done(struct grain_target *t) {
        free(t->starts);
        *t = (struct grain_target) {};
}

struct grain_map *grain_map_free(struct grain_map *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_targets; i++)
                grain_target_done(&m->targets[i]);
        free(m->targets);
        free(m);
        return NULL;
}

static struct grain_target *grain_target_find(struct grain_map *m, pid_t pid) {
        for (size_t i = 0; m && i < m->n_targets; i++)
                if (m->targets[i].pid == pid)
                        return &m->targets[i];
        return NULL;
}

static void grain_target_remove(struct grain_map *m, size_t i) {
        grain_target_done(&m->targets[i]);
        m->targets[i] = m->targets[--m->n_targets];
}

void grain_map_begin_pass(struct grain_map *m) {
        if (!m)
                return;
        m->pass++;
        /* A target keeps the grains of its last pass with data through the next passes (lookups come after the
         * round; DAMON may throw away an incomplete window), and goes when two whole passes added none. */
        for (size_t i = m->n_targets; i > 0; i--)
                if (m->targets[i - 1].pass + 2 < m->pass)
                        grain_target_remove(m, i - 1);
}

int grain_map_add(struct grain_map *m, pid_t pid, uint64_t start) {
        struct grain_target *t;

        if (!m)
                return 0;
        t = grain_target_find(m, pid);
        if (!t) {
                if (m->n_targets == m->n_allocated) {
                        size_t n = MAX(m->n_allocated * 2, (size_t) 4);
                        struct grain_target *a = reallocarray(m->targets, n, sizeof(*a));

                        if (!a)
                                return -ENOMEM;
                        m->targets = a;
                        m->n_allocated = n;
                }
                t = &m->targets[m->n_targets++];
                *t = (struct grain_target) { .pid = pid, .pass = m->pass };
        } else if (t->pass != m->pass) {
                t->pass = m->pass;
                t->n = 0;
        }
        if (t->n == t->n_allocated) {
                size_t n = MAX(t->n_allocated * 2, (size_t) 64);
                uint64_t *a = reallocarray(t->starts, n, sizeof(*a));

                if (!a) {
                        t->n = 0;
                        return -ENOMEM;
                }
                t->starts = a;
                t->n_allocated = n;
        }
        t->sorted = t->n == 0 || (t->sorted && t->starts[t->n - 1] <= start);
        t->starts[t->n++] = start;
        return 0;
}

void grain_map_drop(struct grain_map *m, pid_t pid) {
        for (size_t i = 0; m && i < m->n_targets; i++)
                if (m->targets[i].pid == pid) {
                        grain_target_remove(m, i);
                        return;
                }
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

uint64_t grain_map_find(struct grain_map *m, pid_t pid, uint64_t addr) {
        struct grain_target *t = grain_target_find(m, pid);
        size_t lo = 0, hi;

        if (!t || t->n == 0)
                return addr;
        if (!t->sorted) {
                qsort(t->starts, t->n, sizeof(*t->starts), cmp_u64);
                t->sorted = true;
        }
        /* The number of starts <= addr. */
        hi = t->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (t->starts[mid] <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo == 0 ? addr : t->starts[lo - 1];
}
