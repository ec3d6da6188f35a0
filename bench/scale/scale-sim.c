/* SPDX-License-Identifier: GPL-2.0-or-later */
/* scale-sim: tierd's real heat store, census, policy and plan executor at the scale of 1 TiB of tracked memory,
 * driven by a synthetic access source. No kernel is involved: move_pages(2) is replaced through migrate.c's
 * testing seam by a fake that answers from (and moves within) a bit per unit held by this program.
 *
 * Each round does what the daemon and the page_idle backend do to the heat store:
 *   begin     heat_store_sync_target() for every target (unchanged VMAs), heat_store_begin_round()
 *   upkeep    page_idle's per-round heat store calls: heat_store_set_thp() for every 2 MiB window (upkeep_thp),
 *             two heat_store_set_flags_bitmap() (skip, lazyfree) per 64k-page chunk (upkeep_flags), and
 *             heat_store_settle_bitmap() per chunk with where each unit is, as page_idle learns it from the PFN
 *             (the bitmaps are built from the simulated placement and timed with it; --no-pfn-map leaves it out,
 *             as on a machine whose nodes' PFN spans overlap), then heat_store_observed_bitmap() per chunk: the
 *             pages the round will track (upkeep_place)
 *   passes    per pass: heat_store_begin_pass(), then heat_store_record_bitmap() over windows of 32768 pages, as
 *             the page_idle backend hands them over (the source that fills the windows is timed apart); a page
 *             the heat store left out of the round is not recorded, as page_idle would not have tracked it
 *   end       heat_store_end_round()
 *   census    census_take() (move_pages queries, sampled past 2^14 units)
 *   plan      policy_plan() with placement_locate() (move_pages queries)
 *   execute   placement_run() with no rate limit (move_pages moves, heat_store_note_move() per unit)
 *
 * The access source, per unit (a 4 KiB page, or a 2 MiB THP with --thp) and pass: units of a hot 2 MiB region are
 * accessed with probability 7/8, all others with 1/64. A region is hot with probability --hot-pct; each region
 * re-draws its hotness every --hot-period rounds, at its own phase, so that every round some regions turn hot
 * (promotions) and some go cold (demotions after cold_rounds). */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "census.h"
#include "config.h"
#include "heat.h"
#include "log.h"
#include "macro.h"
#include "migrate.h"
#include "placement.h"
#include "policy.h"
#include "topology.h"

#define PID_BASE 1000
#define ADDR_BASE UINT64_C(0x100000000000)
#define VMA_GAP_BYTES HEAT_THP_SIZE
/* The page_idle backend's sizes (scan-page-idle.c): record windows and pagemap chunks. */
#define RECORD_WINDOW_PAGES 32768
#define CHUNK_PAGES 65536

struct options {
        uint64_t pages;        /* tracked 4 KiB pages in all */
        unsigned targets;      /* processes */
        unsigned vmas;         /* VMAs per process */
        bool thp;              /* every 2 MiB is one THP unit */
        bool observe_all;      /* no partial observation (DAMON and idle_pages backends) */
        bool no_pfn_map;       /* the backend does not know where pages are */
        unsigned rounds;
        unsigned hot_per_mille;
        unsigned hot_period_rounds;
        unsigned fast_pct;      /* share of the units on node 0 at the start */
        bool fast_regions;      /* node 0's share in whole 2 MiB regions (first touch) rather than spread by unit */
        unsigned fast_free_pct; /* node 0's free memory at the start, of its total */
        uint64_t seed;
};

/* The simulated machine: where every unit is, and what each node holds. */
struct sim {
        struct options opt;
        uint64_t units;          /* in all */
        uint64_t units_per_vma;
        uint64_t vma_bytes;
        unsigned unit_shift;     /* log2 of the unit size */
        uint64_t *slow;          /* bit per unit: on node 1 */
        uint64_t used_bytes[2];  /* tracked bytes per node */
        uint64_t total_bytes[2];
        uint64_t window[RECORD_WINDOW_PAGES / 64];
        uint64_t *observed;      /* bit per page: observed this round (page_idle keeps the list of those it tracks) */
        uint64_t pages;          /* in all */
        uint64_t fastest[CHUNK_PAGES / 64], slowest[CHUNK_PAGES / 64];
        uint64_t rng;
        unsigned round;
        uint64_t cached_region; /* source_fill()'s last region and its hotness, valid within one pass */
        bool cached_hot;

        /* counted by the fake move_pages */
        uint64_t queried, moved;
        uint64_t kernel_ns; /* time inside it: the system call's stand-in, not tierd's own work */

        uint64_t peak_hwm_bytes; /* note_peak() */
        const char *peak_phase;
        unsigned peak_round;
};

static struct sim sim;

static uint64_t splitmix64(uint64_t x) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

static uint64_t rng_next(void) {
        /* xorshift64*: cheap enough that the source stays small next to what it feeds */
        sim.rng ^= sim.rng >> 12;
        sim.rng ^= sim.rng << 25;
        sim.rng ^= sim.rng >> 27;
        return sim.rng * UINT64_C(0x2545f4914f6cdd1d);
}

static bool region_hot(uint64_t region) {
        uint64_t phase = splitmix64(region ^ sim.opt.seed) % sim.opt.hot_period_rounds;
        uint64_t epoch = (sim.round + phase) / sim.opt.hot_period_rounds;
        uint64_t h = splitmix64(region * UINT64_C(0x100000001b3) ^ (epoch << 40) ^ ~sim.opt.seed);

        return h % 1000 < sim.opt.hot_per_mille;
}

static uint64_t vma_start(unsigned v) {
        return ADDR_BASE + v * (sim.vma_bytes + VMA_GAP_BYTES);
}

static bool unit_slow(uint64_t u) {
        return sim.slow[u / 64] & (UINT64_C(1) << (u % 64));
}

static void unit_set_slow(uint64_t u, bool slow) {
        if (slow)
                sim.slow[u / 64] |= UINT64_C(1) << (u % 64);
        else
                sim.slow[u / 64] &= ~(UINT64_C(1) << (u % 64));
}

/* Global unit index of (pid, addr), or -1 if the address is not one of ours. */
static int64_t unit_of(int pid, uint64_t addr) {
        uint64_t t, v, off;

        if (pid < PID_BASE || (unsigned) (pid - PID_BASE) >= sim.opt.targets || addr < ADDR_BASE)
                return -1;
        t = (uint64_t) (pid - PID_BASE);
        v = (addr - ADDR_BASE) / (sim.vma_bytes + VMA_GAP_BYTES);
        if (v >= sim.opt.vmas)
                return -1;
        off = addr - vma_start((unsigned) v);
        if (off >= sim.vma_bytes)
                return -1;
        return (int64_t) ((t * sim.opt.vmas + v) * sim.units_per_vma + (off >> sim.unit_shift));
}

/* move_pages(2) as the kernel would answer for the simulated machine: queries report the unit's node, moves
 * always succeed (the policy keeps the headroom, so the destination never fills up). */
static uint64_t mono_ns(void);

static long fake_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status,
                            _unused_ int flags) {
        uint64_t unit_bytes = UINT64_C(1) << sim.unit_shift, m0 = mono_ns();

        for (unsigned long i = 0; i < count; i++) {
                int64_t u = unit_of(pid, (uint64_t) (uintptr_t) pages[i]);
                int node;

                if (u < 0) {
                        status[i] = -EFAULT;
                        continue;
                }
                node = unit_slow((uint64_t) u);
                if (!nodes) {
                        sim.queried++;
                        status[i] = node;
                        continue;
                }
                if (nodes[i] != node) {
                        unit_set_slow((uint64_t) u, nodes[i] == 1);
                        sim.used_bytes[node] -= unit_bytes;
                        sim.used_bytes[nodes[i]] += unit_bytes;
                        sim.moved++;
                }
                status[i] = nodes[i];
        }
        sim.kernel_ns += mono_ns() - m0;
        return 0;
}

static void topology_fill(struct topology *t, struct topology_node nodes[static 2]) {
        *t = (struct topology) { .nodes = nodes, .n_nodes = 2, .n_tiers = 2, .tier_source = TIER_SOURCE_CONFIG };
        for (int n = 0; n < 2; n++) {
                nodes[n] = (struct topology_node) {
                        .id = n,
                        .n_cpus = n == 0 ? 2 : 0,
                        .total_bytes = sim.total_bytes[n],
                        .free_bytes = sim.total_bytes[n] - sim.used_bytes[n],
                        .tier = n,
                };
                node_set_add(&t->tiers[n].nodes, (unsigned) n);
                t->tiers[n].kernel_tier = -1;
                t->tiers[n].total_bytes = nodes[n].total_bytes;
                t->tiers[n].free_bytes = nodes[n].free_bytes;
        }
}

static uint64_t cpu_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/* VmHWM and VmRSS from /proc/self/status, in bytes. */
static void memory_now(uint64_t *ret_hwm_bytes, uint64_t *ret_rss_bytes) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];

        *ret_hwm_bytes = *ret_rss_bytes = 0;
        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned long long kib;

                if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
                        *ret_hwm_bytes = (uint64_t) kib << 10;
                else if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
                        *ret_rss_bytes = (uint64_t) kib << 10;
        }
}

enum phase {
        PHASE_BEGIN,
        PHASE_UPKEEP_THP,
        PHASE_UPKEEP_FLAGS,
        PHASE_UPKEEP_PLACE,
        PHASE_RECORD,
        PHASE_SOURCE,
        PHASE_END,
        PHASE_CENSUS,
        PHASE_PLAN,
        PHASE_EXECUTE,
        PHASE_KERNEL,
        _PHASE_MAX,
};

static const char *const phase_names[_PHASE_MAX] = {
        [PHASE_BEGIN] = "begin",
        [PHASE_UPKEEP_THP] = "upkeep_thp",
        [PHASE_UPKEEP_FLAGS] = "upkeep_flags",
        [PHASE_UPKEEP_PLACE] = "upkeep_place",
        [PHASE_RECORD] = "record",
        [PHASE_SOURCE] = "source",
        [PHASE_END] = "end",
        [PHASE_CENSUS] = "census",
        [PHASE_PLAN] = "plan",
        [PHASE_EXECUTE] = "execute",
        [PHASE_KERNEL] = "kernel",
};

/* Fills the window of the n pages at page offset first_page of VMA number global_vma with one pass's accesses.
 * Returns whether any bit is set. */
/* noinline: callgrind counts it apart from tierd's code. */
static __attribute__((noinline)) bool source_fill(uint64_t global_vma, uint64_t first_page, uint64_t n) {
        uint64_t words = (n + 63) / 64;
        bool any = false;

        if (!sim.opt.thp) {
                for (uint64_t w = 0; w < words; w++) {
                        uint64_t page = first_page + w * 64;
                        uint64_t region = global_vma * (sim.vma_bytes / HEAT_THP_SIZE) + page / HEAT_THP_PAGES;
                        uint64_t bits;

                        /* A region is 8 words: its hotness is worked out once for them. */
                        if (region != sim.cached_region) {
                                sim.cached_region = region;
                                sim.cached_hot = region_hot(region);
                        }
                        if (sim.cached_hot)
                                bits = ~(rng_next() & rng_next() & rng_next());
                        else
                                bits = rng_next() & rng_next() & rng_next() & rng_next() & rng_next() &
                                       rng_next();
                        if (w == words - 1 && n % 64 != 0)
                                bits &= (UINT64_C(1) << (n % 64)) - 1;
                        sim.window[w] = bits;
                        any = any || bits != 0;
                }
                return any;
        }

        /* THP: the bit of a unit is its head page's, as page_idle records it. */
        memset(sim.window, 0, words * sizeof(uint64_t));
        for (uint64_t p = 0; p < n; p += HEAT_THP_PAGES) {
                uint64_t region = global_vma * (sim.vma_bytes / HEAT_THP_SIZE) + (first_page + p) / HEAT_THP_PAGES;
                uint64_t r = rng_next();
                bool hit = region_hot(region) ? (r & 7) != 0 : (r & 63) == 0;

                if (hit) {
                        sim.window[p / 64] |= UINT64_C(1) << (p % 64);
                        any = true;
                }
        }
        return any;
}

/* A phase's CPU time, less what it spent inside the fake move_pages(): in tierd that time is the kernel's
 * (locating and migrating pages), which this simulation stands in for but does not model. */
static void phase_add(uint64_t t_ns[static _PHASE_MAX], int phase, uint64_t c0, uint64_t k0) {
        uint64_t total = cpu_ns() - c0, kernel = MIN(sim.kernel_ns - k0, total);

        t_ns[PHASE_KERNEL] += kernel;
        t_ns[phase] += total - kernel;
}

/* One pass: every VMA of every target, in record windows. Source time is measured on the monotonic clock around
 * each fill (the process is alone on its CPU) and subtracted from the pass's CPU time to give the record time. */
static int run_pass(struct heat_store *heat, uint64_t t_ns[static _PHASE_MAX]) {
        uint64_t c0 = cpu_ns(), source_ns = 0;
        int r;

        r = heat_store_begin_pass(heat);
        if (r < 0)
                return r;
        sim.cached_region = UINT64_MAX;
        for (unsigned t = 0; t < sim.opt.targets; t++)
                for (unsigned v = 0; v < sim.opt.vmas; v++) {
                        uint64_t vma_pages = sim.vma_bytes >> HEAT_PAGE_SHIFT;

                        for (uint64_t p = 0; p < vma_pages; p += RECORD_WINDOW_PAGES) {
                                uint64_t n = MIN((uint64_t) RECORD_WINDOW_PAGES, vma_pages - p);
                                uint64_t m0 = mono_ns();
                                bool any = source_fill((uint64_t) t * sim.opt.vmas + v, p, n);

                                source_ns += mono_ns() - m0;
                                if (!any)
                                        continue;
                                const uint64_t *o = sim.observed + (((uint64_t) t * sim.opt.vmas + v) * vma_pages + p) / 64;

                                for (uint64_t w = 0; w < (n + 63) / 64; w++)
                                        sim.window[w] &= o[w];
                                r = heat_store_record_bitmap(heat, PID_BASE + (pid_t) t,
                                                             vma_start(v) + (p << HEAT_PAGE_SHIFT), n, sim.window);
                                if (r < 0)
                                        return r;
                        }
                }
        uint64_t total = cpu_ns() - c0;
        t_ns[PHASE_SOURCE] += MIN(source_ns, total);
        t_ns[PHASE_RECORD] += total - MIN(source_ns, total);
        return 0;
}

/* page_idle's round_begin, as far as the heat store sees it: THP units per 2 MiB window (thp true), skip and
 * lazyfree flags per chunk (thp false; none set here: the synthetic pages are all plain exclusive anonymous
 * memory). page_idle interleaves the two per chunk; they are split here to time them apart. */
static int run_upkeep(struct heat_store *heat, bool thp) {
        static const uint64_t zeros[CHUNK_PAGES / 64];
        int r;

        for (unsigned t = 0; t < sim.opt.targets; t++)
                for (unsigned v = 0; v < sim.opt.vmas; v++) {
                        uint64_t start = vma_start(v), vma_pages = sim.vma_bytes >> HEAT_PAGE_SHIFT;
                        pid_t pid = PID_BASE + (pid_t) t;

                        for (uint64_t p = 0; p < vma_pages; p += CHUNK_PAGES) {
                                uint64_t n = MIN((uint64_t) CHUNK_PAGES, vma_pages - p);
                                uint64_t addr = start + (p << HEAT_PAGE_SHIFT);

                                if (thp) {
                                        for (uint64_t w = 0; w + HEAT_THP_PAGES <= n; w += HEAT_THP_PAGES) {
                                                r = heat_store_set_thp(heat, pid, addr + (w << HEAT_PAGE_SHIFT),
                                                                       sim.opt.thp);
                                                if (r < 0)
                                                        return r;
                                        }
                                        continue;
                                }
                                r = heat_store_set_flags_bitmap(heat, pid, addr, n, HEAT_F_SKIP, zeros);
                                if (r < 0)
                                        return r;
                                r = heat_store_set_flags_bitmap(heat, pid, addr, n, HEAT_F_LAZYFREE, zeros);
                                if (r < 0)
                                        return r;
                        }
                }
        return 0;
}

/* page_idle's heat_store_settle_bitmap() per chunk (unless --no-pfn-map): the unit at each page's (or THP head's)
 * bit, on node 0 or 1; then heat_store_observed_bitmap() for the chunk, whose pages are the ones the passes record
 * this round. */
static int run_upkeep_place(struct heat_store *heat, unsigned promote_rounds, unsigned cold_rounds) {
        for (unsigned t = 0; t < sim.opt.targets; t++)
                for (unsigned v = 0; v < sim.opt.vmas; v++) {
                        uint64_t start = vma_start(v), vma_pages = sim.vma_bytes >> HEAT_PAGE_SHIFT;
                        pid_t pid = PID_BASE + (pid_t) t;
                        uint64_t u0 = ((uint64_t) t * sim.opt.vmas + v) * sim.units_per_vma;

                        for (uint64_t p = 0; p < vma_pages; p += CHUNK_PAGES) {
                                uint64_t n = MIN((uint64_t) CHUNK_PAGES, vma_pages - p), words = (n + 63) / 64;
                                uint64_t page0 = ((uint64_t) t * sim.opt.vmas + v) * vma_pages + p;
                                int r;

                                if (sim.opt.no_pfn_map)
                                        goto observe;
                                if (!sim.opt.thp) {
                                        /* Units are pages: 64 bits of the placement at a time. */
                                        for (uint64_t w = 0; w < words; w++) {
                                                uint64_t bit = u0 + p + w * 64, off = bit % 64;
                                                uint64_t slow = sim.slow[bit / 64] >> off;

                                                if (off > 0 && bit / 64 + 1 < (sim.units + 63) / 64)
                                                        slow |= sim.slow[bit / 64 + 1] << (64 - off);

                                                sim.slowest[w] = slow;
                                                sim.fastest[w] = ~slow;
                                        }
                                } else {
                                        memset(sim.fastest, 0, words * sizeof(uint64_t));
                                        memset(sim.slowest, 0, words * sizeof(uint64_t));
                                        for (uint64_t k = 0; k < n; k += HEAT_THP_PAGES) {
                                                uint64_t *b = unit_slow(u0 + (p + k) / HEAT_THP_PAGES) ? sim.slowest :
                                                                                                          sim.fastest;

                                                b[k / 64] |= UINT64_C(1) << (k % 64);
                                        }
                                }
                                r = heat_store_settle_bitmap(heat, pid, start + (p << HEAT_PAGE_SHIFT), n, sim.fastest,
                                                             sim.slowest, promote_rounds, cold_rounds);
                                if (r < 0)
                                        return r;
                        observe:
                                r = heat_store_observed_bitmap(heat, pid, start + (p << HEAT_PAGE_SHIFT), n,
                                                               sim.observed + page0 / 64);
                                if (r < 0)
                                        return r;
                        }
                }
        return 0;
}

static int sync_targets(struct heat_store *heat, const struct vma *vmas) {
        for (unsigned t = 0; t < sim.opt.targets; t++) {
                int r = heat_store_sync_target(heat, PID_BASE + (pid_t) t, vmas, sim.opt.vmas);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The floor a round is measured against: passes over an array the size of the heat store's entries (2 bytes per
 * tracked page), once reading every cache line and once rewriting every entry, on this machine in this run. Run
 * after the peak memory was read (the array is as large as the entries). Returns -ENOMEM or 0. */
static int measure_floor(uint64_t *ret_read_ns, uint64_t *ret_rmw_ns) {
        size_t n = (size_t) sim.pages;
        uint16_t *a = calloc(n, sizeof(uint16_t));
        uint64_t c0, sum = 0;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i += 2048)
                a[i] = (uint16_t) i; /* fault every page in before the clock starts */
        c0 = cpu_ns();
        for (size_t i = 0; i < n; i += 32) /* one 64-byte line at a time */
                sum += a[i];
        *ret_read_ns = cpu_ns() - c0;
        c0 = cpu_ns();
        /* 8 entries at a time, as the heat store's own passes go (generic vectors: SSE2 here). */
        for (size_t i = 0; i + 8 <= n; i += 8) {
                typedef uint16_t v8 __attribute__((vector_size(16)));
                v8 x;

                memcpy(&x, a + i, sizeof(x));
                x = (x & 0xfff0) + (uint16_t) (sum & 1);
                memcpy(a + i, &x, sizeof(x));
        }
        *ret_rmw_ns = cpu_ns() - c0;
        __asm__ volatile("" : : "r"(a) : "memory"); /* the writes are the point: keep them */
        free(a);
        return 0;
}

/* Which phase first reached the peak memory (VmHWM), read after each phase, outside the timed part. */
static void note_peak(const char *phase) {
        uint64_t hwm, rss;

        memory_now(&hwm, &rss);
        if (hwm > sim.peak_hwm_bytes) {
                sim.peak_hwm_bytes = hwm;
                sim.peak_phase = phase;
                sim.peak_round = sim.round;
        }
}
static int run_round(struct heat_store *heat, const struct tierd_config *c, struct placement *pl,
                     const struct vma *vmas, uint64_t t_ns[static _PHASE_MAX], struct policy_summary *ret_summary,
                     struct heat_histogram *ret_histogram) {
        struct heat_class_params cp = { .promote_rounds = c->promote_rounds, .cold_rounds = c->cold_rounds };
        struct topology_node nodes[2];
        struct topology topo;
        struct census census;
        struct policy_params pp;
        struct policy_plan plan;
        struct heat_store_stats hs;
        uint64_t c0, k0;
        int r;

        c0 = cpu_ns();
        r = sync_targets(heat, vmas);
        heat_store_set_partial_observation(heat, !sim.opt.observe_all);
        if (r >= 0)
                r = heat_store_begin_round(heat, sim.round, c->hot_threshold);
        if (r < 0)
                return log_error_errno(r, "Cannot begin round %u: %m", sim.round);
        t_ns[PHASE_BEGIN] += cpu_ns() - c0;

        c0 = cpu_ns();
        r = run_upkeep(heat, true);
        if (r < 0)
                return log_error_errno(r, "Cannot update THP units: %m");
        t_ns[PHASE_UPKEEP_THP] += cpu_ns() - c0;

        c0 = cpu_ns();
        r = run_upkeep(heat, false);
        if (r < 0)
                return log_error_errno(r, "Cannot update flags: %m");
        t_ns[PHASE_UPKEEP_FLAGS] += cpu_ns() - c0;

        c0 = cpu_ns();
        r = run_upkeep_place(heat, c->promote_rounds, c->cold_rounds);
        if (r < 0)
                return log_error_errno(r, "Cannot settle by placement: %m");
        t_ns[PHASE_UPKEEP_PLACE] += cpu_ns() - c0;
        note_peak("place");

        for (unsigned p = 0; p < c->passes; p++) {
                r = run_pass(heat, t_ns);
                if (r < 0)
                        return log_error_errno(r, "Cannot record pass %u: %m", p + 1);
        }

        c0 = cpu_ns();
        heat_store_end_round(heat);
        t_ns[PHASE_END] += cpu_ns() - c0;
        note_peak("end");

        topology_fill(&topo, nodes);
        c0 = cpu_ns();
        k0 = sim.kernel_ns;
        r = census_take(heat, &cp, &topo, &census);
        if (r < 0)
                return log_error_errno(r, "Cannot take the census: %m");
        census_done(&census);
        phase_add(t_ns, PHASE_CENSUS, c0, k0);
        note_peak("census");

        /* As daemon_place() does it. */
        c0 = cpu_ns();
        k0 = sim.kernel_ns;
        heat_store_get_stats(heat, &hs);
        pp = (struct policy_params) {
                .class = cp,
                .round = hs.round,
                .promote_budget_bytes = c->promote_round_max_bytes ?: UINT64_MAX,
                .demote_budget_bytes = c->demote_round_max_bytes ?: UINT64_MAX,
                .eager_hits = hs.last_passes >= 2 ? hs.last_passes : 0,
                .tier_skip = c->tier_skip,
                .move_shared = c->move_shared,
        };
        policy_params_set_headroom(&pp, &topo, &c->fast_free_min, &c->fast_free_target);
        r = policy_plan(heat, &topo, &pp, placement_locate, NULL, &plan);
        if (r < 0)
                return log_error_errno(r, "Cannot plan: %m");
        phase_add(t_ns, PHASE_PLAN, c0, k0);
        note_peak("plan");
        *ret_summary = plan.summary;

        c0 = cpu_ns();
        k0 = sim.kernel_ns;
        placement_start(pl, &plan);
        for (;;) {
                uint64_t wait = 0;

                r = placement_run(pl, heat, 0, &wait);
                if (r < 0)
                        return log_error_errno(r, "Cannot execute the plan: %m");
                if (r == 0)
                        break;
        }
        phase_add(t_ns, PHASE_EXECUTE, c0, k0);
        note_peak("execute");

        /* Not timed: what the round left behind, for the report. */
        *ret_histogram = (struct heat_histogram) {};
        r = heat_store_histogram(heat, 0, &cp, ret_histogram);
        if (r < 0)
                return log_error_errno(r, "Cannot take the histogram: %m");
        return 0;
}

static void help(void) {
        printf("scale-sim [OPTIONS]\n\n"
               "Drives tierd's heat store, census, policy and executor with a synthetic access source.\n\n"
               "  --pages N          tracked 4 KiB pages in all (default 268435456 = 1 TiB)\n"
               "  --thp              every 2 MiB of it is one THP unit\n"
               "  --observe-all      observe every page every round (as the DAMON and idle_pages backends do)\n"
               "  --no-pfn-map       the backend does not say where pages are (overlapping node PFN spans)\n"
               "  --targets N        processes (default 4)\n"
               "  --vmas N           VMAs per process (default 1)\n"
               "  --rounds N         rounds (default 8)\n"
               "  --hot-per-mille N  share of hot 2 MiB regions (default 50)\n"
               "  --hot-period N     rounds between re-draws of a region's hotness (default 4)\n"
               "  --fast-pct N       share of the units on node 0 at the start (default 25)\n"
               "  --fast-regions     node 0 holds whole 2 MiB regions at the start, as first touch leaves them\n"
               "                     (default: spread by unit, as interleaving or scattered reclaim leaves them)\n"
               "  --fast-free-pct N  node 0's free memory at the start, %% of its total (default 4)\n"
               "  --seed N\n");
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;

        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_options(int argc, char **argv, struct options *o) {
        enum {
                ARG_PAGES = 0x100,
                ARG_THP,
                ARG_OBSERVE_ALL,
                ARG_NO_PFN_MAP,
                ARG_TARGETS,
                ARG_VMAS,
                ARG_ROUNDS,
                ARG_HOT,
                ARG_PERIOD,
                ARG_FAST,
                ARG_FAST_FREE,
                ARG_FAST_REGIONS,
                ARG_SEED,
        };
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { "pages", required_argument, NULL, ARG_PAGES },
                { "thp", no_argument, NULL, ARG_THP },
                { "observe-all", no_argument, NULL, ARG_OBSERVE_ALL },
                { "no-pfn-map", no_argument, NULL, ARG_NO_PFN_MAP },
                { "targets", required_argument, NULL, ARG_TARGETS },
                { "vmas", required_argument, NULL, ARG_VMAS },
                { "rounds", required_argument, NULL, ARG_ROUNDS },
                { "hot-per-mille", required_argument, NULL, ARG_HOT },
                { "hot-period", required_argument, NULL, ARG_PERIOD },
                { "fast-pct", required_argument, NULL, ARG_FAST },
                { "fast-free-pct", required_argument, NULL, ARG_FAST_FREE },
                { "fast-regions", no_argument, NULL, ARG_FAST_REGIONS },
                { "seed", required_argument, NULL, ARG_SEED },
                {}
        };
        int ch;

        *o = (struct options) {
                .pages = UINT64_C(1) << 28,
                .targets = 4,
                .vmas = 1,
                .rounds = 8,
                .hot_per_mille = 50,
                .hot_period_rounds = 4,
                .fast_pct = 25,
                .fast_free_pct = 4,
                .seed = 1,
        };
        while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                uint64_t v = 0;

                if (ch == 'h') {
                        help();
                        exit(EXIT_SUCCESS);
                }
                if (ch == '?')
                        return -EINVAL;
                if (ch != ARG_THP && ch != ARG_OBSERVE_ALL && ch != ARG_NO_PFN_MAP && ch != ARG_FAST_REGIONS &&
                    parse_u64(optarg, &v) < 0)
                        return log_error_errno(EINVAL, "Bad number '%s': %m", optarg);
                switch (ch) {
                case ARG_PAGES:
                        o->pages = v;
                        break;
                case ARG_OBSERVE_ALL:
                        o->observe_all = true;
                        break;
                case ARG_NO_PFN_MAP:
                        o->no_pfn_map = true;
                        break;
                case ARG_THP:
                        o->thp = true;
                        break;
                case ARG_TARGETS:
                        o->targets = (unsigned) v;
                        break;
                case ARG_VMAS:
                        o->vmas = (unsigned) v;
                        break;
                case ARG_ROUNDS:
                        o->rounds = (unsigned) v;
                        break;
                case ARG_HOT:
                        o->hot_per_mille = (unsigned) v;
                        break;
                case ARG_PERIOD:
                        o->hot_period_rounds = (unsigned) v;
                        break;
                case ARG_FAST:
                        o->fast_pct = (unsigned) v;
                        break;
                case ARG_FAST_FREE:
                        o->fast_free_pct = (unsigned) v;
                        break;
                case ARG_FAST_REGIONS:
                        o->fast_regions = true;
                        break;
                case ARG_SEED:
                        o->seed = v;
                        break;
                }
        }
        if (o->targets == 0 || o->vmas == 0 || o->rounds == 0 || o->hot_period_rounds == 0 || o->fast_pct > 100 ||
            o->fast_free_pct == 0 || o->fast_free_pct >= 100 || o->hot_per_mille > 1000)
                return log_error_errno(EINVAL, "Option out of range: %m");
        if (o->pages % ((uint64_t) o->targets * o->vmas * HEAT_THP_PAGES) != 0)
                return log_error_errno(EINVAL, "--pages must be a multiple of targets x vmas x 512: %m");
        if ((o->pages / ((uint64_t) o->targets * o->vmas)) << HEAT_PAGE_SHIFT > HEAT_VMA_MAX_BYTES)
                return log_error_errno(EINVAL, "A VMA would exceed the heat store's limit of 1 TiB: %m");
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_heat_store_free_ struct heat_store *heat = NULL;
        _cleanup_config_free_ struct tierd_config *c = NULL;
        _cleanup_free_ struct vma *vmas = NULL;
        struct heat_move_params mp;
        struct placement pl;
        uint64_t hwm0, rss0, hwm, rss, c0, setup_ns, sum_ns[_PHASE_MAX] = {};
        unsigned steady_from, steady_rounds = 0;
        int r;

        log_set_max_level(LOG_WARNING);
        memory_return_freed(); /* as tierd does */
        r = parse_options(argc, argv, &sim.opt);
        if (r < 0)
                return EXIT_FAILURE;

        r = config_new_defaults(&c);
        if (r < 0) {
                log_error_errno(r, "Cannot create the default configuration: %m");
                return EXIT_FAILURE;
        }

        memory_now(&hwm0, &rss0);

        sim.unit_shift = sim.opt.thp ? 21 : HEAT_PAGE_SHIFT;
        sim.units = (sim.opt.pages << HEAT_PAGE_SHIFT) >> sim.unit_shift;
        sim.vma_bytes = (sim.opt.pages / ((uint64_t) sim.opt.targets * sim.opt.vmas)) << HEAT_PAGE_SHIFT;
        sim.units_per_vma = sim.vma_bytes >> sim.unit_shift;
        sim.rng = splitmix64(sim.opt.seed);
        sim.slow = calloc((sim.units + 63) / 64, sizeof(uint64_t));
        sim.pages = sim.opt.pages;
        sim.observed = calloc((sim.pages + 63) / 64, sizeof(uint64_t));
        vmas = calloc(sim.opt.vmas, sizeof(struct vma));
        if (!sim.slow || !sim.observed || !vmas) {
                log_oom();
                return EXIT_FAILURE;
        }
        for (unsigned v = 0; v < sim.opt.vmas; v++)
                vmas[v] = (struct vma) { .start = vma_start(v), .end = vma_start(v) + sim.vma_bytes, .perms = "rw-p" };

        /* Placement at the start: fast_pct of the units on node 0, spread by hash (by unit, or by 2 MiB region with
         * --fast-regions); node 0 sized so that it has
         * fast_free_pct free (between the default fast_free_min and fast_free_target: the policy demotes to
         * restore the target and promotes into what lies above the minimum). Node 1 holds the rest with room. */
        for (uint64_t u = 0; u < sim.units; u++) {
                uint64_t key = sim.opt.fast_regions ? (u << sim.unit_shift) / HEAT_THP_SIZE : u;
                bool slow = splitmix64(key ^ (sim.opt.seed << 32)) % 100 >= sim.opt.fast_pct;

                unit_set_slow(u, slow);
                sim.used_bytes[slow] += UINT64_C(1) << sim.unit_shift;
        }
        sim.total_bytes[0] = sim.used_bytes[0] / (100 - sim.opt.fast_free_pct) * 100;
        sim.total_bytes[0] = MAX(sim.total_bytes[0], sim.used_bytes[0] + HEAT_THP_SIZE);
        sim.total_bytes[1] = sim.used_bytes[1] + sim.used_bytes[0] + (UINT64_C(16) << 30);
        migrate_set_move_pages(fake_move_pages);

        c0 = cpu_ns();
        r = heat_store_new(&heat);
        if (r < 0) {
                log_error_errno(r, "Cannot create the heat store: %m");
                return EXIT_FAILURE;
        }
        mp = (struct heat_move_params) {
                .min_residency_rounds = c->min_residency_rounds,
                .pingpong_window_rounds = c->pingpong_window_rounds,
                .max_backoff_rounds = c->max_backoff_rounds,
        };
        r = heat_store_set_move_params(heat, &mp);
        if (r >= 0)
                r = sync_targets(heat, vmas);
        if (r >= 0 && sim.opt.thp)
                r = run_upkeep(heat, true); /* forms the THP units before the first round, as round 1 would */
        if (r < 0) {
                log_error_errno(r, "Cannot set up the heat store: %m");
                return EXIT_FAILURE;
        }
        setup_ns = cpu_ns() - c0;

        placement_init(&pl,
                       &(struct placement_settings) {
                               .round_max_bytes = { [POLICY_PROMOTE] = c->promote_round_max_bytes,
                                                    [POLICY_DEMOTE] = c->demote_round_max_bytes },
                               .batch_bytes = c->batch_bytes,
                       },
                       0);

        printf("SCALE config pages=%" PRIu64 " units=%" PRIu64 " unit_bytes=%" PRIu64 " targets=%u vmas=%u "
               "vma_bytes=%" PRIu64 " rounds=%u passes=%u hot_per_mille=%u hot_period=%u node0_total=%" PRIu64
               " node1_total=%" PRIu64 " promote_rounds=%u cold_rounds=%u round_max=%" PRIu64 " fast_layout=%s\n",
               sim.opt.pages, sim.units, UINT64_C(1) << sim.unit_shift, sim.opt.targets, sim.opt.vmas,
               sim.vma_bytes, sim.opt.rounds, c->passes, sim.opt.hot_per_mille, sim.opt.hot_period_rounds,
               sim.total_bytes[0], sim.total_bytes[1], c->promote_rounds, c->cold_rounds,
               c->promote_round_max_bytes, sim.opt.fast_regions ? "regions" : "units");
        printf("SCALE setup cpu_ms=%.1f\n", setup_ns / 1e6);

        /* Rounds before this one still fill the streaks and idle ages: the classes settle after
         * promote_rounds + cold_rounds rounds. */
        steady_from = c->promote_rounds + c->cold_rounds + 1;

        for (sim.round = 1; sim.round <= sim.opt.rounds; sim.round++) {
                uint64_t t_ns[_PHASE_MAX] = {}, total_ns = 0, heat_ns = 0;
                struct policy_summary sum = {};
                struct heat_histogram h = {};
                struct heat_store_stats hs;

                r = run_round(heat, c, &pl, vmas, t_ns, &sum, &h);
                if (r < 0)
                        return EXIT_FAILURE;
                heat_store_get_stats(heat, &hs);

                printf("SCALE round=%u", sim.round);
                for (int p = 0; p < _PHASE_MAX; p++) {
                        printf(" %s_ms=%.1f", phase_names[p], t_ns[p] / 1e6);
                        total_ns += t_ns[p];
                        if (p != PHASE_SOURCE && p != PHASE_KERNEL)
                                heat_ns += t_ns[p];
                }
                printf(" tierd_ms=%.1f tierd_ns_per_page=%.2f hot=%" PRIu64 " warm=%" PRIu64 " cold=%" PRIu64
                       " promote=%" PRIu64 " demote=%" PRIu64 " located=%" PRIu64 " candidates=%" PRIu64
                       " moves_live=%" PRIu64 " move_table=%" PRIu64 " move_table_evictions=%" PRIu64
                       " observed=%" PRIu64 " settled=%" PRIu64 " parked=%" PRIu64 "\n",
                       heat_ns / 1e6, (double) heat_ns / (double) sim.opt.pages, h.class_units[HEAT_CLASS_HOT],
                       h.class_units[HEAT_CLASS_WARM], h.class_units[HEAT_CLASS_COLD], sum.moves[POLICY_PROMOTE],
                       sum.moves[POLICY_DEMOTE], sum.units_located, sum.candidate_units, h.moved_units,
                       hs.moves, hs.moves_evictions, hs.observed_pages, heat_store_settled_units(heat),
                       hs.parked_units);
                fflush(stdout);

                if (sim.round >= steady_from || sim.opt.rounds < steady_from) {
                        for (int p = 0; p < _PHASE_MAX; p++)
                                sum_ns[p] += t_ns[p];
                        steady_rounds++;
                }
        }

        placement_done(&pl);
        memory_now(&hwm, &rss);

        {
                uint64_t read_ns = 0, rmw_ns = 0;

                if (measure_floor(&read_ns, &rmw_ns) >= 0)
                        printf("SCALE floor entries_bytes=%" PRIu64 " read_ms=%.1f rmw_ms=%.1f\n",
                               sim.pages * (uint64_t) sizeof(uint16_t), read_ns / 1e6, rmw_ns / 1e6);
        }

        {
                uint64_t heat_ns = 0;

                printf("SCALE steady rounds=%u", steady_rounds);
                for (int p = 0; p < _PHASE_MAX; p++) {
                        printf(" %s_ms=%.1f", phase_names[p], sum_ns[p] / 1e6 / steady_rounds);
                        if (p != PHASE_SOURCE && p != PHASE_KERNEL)
                                heat_ns += sum_ns[p];
                }
                printf(" tierd_ms=%.1f tierd_ns_per_page=%.2f tierd_ns_per_unit=%.2f\n",
                       heat_ns / 1e6 / steady_rounds, (double) heat_ns / steady_rounds / (double) sim.opt.pages,
                       (double) heat_ns / steady_rounds / (double) sim.units);
        }
        printf("SCALE memory heat_store_bytes=%" PRIu64 " source_bytes=%zu baseline_hwm_bytes=%" PRIu64
               " peak_hwm_bytes=%" PRIu64 " rss_bytes=%" PRIu64 " queried=%" PRIu64 " moved=%" PRIu64
               " peak_phase=%s peak_round=%u\n",
               heat_store_memory_bytes(heat),
               (size_t) (((sim.units + 63) / 64 + (sim.pages + 63) / 64) * sizeof(uint64_t) + sizeof(sim)),
               hwm0, hwm, rss, sim.queried, sim.moved, sim.peak_phase ?: "setup", sim.peak_round);

        free(sim.slow);
        free(sim.observed);
        return EXIT_SUCCESS;
}
