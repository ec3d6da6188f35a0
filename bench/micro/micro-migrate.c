/* SPDX-License-Identifier: GPL-2.0-or-later */
/* micro-migrate: tierd's migration throughput with the rate limits off, against raw move_pages(2) of the same pages
 * in the same batches, measured in the same run. Needs two memory nodes (the QEMU guest) and root (or a target of
 * the same user).
 *
 *   raw        move_pages(pid, n, pages, nodes, status, MPOL_MF_MOVE) per batch of --batch pages, nothing else
 *   migrate    migrate_move_pages() (src/migrate.c): one query of all pages, then the same batches
 *   placement  the plan executor (src/placement.c) with no rate limit and no round cap, batch_bytes = --batch
 *              pages, over a plan with one move per page: migrate_move_pages() per batch plus
 *              heat_store_note_move() per page (the target is tracked by a heat store)
 *
 * Each repetition moves the whole buffer of a target process from node 0 to node 1 and back with each variant,
 * rotating the order of the variants between repetitions. Throughput is MiB over wall time of the move; the CPU of
 * this process (where the kernel does the migration work) is reported too. Every move is checked: all pages must
 * end on the destination node. */

#include <getopt.h>
#include <inttypes.h>
#include <numaif.h>

#include "heat.h"
#include "log.h"
#include "maps.h"
#include "micro-common.h"
#include "migrate.h"
#include "placement.h"
#include "policy.h"

struct options {
        uint64_t mib;
        unsigned reps, warmup_reps;
        size_t batch_pages;
        bool thp;
        int cpu, target_cpu;
};

enum variant {
        VARIANT_RAW,
        VARIANT_MIGRATE,
        VARIANT_PLACEMENT,
        _VARIANT_MAX,
};

static const char *const variant_names[_VARIANT_MAX] = { "raw", "migrate", "placement" };

struct target {
        pid_t pid;
        uint64_t addr, bytes;
        void **units; /* one address per unit: page, or THP head */
        size_t n_units;
        uint64_t unit_bytes;
        int *status;
        int *nodes;
        struct heat_store *heat;
        uint64_t round;
};

static int move_raw(struct target *t, int dest, const struct options *o) {
        for (size_t i = 0; i < t->n_units; i++)
                t->nodes[i] = dest;
        for (size_t next = 0; next < t->n_units; next += o->batch_pages) {
                size_t n = MIN(o->batch_pages, t->n_units - next);

                if (move_pages(t->pid, n, t->units + next, t->nodes + next, t->status + next, MPOL_MF_MOVE) < 0)
                        return -errno;
        }
        return 0;
}

static int move_migrate(struct target *t, int dest, const struct options *o) {
        struct migrate_result res;
        long r;

        r = migrate_move_pages(t->pid, t->units, t->n_units, dest, o->batch_pages, MPOL_MF_MOVE, t->status, &res);
        return r < 0 ? (int) r : 0;
}

static int move_placement(struct target *t, int dest, const struct options *o) {
        struct placement p;
        struct policy_plan plan = {
                .n_moves = t->n_units,
                .move_flags = MPOL_MF_MOVE,
                .round = ++t->round,
        };
        int r = 0;

        plan.moves = calloc(t->n_units, sizeof(struct policy_move));
        if (!plan.moves)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_units; i++)
                plan.moves[i] = (struct policy_move) {
                        .pid = t->pid,
                        .addr = (uint64_t) (uintptr_t) t->units[i],
                        .size_bytes = t->unit_bytes,
                        .from_node = 1 - dest,
                        .to_node = dest,
                        .from_tier = 1 - dest,
                        .to_tier = dest,
                        .direction = dest == 0 ? POLICY_PROMOTE : POLICY_DEMOTE,
                        .reason = dest == 0 ? POLICY_REASON_HOT_ON_SLOW : POLICY_REASON_HEADROOM,
                        .workload = -1,
                };

        placement_init(&p, &(struct placement_settings) { .batch_bytes = o->batch_pages * t->unit_bytes }, 0);
        placement_start(&p, &plan); /* takes the plan over */
        for (;;) {
                uint64_t wait = 0;

                r = placement_run(&p, t->heat, micro_mono_ns() / 1000, &wait);
                if (r <= 0)
                        break;
                if (wait > 0)
                        micro_sleep_us(wait); /* never with the limits off; here for safety */
        }
        placement_done(&p);
        return r;
}

/* Counts the units on node dest. */
static int count_on(struct target *t, int dest, size_t *ret) {
        int r = migrate_query_nodes(t->pid, t->units, t->n_units, t->status);
        size_t n = 0;

        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_units; i++)
                n += t->status[i] == dest;
        *ret = n;
        return 0;
}

static int run_move(struct target *t, enum variant v, int dest, const struct options *o, double *ret_wall_s,
                    double *ret_cpu_s) {
        uint64_t m0, c0;
        size_t on;
        int r;

        m0 = micro_mono_ns();
        c0 = micro_cpu_ns();
        switch (v) {
        case VARIANT_RAW:
                r = move_raw(t, dest, o);
                break;
        case VARIANT_MIGRATE:
                r = move_migrate(t, dest, o);
                break;
        case VARIANT_PLACEMENT:
                r = move_placement(t, dest, o);
                break;
        default:
                r = -EINVAL;
        }
        *ret_cpu_s = (micro_cpu_ns() - c0) / 1e9;
        *ret_wall_s = (micro_mono_ns() - m0) / 1e9;
        if (r < 0)
                return log_error_errno(r, "%s: move to node %d failed: %m", variant_names[v], dest);

        r = count_on(t, dest, &on);
        if (r < 0)
                return log_error_errno(r, "Cannot query the pages: %m");
        if (on != t->n_units)
                return log_error_errno(EIO, "%s: only %zu of %zu units on node %d after the move: %m",
                                       variant_names[v], on, t->n_units, dest);
        return 0;
}

/* AnonHugePages of the process: whether its buffer really is in THPs. */
static uint64_t anon_huge_kib(pid_t pid) {
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long kib = 0;
        char path[64], line[256];

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "AnonHugePages: %llu kB", &kib) == 1)
                        break;
        return kib;
}

/* Tracks the target in the heat store, as the engine would. */
static int track_target(struct target *t) {
        struct vma *vmas = NULL;
        size_t n = 0;
        int r;

        r = maps_read(t->pid, &vmas, &n);
        if (r < 0)
                return r;
        r = heat_store_sync_target(t->heat, t->pid, vmas, n);
        vmas_free(vmas, n);
        return r;
}

static void help(void) {
        printf("micro-migrate [OPTIONS]\n\n"
               "Throughput of tierd's migration (no rate limit) vs raw move_pages(2), node 0 <-> node 1.\n\n"
               "  --mib N         buffer size (default 128)\n"
               "  --reps N        measured repetitions (default 5)\n"
               "  --warmup N      unmeasured repetitions first (default 1)\n"
               "  --batch N       pages (units) per move_pages() call (default %d, tierd's default)\n"
               "  --thp           THP buffer (one address per 2 MiB unit)\n"
               "  --cpu N         pin this process to CPU N\n"
               "  --target-cpu N  pin the target to CPU N\n",
               MIGRATE_BATCH_PAGES_DEFAULT);
}

static int parse_options(int argc, char **argv, struct options *o) {
        enum { ARG_MIB = 0x100, ARG_REPS, ARG_WARMUP, ARG_BATCH, ARG_THP, ARG_CPU, ARG_TCPU };
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { "mib", required_argument, NULL, ARG_MIB },
                { "reps", required_argument, NULL, ARG_REPS },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "batch", required_argument, NULL, ARG_BATCH },
                { "thp", no_argument, NULL, ARG_THP },
                { "cpu", required_argument, NULL, ARG_CPU },
                { "target-cpu", required_argument, NULL, ARG_TCPU },
                {}
        };
        int ch;

        *o = (struct options) {
                .mib = 128,
                .reps = 5,
                .warmup_reps = 1,
                .batch_pages = MIGRATE_BATCH_PAGES_DEFAULT,
                .cpu = -1,
                .target_cpu = -1,
        };
        while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                uint64_t v = 0;

                if (ch == 'h') {
                        help();
                        exit(EXIT_SUCCESS);
                }
                if (ch == '?')
                        return -EINVAL;
                if (ch != ARG_THP && micro_parse_u64(optarg, &v) < 0)
                        return log_error_errno(EINVAL, "Bad number '%s': %m", optarg);
                switch (ch) {
                case ARG_MIB:
                        o->mib = v;
                        break;
                case ARG_REPS:
                        o->reps = (unsigned) v;
                        break;
                case ARG_WARMUP:
                        o->warmup_reps = (unsigned) v;
                        break;
                case ARG_BATCH:
                        o->batch_pages = (size_t) v;
                        break;
                case ARG_THP:
                        o->thp = true;
                        break;
                case ARG_CPU:
                        o->cpu = (int) v;
                        break;
                case ARG_TCPU:
                        o->target_cpu = (int) v;
                        break;
                }
        }
        if (o->mib == 0 || o->mib % 2 != 0 || o->reps == 0 || o->batch_pages == 0)
                return log_error_errno(EINVAL, "Option out of range (--mib must be even): %m");
        return 0;
}

static int run(const struct options *o) {
        struct target t = {};
        char mib_buf[32], cpu_buf[16];
        char *targv[] = { (char *) "micro-migrate", (char *) "--target", mib_buf, (char *) (o->thp ? "1" : "0"),
                          cpu_buf, (char *) "%d", NULL };
        double wall[_VARIANT_MAX][2][64], cpu[_VARIANT_MAX][2][64];
        unsigned reps = MIN(o->reps, 64u);
        size_t on;
        int r;

        (void) micro_pin_cpu(o->cpu);
        t.bytes = o->mib << 20;
        t.unit_bytes = o->thp ? HEAT_THP_SIZE : HEAT_PAGE_SIZE;
        t.n_units = t.bytes / t.unit_bytes;
        t.units = calloc(t.n_units, sizeof(void *));
        t.status = calloc(t.n_units, sizeof(int));
        t.nodes = calloc(t.n_units, sizeof(int));
        r = heat_store_new(&t.heat);
        if (r < 0 || !t.units || !t.status || !t.nodes) {
                r = log_oom();
                goto finish;
        }

        snprintf(mib_buf, sizeof(mib_buf), "%" PRIu64, o->mib);
        snprintf(cpu_buf, sizeof(cpu_buf), "%d", o->target_cpu);
        t.pid = micro_target_spawn(targv, &t.addr);
        if (t.pid < 0) {
                r = log_error_errno(t.pid, "Cannot start the target: %m");
                goto finish;
        }
        r = track_target(&t);
        if (r < 0) {
                log_error_errno(r, "Cannot track the target: %m");
                goto stop;
        }
        for (size_t i = 0; i < t.n_units; i++)
                t.units[i] = (void *) (uintptr_t) (t.addr + i * t.unit_bytes);

        /* Start from node 0, whatever the first touch did. */
        r = move_migrate(&t, 0, o);
        if (r >= 0)
                r = count_on(&t, 0, &on);
        if (r < 0) {
                log_error_errno(r, "Cannot place the buffer on node 0: %m");
                goto stop;
        }
        if (on != t.n_units) {
                r = log_error_errno(EIO, "Only %zu of %zu units on node 0 at the start: %m", on, t.n_units);
                goto stop;
        }
        printf("MICRO-MIGRATE config mib=%" PRIu64 " unit_bytes=%" PRIu64 " units=%zu batch_units=%zu reps=%u "
               "warmup=%u target_pid=%d anon_huge_kib=%" PRIu64 "\n",
               o->mib, t.unit_bytes, t.n_units, o->batch_pages, reps, o->warmup_reps, (int) t.pid,
               anon_huge_kib(t.pid));

        /* The first moves to node 1 find its memory never used (page allocator, LRU lists cold): the warm-up
         * repetitions run every variant once first, unmeasured. */
        for (unsigned i = 0; i < o->warmup_reps + reps; i++)
                for (unsigned k = 0; k < _VARIANT_MAX; k++) {
                        bool measured = i >= o->warmup_reps;
                        unsigned rep = measured ? i - o->warmup_reps : 0;
                        enum variant v = (enum variant) ((k + i) % _VARIANT_MAX);

                        for (int dir = 0; dir < 2; dir++) {
                                int dest = dir == 0 ? 1 : 0;
                                double w, cp;

                                r = run_move(&t, v, dest, o, &w, &cp);
                                if (r < 0)
                                        goto stop;
                                printf("MICRO-MIGRATE rep=%s%u variant=%s to=%d wall_ms=%.1f cpu_ms=%.1f "
                                       "mib_per_s=%.1f\n",
                                       measured ? "" : "warmup", measured ? rep + 1 : i + 1, variant_names[v], dest,
                                       w * 1e3, cp * 1e3, o->mib / w);
                                fflush(stdout);
                                if (measured) {
                                        wall[v][dir][rep] = w;
                                        cpu[v][dir][rep] = cp;
                                }
                        }
                }

        double med[_VARIANT_MAX][2], cmed[_VARIANT_MAX][2];
        for (unsigned v = 0; v < _VARIANT_MAX; v++) {
                for (int dir = 0; dir < 2; dir++) {
                        med[v][dir] = micro_median(wall[v][dir], reps);
                        cmed[v][dir] = micro_median(cpu[v][dir], reps);
                }
                printf("MICRO-MIGRATE summary variant=%s to1_mib_per_s=%.1f to0_mib_per_s=%.1f to1_cpu_ms=%.1f "
                       "to0_cpu_ms=%.1f\n",
                       variant_names[v], o->mib / med[v][0], o->mib / med[v][1], cmed[v][0] * 1e3, cmed[v][1] * 1e3);
        }
        for (unsigned v = VARIANT_MIGRATE; v < _VARIANT_MAX; v++)
                printf("MICRO-MIGRATE ratio variant=%s to1=%.3f to0=%.3f\n", variant_names[v],
                       med[VARIANT_RAW][0] / med[v][0], med[VARIANT_RAW][1] / med[v][1]);
        r = 0;
stop:
        micro_target_stop(t.pid);
finish:
        heat_store_free(t.heat);
        free(t.units);
        free(t.status);
        free(t.nodes);
        return r;
}

int main(int argc, char **argv) {
        struct options o;

        /* The target: micro-migrate --target MIB THP CPU READY_FD */
        if (argc == 6 && streq(argv[1], "--target")) {
                uint64_t mib, fd;

                if (micro_parse_u64(argv[2], &mib) < 0 || micro_parse_u64(argv[5], &fd) < 0)
                        return EXIT_FAILURE;
                micro_target_run(mib, streq(argv[3], "1"), 0, 1000000, (int) fd, atoi(argv[4]));
        }

        log_set_max_level(LOG_WARNING);
        if (parse_options(argc, argv, &o) < 0)
                return EXIT_FAILURE;
        return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
