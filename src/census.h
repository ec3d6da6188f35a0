/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "heat.h"
#include "topology.h"

/* Where the tracked pages are: bytes of each heat class on each node, found by asking the kernel
 * (move_pages(2) with nodes=NULL, through migrate.c) for one address per unit. This joins the heat store (by
 * virtual address) with placement, for status now and for the policy's "hot but slow" / "cold but fast" lists.
 *
 * The query walks page tables, about 0.1-0.2 us a page; past CENSUS_UNITS_MAX units the census samples every
 * k-th unit (reached by index, heat_store_sample_units()) and scales up, so its cost per round stays bounded on
 * terabyte-sized targets. 2^14 units put a class's share of a node within about one percent (binomial, at worst:
 * 0.4% standard error), which is all that status and the pass-interval tuner need; with 2^20, the census of a
 * 1.5 GiB target was most of the daemon's longest event loop turn under TCG (0.6-1.2 s of a 1.5-2.8 s round end),
 * and with 2^16 that of a 256 MiB target still took 70-77 ms a round there. */

#define CENSUS_UNITS_MAX (UINT64_C(1) << 14)
#define CENSUS_BATCH 4096

struct census_node {
        int node;
        uint64_t class_bytes[_HEAT_CLASS_MAX];
};

struct census {
        struct census_node *nodes; /* in topology order */
        size_t n_nodes;
        uint64_t unplaced_bytes; /* not present (swapped, never touched) or on a node not in the topology */
        uint64_t units_queried;
        uint64_t sample_stride;  /* 1: every unit */
        uint64_t round;          /* heat store round the census reflects */
};

int census_take(const struct heat_store *heat, const struct heat_class_params *p, const struct topology *topo,
                struct census *ret);
void census_done(struct census *c);

/* The same census in steps, so that the daemon's loop is not held for all of it (13 thousand units took 35-100 ms
 * under TCG): census_taker_new() takes the sample from the store as it is (the store may change afterwards),
 * census_taker_step() locates up to units_max of it (in batches of one process and CENSUS_BATCH units at most)
 * and returns 1 while some remain, 0 with *ret written when done (the taker is then only to be freed), or a
 * negative errno. units_max 0 is -EINVAL. */
struct census_taker;
int census_taker_new(const struct heat_store *heat, const struct heat_class_params *p, const struct topology *topo,
                     struct census_taker **ret);
int census_taker_step(struct census_taker *t, uint64_t units_max, struct census *ret);
struct census_taker *census_taker_free(struct census_taker *t);
/* Units located so far. */
uint64_t census_taker_located(const struct census_taker *t);
static inline void census_taker_freep(struct census_taker **t) {
        census_taker_free(*t);
}

/* Sums of a tier's nodes. */
void census_tier_class_bytes(const struct census *c, const struct topology *topo, size_t tier,
                             uint64_t ret_bytes[_HEAT_CLASS_MAX]);
