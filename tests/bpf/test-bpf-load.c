/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The BPF observers on the host's real kernel: load and attach where permitted (root with BPF and BTF), skip
 * with a printed reason where not; and the fallbacks, which need neither (TIERD_TEST_BPF_FAIL=1, a fake
 * /proc/vmstat, a sysfs without BTF). Never writes to /proc or /sys and never touches a kdamond: the DAMON program
 * listens to a pid no thread has. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <numaif.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpf-damon.h"
#include "bpf-procs.h"
#include "bpf-util.h"
#include "fsroot.h"
#include "kmigrate.h"
#include "log.h"
#include "tierd-bpf.h"

#if HAVE_BPF_PROGRAMS
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>

#include "bpf/damon.skel.h"
#include "bpf/migrate.skel.h"
#endif

/* Why the BPF tests cannot run here, or NULL. */
static const char *bpf_skip_reason(void) {
        if (geteuid() != 0)
                return "not root (loading BPF programs needs CAP_BPF and CAP_PERFMON)";
        return bpf_unavailable_reason();
}

/* A load that failed for lack of privilege is a skip, anything else a failure. */
static bool reason_is_permission(const char *reason) {
        return reason && strstr(reason, "not permitted");
}

#define SKIP_WITH(...)                                   \
        do {                                             \
                printf("SKIP: " __VA_ARGS__);            \
                printf("\n");                            \
                fflush(stdout);                          \
                skip();                                  \
        } while (0)

static char *tmpdir_new(void) {
        char *d = strdup("/tmp/tierd-test-bpf-XXXXXX");

        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void write_file(const char *dir, const char *name, const char *content) {
        char p[512];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        f = fopen(p, "we");
        assert_non_null(f);
        assert_true(fputs(content, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void remove_tree(const char *dir) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* Fallbacks (no privileges needed). */

static void test_simulated_failure(void **state) {
        _cleanup_kmigrate_ struct kmigrate *k = NULL;
        struct bpf_procs *p = NULL;
        struct bpf_damon *d = NULL;
        char *reason = NULL, *log_buf = NULL;
        size_t log_size = 0;
        FILE *log_f;

        assert_int_equal(setenv("TIERD_TEST_BPF_FAIL", "1", 1), 0);
        /* "BPF load failure simulated (TIERD_TEST_BPF_FAIL=1)", or in a build without programs that reason */
        const char *expected = bpf_unavailable_reason();
        assert_non_null(expected);
        log_f = open_memstream(&log_buf, &log_size);
        assert_non_null(log_f);
        log_set_stream(log_f);

        assert_int_equal(kmigrate_new(&(struct kmigrate_options) { .use_bpf = true }, &k), 0);
        assert_int_equal(kmigrate_source(k), KMIGRATE_SOURCE_VMSTAT);
        assert_string_equal(kmigrate_source_to_string(kmigrate_source(k)), "vmstat");
        assert_string_equal(kmigrate_bpf_reason(k), expected);
        assert_null(kmigrate_attach_mode(k));

        struct kmigrate_counts c;
        assert_int_equal(kmigrate_sample(k, &c), 0);
        assert_true(kmigrate_counts_has(&c, KMIGRATE_OTHER)); /* pgmigrate_success exists on every NUMA kernel */
        assert_false(kmigrate_counts_has(&c, KMIGRATE_TIERD));

        assert_int_equal(bpf_procs_new((bpf_procs_func_t) abort, NULL, &p, &reason), -EOPNOTSUPP);
        assert_null(p);
        assert_string_equal(reason, expected);
        free(reason);
        reason = NULL;
        assert_int_equal(bpf_damon_new((bpf_damon_func_t) abort, NULL, &d, &reason), -EOPNOTSUPP);
        assert_null(d);
        assert_string_equal(reason, expected);
        free(reason);

        /* Each says so, once. */
        log_set_stream(NULL);
        assert_int_equal(fclose(log_f), 0);
        printf("%s", log_buf);
        assert_non_null(strstr(log_buf, "Kernel migration observer: "));
        assert_non_null(strstr(log_buf, expected));
        assert_non_null(strstr(log_buf, "/proc/vmstat"));
        assert_non_null(strstr(log_buf, "update_schemes_tried_regions"));
        assert_non_null(strstr(log_buf, "rescan"));
        free(log_buf);

        assert_int_equal(unsetenv("TIERD_TEST_BPF_FAIL"), 0);
}

static const char vmstat_a[] = "nr_free_pages 5\npgpromote_success 10\npgdemote_kswapd 100\npgdemote_direct 1\n"
                               "pgmigrate_success 1000\nnuma_pages_migrated 10\n";
static const char vmstat_b[] = "nr_free_pages 5\npgpromote_success 25\npgdemote_kswapd 180\npgdemote_direct 1\n"
                               "pgmigrate_success 1200\nnuma_pages_migrated 30\n";

static void test_vmstat_fixture(void **state) {
        _cleanup_kmigrate_ struct kmigrate *k = NULL;
        char *root = tmpdir_new(), proc[600], sys[600];
        struct kmigrate_counts c;

        snprintf(proc, sizeof(proc), "%s/proc", root);
        snprintf(sys, sizeof(sys), "%s/sys", root);
        assert_int_equal(mkdir(proc, 0755), 0);
        assert_int_equal(mkdir(sys, 0755), 0); /* no kernel/btf/vmlinux in it */
        write_file(proc, "vmstat", vmstat_a);
        assert_int_equal(fsroot_set(FSROOT_PROC, proc), 0);
        assert_int_equal(fsroot_set(FSROOT_SYS, sys), 0);

        /* A sysfs without BTF turns BPF off by itself. */
        assert_non_null(bpf_unavailable_reason());
        if (!strstr(bpf_unavailable_reason(), "built without"))
                assert_non_null(strstr(bpf_unavailable_reason(), "BTF"));

        assert_int_equal(kmigrate_new(&(struct kmigrate_options) { .use_bpf = true }, &k), 0);
        assert_int_equal(kmigrate_source(k), KMIGRATE_SOURCE_VMSTAT);
        assert_int_equal(kmigrate_sample(k, &c), 0);
        assert_int_equal(c.pages[KMIGRATE_PROMOTION], 0); /* counted from kmigrate_new() on */
        assert_int_equal(c.pages[KMIGRATE_DEMOTION], 0);

        write_file(proc, "vmstat", vmstat_b);
        assert_int_equal(kmigrate_sample(k, &c), 0);
        assert_int_equal(c.pages[KMIGRATE_PROMOTION], 15);
        assert_int_equal(c.pages[KMIGRATE_DEMOTION], 80);
        assert_int_equal(c.pages[KMIGRATE_OTHER], 200 - 20 - 80);

        /* vmstat gone: the sample fails, the observer stays. */
        write_file(proc, "vmstat", "pgmigrate_success x\n");
        assert_int_equal(kmigrate_sample(k, &c), -EBADMSG);
        k = kmigrate_free(k);

        /* Configured off. */
        write_file(proc, "vmstat", vmstat_a);
        assert_int_equal(kmigrate_new(&(struct kmigrate_options) { .use_bpf = false }, &k), 0);
        assert_int_equal(kmigrate_source(k), KMIGRATE_SOURCE_VMSTAT);
        assert_string_equal(kmigrate_bpf_reason(k), "BPF disabled by the configuration");
        k = kmigrate_free(k);

        /* Nothing at all. */
        {
                char p[700];
                snprintf(p, sizeof(p), "%s/vmstat", proc);
                assert_int_equal(unlink(p), 0);
        }
        assert_int_equal(kmigrate_new(&(struct kmigrate_options) { .use_bpf = false }, &k), 0);
        assert_int_equal(kmigrate_source(k), KMIGRATE_SOURCE_NONE);
        assert_int_equal(kmigrate_sample(k, &c), -ENODATA);

        fsroot_reset();
        remove_tree(root);
        free(root);
}

/* The real programs. */

static void test_kmigrate_bpf(void **state) {
        _cleanup_kmigrate_ struct kmigrate *k = NULL;
        struct kmigrate_counts c;
        const char *skip_reason = bpf_skip_reason();
        bool named = false;

        if (skip_reason)
                SKIP_WITH("kmigrate over BPF: %s", skip_reason);

        assert_int_equal(kmigrate_new(&(struct kmigrate_options) { .use_bpf = true }, &k), 0);
        if (kmigrate_source(k) != KMIGRATE_SOURCE_BPF && reason_is_permission(kmigrate_bpf_reason(k)))
                SKIP_WITH("kmigrate over BPF: %s", kmigrate_bpf_reason(k));
        if (kmigrate_source(k) != KMIGRATE_SOURCE_BPF)
                fail_msg("BPF observer not loaded: %s", strna(kmigrate_bpf_reason(k)));

        printf("kmigrate: source %s, attached as %s, reason names from %s\n",
               kmigrate_source_to_string(kmigrate_source(k)), kmigrate_attach_mode(k),
               kmigrate_reason_names_source(k));
        assert_null(kmigrate_bpf_reason(k));
        for (unsigned r = 0; r < TIERD_MIGRATE_REASON_SLOTS; r++)
                if (streq_ptr(kmigrate_reason_name(k, r), "numa_misplaced"))
                        named = true;
        assert_true(named);

        assert_int_equal(kmigrate_sample(k, &c), 0);
        for (unsigned cl = 0; cl < _KMIGRATE_CLASS_MAX; cl++) {
                assert_true(kmigrate_counts_has(&c, cl));
                printf("  %-10s %" PRIu64 " pages\n", kmigrate_class_to_string(cl), c.pages[cl]);
        }

        /* Attribution needs a second memory node to move a page to; one node moves nothing (move_pages skips
         * pages already in place without calling migrate_pages()). */
        int other = -1;
        if (numa_available() >= 0)
                for (int n = 0; n <= numa_max_node(); n++) {
                        long long free_bytes;

                        if (numa_node_size64(n, &free_bytes) > 0 && free_bytes > 16 << 20) {
                                void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                                int status = -1, node = n;

                                assert_true(page != MAP_FAILED);
                                memset(page, 1, 4096);
                                assert_int_equal(move_pages(0, 1, &page, NULL, &status, 0), 0);
                                if (status != n) {
                                        other = n;
                                        assert_int_equal(move_pages(0, 1, &page, &node, &status, MPOL_MF_MOVE), 0);
                                }
                                munmap(page, 4096);
                                if (other >= 0)
                                        break;
                        }
                }
        if (other < 0) {
                printf("single memory node: tierd's own moves not exercised\n");
                return;
        }
        struct kmigrate_counts after;
        assert_int_equal(kmigrate_sample(k, &after), 0);
        printf("moved a page to node %d: tierd %" PRIu64 " -> %" PRIu64 " pages\n", other,
               c.pages[KMIGRATE_TIERD], after.pages[KMIGRATE_TIERD]);
        assert_true(after.pages[KMIGRATE_TIERD] >= c.pages[KMIGRATE_TIERD] + 1);
}

struct proc_seen {
        pid_t child;
        bool exec, exit;
        unsigned events;
};

static int on_proc(const struct bpf_procs_event *e, void *userdata) {
        struct proc_seen *s = userdata;

        s->events++;
        if (e->pid != s->child)
                return 0;
        if (e->type == BPF_PROCS_EXEC)
                s->exec = true;
        else if (e->type == BPF_PROCS_EXIT)
                s->exit = true;
        return 0;
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void test_procs_bpf(void **state) {
        _cleanup_(bpf_procs_freep) struct bpf_procs *p = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *skip_reason = bpf_skip_reason();
        struct proc_seen seen = {};
        uint64_t deadline;
        int r, status, fd;

        if (skip_reason)
                SKIP_WITH("process events over BPF: %s", skip_reason);

        r = bpf_procs_new(on_proc, &seen, &p, &reason);
        if (r < 0 && reason_is_permission(reason))
                SKIP_WITH("process events over BPF: %s", reason);
        if (r < 0)
                fail_msg("process events not loaded: %s", strna(reason));
        printf("process events attached as %s\n", bpf_procs_attach_mode(p));

        fd = bpf_procs_fd(p);
        assert_true(fd >= 0);

        seen.child = fork();
        assert_true(seen.child >= 0);
        if (seen.child == 0) {
                execl("/bin/true", "true", (char *) NULL);
                _exit(127);
        }
        assert_int_equal(waitpid(seen.child, &status, 0), seen.child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        deadline = now_ms() + 5000;
        while (!(seen.exec && seen.exit) && now_ms() < deadline) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                (void) poll(&pfd, 1, 100);
                assert_true(bpf_procs_consume(p) >= 0);
        }
        printf("%u events, dropped %" PRIu64 "\n", seen.events, bpf_procs_dropped(p));
        assert_true(seen.exec);
        assert_true(seen.exit);
}

static int on_damon(const struct bpf_damon_region *r, void *userdata) {
        unsigned *n = userdata;

        (*n)++;
        return 0;
}

static void test_damon_bpf(void **state) {
        _cleanup_bpf_damon_ struct bpf_damon *d = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *skip_reason = bpf_skip_reason();
        unsigned n = 0;
        int r;

        if (skip_reason)
                SKIP_WITH("DAMON regions over BPF: %s", skip_reason);

        r = bpf_damon_new(on_damon, &n, &d, &reason);
        if (r < 0 && reason && (reason_is_permission(reason) || strstr(reason, "no damon:damon_aggregated")))
                SKIP_WITH("DAMON regions over BPF: %s", reason);
        if (r < 0)
                fail_msg("DAMON program not loaded: %s", strna(reason));
        printf("DAMON regions attached as %s\n", bpf_damon_attach_mode(d));

        assert_true(bpf_damon_fd(d) >= 0);
        /* Above any pid_max (at most 2^22): no kdamond, so nothing arrives, whatever DAMON does on the host. */
        assert_int_equal(bpf_damon_set_kdamond(d, 0x7ffffff0), 0);
        usleep(200 * 1000);
        assert_int_equal(bpf_damon_consume(d), 0);
        assert_int_equal(n, 0);
        assert_int_equal(bpf_damon_dropped(d), 0);
        assert_int_equal(bpf_damon_set_kdamond(d, 0), 0);
}


#if HAVE_BPF_PROGRAMS
/* The raw-tracepoint programs run on made-up arguments (BPF_PROG_TEST_RUN, in this thread's context): what the
 * host cannot produce (a migration by tierd between two nodes, a kdamond's aggregation) still goes through the
 * programs' filters, attribution and maps. */

static int test_run(struct bpf_program *prog, const uint64_t *args, size_t n) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = n * sizeof(uint64_t));

        return bpf_prog_test_run_opts(bpf_program__fd(prog), &opts) < 0 ? negative_errno() : 0;
}

static void test_migrate_program_run(void **state) {
        struct migrate_bpf *skel;
        struct bpf_tp_proto proto;
        struct bpf_program *prog;
        char name[32];
        int variant, r;

        if (bpf_skip_reason())
                SKIP_WITH("migrate program test run: %s", bpf_skip_reason());
        assert_int_equal(bpf_tp_proto_read("mm_migrate_pages", &proto), 0);
        variant = kmigrate_raw_variant(&proto);
        assert_true(variant > 0);
        snprintf(name, sizeof(name), "tierd_migrate_raw%d", variant);

        skel = migrate_bpf__open();
        assert_non_null(skel);
        skel->rodata->self_tgid = (__u32) getpid();
        assert_int_equal(bpf_object_enable_only(skel->obj, (const char *[]) { name, NULL }), 0);
        r = migrate_bpf__load(skel);
        if (r < 0 && reason_is_permission(bpf_error_hint(r))) {
                migrate_bpf__destroy(skel);
                SKIP_WITH("migrate program test run: %s", bpf_error_hint(r));
        }
        assert_int_equal(r, 0);
        prog = bpf_object__find_program_by_name(skel->obj, name);
        assert_non_null(prog);

        /* succeeded 5, failed 1, thp_succeeded 2, thp_failed 0, thp_split 1, [large_folio_split 0,] mode, reason */
        uint64_t args[8] = { 5, 1, 2, 0, 1, 0, 0, 0 };
        unsigned n = (unsigned) variant;
        args[n - 1] = 3; /* syscall_or_cpuset, from tierd's tgid */
        if (n == 4) {
                args[2] = 0;
                args[3] = 3;
        }
        r = test_run(prog, args, n);
        if (r == -ENOTSUP || r == -EINVAL) {
                migrate_bpf__destroy(skel);
                SKIP_WITH("migrate program test run: the kernel cannot test-run raw tracepoints (%s)", strerror(-r));
        }
        assert_int_equal(r, 0);
        args[n - 1] = 40; /* out of range: the last slot */
        assert_int_equal(test_run(prog, args, n), 0);

        int fd = bpf_map__fd(skel->maps.counts), n_cpus = libbpf_num_possible_cpus();
        struct tierd_migrate_count *v = calloc((size_t) n_cpus, sizeof(*v)), sum;
        __u32 keys[] = { TIERD_MIGRATE_REASON_SLOTS + 3, TIERD_MIGRATE_KEYS - 1, 3 };
        uint64_t want_events[] = { 1, 1, 0 };

        assert_non_null(v);
        for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                sum = (struct tierd_migrate_count) {};
                assert_int_equal(bpf_map_lookup_elem(fd, &keys[k], v), 0);
                for (int c = 0; c < n_cpus; c++) {
                        sum.events += v[c].events;
                        sum.succeeded += v[c].succeeded;
                        sum.failed += v[c].failed;
                        sum.thp_succeeded += v[c].thp_succeeded;
                }
                assert_int_equal(sum.events, want_events[k]);
                if (want_events[k] > 0) {
                        assert_int_equal(sum.succeeded, 5);
                        assert_int_equal(sum.failed, 1);
                        assert_int_equal(sum.thp_succeeded, n == 4 ? 0 : 2);
                }
        }
        printf("%s: counted as tierd's own (reason 3) and as out of range (reason 40)\n", name);
        free(v);
        migrate_bpf__destroy(skel);
}

struct damon_seen {
        unsigned n;
        struct tierd_damon_record last;
};

static int on_damon_record(void *ctx, void *data, size_t size) {
        struct damon_seen *s = ctx;

        assert_int_equal(size, sizeof(struct tierd_damon_record));
        memcpy(&s->last, data, sizeof(s->last));
        s->n++;
        return 0;
}

static void test_damon_program_run(void **state) {
        struct damon_seen seen = {};
        struct ring_buffer *rb;
        struct damon_bpf *skel;
        struct bpf_tp_proto proto;
        struct bpf_program *prog;
        char name[32];
        int variant, r;

        if (bpf_skip_reason())
                SKIP_WITH("DAMON program test run: %s", bpf_skip_reason());
        r = bpf_tp_proto_read("damon_aggregated", &proto);
        if (r == -ENOENT)
                SKIP_WITH("DAMON program test run: the kernel has no damon_aggregated tracepoint");
        assert_int_equal(r, 0);
        variant = bpf_damon_raw_variant(&proto);
        assert_true(variant > 0);
        snprintf(name, sizeof(name), "tierd_damon_raw%d", variant);

        skel = damon_bpf__open();
        assert_non_null(skel);
        assert_int_equal(bpf_object_enable_only(skel->obj, (const char *[]) { name, NULL }), 0);
        r = damon_bpf__load(skel);
        if (r < 0 && reason_is_permission(bpf_error_hint(r))) {
                damon_bpf__destroy(skel);
                SKIP_WITH("DAMON program test run: %s", bpf_error_hint(r));
        }
        assert_int_equal(r, 0);
        prog = bpf_object__find_program_by_name(skel->obj, name);
        assert_non_null(prog);
        rb = ring_buffer__new(bpf_map__fd(skel->maps.records), on_damon_record, &seen, NULL);
        assert_non_null(rb);

        /* The region pointer is not a kernel address: the program's reads of it come back as zeros. */
        uint64_t args3[] = { 2, 0x1000, 7 }, args4[] = { 0, 2, 0x1000, 7 };
        const uint64_t *args = variant == 3 ? args3 : args4;

        skel->bss->kdamond_pid = 0; /* none: nothing passes */
        r = test_run(prog, args, (size_t) variant);
        if (r == -ENOTSUP || r == -EINVAL) {
                ring_buffer__free(rb);
                damon_bpf__destroy(skel);
                SKIP_WITH("DAMON program test run: the kernel cannot test-run raw tracepoints (%s)", strerror(-r));
        }
        assert_int_equal(r, 0);
        skel->bss->kdamond_pid = (__u32) getpid() + 1; /* another thread */
        assert_int_equal(test_run(prog, args, (size_t) variant), 0);
        assert_int_equal(ring_buffer__consume(rb), 0);

        skel->bss->kdamond_pid = (__u32) syscall(SYS_gettid); /* this thread plays the kdamond */
        assert_int_equal(test_run(prog, args, (size_t) variant), 0);
        assert_int_equal(ring_buffer__consume(rb), 1);
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.last.target_id, 2);
        assert_int_equal(seen.last.nr_regions, 7);
        assert_true(seen.last.ktime_ns > 0);
        assert_int_equal(skel->bss->dropped, 0);
        printf("%s: only the configured thread's events pass; target_id and nr_regions arrive\n", name);

        ring_buffer__free(rb);
        damon_bpf__destroy(skel);
}
#endif

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_simulated_failure),
                cmocka_unit_test(test_vmstat_fixture),
                cmocka_unit_test(test_kmigrate_bpf),
                cmocka_unit_test(test_procs_bpf),
                cmocka_unit_test(test_damon_bpf),
#if HAVE_BPF_PROGRAMS
                cmocka_unit_test(test_migrate_program_run),
                cmocka_unit_test(test_damon_program_run),
#endif
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
