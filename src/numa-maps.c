/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsroot.h"
#include "macro.h"
#include "numa-maps.h"

#define NUMA_MAPS_MAX_BYTES (32U * 1024 * 1024)

static int parse_line(const char *p, const char *end, struct numa_maps_entry *e) {
        char *num_end;

        *e = (struct numa_maps_entry) { .page_size_bytes = 4096 };
        errno = 0;
        e->start = strtoull(p, &num_end, 16);
        if (errno != 0 || num_end == p || num_end > end || (num_end < end && *num_end != ' '))
                return -EINVAL;

        /* The counts come before kernelpagesize_kB on the line, so collect pages first and scale at the end. */
        for (const char *w = num_end; w < end;) {
                const char *word_end;
                size_t len;

                while (w < end && *w == ' ')
                        w++;
                word_end = memchr(w, ' ', (size_t) (end - w)) ?: end;
                len = (size_t) (word_end - w);

                if (len > 1 && w[0] == 'N' && w[1] >= '0' && w[1] <= '9') {
                        unsigned long node;
                        unsigned long long pages;
                        char *q;

                        node = strtoul(w + 1, &q, 10);
                        if (q >= word_end || *q != '=')
                                return -EINVAL;
                        pages = strtoull(q + 1, &q, 10);
                        if (q != word_end)
                                return -EINVAL;
                        if (e->n_nodes < NUMA_MAPS_NODES_MAX) {
                                e->nodes[e->n_nodes].node = (int) node;
                                e->nodes[e->n_nodes].bytes = pages;
                                e->n_nodes++;
                        }
                } else if (len > strlen("kernelpagesize_kB=") &&
                           strncmp(w, "kernelpagesize_kB=", strlen("kernelpagesize_kB=")) == 0) {
                        char *q;
                        unsigned long long kb = strtoull(w + strlen("kernelpagesize_kB="), &q, 10);

                        if (q != word_end || kb == 0)
                                return -EINVAL;
                        e->page_size_bytes = kb * 1024;
                }
                w = word_end;
        }
        for (unsigned i = 0; i < e->n_nodes; i++)
                e->nodes[i].bytes *= e->page_size_bytes;
        return 0;
}

int numa_maps_parse(const char *buf, size_t len, struct numa_maps_entry **ret, size_t *ret_n) {
        struct numa_maps_entry *entries = NULL;
        size_t n = 0, allocated = 0;
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p)) ?: end;

                if (eol > p) {
                        int r;

                        if (n == allocated) {
                                size_t na = allocated ? allocated * 2 : 32;
                                struct numa_maps_entry *ne = realloc(entries, na * sizeof(*entries));

                                if (!ne) {
                                        free(entries);
                                        return -ENOMEM;
                                }
                                entries = ne;
                                allocated = na;
                        }
                        r = parse_line(p, eol, &entries[n]);
                        if (r < 0) {
                                free(entries);
                                return r;
                        }
                        n++;
                }
                p = eol + 1;
        }
        *ret = entries;
        *ret_n = n;
        return 0;
}

int numa_maps_read(int pid, struct numa_maps_entry **ret, size_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        char path[64];
        size_t size;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/numa_maps", pid);
        r = fsroot_read_file(path, NUMA_MAPS_MAX_BYTES, &buf, &size);
        if (r < 0)
                return r;
        return numa_maps_parse(buf, size, ret, ret_n);
}

uint64_t numa_maps_bytes_on(const struct numa_maps_entry *e, size_t n, uint64_t start, int node) {
        for (size_t i = 0; i < n; i++) {
                if (e[i].start != start)
                        continue;
                for (unsigned j = 0; j < e[i].n_nodes; j++)
                        if (e[i].nodes[j].node == node)
                                return e[i].nodes[j].bytes;
                return 0;
        }
        return 0;
}
