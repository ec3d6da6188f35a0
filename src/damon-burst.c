/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "damon-burst.h"

static void burst_clear(struct damon_burst *u, size_t n_targets) {
        u->first_ns = u->last_ns = 0;
        u->n_records = 0;
        u->last_target = 0;
        u->broken = false;
        for (size_t i = 0; i < n_targets; i++) {
                u->targets[i].nr_regions = 0;
                u->targets[i].n_regions = 0;
        }
}

static void burst_free(struct damon_burst *u, size_t n_targets) {
        if (u->targets)
                for (size_t i = 0; i < n_targets; i++)
                        free(u->targets[i].regions);
        free(u->targets);
        *u = (struct damon_burst) {};
}

static bool burst_complete(const struct damon_burst *u, size_t n_targets) {
        if (u->broken || n_targets == 0)
                return false;
        for (size_t i = 0; i < n_targets; i++)
                if (u->targets[i].nr_regions == 0 || u->targets[i].n_regions != u->targets[i].nr_regions)
                        return false;
        return true;
}

void damon_bursts_done(struct damon_bursts *b) {
        burst_free(&b->filling, b->n_targets);
        burst_free(&b->complete, b->n_targets);
        *b = (struct damon_bursts) {};
}

int damon_bursts_reset(struct damon_bursts *b, size_t n_targets, uint64_t gap_ns) {
        uint64_t incomplete = b->incomplete;

        damon_bursts_done(b);
        b->incomplete = incomplete; /* a counter for status: it survives new layouts */
        b->gap_ns = gap_ns;
        if (n_targets == 0)
                return 0;
        b->filling.targets = calloc(n_targets, sizeof(struct damon_burst_target));
        b->complete.targets = calloc(n_targets, sizeof(struct damon_burst_target));
        if (!b->filling.targets || !b->complete.targets) {
                damon_bursts_done(b);
                return -ENOMEM;
        }
        b->n_targets = n_targets;
        return 0;
}

/* The filling burst is whole: it becomes the one held (swapping keeps both allocations). */
static void promote(struct damon_bursts *b) {
        struct damon_burst t = b->complete;

        b->complete = b->filling;
        b->filling = t;
        burst_clear(&b->filling, b->n_targets);
        b->have_complete = true;
}

static bool starts_new_burst(const struct damon_bursts *b, uint64_t ktime_ns, unsigned target_id) {
        const struct damon_burst *u = &b->filling;

        if (u->n_records == 0)
                return false;
        if (ktime_ns > u->last_ns + b->gap_ns || ktime_ns < u->last_ns)
                return true;
        if (target_id < u->last_target)
                return true;
        /* The same window never reports more regions for a target than it says it has. */
        return target_id < b->n_targets && u->targets[target_id].nr_regions > 0 &&
                u->targets[target_id].n_regions >= u->targets[target_id].nr_regions;
}

int damon_bursts_add(struct damon_bursts *b, uint64_t ktime_ns, unsigned target_id, unsigned nr_regions,
                     const struct damon_region *region) {
        struct damon_burst *u = &b->filling;
        struct damon_burst_target *t;

        if (b->n_targets == 0)
                return 0; /* no targets configured: nothing can be complete */

        if (starts_new_burst(b, ktime_ns, target_id)) {
                /* A burst is promoted the moment it is whole, so one still filling here lacks records. */
                b->incomplete++;
                burst_clear(u, b->n_targets);
        }

        if (u->n_records == 0)
                u->first_ns = ktime_ns;
        u->last_ns = ktime_ns;
        u->last_target = target_id;
        u->n_records++;

        if (target_id >= b->n_targets || nr_regions == 0) {
                /* A target tierd did not configure: the kdamond's layout is not the one we think it runs. */
                u->broken = true;
                return 0;
        }
        t = &u->targets[target_id];
        if (t->nr_regions != 0 && t->nr_regions != nr_regions) {
                u->broken = true;
                return 0;
        }
        t->nr_regions = nr_regions;

        if (t->n_regions >= t->n_allocated) {
                size_t n = t->n_allocated ? t->n_allocated * 2 : 16;
                struct damon_region *p;

                while (n < nr_regions)
                        n *= 2;
                p = realloc(t->regions, n * sizeof(struct damon_region));
                if (!p)
                        return -ENOMEM;
                t->regions = p;
                t->n_allocated = n;
        }
        t->regions[t->n_regions++] = *region;

        if (target_id + 1 == b->n_targets && t->n_regions == t->nr_regions) {
                if (!burst_complete(u, b->n_targets)) {
                        b->incomplete++;
                        burst_clear(u, b->n_targets);
                        return 0;
                }
                promote(b);
                return 1;
        }
        return 0;
}

const struct damon_burst *damon_bursts_take(struct damon_bursts *b, uint64_t not_before_ns) {
        if (!b->have_complete || b->complete.last_ns < not_before_ns)
                return NULL;
        b->have_complete = false;
        return &b->complete;
}
