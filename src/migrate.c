/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <numaif.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "migrate.h"

static long default_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status,
                               int flags) {
        return move_pages(pid, count, pages, nodes, status, flags);
}

static move_pages_fn migrate_move_pages_impl = default_move_pages;

void migrate_set_move_pages(move_pages_fn fn) {
        migrate_move_pages_impl = fn ?: default_move_pages;
}

static uint64_t now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static long timed_move_pages(pid_t pid, size_t n, void **addrs, const int *nodes, int *status, int flags,
                             struct migrate_result *result) {
        uint64_t start = now_us();
        long r;

        r = migrate_move_pages_impl(pid, n, addrs, nodes, status, flags);
        if (r < 0)
                r = negative_errno();
        result->calls++;
        result->time_us += now_us() - start;
        return r;
}

int migrate_query_nodes(pid_t pid, void **addrs, size_t n_addrs, int *status) {
        struct migrate_result ignored = {};
        long r;

        for (size_t i = 0; i < n_addrs; i++)
                status[i] = MIGRATE_STATUS_UNSET;
        if (n_addrs == 0)
                return 0;
        r = timed_move_pages(pid, n_addrs, addrs, NULL, status, 0, &ignored);
        return r < 0 ? (int) r : 0;
}

long migrate_move_pages(pid_t pid, void **addrs, size_t n_addrs, int dest_node, size_t batch_pages, int flags,
                        int *status, struct migrate_result *result) {
        _cleanup_free_ void **batch = NULL;
        _cleanup_free_ int *batch_status = NULL, *nodes = NULL;
        _cleanup_free_ size_t *batch_index = NULL;
        long r;

        *result = (struct migrate_result) {};
        if (n_addrs == 0)
                return 0;
        if (batch_pages == 0)
                batch_pages = MIGRATE_BATCH_PAGES_DEFAULT;

        /* One query first: pages already in place must not be passed to the kernel, because an entry that is
         * not queued for moving ends the kernel's current batch early. */
        r = migrate_query_nodes(pid, addrs, n_addrs, status);
        result->calls++;
        if (r < 0)
                return r;

        batch = malloc(sizeof(void *) * batch_pages);
        batch_status = malloc(sizeof(int) * batch_pages);
        nodes = malloc(sizeof(int) * batch_pages);
        batch_index = malloc(sizeof(size_t) * batch_pages);
        if (!batch || !batch_status || !nodes || !batch_index)
                return -ENOMEM;
        for (size_t i = 0; i < batch_pages; i++)
                nodes[i] = dest_node;

        for (size_t next = 0; next < n_addrs;) {
                size_t n = 0;

                for (; next < n_addrs && n < batch_pages; next++) {
                        if (status[next] == dest_node) {
                                result->pages_in_place++;
                                continue;
                        }
                        if (status[next] < 0 && status[next] != -EBUSY)
                                continue; /* not present or unmapped: nothing to move */
                        batch[n] = addrs[next];
                        batch_index[n] = next;
                        batch_status[n] = MIGRATE_STATUS_UNSET;
                        n++;
                }
                if (n == 0)
                        continue;

                r = timed_move_pages(pid, n, batch, nodes, batch_status, flags, result);
                if (r < 0)
                        return r; /* whole-call failure: ESRCH, ENOMEM, EACCES, EPERM, ENODEV */

                if (r > 0) {
                        /* Some pages failed: the kernel leaves the status of the failing batch and of every
                         * later entry unwritten. Ask where those pages are now. */
                        _cleanup_free_ void **requery = malloc(sizeof(void *) * n);
                        _cleanup_free_ int *requery_status = malloc(sizeof(int) * n);
                        size_t m = 0;

                        if (!requery || !requery_status)
                                return -ENOMEM;
                        for (size_t i = 0; i < n; i++)
                                if (batch_status[i] == MIGRATE_STATUS_UNSET)
                                        requery[m++] = batch[i];
                        if (m > 0) {
                                int q = migrate_query_nodes(pid, requery, m, requery_status);
                                if (q < 0)
                                        return q;
                                result->calls++;
                                for (size_t i = 0, j = 0; i < n; i++)
                                        if (batch_status[i] == MIGRATE_STATUS_UNSET)
                                                batch_status[i] = requery_status[j++];
                        }
                }

                for (size_t i = 0; i < n; i++) {
                        status[batch_index[i]] = batch_status[i];
                        if (batch_status[i] == dest_node)
                                result->pages_moved++;
                        else
                                result->pages_failed++;
                }
        }

        return (long) result->pages_moved;
}
