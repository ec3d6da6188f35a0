/* SPDX-License-Identifier: GPL-2.0-or-later */
/* micro-page-idle: CPU that tierd's page_idle scanning costs per tracked page, against a floor measured in the same
 * run. Needs root and a kernel with CONFIG_IDLE_PAGE_TRACKING (the custom kernel of the QEMU guest).
 *
 *   tierd   the real scan engine (src/scan.c) with [scan] backend = page_idle: per round, /proc/PID/maps, then
 *           scan_engine_round_begin() (heat store sync, pagemap reads, kpageflags reads, THP/flag upkeep, the
 *           bitmap plan), per pass scan_engine_pass_begin() (bitmap writes) and scan_engine_pass_end() (bitmap
 *           reads, recording into the heat store), then scan_engine_round_end() (the heat store's fold).
 *   floor   a bare loop that issues the same system calls: per round /proc/PID/maps, the pagemap reads in the
 *           backend's chunks (up to 64k pages, ending on 2 MiB boundaries), the kpageflags reads in the backend's
 *           spans (sorted PFNs of each chunk, gaps up to KPAGEFLAGS_GAP_MAX, at most KPAGEFLAGS_SPAN_MAX), and the
 *           bitmap words grouped into the same runs of up to 512 words; per pass one pwrite per run, then one pread
 *           per run and a count of the accessed bits. Nothing else: no classification, no heat store.
 *
 * The two alternate round by round (tierd first in odd rounds) over the same target process, so both see the same
 * pages, PFNs and kernel state. CPU is this process's (CLOCK_PROCESS_CPUTIME_ID; user and system from
 * getrusage()); the waits of the pass interval are not CPU and are not counted. The tracked page count is the
 * floor's (present pages with a PFN in trackable VMAs); tierd tracks the same pages unless some are shared or the
 * zero page (reported). */

#include <getopt.h>
#include <inttypes.h>

#include "config.h"
#include "heat.h"
#include "kpageflags.h"
#include "log.h"
#include "maps.h"
#include "micro-common.h"
#include "page-idle.h"
#include "pagemap.h"
#include "scan.h"
#include "targets.h"

#define CHUNK_PAGES ((size_t) PAGEMAP_READ_MAX_ENTRIES)

struct options {
        uint64_t mib;
        unsigned rounds, warmup_rounds, passes;
        uint64_t interval_us;
        unsigned hot_pct;
        int target_cpu, cpu;
};

enum variant {
        VARIANT_TIERD,
        VARIANT_FLOOR,
        _VARIANT_MAX,
};

static const char *const variant_names[_VARIANT_MAX] = { "tierd", "floor" };

/* CPU of one round, in ns, split by where it went. */
struct round_cost {
        uint64_t setup_ns;  /* maps, pagemap, kpageflags, plan (tierd: and heat store sync/begin) */
        uint64_t passes_ns; /* bitmap writes and reads (tierd: and recording) */
        uint64_t end_ns;    /* tierd: round_end (heat store fold); floor: freeing its plan */
        uint64_t user_us, sys_us;
        uint64_t pages;     /* tracked */
        uint64_t accessed;  /* accessed bits found, over all passes */
};

/* The floor's state for one round: the words to write, their runs, and a buffer to read them back. */
struct floor_plan {
        uint64_t *masks, *read;
        uint64_t *first_word; /* per run */
        uint32_t *run_words;
        size_t n_words, n_runs, allocated_words, allocated_runs;
        uint64_t *dense;      /* bit per PFN, for the round */
        size_t dense_words;
        uint64_t *scratch;    /* bit per PFN, for one chunk */
        size_t scratch_words;
        uint64_t *span_buf;   /* kpageflags read buffer */
        uint64_t *pme;
};

static int dense_grow(uint64_t **d, size_t *n, uint64_t pfn) {
        size_t need = pfn / 64 + 1;

        if (need <= *n)
                return 0;
        need = MAX(need, *n * 2);
        uint64_t *p = realloc(*d, need * sizeof(uint64_t));
        if (!p)
                return -ENOMEM;
        memset(p + *n, 0, (need - *n) * sizeof(uint64_t));
        *d = p;
        *n = need;
        return 0;
}

/* The kpageflags reads of one chunk: its PFNs ascending (walking the chunk's bitmap), one pread per span as
 * kpageflags_read_sorted() makes them. */
static int floor_kpageflags(struct floor_plan *f, int kfd, uint64_t lo, uint64_t hi, size_t scratch_words) {
        uint64_t first = UINT64_MAX, prev = 0;

        for (size_t w = lo / 64; w <= hi / 64 && w < scratch_words; w++) {
                uint64_t bits = f->scratch[w];

                f->scratch[w] = 0;
                while (bits) {
                        uint64_t pfn = w * 64 + (uint64_t) __builtin_ctzll(bits);

                        bits &= bits - 1;
                        if (first != UINT64_MAX &&
                            (pfn - prev > KPAGEFLAGS_GAP_MAX + 1 || pfn - first >= KPAGEFLAGS_SPAN_MAX)) {
                                if (pread(kfd, f->span_buf, (prev - first + 1) * 8, (off_t) (first * 8)) < 0)
                                        return -errno;
                                first = UINT64_MAX;
                        }
                        if (first == UINT64_MAX)
                                first = pfn;
                        prev = pfn;
                }
        }
        if (first != UINT64_MAX && pread(kfd, f->span_buf, (prev - first + 1) * 8, (off_t) (first * 8)) < 0)
                return -errno;
        return 0;
}

static int floor_setup(struct floor_plan *f, pid_t pid, int kfd, uint64_t *ret_pages) {
        _cleanup_close_ int fd = -1;
        struct vma *vmas = NULL;
        size_t n_vmas = 0;
        uint64_t pages = 0;
        int r;

        r = maps_read(pid, &vmas, &n_vmas);
        if (r < 0)
                return r;
        fd = pagemap_open(pid);
        if (fd < 0) {
                vmas_free(vmas, n_vmas);
                return fd;
        }

        for (size_t j = 0; j < n_vmas; j++) {
                const struct vma *v = &vmas[j];

                if (!heat_vma_trackable(v))
                        continue;
                for (uint64_t cursor = v->start; cursor < v->end;) {
                        uint64_t end = MIN(v->end, (cursor & ~(HEAT_THP_SIZE - 1)) + CHUNK_PAGES * HEAT_PAGE_SIZE);
                        size_t n = (size_t) ((end - cursor) >> HEAT_PAGE_SHIFT);
                        uint64_t lo = UINT64_MAX, hi = 0;
                        ssize_t k;

                        k = pread(fd, f->pme, n * 8, (off_t) (cursor / 4096 * 8));
                        if (k != (ssize_t) (n * 8)) {
                                r = k < 0 ? -errno : -EIO;
                                goto finish;
                        }
                        for (size_t i = 0; i < n; i++) {
                                uint64_t pfn = pagemap_pfn(f->pme[i]);

                                if (pfn == 0)
                                        continue;
                                r = dense_grow(&f->dense, &f->dense_words, pfn);
                                if (r >= 0)
                                        r = dense_grow(&f->scratch, &f->scratch_words, pfn);
                                if (r < 0)
                                        goto finish;
                                f->dense[pfn / 64] |= UINT64_C(1) << (pfn % 64);
                                f->scratch[pfn / 64] |= UINT64_C(1) << (pfn % 64);
                                lo = MIN(lo, pfn);
                                hi = MAX(hi, pfn);
                                pages++;
                        }
                        if (lo != UINT64_MAX) {
                                r = floor_kpageflags(f, kfd, lo, hi, f->scratch_words);
                                if (r < 0)
                                        goto finish;
                        }
                        cursor = end;
                }
        }

        /* Words and runs, as page_idle_plan_build() groups them. */
        f->n_words = f->n_runs = 0;
        for (size_t w = 0; w < f->dense_words; w++) {
                if (!f->dense[w])
                        continue;
                if (f->n_words == f->allocated_words) {
                        size_t n = MAX(f->allocated_words * 2, (size_t) 1024);
                        uint64_t *m = realloc(f->masks, n * sizeof(uint64_t)), *rd;

                        if (!m) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        f->masks = m;
                        rd = realloc(f->read, n * sizeof(uint64_t));
                        if (!rd) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        f->read = rd;
                        f->allocated_words = n;
                }
                if (f->n_runs > 0 && f->first_word[f->n_runs - 1] + f->run_words[f->n_runs - 1] == w &&
                    f->run_words[f->n_runs - 1] < PAGE_IDLE_RUN_WORDS_MAX)
                        f->run_words[f->n_runs - 1]++;
                else {
                        if (f->n_runs == f->allocated_runs) {
                                size_t n = MAX(f->allocated_runs * 2, (size_t) 256);
                                uint64_t *fw = realloc(f->first_word, n * sizeof(uint64_t));
                                uint32_t *rw;

                                if (!fw) {
                                        r = -ENOMEM;
                                        goto finish;
                                }
                                f->first_word = fw;
                                rw = realloc(f->run_words, n * sizeof(uint32_t));
                                if (!rw) {
                                        r = -ENOMEM;
                                        goto finish;
                                }
                                f->run_words = rw;
                                f->allocated_runs = n;
                        }
                        f->first_word[f->n_runs] = w;
                        f->run_words[f->n_runs] = 1;
                        f->n_runs++;
                }
                f->masks[f->n_words++] = f->dense[w];
                f->dense[w] = 0;
        }
        *ret_pages = pages;
        r = 0;
finish:
        vmas_free(vmas, n_vmas);
        return r;
}

static int floor_pass(struct floor_plan *f, int bfd, uint64_t interval_us, uint64_t *cpu_ns, uint64_t *accessed) {
        uint64_t c0 = micro_cpu_ns();
        size_t pos = 0;

        for (size_t k = 0; k < f->n_runs; k++) {
                size_t bytes = (size_t) f->run_words[k] * 8;

                ssize_t n = pwrite(bfd, f->masks + pos, bytes, (off_t) (f->first_word[k] * 8));

                if (n != (ssize_t) bytes)
                        return n < 0 ? -errno : -EIO;
                pos += f->run_words[k];
        }
        *cpu_ns += micro_cpu_ns() - c0;

        micro_sleep_us(interval_us);

        c0 = micro_cpu_ns();
        pos = 0;
        for (size_t k = 0; k < f->n_runs; k++) {
                size_t bytes = (size_t) f->run_words[k] * 8;

                ssize_t n = pread(bfd, f->read + pos, bytes, (off_t) (f->first_word[k] * 8));

                if (n != (ssize_t) bytes)
                        return n < 0 ? -errno : -EIO;
                pos += f->run_words[k];
        }
        for (size_t w = 0; w < f->n_words; w++)
                *accessed += (uint64_t) __builtin_popcountll(f->masks[w] & ~f->read[w]);
        *cpu_ns += micro_cpu_ns() - c0;
        return 0;
}

static int floor_round(struct floor_plan *f, pid_t pid, int bfd, int kfd, const struct options *o,
                       struct round_cost *ret) {
        uint64_t c0, u0, s0, u1, s1;
        int r;

        micro_rusage_us(&u0, &s0);
        c0 = micro_cpu_ns();
        r = floor_setup(f, pid, kfd, &ret->pages);
        if (r < 0)
                return log_error_errno(r, "floor: cannot read the pages of %d: %m", (int) pid);
        ret->setup_ns = micro_cpu_ns() - c0;

        for (unsigned p = 0; p < o->passes; p++) {
                r = floor_pass(f, bfd, o->interval_us, &ret->passes_ns, &ret->accessed);
                if (r < 0)
                        return log_error_errno(r, "floor: cannot access " PAGE_IDLE_BITMAP_PATH ": %m");
        }
        ret->end_ns = 0;
        micro_rusage_us(&u1, &s1);
        ret->user_us = u1 - u0;
        ret->sys_us = s1 - s0;
        return 0;
}

/* Runs a step that works in slices (r = 1) to its end. */
static void finish_step(struct scan_engine *e, int r) {
        enum scan_step done;

        while (r > 0)
                r = scan_engine_resume(e, &done);
}

static int tierd_round(struct scan_engine *e, pid_t pid, uint64_t round, const struct options *o,
                       struct round_cost *ret) {
        struct target t = { .pid = pid };
        struct target_set ts = { .targets = &t, .n_targets = 1 };
        struct heat_class_params cp = { .promote_rounds = 2, .cold_rounds = 3 };
        struct heat_histogram h = {};
        uint64_t c0, u0, s0, u1, s1;
        int r;

        micro_rusage_us(&u0, &s0);
        c0 = micro_cpu_ns();
        r = maps_read(pid, &t.vmas, &t.n_vmas);
        if (r < 0)
                return log_error_errno(r, "tierd: cannot read the maps of %d: %m", (int) pid);
        r = scan_engine_round_begin(e, &ts, round, o->passes, o->interval_us, HEAT_HOT_THRESHOLD_ALL_PASSES);
        if (r < 0) {
                vmas_free(t.vmas, t.n_vmas);
                return log_error_errno(r, "tierd: cannot begin the round: %m");
        }
        /* The daemon runs the slices of a step on separate loop turns; the cost is the same run back to back. */
        finish_step(e, r);
        ret->setup_ns = micro_cpu_ns() - c0;

        for (unsigned p = 0; p < o->passes; p++) {
                c0 = micro_cpu_ns();
                finish_step(e, scan_engine_pass_begin(e));
                ret->passes_ns += micro_cpu_ns() - c0;
                micro_sleep_us(o->interval_us);
                c0 = micro_cpu_ns();
                finish_step(e, scan_engine_pass_end(e));
                ret->passes_ns += micro_cpu_ns() - c0;
        }

        /* The hits of the round, before the fold: reporting, not cost. */
        (void) heat_store_histogram(scan_engine_heat(e), pid, &cp, &h);
        ret->accessed = 0;
        for (unsigned k = 1; k <= HEAT_HITS_MAX; k++)
                ret->accessed += (uint64_t) k * h.hits[k];

        c0 = micro_cpu_ns();
        (void) scan_engine_round_end(e);
        vmas_free(t.vmas, t.n_vmas);
        ret->end_ns = micro_cpu_ns() - c0;
        micro_rusage_us(&u1, &s1);
        ret->user_us = u1 - u0;
        ret->sys_us = s1 - s0;
        /* tierd's own count of tracked units is internal to the backend; the floor's page count is used. */
        return 0;
}

static void help(void) {
        printf("micro-page-idle [OPTIONS]\n\n"
               "CPU of tierd's page_idle scanning per tracked page vs a bare loop of the same system calls.\n\n"
               "  --mib N          target size (default 128)\n"
               "  --rounds N       measured rounds per variant (default 5)\n"
               "  --warmup N       unmeasured rounds per variant first (default 1)\n"
               "  --passes N       passes per round (default 3)\n"
               "  --interval-ms N  pass interval (default 200)\n"
               "  --hot-pct N      share of the target's pages it keeps touching (default 25)\n"
               "  --cpu N          pin this process to CPU N\n"
               "  --target-cpu N   pin the target to CPU N\n");
}

static int parse_options(int argc, char **argv, struct options *o) {
        enum { ARG_MIB = 0x100, ARG_ROUNDS, ARG_WARMUP, ARG_PASSES, ARG_INTERVAL, ARG_HOT, ARG_CPU, ARG_TCPU };
        static const struct option longopts[] = {
                { "help", no_argument, NULL, 'h' },
                { "mib", required_argument, NULL, ARG_MIB },
                { "rounds", required_argument, NULL, ARG_ROUNDS },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "passes", required_argument, NULL, ARG_PASSES },
                { "interval-ms", required_argument, NULL, ARG_INTERVAL },
                { "hot-pct", required_argument, NULL, ARG_HOT },
                { "cpu", required_argument, NULL, ARG_CPU },
                { "target-cpu", required_argument, NULL, ARG_TCPU },
                {}
        };
        int ch;

        *o = (struct options) {
                .mib = 128,
                .rounds = 5,
                .warmup_rounds = 1,
                .passes = 3,
                .interval_us = 200000,
                .hot_pct = 25,
                .target_cpu = -1,
                .cpu = -1,
        };
        while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                uint64_t v;

                if (ch == 'h') {
                        help();
                        exit(EXIT_SUCCESS);
                }
                if (ch == '?')
                        return -EINVAL;
                if (micro_parse_u64(optarg, &v) < 0)
                        return log_error_errno(EINVAL, "Bad number '%s': %m", optarg);
                switch (ch) {
                case ARG_MIB:
                        o->mib = v;
                        break;
                case ARG_ROUNDS:
                        o->rounds = (unsigned) v;
                        break;
                case ARG_WARMUP:
                        o->warmup_rounds = (unsigned) v;
                        break;
                case ARG_PASSES:
                        o->passes = (unsigned) v;
                        break;
                case ARG_INTERVAL:
                        o->interval_us = v * 1000;
                        break;
                case ARG_HOT:
                        o->hot_pct = (unsigned) v;
                        break;
                case ARG_CPU:
                        o->cpu = (int) v;
                        break;
                case ARG_TCPU:
                        o->target_cpu = (int) v;
                        break;
                }
        }
        if (o->mib == 0 || o->rounds == 0 || o->passes == 0 || o->passes > HEAT_PASSES_MAX || o->hot_pct > 100)
                return log_error_errno(EINVAL, "Option out of range: %m");
        return 0;
}

static void print_round(enum variant v, unsigned round, const struct round_cost *c, unsigned passes) {
        printf("MICRO-PAGE-IDLE round=%u variant=%s pages=%" PRIu64 " setup_us=%.0f passes_us=%.0f end_us=%.0f "
               "user_us=%" PRIu64 " sys_us=%" PRIu64 " pass_ns_per_page=%.1f round_ns_per_page=%.1f "
               "accessed_per_pass=%.0f\n",
               round, variant_names[v], c->pages, c->setup_ns / 1e3, c->passes_ns / 1e3, c->end_ns / 1e3, c->user_us,
               c->sys_us, c->pages ? (double) c->passes_ns / passes / (double) c->pages : 0,
               c->pages ? (double) (c->setup_ns + c->passes_ns + c->end_ns) / (double) c->pages : 0,
               (double) c->accessed / passes);
        fflush(stdout);
}

static int run(const struct options *o) {
        _cleanup_config_free_ struct tierd_config *c = NULL;
        _cleanup_close_ int bfd = -1, kfd = -1;
        struct scan_engine *e = NULL;
        struct floor_plan f = {};
        struct round_cost sum[_VARIANT_MAX] = {};
        char mib_buf[32], hot_buf[16], cpu_buf[16];
        char *targv[] = { (char *) "micro-page-idle", (char *) "--target", mib_buf, hot_buf, cpu_buf,
                          (char *) "%d", NULL };
        uint64_t pages = 0, addr;
        pid_t pid;
        int r;

        (void) micro_pin_cpu(o->cpu);
        r = config_load_string("micro-page-idle", "[scan]\nbackend = page_idle\n", &c);
        if (r < 0)
                return log_error_errno(r, "Cannot build the configuration: %m");
        r = scan_engine_new(c, "/tmp", &e);
        if (r < 0)
                return log_error_errno(r, "Cannot start the scan engine: %m");
        if (!streq(scan_engine_backend(e), "page_idle")) {
                log_error("page_idle backend not usable: %s", scan_engine_reason(e));
                scan_engine_free(e);
                return -EOPNOTSUPP;
        }
        bfd = page_idle_open();
        kfd = kpageflags_open();
        f.pme = malloc(CHUNK_PAGES * sizeof(uint64_t));
        f.span_buf = malloc(KPAGEFLAGS_SPAN_MAX * sizeof(uint64_t));
        if (bfd < 0 || kfd < 0 || !f.pme || !f.span_buf) {
                r = log_error_errno(bfd < 0 ? bfd : kfd < 0 ? kfd : -ENOMEM, "Cannot set up the floor: %m");
                goto finish;
        }

        snprintf(mib_buf, sizeof(mib_buf), "%" PRIu64, o->mib);
        snprintf(hot_buf, sizeof(hot_buf), "%u", o->hot_pct);
        snprintf(cpu_buf, sizeof(cpu_buf), "%d", o->target_cpu);
        pid = micro_target_spawn(targv, &addr);
        if (pid < 0) {
                r = log_error_errno(pid, "Cannot start the target: %m");
                goto finish;
        }
        printf("MICRO-PAGE-IDLE config mib=%" PRIu64 " rounds=%u warmup=%u passes=%u interval_ms=%" PRIu64
               " hot_pct=%u target_pid=%d\n",
               o->mib, o->rounds, o->warmup_rounds, o->passes, o->interval_us / 1000, o->hot_pct, (int) pid);

        for (unsigned round = 1; round <= o->warmup_rounds + o->rounds; round++) {
                bool measured = round > o->warmup_rounds;

                for (unsigned k = 0; k < _VARIANT_MAX; k++) {
                        /* tierd first in odd rounds, the floor first in even ones */
                        enum variant v = (k + round + 1) % 2 == 0 ? VARIANT_TIERD : VARIANT_FLOOR;
                        struct round_cost rc = {};

                        if (v == VARIANT_TIERD) {
                                r = tierd_round(e, pid, round, o, &rc);
                                rc.pages = pages;
                        } else {
                                r = floor_round(&f, pid, bfd, kfd, o, &rc);
                                pages = rc.pages;
                        }
                        if (r < 0)
                                goto stop;
                        if (v == VARIANT_TIERD && rc.pages == 0)
                                continue; /* the first tierd round ran before the floor counted: warm-up only */
                        print_round(v, round, &rc, o->passes);
                        if (!measured)
                                continue;
                        sum[v].setup_ns += rc.setup_ns;
                        sum[v].passes_ns += rc.passes_ns;
                        sum[v].end_ns += rc.end_ns;
                        sum[v].user_us += rc.user_us;
                        sum[v].sys_us += rc.sys_us;
                        sum[v].pages += rc.pages;
                        sum[v].accessed += rc.accessed;
                }
        }

        for (unsigned v = 0; v < _VARIANT_MAX; v++) {
                const struct round_cost *s = &sum[v];
                double pp = (double) s->pages * o->passes;

                printf("MICRO-PAGE-IDLE summary variant=%s rounds=%u pages_per_round=%.0f setup_ns_per_page=%.1f "
                       "pass_ns_per_page=%.1f end_ns_per_page=%.2f round_ns_per_page=%.1f user_us=%" PRIu64
                       " sys_us=%" PRIu64 " accessed_per_pass=%.0f\n",
                       variant_names[v], o->rounds, (double) s->pages / o->rounds, s->setup_ns / (double) s->pages,
                       s->passes_ns / pp, s->end_ns / (double) s->pages,
                       (s->setup_ns + s->passes_ns + s->end_ns) / (double) s->pages, s->user_us, s->sys_us,
                       s->accessed / (double) o->passes / o->rounds);
        }
        printf("MICRO-PAGE-IDLE ratio pass=%.3f setup=%.3f round=%.3f\n",
               (double) sum[VARIANT_TIERD].passes_ns / (double) sum[VARIANT_FLOOR].passes_ns,
               (double) sum[VARIANT_TIERD].setup_ns / (double) sum[VARIANT_FLOOR].setup_ns,
               (double) (sum[VARIANT_TIERD].setup_ns + sum[VARIANT_TIERD].passes_ns + sum[VARIANT_TIERD].end_ns) /
                       (double) (sum[VARIANT_FLOOR].setup_ns + sum[VARIANT_FLOOR].passes_ns));
        r = 0;
stop:
        micro_target_stop(pid);
finish:
        scan_engine_free(e);
        free(f.masks);
        free(f.read);
        free(f.first_word);
        free(f.run_words);
        free(f.dense);
        free(f.scratch);
        free(f.span_buf);
        free(f.pme);
        return r;
}

int main(int argc, char **argv) {
        struct options o;

        /* The target: micro-page-idle --target MIB HOT_PCT CPU READY_FD */
        if (argc == 6 && streq(argv[1], "--target")) {
                uint64_t mib, hot, fd;
                int cpu = atoi(argv[4]);

                if (micro_parse_u64(argv[2], &mib) < 0 || micro_parse_u64(argv[3], &hot) < 0 ||
                    micro_parse_u64(argv[5], &fd) < 0)
                        return EXIT_FAILURE;
                micro_target_run(mib, false, (unsigned) hot, 50000, (int) fd, cpu);
        }

        log_set_max_level(LOG_WARNING);
        if (parse_options(argc, argv, &o) < 0)
                return EXIT_FAILURE;
        return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
