/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "damon.h"

/* Assembles the damon:damon_aggregated records of one kdamond into aggregation windows ("bursts"). The kernel
 * reports every region of every target when a window ends, target by target and region by region, each record
 * saying how many regions its target has; a burst is therefore complete when every target 0..n_targets-1 has
 * reported exactly that many. Records can be lost (ring buffer full) and windows can run into each other in the
 * buffer, so a burst ends at the first record that cannot belong to it: a time gap, a target index going back,
 * or one more region than a target has. Only complete bursts are ever handed out: a partial one would make the
 * missing regions look idle for a whole pass.
 *
 * Pure (no I/O), for the DAMON backend and its tests. */

struct damon_burst_target {
        unsigned nr_regions; /* as the records say; 0 until the first record of this target */
        size_t n_regions;    /* records seen */
        size_t n_allocated;
        struct damon_region *regions;
};

struct damon_burst {
        uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC of the first and last record */
        size_t n_records;
        unsigned last_target;
        bool broken; /* a record that contradicts the layout (unknown target, nr_regions changed) */
        struct damon_burst_target *targets; /* n_targets of struct damon_bursts */
};

struct damon_bursts {
        size_t n_targets;
        uint64_t gap_ns; /* records further apart than this belong to different windows */
        struct damon_burst filling, complete;
        bool have_complete; /* complete holds a burst not taken yet */
        uint64_t incomplete; /* bursts thrown away because records were missing or contradicted each other */
};

/* Sets up for n_targets targets (the kdamond's target count), dropping everything held. Returns 0 or -ENOMEM. */
int damon_bursts_reset(struct damon_bursts *b, size_t n_targets, uint64_t gap_ns);
void damon_bursts_done(struct damon_bursts *b);

/* Adds one record. Returns 1 when it completed a burst (now held until taken; an older one not taken is
 * replaced), 0 otherwise, -ENOMEM. */
int damon_bursts_add(struct damon_bursts *b, uint64_t ktime_ns, unsigned target_id, unsigned nr_regions,
                     const struct damon_region *region);

/* Hands out the last complete burst once, if it ended at or after not_before_ns; NULL otherwise. The burst
 * stays valid until the next damon_bursts_add() or damon_bursts_reset(). */
const struct damon_burst *damon_bursts_take(struct damon_bursts *b, uint64_t not_before_ns);
