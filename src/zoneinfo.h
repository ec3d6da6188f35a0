/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* /proc/zoneinfo: how much of a node's free memory a movable user allocation (a page fault, or move_pages(2)
 * bringing a page in) can actually get without waking kswapd.
 *
 * A node's MemFree counts every free page of every zone. But the allocator leaves a zone alone while its free
 * pages are at or below its watermark plus the lowmem reserve it keeps against allocations that could have come
 * from a higher zone ("protection", the lowmem_reserve array): ZONE_DMA's 15 MiB, for one, is all protected from a
 * movable allocation on most machines. And allocating down to the low watermark wakes kswapd, which on a tiered
 * machine demotes pages of the fast node to make the room back: tierd's promotions would then be undone by the
 * kernel. So tierd plans with free memory above each zone's high watermark (plus its boost) and above the largest
 * entry of its protection array (the entry for the highest zone index, which is what a movable allocation asks
 * for):
 *
 *   kept(zone) = min(free, high + boost + max(protection))
 *   kept(node) = sum over the node's zones
 *
 * and free memory usable for promotions = MemFree - kept(node). */

/* Nodes are indexed by id, 0 .. ZONEINFO_NODES_MAX - 1; a larger id is ignored. */
#define ZONEINFO_NODES_MAX 1024

struct zoneinfo {
        uint64_t kept_bytes[ZONEINFO_NODES_MAX];   /* see above */
        uint64_t free_bytes[ZONEINFO_NODES_MAX];   /* sum of the zones' "pages free" */
        uint8_t present[ZONEINFO_NODES_MAX / 8];   /* bit set: the node has at least one zone in the file */
        /* The page frames the node's non-empty zones span ("start_pfn:" and "spanned"): [start, end), both 0
         * when none is given. A span may include holes; on most machines the nodes' spans do not overlap, and a
         * PFN inside one belongs to that node. */
        uint64_t span_start_pfn[ZONEINFO_NODES_MAX];
        uint64_t span_end_pfn[ZONEINFO_NODES_MAX];
};

static inline int zoneinfo_has_node(const struct zoneinfo *z, int node) {
        return node >= 0 && node < ZONEINFO_NODES_MAX && (z->present[node / 8] >> (node % 8)) & 1;
}

/* Parses /proc/zoneinfo text; page_size is the size of the counts' unit (the kernel's PAGE_SIZE). Returns 0,
 * -EINVAL for NULL arguments or a zero page size, -EBADMSG for a zone header or a counter tierd uses that does not
 * parse. Zones without a "high" line count as keeping nothing. */
int zoneinfo_parse(const char *text, uint64_t page_size, struct zoneinfo *ret);

/* Reads /proc/zoneinfo through fsroot and parses it (page size from sysconf). *ret is heap-allocated (144 KiB):
 * free it with free(). -ENOENT when the file does not exist. */
int zoneinfo_read(struct zoneinfo **ret);
