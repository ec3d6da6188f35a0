/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* /proc/PID/numa_maps: per mapping, how many pages sit on each node. A pure parser and a thin reader. The kernel
 * writes "N<node>=<pages>" with pages in units of kernelpagesize_kB (4 KiB, or the hugetlb page size). */

#define NUMA_MAPS_NODES_MAX 64

struct numa_maps_entry {
        uint64_t start;
        uint64_t page_size_bytes;
        unsigned n_nodes;
        struct {
                int node;
                uint64_t bytes;
        } nodes[NUMA_MAPS_NODES_MAX];
};

int numa_maps_parse(const char *buf, size_t len, struct numa_maps_entry **ret, size_t *ret_n);
int numa_maps_read(int pid, struct numa_maps_entry **ret, size_t *ret_n);
/* Bytes of the mapping starting at start that lie on node (0 if unknown). */
uint64_t numa_maps_bytes_on(const struct numa_maps_entry *e, size_t n, uint64_t start, int node);
