/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

/* Memory nodes and the ordered list of tiers they form, read through the fsroot door from
 *   /sys/devices/system/node/has_memory            nodes with memory (N_MEMORY)
 *   /sys/devices/system/node/nodeN/cpulist          CPUs of a node (empty: a CPU-less node)
 *   /sys/devices/system/node/nodeN/meminfo          "Node N MemTotal: ... kB", "Node N MemFree: ... kB"
 *   /sys/devices/virtual/memory_tiering/memory_tierK/nodelist   kernel tiers (smaller K is faster)
 *   /proc/zoneinfo                                  what of MemFree the kernel keeps for itself (zoneinfo.h)
 */

enum tier_source {
        TIER_SOURCE_CONFIG,          /* [tiers] in the configuration */
        TIER_SOURCE_MEMORY_TIERING,  /* the kernel's memory tiers (used only when there are two or more) */
        TIER_SOURCE_CPUS,            /* fallback: nodes with CPUs are fast, CPU-less nodes slow */
};

struct topology_node {
        int id;
        unsigned n_cpus;
        uint64_t total_bytes;
        uint64_t free_bytes;
        /* Of free_bytes, what a movable allocation cannot get without waking kswapd: watermarks and lowmem
         * reserves (zoneinfo.h); 0 when /proc/zoneinfo cannot be read. */
        uint64_t kept_bytes;
        /* The PFNs its zones span (zoneinfo.h), [start, end); 0, 0 when /proc/zoneinfo does not say. */
        uint64_t span_start_pfn, span_end_pfn;
        int tier; /* index into topology.tiers, or -1 when the node belongs to no tier */
};

/* Free memory a page moved to the node can take: MemFree less what the kernel keeps. */
static inline uint64_t topology_node_usable_free(const struct topology_node *n) {
        return n->free_bytes > n->kept_bytes ? n->free_bytes - n->kept_bytes : 0;
}

struct topology_tier {
        int kernel_tier; /* K of memory_tierK, or -1 when the tier did not come from memory_tiering */
        struct node_set nodes;
        uint64_t total_bytes;
        uint64_t free_bytes;
        uint64_t kept_bytes; /* the nodes' kept_bytes, summed */
};

struct topology {
        struct topology_node *nodes; /* nodes with memory, ascending id */
        size_t n_nodes;
        struct topology_tier tiers[TIERD_MAX_TIERS]; /* fastest first */
        size_t n_tiers;
        enum tier_source tier_source;
};

const char *tier_source_to_string(enum tier_source s);

/* Pure: parses a node's meminfo file. */
int topology_parse_meminfo(const char *buf, uint64_t *ret_total_bytes, uint64_t *ret_free_bytes);

/* Reads nodes and tiers. Configured tiers win; nodes named there that have no memory are warned about and
 * left out; nodes with memory that no configured tier names get tier -1 (not managed, warned about once). */
int topology_load(const struct tierd_config *config, struct topology *ret);
void topology_done(struct topology *t);
/* Whether both have the same tiers made of the same nodes (sizes and free bytes aside). */
bool topology_same_tiers(const struct topology *a, const struct topology *b);

/* The node with that id, or NULL. */
const struct topology_node *topology_find_node(const struct topology *t, int id);
