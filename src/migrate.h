/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The move_pages(2) door. Moving another process's pages needs PTRACE_MODE_READ_REALCREDS on it (root, or
 * CAP_SYS_PTRACE) and, for shared pages (MPOL_MF_MOVE_ALL), CAP_SYS_NICE. */

/* Pages per move_pages() call: every moving call drains the per-CPU LRU caches of all CPUs, so a few large calls
 * beat many small ones; 1024 pages is 4 MiB of base pages. */
#define MIGRATE_BATCH_PAGES_DEFAULT 1024

/* status[] entries not written by the kernel keep this value (the kernel never reports a positive value this
 * large: node ids are < 1024, errors are negative). */
#define MIGRATE_STATUS_UNSET INT32_MAX

struct migrate_result {
        uint64_t pages_moved;     /* now on the destination node, and not there before */
        uint64_t pages_in_place;  /* already on the destination node */
        uint64_t pages_failed;    /* per-page errors, see status[] */
        uint64_t calls;           /* move_pages() calls issued, queries included */
        uint64_t time_us;         /* time spent inside move_pages() */
};

/* Testing seam: the real one is the libnuma move_pages() wrapper. */
typedef long (*move_pages_fn)(int pid, unsigned long count, void **pages, const int *nodes, int *status,
                              int flags);
void migrate_set_move_pages(move_pages_fn fn);

/* Queries where each page is (move_pages with nodes=NULL): status[i] is the node or a negative errno
 * (-ENOENT not present, -EFAULT unmapped or zero page). Returns 0 or a negative errno for the whole call
 * (-ESRCH: the process is gone). */
int migrate_query_nodes(pid_t pid, void **addrs, size_t n_addrs, int *status);

/* Moves the given pages of pid to dest_node, in batches of batch_pages. Pages already on dest_node are not
 * passed to the kernel again. status[i] ends as the page's node (dest_node on success) or a negative errno.
 * Returns the number of pages moved, or a negative errno for a failure of the whole operation (-ESRCH process
 * gone, -ENOMEM destination full, -EACCES destination outside the process's cpuset, -EPERM no permission);
 * result is filled in either case. */
long migrate_move_pages(pid_t pid, void **addrs, size_t n_addrs, int dest_node, size_t batch_pages, int flags,
                        int *status, struct migrate_result *result);
