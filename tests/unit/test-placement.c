/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan executor with a fake move_pages(): batch grouping, rate limits, whole-call and per-page errors, dry run,
 * heat store notes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heat.h"
#include "log.h"
#include "migrate.h"
#include "placement.h"

#define PG HEAT_PAGE_SIZE
#define T0 UINT64_C(1000000000)
#define BASE UINT64_C(0x10000000)

/* The fake kernel: every page of every process starts on node 1 (or where a move put it). */
#define FAKE_PAGES 1024
#define CALLS_MAX 64

struct call {
        int pid;
        unsigned long count;
        int dest;
};

static struct {
        int node[2][FAKE_PAGES]; /* [pid 10 or 11][page] */
        struct call calls[CALLS_MAX];
        size_t n_calls;
        int fail_pid, fail_errno;  /* whole-call failure of moves for this pid */
        uint64_t busy_addr;        /* this page fails with -EBUSY */
} fake;

static int *page_node(int pid, void *addr) {
        uint64_t a = (uint64_t) (uintptr_t) addr;

        assert_true(pid == 10 || pid == 11);
        assert_true(a >= BASE && a < BASE + FAKE_PAGES * PG);
        return &fake.node[pid - 10][(a - BASE) / PG];
}

static long fake_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status, int flags) {
        if (!nodes) {
                for (unsigned long i = 0; i < count; i++)
                        status[i] = *page_node(pid, pages[i]);
                return 0;
        }
        assert_true(fake.n_calls < CALLS_MAX);
        fake.calls[fake.n_calls++] = (struct call) { .pid = pid, .count = count, .dest = nodes[0] };
        if (pid == fake.fail_pid) {
                errno = fake.fail_errno;
                return -1;
        }
        for (unsigned long i = 0; i < count; i++) {
                if ((uint64_t) (uintptr_t) pages[i] == fake.busy_addr) {
                        status[i] = -EBUSY;
                        continue;
                }
                *page_node(pid, pages[i]) = nodes[i];
                status[i] = nodes[i];
        }
        return 0;
}

static int setup(void **state) {
        memset(&fake, 0, sizeof(fake));
        for (int p = 0; p < 2; p++)
                for (int i = 0; i < FAKE_PAGES; i++)
                        fake.node[p][i] = 1;
        fake.busy_addr = UINT64_MAX;
        migrate_set_move_pages(fake_move_pages);
        return 0;
}

static int teardown(void **state) {
        migrate_set_move_pages(NULL);
        return 0;
}

/* A plan from "pid:page:to" triples; direction from the destination (0: promote). */
static void plan_make(struct policy_plan *plan, const int (*spec)[3], size_t n) {
        *plan = (struct policy_plan) { .move_flags = 2, .round = 5 };
        plan->moves = calloc(n, sizeof(struct policy_move));
        assert_non_null(plan->moves);
        for (size_t i = 0; i < n; i++)
                plan->moves[i] = (struct policy_move) {
                        .pid = spec[i][0],
                        .addr = BASE + (uint64_t) spec[i][1] * PG,
                        .size_bytes = PG,
                        .from_node = spec[i][2] == 0 ? 1 : 0,
                        .to_node = spec[i][2],
                        .to_tier = spec[i][2],
                        .from_tier = spec[i][2] == 0 ? 1 : 0,
                        .direction = spec[i][2] == 0 ? POLICY_PROMOTE : POLICY_DEMOTE,
                        .workload = -1,
                        .settles = true,
                };
        plan->n_moves = n;
}

static struct placement_settings settings(uint64_t rate, uint64_t batch, bool dry_run) {
        return (struct placement_settings) {
                .rate_bytes_per_sec = { rate, rate },
                .batch_bytes = batch,
                .dry_run = dry_run,
        };
}

static void run_to_end(struct placement *p, struct heat_store *heat) {
        uint64_t wait;
        int r;

        for (int i = 0; i < 100; i++) {
                r = placement_run(p, heat, T0, &wait);
                assert_true(r >= 0);
                if (r == 0)
                        return;
        }
        fail_msg("the plan did not end");
}

/* A move_pages() call over a slice cuts the batches that follow to what its pace moves in one (the loop is held
 * for a whole call), never below PLACEMENT_PACE_MIN_BYTES; calls under half a slice let them grow back to
 * batch_size. The fake takes 3 slices (at least) for any call of more than 64 pages, and no time for the others. */
static long slow_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status, int flags) {
        long r = fake_move_pages(pid, count, pages, nodes, status, flags);

        if (nodes && count > PLACEMENT_PACE_MIN_BYTES / PG)
                usleep(3 * PLACEMENT_SLICE_US);
        return r;
}

static void test_batches_paced(void **state) {
        static int spec[FAKE_PAGES][3];
        const size_t min_pages = PLACEMENT_PACE_MIN_BYTES / PG;
        struct placement_settings s = settings(0, 256 * PG, false);
        struct policy_plan plan;
        struct placement p;
        bool grew = false;

        for (int i = 0; i < FAKE_PAGES; i++) {
                spec[i][0] = 10;
                spec[i][1] = i;
                spec[i][2] = 0;
        }
        migrate_set_move_pages(slow_move_pages);
        placement_init(&p, &s, T0);
        plan_make(&plan, (const int (*)[3]) spec, FAKE_PAGES);
        placement_start(&p, &plan);
        run_to_end(&p, NULL);
        /* The first call is the whole batch_size; a slow one cuts the next to a third of it or to the least;
         * a fast one lets the next grow. */
        assert_int_equal(fake.calls[0].count, 256);
        for (size_t i = 1; i < fake.n_calls; i++) {
                if (fake.calls[i - 1].count > min_pages)
                        assert_true(fake.calls[i].count <= MAX(fake.calls[i - 1].count / 3, min_pages));
                else if (i + 1 < fake.n_calls && fake.calls[i].count > fake.calls[i - 1].count)
                        grew = true;
                if (i + 1 < fake.n_calls)
                        assert_true(fake.calls[i].count >= min_pages);
        }
        assert_true(grew);
        for (int i = 0; i < FAKE_PAGES; i++)
                assert_int_equal(fake.node[0][i], 0);
        placement_done(&p);
}

static void test_batches(void **state) {
        static const int spec[][3] = {
                { 10, 0, 0 }, { 10, 1, 0 }, { 10, 2, 0 }, /* one run, split by batch_size = 2 pages */
                { 10, 3, 1 },                             /* other destination */
                { 11, 0, 0 }, { 11, 1, 0 },               /* other pid */
                { 10, 4, 0 },                             /* same pid again: a new batch */
        };
        struct placement_settings s = settings(0, 2 * PG, false);
        struct policy_plan plan;
        struct placement p;

        fake.node[0][3] = 0; /* the demoted page is on node 0 */
        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);
        assert_null(plan.moves);
        run_to_end(&p, NULL);

        assert_int_equal(fake.n_calls, 5);
        assert_int_equal(fake.calls[0].count, 2);
        assert_int_equal(fake.calls[0].dest, 0);
        assert_int_equal(fake.calls[1].count, 1);
        assert_int_equal(fake.calls[2].dest, 1);
        assert_int_equal(fake.calls[3].pid, 11);
        assert_int_equal(fake.calls[3].count, 2);
        assert_int_equal(fake.calls[4].pid, 10);

        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pages, 6);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].bytes, 6 * PG);
        assert_int_equal(p.stats.dir[POLICY_DEMOTE].pages, 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].calls, 4);
        assert_int_equal(fake.node[0][0], 0);
        assert_int_equal(fake.node[0][3], 1);
        assert_false(placement_active(&p));
        placement_done(&p);
}

static void test_rate_limit_waits(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 0 }, { 10, 2, 0 } };
        /* One page per second, batches of one page: the bucket starts with one second's worth. */
        struct placement_settings s = settings(PG, PG, false);
        struct policy_plan plan;
        struct placement p;
        uint64_t wait;

        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);

        assert_int_equal(placement_run(&p, NULL, T0, &wait), 1);
        assert_int_equal(fake.n_calls, 1);
        assert_true(wait > 0 && wait <= USEC_PER_SEC);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].rate_waits, 1);

        /* Too early: still waiting. */
        assert_int_equal(placement_run(&p, NULL, T0 + wait / 2, &wait), 1);
        assert_int_equal(fake.n_calls, 1);

        assert_int_equal(placement_run(&p, NULL, T0 + USEC_PER_SEC, &wait), 1);
        assert_int_equal(fake.n_calls, 2);
        assert_int_equal(placement_run(&p, NULL, T0 + 2 * USEC_PER_SEC, &wait), 0);
        assert_int_equal(fake.n_calls, 3);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pages, 3);
        placement_done(&p);
}

static void test_round_cap_ends_plan(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 0 }, { 10, 2, 0 } };
        struct placement_settings s = settings(0, PG, false);
        struct policy_plan plan;
        struct placement p;
        uint64_t wait;

        s.round_max_bytes[POLICY_PROMOTE] = 2 * PG;
        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);
        assert_int_equal(placement_run(&p, NULL, T0, &wait), 0);
        assert_int_equal(fake.n_calls, 2);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].dropped_bytes, PG);

        /* The next plan is a new round. */
        plan_make(&plan, spec, 1);
        plan.moves[0].addr = BASE + 5 * PG;
        placement_start(&p, &plan);
        assert_int_equal(placement_run(&p, NULL, T0, &wait), 0);
        assert_int_equal(fake.n_calls, 3);
        placement_done(&p);
}

static void test_esrch_skips_pid(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 1 }, { 11, 0, 0 }, { 10, 2, 0 } };
        struct placement_settings s = settings(0, PG, false);
        struct policy_plan plan;
        struct placement p;

        fake.fail_pid = 10;
        fake.fail_errno = ESRCH;
        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);
        run_to_end(&p, NULL);

        /* One failed call for pid 10, then only pid 11. */
        assert_int_equal(fake.n_calls, 2);
        assert_int_equal(fake.calls[1].pid, 11);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failures[ESRCH], 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pages, 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].dropped_bytes, PG);
        assert_int_equal(p.stats.dir[POLICY_DEMOTE].dropped_bytes, PG);
        placement_done(&p);
}

static void test_enomem_stops_promotions(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 11, 0, 1 }, { 11, 1, 0 }, { 11, 2, 1 }, { 11, 3, 0 } };
        struct placement_settings s = settings(0, PG, false);
        struct policy_plan plan;
        struct node_set full;
        struct placement p;

        fake.fail_pid = 10;
        fake.fail_errno = ENOMEM;
        fake.node[1][0] = fake.node[1][2] = 0;
        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        /* The last promotion is an exchange's: the demotion before it made its room. */
        plan.moves[3].reason = POLICY_REASON_COLD_ON_FAST;
        plan.moves[4].reason = POLICY_REASON_ONE_FOR_ONE;
        placement_start(&p, &plan);
        run_to_end(&p, NULL);

        /* Promotions into headroom stop (also pid 11's), demotions go on, and so does the exchange. */
        assert_int_equal(fake.n_calls, 4);
        assert_int_equal(fake.calls[1].dest, 1);
        assert_int_equal(fake.calls[2].dest, 1);
        assert_int_equal(fake.calls[3].dest, 0);
        assert_int_equal(fake.node[1][3], 0);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failures[ENOMEM], 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pages, 1);
        assert_int_equal(p.stats.dir[POLICY_DEMOTE].pages, 2);
        /* The node is remembered as full for the next plan, once. */
        placement_take_full_nodes(&p, &full);
        assert_true(node_set_test(&full, 0));
        assert_int_equal(node_set_count(&full), 1);
        placement_take_full_nodes(&p, &full);
        assert_true(node_set_is_empty(&full));

        /* An exchange's promotion refused: nothing is promoted after it. */
        setup(state);
        fake.fail_pid = 11;
        fake.fail_errno = ENOMEM;
        plan_make(&plan, spec, ELEMENTSOF(spec));
        for (size_t i = 0; i < plan.n_moves; i++)
                plan.moves[i].reason = plan.moves[i].direction == POLICY_PROMOTE ? POLICY_REASON_ONE_FOR_ONE :
                                                                                   POLICY_REASON_COLD_ON_FAST;
        placement_start(&p, &plan);
        run_to_end(&p, NULL);
        /* pid 10's promotion moves; pid 11's demotions find their pages in place (no call); its first promotion
         * gets ENOMEM and its second is never tried. */
        assert_int_equal(fake.n_calls, 2);
        assert_int_equal(fake.calls[0].pid, 10);
        assert_int_equal(fake.calls[1].pid, 11);
        assert_int_equal(fake.calls[1].dest, 0);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failures[ENOMEM], 2);
        placement_take_full_nodes(&p, &full);
        assert_true(node_set_test(&full, 0));
        placement_done(&p);
}

/* A per-page -ENOMEM (the call itself succeeded) counts the same. */
static long enomem_page_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status,
                                   int flags) {
        if (!nodes)
                return fake_move_pages(pid, count, pages, nodes, status, flags);
        for (unsigned long i = 0; i < count; i++)
                status[i] = -ENOMEM;
        return 0;
}

static void test_enomem_page_status(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 0 } };
        struct placement_settings s = settings(0, PG, false);
        struct policy_plan plan;
        struct node_set full;
        struct placement p;

        migrate_set_move_pages(enomem_page_move_pages);
        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);
        run_to_end(&p, NULL);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failures[ENOMEM], 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].dropped_bytes, PG);
        placement_take_full_nodes(&p, &full);
        assert_true(node_set_test(&full, 0));
        placement_done(&p);
}

static void test_eacces_logged_once(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 1 }, { 10, 2, 0 } };
        struct placement_settings s = settings(0, PG, false);
        struct policy_plan plan;
        struct placement p;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        log_set_stream(f);
        fake.fail_pid = 10;
        fake.fail_errno = EACCES;
        placement_init(&p, &s, T0);
        for (int round = 0; round < 2; round++) {
                plan_make(&plan, spec, ELEMENTSOF(spec));
                placement_start(&p, &plan);
                run_to_end(&p, NULL);
        }
        log_set_stream(NULL);
        fclose(f);

        assert_int_equal(fake.n_calls, 2); /* one per plan: the rest of the pid is skipped */
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failures[EACCES], 2);
        assert_non_null(strstr(buf, "pid 10"));
        assert_null(strstr(strstr(buf, "pid 10") + 1, "pid 10")); /* once */
        free(buf);
        log_repeat_reset();
        placement_done(&p);
}

static void test_page_failure_refunds(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 0 } };
        struct placement_settings s = settings(2 * PG, 2 * PG, false);
        struct policy_plan plan;
        struct placement p;
        uint64_t wait;

        fake.busy_addr = BASE + PG;
        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);
        assert_int_equal(placement_run(&p, NULL, T0, &wait), 0);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pages, 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failed_pages, 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].failures[EBUSY], 1);
        /* The page that failed was refunded. */
        assert_int_equal(ratelimit_available(&p.limit[POLICY_PROMOTE], T0), PG);
        placement_done(&p);
}

static void test_dry_run(void **state) {
        static const int spec[][3] = { { 10, 0, 0 }, { 10, 1, 0 }, { 10, 2, 1 } };
        struct placement_settings s = settings(PG, PG, true);
        struct policy_plan plan;
        struct placement p;
        uint64_t wait;

        placement_init(&p, &s, T0);
        plan_make(&plan, spec, ELEMENTSOF(spec));
        placement_start(&p, &plan);
        assert_int_equal(placement_run(&p, NULL, T0, &wait), 0);
        assert_int_equal(fake.n_calls, 0);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].would_bytes, 2 * PG);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].would_pages, 2);
        assert_int_equal(p.stats.dir[POLICY_DEMOTE].would_pages, 1);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pages, 0);
        placement_done(&p);
}

static void test_heat_notes_and_pingpong(void **state) {
        static const int promote[][3] = { { 10, 0, 0 } }, demote[][3] = { { 10, 0, 1 } };
        struct placement_settings s = settings(0, PG, false);
        struct vma v = { .start = BASE, .end = BASE + FAKE_PAGES * PG, .perms = "rw-p" };
        struct heat_store *heat = NULL;
        struct heat_move_info info;
        struct policy_plan plan;
        struct placement p;

        assert_int_equal(heat_store_new(&heat), 0);
        assert_int_equal(heat_store_sync_target(heat, 10, &v, 1), 0);
        placement_init(&p, &s, T0);

        plan_make(&plan, promote, 1);
        placement_start(&p, &plan);
        run_to_end(&p, heat);
        assert_int_equal(heat_store_get_move(heat, 10, BASE, &info), 1);
        assert_int_equal(info.from_node, 1);
        assert_int_equal(info.to_node, 0);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].pingpongs, 0);

        /* Back where it came from within the window: a ping-pong. */
        plan_make(&plan, demote, 1);
        plan.round = 8;
        placement_start(&p, &plan);
        run_to_end(&p, heat);
        assert_int_equal(p.stats.dir[POLICY_DEMOTE].pingpongs, 1);

        placement_done(&p);
        heat_store_free(heat);
}

/* A promoted unit on a streak settles on the fast tier unless the plan says it must stay in view (an eager one). */
static void test_settles_as_planned(void **state) {
        static const int promote[][3] = { { 10, 0, 0 }, { 10, 1, 0 } };
        struct placement_settings s = settings(0, PG, false);
        struct vma v = { .start = BASE, .end = BASE + FAKE_PAGES * PG, .perms = "rw-p" };
        uint64_t hits = 3; /* pages 0 and 1 accessed: a streak of 1 after one round of one pass */
        struct heat_store *heat = NULL;
        struct policy_plan plan;
        struct placement p;

        assert_int_equal(heat_store_new(&heat), 0);
        assert_int_equal(heat_store_sync_target(heat, 10, &v, 1), 0);
        assert_int_equal(heat_store_begin_round(heat, 1, HEAT_HOT_THRESHOLD_ALL_PASSES), 0);
        assert_true(heat_store_begin_pass(heat) >= 0);
        assert_int_equal(heat_store_record_bitmap(heat, 10, BASE, 2, &hits), 0);
        heat_store_end_round(heat);
        placement_init(&p, &s, T0);

        plan_make(&plan, promote, 2);
        plan.moves[1].settles = false;
        placement_start(&p, &plan);
        run_to_end(&p, heat);
        assert_int_equal(p.stats.dir[POLICY_PROMOTE].bytes, 2 * PG);
        assert_true(heat_store_is_settled(heat, 10, BASE));
        assert_false(heat_store_is_settled(heat, 10, BASE + PG));

        placement_done(&p);
        heat_store_free(heat);
}

static void test_errno_names(void **state) {
        char buf[16];

        assert_string_equal(placement_errno_name(EBUSY, buf, sizeof(buf)), "EBUSY");
        assert_string_equal(placement_errno_name(0, buf, sizeof(buf)), "E0");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_batches_paced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rate_limit_waits, setup, teardown),
                cmocka_unit_test_setup_teardown(test_round_cap_ends_plan, setup, teardown),
                cmocka_unit_test_setup_teardown(test_esrch_skips_pid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enomem_stops_promotions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_enomem_page_status, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eacces_logged_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_page_failure_refunds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_heat_notes_and_pingpong, setup, teardown),
                cmocka_unit_test_setup_teardown(test_settles_as_planned, setup, teardown),
                cmocka_unit_test(test_errno_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
