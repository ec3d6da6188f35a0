/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guest test tool: moves or locates the pages of another process with tierd's
 * migrate module (src/migrate.c) and /proc/PID/maps parser (src/maps.c).
 *
 *   tierd-move --pid PID --to NODE [--range START-END] [--batch PAGES]
 *   tierd-move --pid PID --query [--range START-END]
 *
 * Without --range every mapped page of the process is considered. Only pages
 * that are present (query reports a node) are passed to the move.
 * TIERD_TEST_DISABLE_MIGRATION=1 skips the move_pages calls (negative control).
 *
 * Output:
 *   QUERY pages=N present=P node0=A node1=B ... enoent=E efault=F other=O
 *   MOVE to=N candidates=C moved=M in_place=I failed=F calls=K time_us=T
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"
#include "migrate.h"

#define MAX_NODES 64

static long page_size;

static int collect(pid_t pid, uint64_t lo, uint64_t hi, void ***ret, size_t *ret_n) {
        struct vma *vmas = NULL;
        size_t n_vmas = 0, n = 0, cap = 0;
        void **addrs = NULL;
        int r;

        r = maps_read(pid, &vmas, &n_vmas);
        if (r < 0) {
                fprintf(stderr, "tierd-move: reading /proc/%d/maps: %s\n", (int) pid, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < n_vmas; i++) {
                const struct vma *v = &vmas[i];
                if (v->path && (!strcmp(v->path, "[vsyscall]") || !strcmp(v->path, "[vvar]") ||
                                !strcmp(v->path, "[vdso]") || !strncmp(v->path, "[vvar", 5)))
                        continue;
                uint64_t s = v->start > lo ? v->start : lo, e = v->end < hi ? v->end : hi;
                for (uint64_t a = s; a < e; a += (uint64_t) page_size) {
                        if (n == cap) {
                                cap = cap ? cap * 2 : 4096;
                                void **p = realloc(addrs, cap * sizeof(*addrs));
                                if (!p) {
                                        free(addrs);
                                        vmas_free(vmas, n_vmas);
                                        return -ENOMEM;
                                }
                                addrs = p;
                        }
                        addrs[n++] = (void *) (uintptr_t) a;
                }
        }
        vmas_free(vmas, n_vmas);
        *ret = addrs;
        *ret_n = n;
        return 0;
}

static void print_query(const int *status, size_t n) {
        uint64_t per_node[MAX_NODES] = {}, enoent = 0, efault = 0, other = 0, present = 0;
        int max_node = 1;

        for (size_t i = 0; i < n; i++) {
                int s = status[i];
                if (s >= 0 && s < MAX_NODES) {
                        per_node[s]++;
                        present++;
                        if (s > max_node)
                                max_node = s;
                } else if (s == -ENOENT)
                        enoent++;
                else if (s == -EFAULT)
                        efault++;
                else
                        other++;
        }
        printf("QUERY pages=%zu present=%" PRIu64, n, present);
        for (int i = 0; i <= max_node; i++)
                printf(" node%d=%" PRIu64, i, per_node[i]);
        printf(" enoent=%" PRIu64 " efault=%" PRIu64 " other=%" PRIu64 "\n", enoent, efault, other);
}

static int parse_range(const char *s, uint64_t *lo, uint64_t *hi) {
        char *end;
        errno = 0;
        *lo = strtoull(s, &end, 0);
        if (errno || *end != '-')
                return -EINVAL;
        *hi = strtoull(end + 1, &end, 0);
        if (errno || *end || *hi <= *lo)
                return -EINVAL;
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "pid", required_argument, NULL, 'p' },
                { "to", required_argument, NULL, 't' },
                { "query", no_argument, NULL, 'q' },
                { "range", required_argument, NULL, 'r' },
                { "batch", required_argument, NULL, 'b' },
                {}
        };
        pid_t pid = 0;
        int to = -1, query = 0, c, r;
        uint64_t lo = 0, hi = UINT64_MAX;
        size_t batch = MIGRATE_BATCH_PAGES_DEFAULT;

        page_size = sysconf(_SC_PAGESIZE);
        while ((c = getopt_long(argc, argv, "p:t:qr:b:", opts, NULL)) >= 0) {
                switch (c) {
                case 'p': pid = (pid_t) atoi(optarg); break;
                case 't': to = atoi(optarg); break;
                case 'q': query = 1; break;
                case 'r':
                        if (parse_range(optarg, &lo, &hi) < 0) {
                                fprintf(stderr, "tierd-move: bad --range '%s' (START-END)\n", optarg);
                                return 2;
                        }
                        break;
                case 'b': batch = strtoul(optarg, NULL, 0); break;
                default: goto usage;
                }
        }
        if (pid <= 0 || (!query && to < 0))
                goto usage;

        void **addrs = NULL;
        size_t n = 0;
        r = collect(pid, lo, hi, &addrs, &n);
        if (r < 0)
                return 1;
        int *status = calloc(n ? n : 1, sizeof(int));
        if (!status)
                return 1;
        r = migrate_query_nodes(pid, addrs, n, status);
        if (r < 0) {
                fprintf(stderr, "tierd-move: query failed: %s\n", strerror(-r));
                return 1;
        }
        if (query) {
                print_query(status, n);
                return 0;
        }

        /* Only present pages not yet on the destination are candidates. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                if (status[i] >= 0 && status[i] != to)
                        addrs[m++] = addrs[i];

        const char *dis = getenv("TIERD_TEST_DISABLE_MIGRATION");
        if (dis && *dis && strcmp(dis, "0") != 0) {
                printf("MOVE to=%d candidates=%zu skipped: TIERD_TEST_DISABLE_MIGRATION is set\n", to, m);
                return 0;
        }

        struct migrate_result res = {};
        long moved = migrate_move_pages(pid, addrs, m, to, batch, MPOL_MF_MOVE, status, &res);
        printf("MOVE to=%d candidates=%zu moved=%" PRIu64 " in_place=%" PRIu64 " failed=%" PRIu64
               " calls=%" PRIu64 " time_us=%" PRIu64 "\n",
               to, m, res.pages_moved, res.pages_in_place, res.pages_failed, res.calls, res.time_us);
        if (moved < 0) {
                fprintf(stderr, "tierd-move: move failed: %s\n", strerror((int) -moved));
                return 1;
        }
        return 0;

usage:
        fprintf(stderr,
                "usage: tierd-move --pid PID --to NODE [--range START-END] [--batch PAGES]\n"
                "       tierd-move --pid PID --query [--range START-END]\n");
        return 2;
}
