/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cpu-budget.h"
#include "macro.h"
#include "proc-stat.h"

#define SEC USEC_PER_SEC

static void test_stat_parse(void **state _unused_) {
        uint64_t ticks = 0;

        /* Fields 14 and 15 (utime 1234, stime 56) of a kdamond's line. */
        assert_int_equal(proc_stat_cpu_parse("812 (kdamond.0) S 2 0 0 0 -1 2129984 0 0 0 0 1234 56 0 0 20 0 1 0 "
                                             "4096 0 0 18446744073709551615\n", &ticks), 0);
        assert_int_equal(ticks, 1290);
        /* A comm with spaces and parentheses: fields count from the last ')'. */
        assert_int_equal(proc_stat_cpu_parse("77 (a) (b c) R 1 77 77 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0 1\n",
                                             &ticks), 0);
        assert_int_equal(ticks, 10);
        /* Cut before stime, not a number, no comm. */
        assert_int_equal(proc_stat_cpu_parse("77 (x) R 1 77 77 0 -1 4194560 10 0 0 0 7\n", &ticks), -EINVAL);
        assert_int_equal(proc_stat_cpu_parse("77 (x) R 1 77 77 0 -1 4194560 10 0 0 0 7 x3 0\n", &ticks), -EINVAL);
        assert_int_equal(proc_stat_cpu_parse("77 x R 1 77 77 0 -1 4194560 10 0 0 0 7 3 0\n", &ticks), -EINVAL);
        assert_int_equal(proc_stat_cpu_parse("77 (x) R 1 77 77 0 -1 4194560 10 0 0 0 18446744073709551615 1 0\n",
                                             &ticks), -ERANGE);
}

static void test_off(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 0);
        /* However much is spent, no budget never waits, never thins sampling, never limits. */
        cpu_budget_account(&b, 5 * SEC, 5 * SEC, 3 * SEC, 3 * SEC);
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 0);
        assert_int_equal(cpu_budget_sample_scale(&b, 64), 1);
        assert_false(cpu_budget_limiting(&b));
        /* Still counted, for status. */
        assert_int_equal(b.own_us, 5 * SEC);
        assert_int_equal(b.kernel_us, 5 * SEC);
        assert_int_equal(cpu_budget_last_bp(&b), 33333);
}

static void test_within_budget(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 500);
        /* 4% of a CPU against 5%: nothing changes. */
        for (unsigned i = 0; i < 10; i++)
                cpu_budget_account(&b, 60 * 1000, 60 * 1000, 3 * SEC, 3 * SEC);
        assert_true(b.slowdown == 1.0);
        assert_false(cpu_budget_limiting(&b));
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 0);
        assert_int_equal(cpu_budget_last_bp(&b), 400);
        assert_int_equal(cpu_budget_total_bp(&b), 400);
}

static void test_over_budget(void **state _unused_) {
        struct cpu_budget b;
        uint64_t gap;

        cpu_budget_init(&b, 500);
        /* 20% of a CPU in a 3 s round against 5%: 4 / 0.9 = 4.44 times too much, so s grows by the most a cycle
         * allows (4), and the 0.45 s owed (0.6 s spent, 0.15 s granted) is repaid by 9 s more of waiting. */
        cpu_budget_account(&b, 300 * 1000, 300 * 1000, 3 * SEC, 3 * SEC);
        assert_true(b.slowdown == 4.0);
        assert_true(cpu_budget_limiting(&b));
        gap = cpu_budget_gap_us(&b, 3 * SEC);
        assert_in_range(gap, 9 * SEC + 9 * SEC - 1000, 9 * SEC + 9 * SEC + 1000);
        assert_int_equal(cpu_budget_last_bp(&b), 2000);
        /* The next cycle, the round and that wait, at the same cost per round: within budget, debt repaid. */
        cpu_budget_account(&b, 300 * 1000, 300 * 1000, 3 * SEC + gap, 3 * SEC);
        assert_true(b.balance_us >= 0);
        assert_in_range(cpu_budget_last_bp(&b), 250, 500);
}

/* A model of the daemon: each round costs own_us of tierd's CPU and the kdamond burns kernel_rate of a CPU
 * (divided by the sample scale, at most 8, and the region scale, at most region_max) through the round and the
 * wait. Over many cycles the budget holds, and when the work becomes cheap the levers are released. */
static void run_model(struct cpu_budget *b, unsigned cycles, uint64_t own_us, double kernel_rate,
                      unsigned region_max, uint64_t *ret_cpu, uint64_t *ret_wall) {
        const uint64_t round_us = 3 * SEC;
        uint64_t cpu = 0, wall = 0, gap = 0;

        for (unsigned i = 0; i < cycles; i++) {
                unsigned scale = cpu_budget_sample_scale(b, 8), regions = cpu_budget_region_scale(b, scale, region_max);
                uint64_t w = round_us + gap, k = (uint64_t) (kernel_rate * (double) w / scale / regions);

                cpu_budget_account(b, own_us, k, w, round_us);
                cpu += own_us + k;
                wall += w;
                gap = cpu_budget_gap_us(b, round_us);
        }
        *ret_cpu = cpu;
        *ret_wall = wall;
}

static void test_model_holds_budget(void **state _unused_) {
        struct cpu_budget b;
        uint64_t cpu, wall;

        /* page_idle in the TCG guest: ~1.2 s of tierd per 3 s round (40%), no kdamond; budget 10%. */
        cpu_budget_init(&b, 1000);
        run_model(&b, 60, 1200 * 1000, 0, 1, &cpu, &wall);
        assert_in_range(cpu * 10000 / wall, 700, 1000);
        assert_true(b.slowdown > 3.0 && b.slowdown < 6.0);

        /* DAMON: tierd 0.2 s a round, the kdamond 30% of a CPU; budget 5%. Sampling is thinned by 8 at most here,
         * the rest comes from the waits. */
        cpu_budget_init(&b, 500);
        run_model(&b, 60, 200 * 1000, 0.30, 1, &cpu, &wall);
        assert_in_range(cpu * 10000 / wall, 350, 500);
        assert_int_equal(cpu_budget_sample_scale(&b, 8), 8);

        /* The workload goes quiet (a tenth of the cost): within some cycles the budget stops limiting. */
        run_model(&b, 40, 20 * 1000, 0.03, 1, &cpu, &wall);
        assert_true(b.slowdown == 1.0);
        assert_false(cpu_budget_limiting(&b));
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 0);

        /* A kdamond that alone costs 8% at the sparsest sampling (64% at full rate, thinned by 8): the waits cannot
         * bring it under a 5% budget, fewer regions can. */
        cpu_budget_init(&b, 500);
        run_model(&b, 60, 200 * 1000, 0.64, 1, &cpu, &wall);
        assert_true(cpu * 10000 / wall > 750);
        cpu_budget_init(&b, 500);
        run_model(&b, 60, 200 * 1000, 0.64, 16, &cpu, &wall);
        assert_in_range(cpu * 10000 / wall, 350, 500);
        assert_true(cpu_budget_region_scale(&b, 8, 16) >= 2);
}

static void test_credit_is_capped(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 500);
        /* An idle hour banks at most one round's share (0.15 s of a 3 s round)... */
        cpu_budget_account(&b, 0, 0, 3600 * SEC, 3 * SEC);
        assert_true(b.balance_us <= 150 * 1000 + 1);
        /* ...so a round of 1.5 s of CPU leaves a debt to wait off: 1.2 s, 24 s at 5%, of which one slowed-down
         * round (s = 4: 12 s) in this cycle, beside the 9 s of spacing. */
        cpu_budget_account(&b, 1500 * 1000, 0, 3 * SEC, 3 * SEC);
        assert_true(b.balance_us < 0);
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 21 * SEC);
}

static void test_gap_is_bounded(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 10);
        /* A minute of CPU against 0.1%: the debt would take 16 hours. It is repaid a slowed-down round at a time
         * (s = 4: 9 s of spacing and 12 s of debt)... */
        cpu_budget_account(&b, 60 * SEC, 0, 3 * SEC, 3 * SEC);
        assert_true(b.slowdown == 4.0);
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 21 * SEC);
        /* ...and however far s climbs, tierd looks again within 63 rounds. */
        for (unsigned i = 0; i < 4; i++)
                cpu_budget_account(&b, 60 * SEC, 0, 3 * SEC, 3 * SEC);
        assert_true(b.slowdown == CPU_BUDGET_SLOWDOWN_MAX);
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 63 * 3 * SEC);
        /* Short rounds: 63 of them of spacing, 64 of debt. */
        assert_int_equal(cpu_budget_gap_us(&b, 100 * 1000), 12700 * 1000);
}

static void test_sample_scale(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 500);
        assert_int_equal(cpu_budget_sample_scale(&b, 64), 1);
        /* Rounded up: the kdamond samples through the waits too, so only its own rate brings its cost down. */
        b.slowdown = 1.1;
        assert_int_equal(cpu_budget_sample_scale(&b, 64), 2);
        b.slowdown = 2.0;
        assert_int_equal(cpu_budget_sample_scale(&b, 64), 2);
        b.slowdown = 13.0;
        assert_int_equal(cpu_budget_sample_scale(&b, 64), 16);
        assert_int_equal(cpu_budget_sample_scale(&b, 5), 4);
        assert_int_equal(cpu_budget_sample_scale(&b, 1), 1);
        assert_int_equal(cpu_budget_sample_scale(&b, 0), 1);
}

static void test_region_scale(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 500);
        assert_int_equal(cpu_budget_region_scale(&b, 1, 64), 1);
        /* Only what the sampling cannot reach, rounded up to a power of two. */
        b.slowdown = 13.0;
        assert_int_equal(cpu_budget_region_scale(&b, 16, 64), 1);
        assert_int_equal(cpu_budget_region_scale(&b, 4, 64), 4);
        assert_int_equal(cpu_budget_region_scale(&b, 8, 64), 2);
        assert_int_equal(cpu_budget_region_scale(&b, 4, 3), 2);
        assert_int_equal(cpu_budget_region_scale(&b, 4, 1), 1);
        assert_int_equal(cpu_budget_region_scale(&b, 0, 64), 16);
        /* No budget: nothing scaled. */
        cpu_budget_configure(&b, 0);
        assert_int_equal(cpu_budget_region_scale(&b, 1, 64), 1);
}

static void test_configure(void **state _unused_) {
        struct cpu_budget b;

        cpu_budget_init(&b, 500);
        cpu_budget_account(&b, 2 * SEC, 0, 3 * SEC, 3 * SEC);
        assert_true(cpu_budget_limiting(&b));
        /* The same budget again (a reload that changed something else) keeps the state... */
        cpu_budget_configure(&b, 500);
        assert_true(cpu_budget_limiting(&b));
        /* ...a new one starts the levers over; what was spent stays counted. */
        cpu_budget_configure(&b, 2000);
        assert_false(cpu_budget_limiting(&b));
        assert_true(b.slowdown == 1.0);
        assert_int_equal(b.own_us, 2 * SEC);
        cpu_budget_configure(&b, 0);
        assert_int_equal(cpu_budget_gap_us(&b, 3 * SEC), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat_parse),
                cmocka_unit_test(test_off),
                cmocka_unit_test(test_within_budget),
                cmocka_unit_test(test_over_budget),
                cmocka_unit_test(test_model_holds_budget),
                cmocka_unit_test(test_credit_is_capped),
                cmocka_unit_test(test_gap_is_bounded),
                cmocka_unit_test(test_sample_scale),
                cmocka_unit_test(test_region_scale),
                cmocka_unit_test(test_configure),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
