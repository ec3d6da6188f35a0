/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of tierbench's pure computation, on small fixtures computed by hand. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tierbench-stats.h"

#define EPS 1e-12

static void test_kind_names(void **state) {
        enum tb_kind k;

        assert_int_equal(tb_kind_from_string("zigzag", &k), 0);
        assert_int_equal(k, TB_ZIGZAG);
        assert_string_equal(tb_kind_to_string(TB_ZIPF), "zipf");
        assert_int_equal(tb_kind_from_string("hot", &k), -EINVAL);
}

/* 16 pages, hot set of 4, half the accesses to it: base 0.5/16 = 1/32, hot 1/32 + 0.5/4 = 5/32. */
static void test_hotset_probs(void **state) {
        struct tb_pattern p;
        double probs[16], sum = 0;

        assert_int_equal(tb_pattern_init(&p, TB_HOTSET, 16, 4, 0.5, 0), 0);
        assert_int_equal(p.n_phases, 1);
        assert_int_equal(p.phases[0].ranges[0].start, 12);
        assert_int_equal(p.phases[0].pages, 4);
        assert_int_equal(tb_pattern_probs(&p, 0, NULL, probs), 0);
        for (int i = 0; i < 12; i++)
                assert_float_equal(probs[i], 1.0 / 32, EPS);
        for (int i = 12; i < 16; i++)
                assert_float_equal(probs[i], 5.0 / 32, EPS);
        for (int i = 0; i < 16; i++)
                sum += probs[i];
        assert_float_equal(sum, 1.0, EPS);
        assert_int_equal(tb_pattern_probs(&p, 1, NULL, probs), -EINVAL);
        assert_int_equal(tb_pattern_init(&p, TB_HOTSET, 16, 17, 0.5, 0), -EINVAL);
        assert_int_equal(tb_pattern_init(&p, TB_HOTSET, 16, 4, 1.5, 0), -EINVAL);
}

/* 40 pages, H = 8, quarter 2: [32,40) -> [24,32) -> [22,24) + [26,32). */
static void test_move_layout(void **state) {
        struct tb_pattern p;
        double probs[40];
        int hot = 0;

        assert_int_equal(tb_pattern_init(&p, TB_MOVE, 40, 8, 1.0, 0), 0);
        assert_int_equal(p.n_phases, 3);
        assert_int_equal(p.phases[0].ranges[0].start, 32);
        assert_int_equal(p.phases[1].ranges[0].start, 24);
        assert_int_equal(p.phases[2].n_ranges, 2);
        assert_int_equal(p.phases[2].pages, 8);
        assert_int_equal(tb_hotset_page(&p.phases[2], 0), 22);
        assert_int_equal(tb_hotset_page(&p.phases[2], 1), 23);
        assert_int_equal(tb_hotset_page(&p.phases[2], 2), 26);
        assert_int_equal(tb_hotset_page(&p.phases[2], 7), 31);

        /* hot_frac 1: the hot pages get 1/8 each, the others nothing */
        assert_int_equal(tb_pattern_probs(&p, 2, NULL, probs), 0);
        for (int i = 0; i < 40; i++) {
                bool in = (i >= 22 && i < 24) || (i >= 26 && i < 32);
                assert_float_equal(probs[i], in ? 0.125 : 0.0, EPS);
                hot += in;
        }
        assert_int_equal(hot, 8);

        assert_int_equal(tb_pattern_init(&p, TB_MOVE, 18, 8, 0.9, 0), 0);
        assert_int_equal(tb_pattern_init(&p, TB_MOVE, 17, 8, 0.9, 0), -EINVAL);
        assert_int_equal(tb_pattern_init(&p, TB_MOVE, 40, 3, 0.9, 0), -EINVAL);
}

static void test_zigzag_layout(void **state) {
        struct tb_pattern p;

        assert_int_equal(tb_pattern_init(&p, TB_ZIGZAG, 8, 4, 0.9, 0), 0);
        assert_int_equal(p.n_phases, 2);
        assert_int_equal(p.phases[0].ranges[0].start, 4);
        assert_int_equal(p.phases[1].ranges[0].start, 0);
        assert_int_equal(tb_pattern_init(&p, TB_ZIGZAG, 7, 4, 0.9, 0), -EINVAL);
}

/* n = 3, s = 1: weights 1, 1/2, 1/3, total 11/6: P = 6/11, 3/11, 2/11; cdf 6/11, 9/11, 1. */
static void test_zipf(void **state) {
        struct tb_pattern p;
        double cdf[3], probs[3];
        uint32_t perm[3] = { 2, 0, 1 };

        assert_int_equal(tb_zipf_cdf(3, 1.0, cdf), 0);
        assert_float_equal(cdf[0], 6.0 / 11, EPS);
        assert_float_equal(cdf[1], 9.0 / 11, EPS);
        assert_true(cdf[2] == 1.0);
        assert_int_equal(tb_zipf_pick(cdf, 3, 0.0), 0);
        assert_int_equal(tb_zipf_pick(cdf, 3, 0.5454), 0);
        assert_int_equal(tb_zipf_pick(cdf, 3, 0.5455), 1);
        assert_int_equal(tb_zipf_pick(cdf, 3, 0.9), 2);
        assert_int_equal(tb_zipf_pick(cdf, 3, 0.999999), 2);
        assert_int_equal(tb_zipf_cdf(0, 1.0, cdf), -EINVAL);

        assert_int_equal(tb_pattern_init(&p, TB_ZIPF, 3, 0, 0, 1.0), 0);
        assert_int_equal(tb_pattern_probs(&p, 0, NULL, probs), -EINVAL);
        assert_int_equal(tb_pattern_probs(&p, 0, perm, probs), 0);
        assert_float_equal(probs[2], 6.0 / 11, EPS);
        assert_float_equal(probs[0], 3.0 / 11, EPS);
        assert_float_equal(probs[1], 2.0 / 11, EPS);
}

static void test_permutation(void **state) {
        uint32_t a[100], b[100], c[100];
        bool seen[100] = {};
        int same = 0;

        tb_permutation(a, 100, 7);
        tb_permutation(b, 100, 7);
        tb_permutation(c, 100, 8);
        assert_memory_equal(a, b, sizeof(a));
        for (int i = 0; i < 100; i++) {
                assert_true(a[i] < 100);
                assert_false(seen[a[i]]);
                seen[a[i]] = true;
                same += a[i] == c[i];
        }
        assert_true(same < 50);
}

/* The hotset fixture with a fast node for 6 pages: the 4 hot pages plus 2 of the 12 equally likely others.
 * F* = 4 x 5/32 + 2 x 1/32 = 22/32. */
static void test_oracle_and_eval(void **state) {
        struct tb_pattern p;
        struct tb_oracle o;
        struct tb_eval e;
        double probs[16];
        int node[16];

        assert_int_equal(tb_pattern_init(&p, TB_HOTSET, 16, 4, 0.5, 0), 0);
        assert_int_equal(tb_pattern_probs(&p, 0, NULL, probs), 0);
        assert_int_equal(tb_oracle_compute(probs, 16, 6, &o), 0);
        assert_int_equal(o.cap, 6);
        assert_float_equal(o.threshold, 1.0 / 32, EPS);
        assert_int_equal(o.n_above, 4);
        assert_int_equal(o.n_tie, 12);
        assert_float_equal(o.f_star, 22.0 / 32, EPS);

        /* first touch: pages 0-5 fast, the rest slow. Only 2 of the 6 count as oracle pages (ties). */
        for (int i = 0; i < 16; i++)
                node[i] = i < 6 ? 0 : 1;
        assert_int_equal(tb_eval_sample(probs, 16, &o, node, 0, &e), 0);
        assert_int_equal(e.fast_pages, 6);
        assert_int_equal(e.slow_pages, 10);
        assert_int_equal(e.hits, 2);
        assert_float_equal(e.f, 6.0 / 32, EPS);
        assert_float_equal(e.q, 6.0 / 22, EPS);
        assert_float_equal(e.precision, 2.0 / 6, EPS);
        assert_float_equal(e.recall, 2.0 / 6, EPS);

        /* oracle placement: hot set plus two others; one page absent */
        for (int i = 0; i < 16; i++)
                node[i] = (i >= 12 || i < 2) ? 0 : 1;
        node[5] = -2;
        assert_int_equal(tb_eval_sample(probs, 16, &o, node, 0, &e), 0);
        assert_int_equal(e.fast_pages, 6);
        assert_int_equal(e.slow_pages, 9);
        assert_int_equal(e.absent_pages, 1);
        assert_int_equal(e.hits, 6);
        assert_float_equal(e.q, 1.0, EPS);
        assert_float_equal(e.precision, 1.0, EPS);
        assert_float_equal(e.recall, 1.0, EPS);

        /* more on the fast node than the oracle's capacity: recall 1, precision 6/10, Q above 1 */
        for (int i = 0; i < 16; i++)
                node[i] = i >= 6 ? 0 : 1;
        assert_int_equal(tb_eval_sample(probs, 16, &o, node, 0, &e), 0);
        assert_int_equal(e.hits, 6);
        assert_float_equal(e.precision, 0.6, EPS);
        assert_float_equal(e.f, 26.0 / 32, EPS);
        assert_float_equal(e.q, 26.0 / 22, EPS);

        /* nothing fast */
        for (int i = 0; i < 16; i++)
                node[i] = 1;
        assert_int_equal(tb_eval_sample(probs, 16, &o, node, 0, &e), 0);
        assert_float_equal(e.precision, 0.0, EPS);
        assert_float_equal(e.recall, 0.0, EPS);

        /* capacity 0 and capacity beyond the buffer */
        assert_int_equal(tb_oracle_compute(probs, 16, 0, &o), 0);
        assert_float_equal(o.f_star, 0.0, EPS);
        assert_int_equal(tb_oracle_compute(probs, 16, 100, &o), 0);
        assert_int_equal(o.cap, 16);
        assert_float_equal(o.f_star, 1.0, EPS);
}

static void test_t90(void **state) {
        const double t[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        const double f[10] = { 0.9, 0.9, 0.0, 0.5, 0.96, 0.85, 0.92, 0.93, 0.91, 0.5 };
        const double flat[4] = { 1.0, 1.0, 1.0, 1.0 };
        double r = -1;

        /* F0 = 0 at t = 2, goal 0.9: t = 4 holds only one sample, t = 6 holds three. */
        assert_int_equal(tb_t90(t, f, 10, 2.0, INFINITY, 1.0, 0.9, 3, &r), 0);
        assert_float_equal(r, 4.0, EPS);
        /* the next event at t = 8 cuts the hold short */
        assert_int_equal(tb_t90(t, f, 10, 2.0, 8.0, 1.0, 0.9, 3, &r), -ENOENT);
        /* an event between samples starts at the next sample: F0 = 0.5 at t = 3, goal 0.95 */
        assert_int_equal(tb_t90(t, f, 10, 2.5, INFINITY, 1.0, 0.9, 1, &r), 0);
        assert_float_equal(r, 1.5, EPS);
        assert_int_equal(tb_t90(t, f, 10, 20.0, INFINITY, 1.0, 0.9, 3, &r), -ENOENT);
        assert_int_equal(tb_t90(t, f, 10, 2.0, INFINITY, 1.0, 0.9, 0, &r), -EINVAL);
        assert_int_equal(tb_t90(t, f, 10, 2.0, 2.0, 1.0, 0.9, 3, &r), -EINVAL);
        /* already there */
        assert_int_equal(tb_t90(t, flat, 4, 0.0, INFINITY, 1.0, 0.9, 3, &r), 0);
        assert_float_equal(r, 0.0, EPS);
}

static void test_mean_last_third(void **state) {
        const double v[6] = { 1, 2, 3, 4, 5, 6 };

        assert_float_equal(tb_mean_last_third(v, 6), 5.5, EPS);
        assert_float_equal(tb_mean_last_third(v, 2), 2.0, EPS);
        assert_float_equal(tb_mean_last_third(v, 3), 3.0, EPS);
        assert_true(isnan(tb_mean_last_third(v, 0)));
}

static void test_pingpong(void **state) {
        struct tb_pp_page st[2];
        uint64_t pp = 0;

        tb_pingpong_init(st, 2);
        assert_int_equal(tb_pingpong_update(st, (const int[]) { 0, 1 }, 2, 0, 10, &pp), 0);
        assert_int_equal(tb_pingpong_update(st, (const int[]) { 1, 1 }, 2, 1, 10, &pp), 1);
        assert_int_equal(pp, 0);
        /* back within the window: a ping-pong; an absent page tells nothing */
        assert_int_equal(tb_pingpong_update(st, (const int[]) { 0, -2 }, 2, 2, 10, &pp), 1);
        assert_int_equal(pp, 1);
        /* back again, but 18 samples later: a move, not a ping-pong */
        assert_int_equal(tb_pingpong_update(st, (const int[]) { 1, 1 }, 2, 20, 10, &pp), 1);
        assert_int_equal(pp, 1);
        /* and once more right away */
        assert_int_equal(tb_pingpong_update(st, (const int[]) { 0, 0 }, 2, 21, 10, &pp), 2);
        assert_int_equal(pp, 2);
}

static void test_parse_vmstat(void **state) {
        const char *b = "nr_free_pages 5\npgmigrate_success 123\npgmigrate_fail 4\npgpromote_success 9";
        uint64_t v = 0;

        assert_int_equal(tb_parse_vmstat(b, "pgmigrate_success", &v), 0);
        assert_int_equal(v, 123);
        assert_int_equal(tb_parse_vmstat(b, "pgpromote_success", &v), 0);
        assert_int_equal(v, 9);
        assert_int_equal(tb_parse_vmstat(b, "pgmigrate", &v), -ENOENT);
        assert_int_equal(tb_parse_vmstat("pgdemote_kswapd x\n", "pgdemote_kswapd", &v), -EBADMSG);
}

static void test_parse_pid_stat(void **state) {
        const char *b = "1234 (tier d) x) S 1 1 1 0 -1 4194560 10 0 0 0 250 75 0 0 20 0 1 0 100\n";
        char comm[16], small[5];
        uint64_t ut = 0, st = 0;

        assert_int_equal(tb_parse_pid_stat(b, comm, sizeof(comm), &ut, &st), 0);
        assert_string_equal(comm, "tier d) x");
        assert_int_equal(ut, 250);
        assert_int_equal(st, 75);
        assert_int_equal(tb_parse_pid_stat(b, small, sizeof(small), &ut, &st), 0);
        assert_string_equal(small, "tier");
        assert_int_equal(tb_parse_pid_stat("1234 tierd S 1", comm, sizeof(comm), &ut, &st), -EBADMSG);
        assert_int_equal(tb_parse_pid_stat("1 (a) S 1 2", comm, sizeof(comm), &ut, &st), -EBADMSG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kind_names),
                cmocka_unit_test(test_hotset_probs),
                cmocka_unit_test(test_move_layout),
                cmocka_unit_test(test_zigzag_layout),
                cmocka_unit_test(test_zipf),
                cmocka_unit_test(test_permutation),
                cmocka_unit_test(test_oracle_and_eval),
                cmocka_unit_test(test_t90),
                cmocka_unit_test(test_mean_last_third),
                cmocka_unit_test(test_pingpong),
                cmocka_unit_test(test_parse_vmstat),
                cmocka_unit_test(test_parse_pid_stat),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
