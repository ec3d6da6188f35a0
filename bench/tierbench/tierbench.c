/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tierbench: a workload that knows the true access probability of each of its pages, and measures how well the
 * system places them on a two-tier machine (docs/BENCHMARKS.md).
 *
 * Worker threads read-modify-write one 8-byte word per access, choosing the page from the pattern's exact
 * distribution (tierbench-stats.h). Every word holds a tag of its position in the high 32 bits, which no access
 * changes, and a counter in the low 32 bits, which every access increments: at the end every tag must be in its
 * place (pages moved intact, none swapped) and the counters must add up to the number of accesses (no update
 * lost). Every --interval the main thread asks the kernel where each page is (move_pages with nodes = NULL) and
 * writes one CSV line: F (fraction of accesses served by the fast node), F* (the oracle's), Q = F / F*,
 * precision and recall against the oracle, page moves and ping-pongs seen, /proc/vmstat migration counters, CPU
 * time of tierd, kdamond and kswapd threads and of the workers, and the workers' operations per second. The
 * last line on stdout is a summary of key=value pairs (also written to --summary).
 *
 * The probabilities are exact, so F* is exact; the measured F is exact too, for the instant of the sample. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "tierbench-stats.h"

#define PAGE_BYTES 4096UL
#define WORDS_PER_PAGE (PAGE_BYTES / sizeof(uint64_t))
#define THP_BYTES (2UL << 20)
#define OPS_BATCH 1024
#define MAX_THREADS 64
#define TB_MPOL_DEFAULT 0
#define TB_MPOL_BIND 2

struct args {
        enum tb_kind kind;
        uint64_t mib;
        uint64_t hot_mib;
        double hot_frac;
        double zipf_s;
        double shift1_s, shift2_s;      /* move: < 0 means a third and two thirds of the duration */
        double zigzag_s;
        unsigned threads;
        int cpu;
        bool thp;
        int first_touch_node;
        int fast_node;
        uint64_t fast_capacity_mib;
        unsigned interval_ms;
        unsigned duration_s;
        const char *out;
        const char *summary;
        const char *start_file;
        uint64_t seed;
        unsigned pingpong_window;
};

struct worker {
        pthread_t thread;
        unsigned idx;
        _Atomic pid_t tid;
        _Atomic uint64_t ops;
        char pad[64];
};

static struct args arg = {
        .kind = TB_HOTSET,
        .mib = 256,
        .hot_mib = 32,
        .hot_frac = 0.9,
        .zipf_s = 0.99,
        .shift1_s = -1,
        .shift2_s = -1,
        .zigzag_s = 20,
        .threads = 1,
        .cpu = -1,
        .first_touch_node = -1,
        .fast_node = 0,
        .interval_ms = 1000,
        .duration_s = 90,
        .seed = 42,
        .pingpong_window = 10,
};

static uint64_t *buf;
static uint64_t n_pages;
static struct tb_pattern pattern;
static double *zipf_cdf;
static uint32_t *zipf_perm;
static _Atomic int cur_phase;
static _Atomic bool stop;
static struct worker workers[MAX_THREADS];

static uint32_t word_tag(uint64_t i) {
        uint64_t s = i ^ UINT64_C(0x5deece66d);
        return (uint32_t) (tb_splitmix64(&s) >> 32);
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s) {
        uint64_t x = *s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *s = x;
        return x * UINT64_C(0x2545f4914f6cdd1d);
}

static double unit_double(uint64_t r) {
        return (double) (r >> 11) * 0x1.0p-53;
}

static uint64_t pick_page(uint64_t *rng, int phase) {
        switch (pattern.kind) {
        case TB_ZIPF:
                return zipf_perm[tb_zipf_pick(zipf_cdf, n_pages, unit_double(xorshift(rng)))];
        case TB_HOTSET:
        case TB_MOVE:
        case TB_ZIGZAG: {
                const struct tb_hotset *h = &pattern.phases[phase];
                if (unit_double(xorshift(rng)) < pattern.hot_frac)
                        return tb_hotset_page(h, xorshift(rng) % h->pages);
                return xorshift(rng) % n_pages;
        }
        default:
                return xorshift(rng) % n_pages;
        }
}

static void *worker_main(void *userdata) {
        struct worker *w = userdata;
        uint64_t rng = arg.seed * 0x9e3779b97f4a7c15ULL + w->idx + 1, ops = 0;
        bool shared = arg.threads > 1;

        w->tid = (pid_t) syscall(SYS_gettid);
        if (arg.cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(arg.cpu, &set);
                (void) sched_setaffinity(0, sizeof(set), &set);
        }
        while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
                int phase = atomic_load_explicit(&cur_phase, memory_order_relaxed);

                for (unsigned k = 0; k < OPS_BATCH; k++) {
                        uint64_t page = pick_page(&rng, phase);
                        uint64_t *word = &buf[page * WORDS_PER_PAGE + (xorshift(&rng) & (WORDS_PER_PAGE - 1))];

                        /* Read-modify-write: the page is referenced and dirtied, like a GUPS update. */
                        if (shared)
                                __atomic_fetch_add(word, 1, __ATOMIC_RELAXED);
                        else
                                *(volatile uint64_t *) word += 1;
                }
                ops += OPS_BATCH;
                atomic_store_explicit(&w->ops, ops, memory_order_relaxed);
        }
        return NULL;
}

static int phase_at(double t) {
        switch (pattern.kind) {
        case TB_MOVE:
                return t >= arg.shift2_s ? 2 : t >= arg.shift1_s ? 1 : 0;
        case TB_ZIGZAG:
                return (int) ((uint64_t) floor(t / arg.zigzag_s) % 2);
        default:
                return 0;
        }
}

static int read_small_file(const char *path, char *b, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, b, size - 1);
        if (n < 0)
                return -errno;
        b[n] = '\0';
        return 0;
}

struct vmstat {
        uint64_t migrate_success, promote_success, demote;
};

static void read_vmstat(struct vmstat *v) {
        static char b[16384];
        static const char *const demote_keys[] = {
                "pgdemote_kswapd", "pgdemote_direct", "pgdemote_khugepaged", "pgdemote_proactive",
        };
        uint64_t x;

        *v = (struct vmstat) {};
        if (read_small_file("/proc/vmstat", b, sizeof(b)) < 0)
                return;
        if (tb_parse_vmstat(b, "pgmigrate_success", &x) >= 0)
                v->migrate_success = x;
        if (tb_parse_vmstat(b, "pgpromote_success", &x) >= 0)
                v->promote_success = x;
        for (size_t i = 0; i < ELEMENTSOF(demote_keys); i++)
                if (tb_parse_vmstat(b, demote_keys[i], &x) >= 0)
                        v->demote += x;
}

struct cpu_ticks {
        uint64_t tierd, kdamond, kswapd, worker_sys, worker_user, self;
};

/* CPU time of the contenders' threads: tierd (the whole process), kdamond.N and kswapdN kernel threads. */
static void read_cpu(struct cpu_ticks *c) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        char path[300], b[1024], comm[32];
        uint64_t ut, st;

        *c = (struct cpu_ticks) {};
        d = opendir("/proc");
        if (d)
                while ((de = readdir(d))) {
                        if (de->d_name[0] < '0' || de->d_name[0] > '9')
                                continue;
                        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                        if (read_small_file(path, b, sizeof(b)) < 0 ||
                            tb_parse_pid_stat(b, comm, sizeof(comm), &ut, &st) < 0)
                                continue;
                        if (streq(comm, "tierd"))
                                c->tierd += ut + st;
                        else if (strncmp(comm, "kdamond", 7) == 0)
                                c->kdamond += ut + st;
                        else if (strncmp(comm, "kswapd", 6) == 0)
                                c->kswapd += ut + st;
                }
        for (unsigned i = 0; i < arg.threads; i++) {
                snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int) workers[i].tid);
                if (read_small_file(path, b, sizeof(b)) < 0 ||
                    tb_parse_pid_stat(b, comm, sizeof(comm), &ut, &st) < 0)
                        continue;
                c->worker_user += ut;
                c->worker_sys += st;
        }
        snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int) syscall(SYS_gettid));
        if (read_small_file(path, b, sizeof(b)) >= 0 && tb_parse_pid_stat(b, comm, sizeof(comm), &ut, &st) >= 0)
                c->self = ut + st;
}

/* Where each page is: move_pages(2) with nodes = NULL moves nothing and reports the node, or a negative errno
 * (-ENOENT not present, -EFAULT unmapped). Large calls: the kernel walks them in chunks anyway. */
static int query_nodes(void **pages, int *status) {
        for (uint64_t i = 0; i < n_pages; i++)
                status[i] = INT32_MIN;
        if (syscall(SYS_move_pages, 0, (unsigned long) n_pages, pages, NULL, status, 0) < 0)
                return -errno;
        for (uint64_t i = 0; i < n_pages; i++)
                if (status[i] == INT32_MIN)
                        status[i] = -ENOENT;
        return 0;
}

static int first_touch(void) {
        unsigned long mask[16] = {};

        if (arg.first_touch_node >= 0) {
                if (arg.first_touch_node >= (int) (sizeof(mask) * 8))
                        return -EINVAL;
                mask[arg.first_touch_node / 64] = 1UL << (arg.first_touch_node % 64);
                if (syscall(SYS_mbind, buf, n_pages * PAGE_BYTES, TB_MPOL_BIND, mask, sizeof(mask) * 8, 0U) < 0)
                        return -errno;
        }
        for (uint64_t i = 0; i < n_pages * WORDS_PER_PAGE; i++)
                buf[i] = (uint64_t) word_tag(i) << 32;
        /* Reset the policy: the pages start on the node, but nothing keeps them there. */
        if (arg.first_touch_node >= 0 &&
            syscall(SYS_mbind, buf, n_pages * PAGE_BYTES, TB_MPOL_DEFAULT, NULL, 0UL, 0U) < 0)
                return -errno;
        return 0;
}

static bool verify(uint64_t total_ops, uint64_t *ret_bad_tags, uint64_t *ret_sum) {
        uint64_t bad = 0, sum = 0;

        for (uint64_t i = 0; i < n_pages * WORDS_PER_PAGE; i++) {
                if ((uint32_t) (buf[i] >> 32) != word_tag(i))
                        bad++;
                sum += buf[i] & UINT32_MAX;
        }
        *ret_bad_tags = bad;
        *ret_sum = sum;
        return bad == 0 && sum == total_ops;
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: tierbench --fast-capacity-mib C [--pattern uniform|hotset|move|zigzag|zipf] [--mib N]\n"
                "                 [--hot-mib H] [--hot-frac F] [--zipf-s S] [--shift-sec T1] [--shift2-sec T2]\n"
                "                 [--zigzag-sec K] [--threads N] [--cpu N] [--thp] [--first-touch-node N]\n"
                "                 [--fast-node N] [--interval-ms MS] [--duration-sec S] [--out CSV]\n"
                "                 [--summary FILE] [--seed N] [--pingpong-window SAMPLES] [--start-file FILE]\n");
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_double(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_args(int argc, char **argv) {
        enum {
                ARG_HOT_MIB = 0x100, ARG_HOT_FRAC, ARG_ZIPF_S, ARG_SHIFT, ARG_SHIFT2, ARG_ZIGZAG, ARG_FT_NODE,
                ARG_FAST_NODE, ARG_CAP, ARG_INTERVAL, ARG_DURATION, ARG_SUMMARY, ARG_SEED, ARG_PPW, ARG_START_FILE,
        };
        static const struct option opts[] = {
                { "pattern", required_argument, NULL, 'p' },
                { "mib", required_argument, NULL, 'm' },
                { "hot-mib", required_argument, NULL, ARG_HOT_MIB },
                { "hot-frac", required_argument, NULL, ARG_HOT_FRAC },
                { "zipf-s", required_argument, NULL, ARG_ZIPF_S },
                { "shift-sec", required_argument, NULL, ARG_SHIFT },
                { "shift2-sec", required_argument, NULL, ARG_SHIFT2 },
                { "zigzag-sec", required_argument, NULL, ARG_ZIGZAG },
                { "threads", required_argument, NULL, 't' },
                { "cpu", required_argument, NULL, 'c' },
                { "thp", no_argument, NULL, 'H' },
                { "first-touch-node", required_argument, NULL, ARG_FT_NODE },
                { "fast-node", required_argument, NULL, ARG_FAST_NODE },
                { "fast-capacity-mib", required_argument, NULL, ARG_CAP },
                { "interval-ms", required_argument, NULL, ARG_INTERVAL },
                { "duration-sec", required_argument, NULL, ARG_DURATION },
                { "out", required_argument, NULL, 'o' },
                { "summary", required_argument, NULL, ARG_SUMMARY },
                { "seed", required_argument, NULL, ARG_SEED },
                { "pingpong-window", required_argument, NULL, ARG_PPW },
                { "start-file", required_argument, NULL, ARG_START_FILE },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        bool have_cap = false;
        uint64_t u;
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "p:m:t:c:o:h", opts, NULL)) >= 0) {
                switch (c) {
                case 'p': r = tb_kind_from_string(optarg, &arg.kind); break;
                case 'm': r = parse_u64(optarg, &arg.mib); break;
                case ARG_HOT_MIB: r = parse_u64(optarg, &arg.hot_mib); break;
                case ARG_HOT_FRAC: r = parse_double(optarg, &arg.hot_frac); break;
                case ARG_ZIPF_S: r = parse_double(optarg, &arg.zipf_s); break;
                case ARG_SHIFT: r = parse_double(optarg, &arg.shift1_s); break;
                case ARG_SHIFT2: r = parse_double(optarg, &arg.shift2_s); break;
                case ARG_ZIGZAG: r = parse_double(optarg, &arg.zigzag_s); break;
                case 't':
                        r = parse_u64(optarg, &u);
                        if (r >= 0 && (u == 0 || u > MAX_THREADS))
                                r = -ERANGE;
                        arg.threads = (unsigned) u;
                        break;
                case 'c':
                        r = parse_u64(optarg, &u);
                        arg.cpu = (int) u;
                        break;
                case 'H': arg.thp = true; break;
                case ARG_FT_NODE:
                        r = parse_u64(optarg, &u);
                        arg.first_touch_node = (int) u;
                        break;
                case ARG_FAST_NODE:
                        r = parse_u64(optarg, &u);
                        arg.fast_node = (int) u;
                        break;
                case ARG_CAP:
                        r = parse_u64(optarg, &arg.fast_capacity_mib);
                        have_cap = true;
                        break;
                case ARG_INTERVAL:
                        r = parse_u64(optarg, &u);
                        if (r >= 0 && (u < 10 || u > 600000))
                                r = -ERANGE;
                        arg.interval_ms = (unsigned) u;
                        break;
                case ARG_DURATION:
                        r = parse_u64(optarg, &u);
                        if (r >= 0 && (u == 0 || u > 86400))
                                r = -ERANGE;
                        arg.duration_s = (unsigned) u;
                        break;
                case 'o': arg.out = optarg; break;
                case ARG_SUMMARY: arg.summary = optarg; break;
                case ARG_START_FILE: arg.start_file = optarg; break;
                case ARG_SEED: r = parse_u64(optarg, &arg.seed); break;
                case ARG_PPW:
                        r = parse_u64(optarg, &u);
                        arg.pingpong_window = (unsigned) MIN(u, (uint64_t) UINT32_MAX);
                        break;
                case 'h': usage(stdout); exit(EXIT_SUCCESS);
                default: usage(stderr); return -EINVAL;
                }
                if (r < 0) {
                        fprintf(stderr, "tierbench: invalid value for option %s: %s\n",
                                argv[optind - 1], optarg ? optarg : "");
                        return r;
                }
        }
        if (optind < argc || !have_cap || arg.mib == 0 || !(arg.zigzag_s > 0)) {
                usage(stderr);
                return -EINVAL;
        }
        if (arg.shift1_s < 0)
                arg.shift1_s = arg.duration_s / 3.0;
        if (arg.shift2_s < 0)
                arg.shift2_s = 2.0 * arg.duration_s / 3.0;
        if (arg.shift2_s < arg.shift1_s) {
                fprintf(stderr, "tierbench: --shift2-sec must not be before --shift-sec\n");
                return -EINVAL;
        }
        return 0;
}

struct sample {
        double t, f, q, precision, recall;
};

int main(int argc, char **argv) {
        _cleanup_free_ double *probs = NULL, *ts = NULL, *fs = NULL, *qs = NULL, *ps = NULL, *rs = NULL;
        _cleanup_free_ int *status = NULL;
        _cleanup_free_ void **addrs = NULL;
        _cleanup_free_ struct tb_pp_page *pp = NULL;
        _cleanup_fclose_ FILE *out_file = NULL;
        struct tb_oracle oracle[TB_MAX_PHASES];
        struct vmstat vm0, vm;
        struct cpu_ticks cpu0, cpu;
        uint64_t cap_pages, moves = 0, pingpongs = 0, prev_ops = 0, total_ops, bad_tags, sum, t0_ns, next_ns;
        uint64_t raw_bytes;
        double prev_t = -1, clk_tck = (double) sysconf(_SC_CLK_TCK), events[2 + TB_MAX_PHASES * 64];
        size_t max_samples, n_samples = 0, n_events = 0;
        FILE *out = stdout;
        char *raw;
        bool ok;
        int r;

        r = parse_args(argc, argv);
        if (r < 0)
                return EXIT_FAILURE;

        n_pages = arg.mib * (1024 * 1024 / PAGE_BYTES);
        cap_pages = arg.fast_capacity_mib * (1024 * 1024 / PAGE_BYTES);
        r = tb_pattern_init(&pattern, arg.kind, n_pages, arg.hot_mib * (1024 * 1024 / PAGE_BYTES), arg.hot_frac,
                            arg.zipf_s);
        if (r < 0) {
                fprintf(stderr, "tierbench: pattern %s does not fit %" PRIu64 " MiB with a hot set of %" PRIu64
                        " MiB: %s\n", tb_kind_to_string(arg.kind), arg.mib, arg.hot_mib, strerror(-r));
                return EXIT_FAILURE;
        }

        probs = calloc(pattern.n_phases * n_pages, sizeof(double));
        status = calloc(n_pages, sizeof(int));
        addrs = calloc(n_pages, sizeof(void *));
        pp = calloc(n_pages, sizeof(struct tb_pp_page));
        max_samples = (size_t) arg.duration_s * 1000 / arg.interval_ms + 2;
        ts = calloc(max_samples, sizeof(double));
        fs = calloc(max_samples, sizeof(double));
        qs = calloc(max_samples, sizeof(double));
        ps = calloc(max_samples, sizeof(double));
        rs = calloc(max_samples, sizeof(double));
        if (!probs || !status || !addrs || !pp || !ts || !fs || !qs || !ps || !rs)
                return fprintf(stderr, "tierbench: out of memory\n"), EXIT_FAILURE;

        if (arg.kind == TB_ZIPF) {
                zipf_cdf = calloc(n_pages, sizeof(double));
                zipf_perm = calloc(n_pages, sizeof(uint32_t));
                if (!zipf_cdf || !zipf_perm)
                        return fprintf(stderr, "tierbench: out of memory\n"), EXIT_FAILURE;
                /* Ranks scattered over the buffer, like keys hashed into a table. */
                tb_permutation(zipf_perm, n_pages, arg.seed);
                r = tb_zipf_cdf(n_pages, arg.zipf_s, zipf_cdf);
                if (r < 0)
                        return fprintf(stderr, "tierbench: zipf setup: %s\n", strerror(-r)), EXIT_FAILURE;
        }
        for (unsigned ph = 0; ph < pattern.n_phases; ph++) {
                r = tb_pattern_probs(&pattern, ph, zipf_perm, probs + ph * n_pages);
                if (r >= 0)
                        r = tb_oracle_compute(probs + ph * n_pages, n_pages, cap_pages, &oracle[ph]);
                if (r < 0)
                        return fprintf(stderr, "tierbench: oracle: %s\n", strerror(-r)), EXIT_FAILURE;
        }

        /* 2 MiB aligned, so that the THP variant can use huge pages from the first byte. */
        raw_bytes = n_pages * PAGE_BYTES + THP_BYTES;
        raw = mmap(NULL, raw_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED)
                return fprintf(stderr, "tierbench: mmap: %m\n"), EXIT_FAILURE;
        buf = (uint64_t *) (((uintptr_t) raw + THP_BYTES - 1) & ~(uintptr_t) (THP_BYTES - 1));
        if (madvise(buf, n_pages * PAGE_BYTES, arg.thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
                fprintf(stderr, "tierbench: madvise(%s): %m (continuing)\n",
                        arg.thp ? "MADV_HUGEPAGE" : "MADV_NOHUGEPAGE");
        r = first_touch();
        if (r < 0)
                return fprintf(stderr, "tierbench: first touch: %s\n", strerror(-r)), EXIT_FAILURE;
        for (uint64_t i = 0; i < n_pages; i++)
                addrs[i] = (char *) buf + i * PAGE_BYTES;
        tb_pingpong_init(pp, n_pages);

        if (arg.out) {
                out_file = fopen(arg.out, "we");
                if (!out_file)
                        return fprintf(stderr, "tierbench: %s: %m\n", arg.out), EXIT_FAILURE;
                out = out_file;
        }
        printf("TIERBENCH pid=%d pattern=%s pages=%" PRIu64 " cap_pages=%" PRIu64 " addr=%p thp=%d\n",
               (int) getpid(), tb_kind_to_string(arg.kind), n_pages, cap_pages, (void *) buf, arg.thp);
        fflush(stdout);
        /* The memory is placed by first touch; the contender under test starts now, and the run when it is ready
         * (--start-file appears), so that every contender starts from the same placement at t = 0. */
        if (arg.start_file) {
                printf("TIERBENCH ready, waiting for %s\n", arg.start_file);
                fflush(stdout);
                while (access(arg.start_file, F_OK) < 0)
                        usleep(20000);
        }
        fprintf(out, "t_s,phase,ops,ops_per_s,fast_pages,slow_pages,absent_pages,f,f_star,q,precision,recall,"
                "moves,pingpongs,pgmigrate_success,pgpromote_success,pgdemote,tierd_cpu_s,kdamond_cpu_s,"
                "kswapd_cpu_s,worker_sys_s,sample_ms\n");

        events[n_events++] = 0.0;
        atomic_store(&cur_phase, phase_at(0));
        for (unsigned i = 0; i < arg.threads; i++) {
                workers[i].idx = i;
                r = -pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
                if (r < 0)
                        return fprintf(stderr, "tierbench: pthread_create: %s\n", strerror(-r)), EXIT_FAILURE;
        }
        /* the workers publish their tids before the first CPU reading */
        for (unsigned i = 0; i < arg.threads; i++)
                while (atomic_load(&workers[i].tid) == 0)
                        sched_yield();

        read_vmstat(&vm0);
        read_cpu(&cpu0);
        t0_ns = next_ns = now_ns();
        for (uint32_t k = 0;; k++) {
                struct tb_eval e;
                uint64_t sample_start = now_ns(), ops = 0, m;
                double t = (double) (sample_start - t0_ns) / 1e9;
                double tick = (double) k * arg.interval_ms / 1000.0;
                int ph = phase_at(tick), prev_ph = atomic_load(&cur_phase);

                if (ph != prev_ph) {
                        atomic_store(&cur_phase, ph);
                        if (n_events < ELEMENTSOF(events))
                                events[n_events++] = tick;
                }
                r = query_nodes(addrs, status);
                if (r < 0)
                        return fprintf(stderr, "tierbench: move_pages: %s\n", strerror(-r)), EXIT_FAILURE;
                for (unsigned i = 0; i < arg.threads; i++)
                        ops += atomic_load_explicit(&workers[i].ops, memory_order_relaxed);
                r = tb_eval_sample(probs + (size_t) ph * n_pages, n_pages, &oracle[ph], status, arg.fast_node, &e);
                if (r < 0)
                        return fprintf(stderr, "tierbench: eval: %s\n", strerror(-r)), EXIT_FAILURE;
                m = tb_pingpong_update(pp, status, n_pages, k, arg.pingpong_window, &pingpongs);
                moves += m;
                read_vmstat(&vm);
                /* Scanning /proc is the costly part of a sample under TCG: every 10th sample, and the last. */
                if (k % 10 == 0 || tick >= arg.duration_s ||
                    (double) (k + 1) * arg.interval_ms / 1000.0 > arg.duration_s)
                        read_cpu(&cpu);

                if (n_samples < max_samples) {
                        ts[n_samples] = t;
                        fs[n_samples] = e.f;
                        qs[n_samples] = e.q;
                        ps[n_samples] = e.precision;
                        rs[n_samples] = e.recall;
                        n_samples++;
                }
                fprintf(out, "%.3f,%d,%" PRIu64 ",%.0f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.5f,%.5f,%.5f,%.4f,"
                        "%.4f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%.2f,%.2f,%.2f,%.1f\n",
                        t, ph, ops, prev_t >= 0 && t > prev_t ? (double) (ops - prev_ops) / (t - prev_t) : 0.0,
                        e.fast_pages, e.slow_pages, e.absent_pages, e.f, oracle[ph].f_star, e.q, e.precision,
                        e.recall, moves, pingpongs, vm.migrate_success - vm0.migrate_success,
                        vm.promote_success - vm0.promote_success, vm.demote - vm0.demote,
                        (double) (cpu.tierd - cpu0.tierd) / clk_tck, (double) (cpu.kdamond - cpu0.kdamond) / clk_tck,
                        (double) (cpu.kswapd - cpu0.kswapd) / clk_tck,
                        (double) (cpu.worker_sys - cpu0.worker_sys) / clk_tck,
                        (double) (now_ns() - sample_start) / 1e6);
                fflush(out);
                prev_ops = ops;
                prev_t = t;

                if (tick >= arg.duration_s)
                        break;
                /* Absolute schedule; a sample that overran its interval skips ticks rather than drifting. */
                next_ns += (uint64_t) arg.interval_ms * 1000000;
                while (next_ns < now_ns() && (double) (k + 1) * arg.interval_ms / 1000.0 < arg.duration_s) {
                        next_ns += (uint64_t) arg.interval_ms * 1000000;
                        k++;
                }
                {
                        struct timespec ts_next = {
                                .tv_sec = (time_t) (next_ns / 1000000000),
                                .tv_nsec = (long) (next_ns % 1000000000),
                        };
                        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts_next, NULL) == EINTR)
                                ;
                }
        }

        atomic_store(&stop, true);
        total_ops = 0;
        for (unsigned i = 0; i < arg.threads; i++) {
                pthread_join(workers[i].thread, NULL);
                total_ops += atomic_load(&workers[i].ops);
        }
        ok = verify(total_ops, &bad_tags, &sum);

        {
                _cleanup_free_ char *line = NULL;
                size_t line_size = 0;
                FILE *s = open_memstream(&line, &line_size);
                int last_ph = atomic_load(&cur_phase);

                if (!s)
                        return fprintf(stderr, "tierbench: out of memory\n"), EXIT_FAILURE;
                fprintf(s, "pattern=%s thp=%d threads=%u pages=%" PRIu64 " cap_pages=%" PRIu64 " samples=%zu"
                        " duration_s=%.1f ops=%" PRIu64 " ops_per_s=%.0f q_steady=%.4f f_steady=%.4f f_star=%.4f"
                        " precision_steady=%.4f recall_steady=%.4f moves=%" PRIu64 " pingpongs=%" PRIu64
                        " pgmigrate_success=%" PRIu64 " pgpromote_success=%" PRIu64 " pgdemote=%" PRIu64
                        " tierd_cpu_s=%.2f kdamond_cpu_s=%.2f kswapd_cpu_s=%.2f worker_sys_s=%.2f"
                        " worker_user_s=%.2f sampler_cpu_s=%.2f events=%zu",
                        tb_kind_to_string(arg.kind), arg.thp, arg.threads, n_pages, cap_pages, n_samples, prev_t,
                        total_ops, prev_t > 0 ? (double) total_ops / prev_t : 0.0,
                        tb_mean_last_third(qs, n_samples), tb_mean_last_third(fs, n_samples),
                        oracle[last_ph].f_star, tb_mean_last_third(ps, n_samples),
                        tb_mean_last_third(rs, n_samples), moves, pingpongs,
                        vm.migrate_success - vm0.migrate_success, vm.promote_success - vm0.promote_success,
                        vm.demote - vm0.demote, (double) (cpu.tierd - cpu0.tierd) / clk_tck,
                        (double) (cpu.kdamond - cpu0.kdamond) / clk_tck,
                        (double) (cpu.kswapd - cpu0.kswapd) / clk_tck,
                        (double) (cpu.worker_sys - cpu0.worker_sys) / clk_tck,
                        (double) (cpu.worker_user - cpu0.worker_user) / clk_tck,
                        (double) (cpu.self - cpu0.self) / clk_tck, n_events);
                for (size_t i = 0; i < n_events; i++) {
                        double t90, t_end = i + 1 < n_events ? events[i + 1] : INFINITY;
                        int ph = phase_at(events[i]);

                        r = tb_t90(ts, fs, n_samples, events[i], t_end, oracle[ph].f_star, 0.9, 3, &t90);
                        fprintf(s, " event%zu_s=%.0f", i, events[i]);
                        if (r >= 0)
                                fprintf(s, " t90_%zu=%.1f", i, t90);
                        else
                                fprintf(s, " t90_%zu=-", i);
                }
                fprintf(s, " bad_tags=%" PRIu64 " counter_sum=%" PRIu64 " checksum=%s", bad_tags, sum,
                        ok ? "ok" : "BAD");
                if (fclose(s) != 0)
                        return fprintf(stderr, "tierbench: out of memory\n"), EXIT_FAILURE;
                printf("TIERBENCH summary %s\n", line);
                fflush(stdout);
                if (arg.summary) {
                        _cleanup_fclose_ FILE *f = fopen(arg.summary, "we");
                        if (!f || fprintf(f, "%s\n", line) < 0)
                                return fprintf(stderr, "tierbench: %s: %m\n", arg.summary), EXIT_FAILURE;
                }
        }
        munmap(raw, raw_bytes);
        return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
