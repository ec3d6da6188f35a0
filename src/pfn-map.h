/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "topology.h"

/* Which tier a page frame lies in, from the PFN spans of the nodes (/proc/zoneinfo, read with the topology). The
 * page_idle backend resolves the PFN of every present page each round anyway; with this map it also knows where
 * each page is, for nothing, where the policy would otherwise ask move_pages(2) one page at a time.
 *
 * A node's span runs from its first zone's start to its last zone's end and may hold holes, but not another
 * node's memory on most machines. Where two spans overlap (memory interleaved between nodes block by block) a PFN
 * no longer names its node: the map is not built and pages are located through move_pages(2) as before. */

enum pfn_place {
        PFN_PLACE_NONE,    /* no managed node's span, or a tier between the fastest and the slowest */
        PFN_PLACE_FASTEST,
        PFN_PLACE_SLOWEST,
};

struct pfn_range {
        uint64_t start, end; /* [start, end) */
        enum pfn_place place;
};

struct pfn_map {
        struct pfn_range *ranges; /* ascending, disjoint */
        size_t n;
};

/* Builds the map of t's managed nodes (fastest tier: FASTEST, slowest: SLOWEST; with fewer than two tiers
 * nothing is either). Returns 0, -ENODATA when a node with memory has no known span, -ENOTUNIQ when two nodes'
 * spans overlap, -ENOMEM. *ret is empty on failure. */
int pfn_map_build(const struct topology *t, struct pfn_map *ret);
void pfn_map_done(struct pfn_map *m);

/* *hint: the range found last (any value to start with): a process's pages cluster, so most lookups hit it. */
enum pfn_place pfn_map_lookup(const struct pfn_map *m, uint64_t pfn, size_t *hint);
