/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "damon-burst.h"
#include "macro.h"

#define MS UINT64_C(1000000)
#define GAP (50 * MS)
#define T0 (UINT64_C(1000) * MS)

/* Region j of target t: distinct addresses, nr_accesses = t * 10 + j so a mix-up between targets shows. */
static struct damon_region reg(unsigned t, unsigned j) {
        return (struct damon_region) {
                .start = (UINT64_C(1) << 40) * (t + 1) + j * 4096,
                .end = (UINT64_C(1) << 40) * (t + 1) + (j + 1) * 4096,
                .nr_accesses = t * 10 + j,
                .age = j,
        };
}

/* Feeds one whole window: target t has nr[t] regions, skip (target, region) if skip_t >= 0. Returns the sum of
 * damon_bursts_add() results (completed bursts). */
static int feed(struct damon_bursts *b, uint64_t t_ns, const unsigned *nr, size_t n, int skip_t, int skip_j) {
        int done = 0;

        for (unsigned t = 0; t < n; t++)
                for (unsigned j = 0; j < nr[t]; j++) {
                        struct damon_region r = reg(t, j);
                        int k;

                        if ((int) t == skip_t && (int) j == skip_j)
                                continue;
                        k = damon_bursts_add(b, t_ns + t * 1000 + j, t, nr[t], &r);
                        assert_true(k >= 0);
                        done += k;
                }
        return done;
}

static void assert_burst(const struct damon_burst *u, const unsigned *nr, size_t n) {
        assert_non_null(u);
        for (unsigned t = 0; t < n; t++) {
                assert_int_equal(u->targets[t].n_regions, nr[t]);
                for (unsigned j = 0; j < nr[t]; j++) {
                        struct damon_region e = reg(t, j);

                        assert_memory_equal(&u->targets[t].regions[j], &e, sizeof(e));
                }
        }
}

static void test_complete_window(void **state _unused_) {
        struct damon_bursts b = {};
        const unsigned nr[] = { 3, 40, 1 }; /* 40 > the first allocation: grows */

        assert_int_equal(damon_bursts_reset(&b, 3, GAP), 0);
        assert_null(damon_bursts_take(&b, 0));
        assert_int_equal(feed(&b, T0, nr, 3, -1, -1), 1);
        assert_burst(damon_bursts_take(&b, T0), nr, 3);
        /* Each window once. */
        assert_null(damon_bursts_take(&b, 0));
        assert_int_equal(b.incomplete, 0);

        /* A second window replaces the first; one ending before not_before is not handed out. */
        assert_int_equal(feed(&b, T0 + 1000 * MS, nr, 3, -1, -1), 1);
        assert_null(damon_bursts_take(&b, T0 + 2000 * MS));
        assert_int_equal(feed(&b, T0 + 2000 * MS, nr, 3, -1, -1), 1);
        assert_burst(damon_bursts_take(&b, T0 + 2000 * MS), nr, 3);
        damon_bursts_done(&b);
}

static void test_lost_records(void **state _unused_) {
        struct damon_bursts b = {};
        const unsigned nr[] = { 4, 5 };

        assert_int_equal(damon_bursts_reset(&b, 2, GAP), 0);

        /* A region of the first target lost: never complete, found out when the next window starts. */
        assert_int_equal(feed(&b, T0, nr, 2, 0, 2), 0);
        assert_null(damon_bursts_take(&b, 0));
        assert_int_equal(feed(&b, T0 + 1000 * MS, nr, 2, -1, -1), 1);
        assert_int_equal(b.incomplete, 1);
        assert_burst(damon_bursts_take(&b, 0), nr, 2);

        /* The last region of the last target lost, and the next window follows within the gap: the repeated
         * target 0 starts it (target index going back). */
        assert_int_equal(feed(&b, T0 + 2000 * MS, nr, 2, 1, 4), 0);
        assert_int_equal(feed(&b, T0 + 2000 * MS + 10 * MS, nr, 2, -1, -1), 1);
        assert_int_equal(b.incomplete, 2);
        assert_burst(damon_bursts_take(&b, 0), nr, 2);

        /* A whole target missing (e.g. it has no regions): not complete either. */
        {
                struct damon_region r = reg(0, 0);
                unsigned one[] = { 1 };

                assert_int_equal(damon_bursts_add(&b, T0 + 3000 * MS, 0, 1, &r), 0);
                assert_int_equal(feed(&b, T0 + 4000 * MS, one, 1, -1, -1), 0);
                assert_null(damon_bursts_take(&b, 0));
        }
        damon_bursts_done(&b);
}

static void test_contradictions(void **state _unused_) {
        struct damon_bursts b = {};
        const unsigned nr[] = { 2, 2 }, three[] = { 2, 2, 2 };
        struct damon_region r = reg(0, 0);

        assert_int_equal(damon_bursts_reset(&b, 2, GAP), 0);

        /* A target tierd did not configure amid the records: the window is not trusted. (One after the last
         * target cannot be told from the start of the next window: the layout is reset whenever tierd changes
         * the kdamond's targets, so that does not arise.) */
        assert_int_equal(feed(&b, T0, three, 1, -1, -1), 0);
        r = reg(2, 0);
        assert_int_equal(damon_bursts_add(&b, T0 + 1, 7, 2, &r), 0);
        r = reg(1, 0);
        assert_int_equal(damon_bursts_add(&b, T0 + 2, 1, 2, &r), 0);
        r = reg(1, 1);
        assert_int_equal(damon_bursts_add(&b, T0 + 3, 1, 2, &r), 0);
        assert_null(damon_bursts_take(&b, 0));
        r = reg(0, 0);

        /* nr_regions changing within a target's records. */
        assert_int_equal(damon_bursts_add(&b, T0 + 1000 * MS, 0, 2, &r), 0);
        r = reg(0, 1);
        assert_int_equal(damon_bursts_add(&b, T0 + 1000 * MS, 0, 3, &r), 0);
        r = reg(1, 0);
        assert_int_equal(damon_bursts_add(&b, T0 + 1000 * MS, 1, 2, &r), 0);
        r = reg(1, 1);
        assert_int_equal(damon_bursts_add(&b, T0 + 1000 * MS, 1, 2, &r), 0);
        assert_null(damon_bursts_take(&b, 0));

        /* A time gap splits: the first half of a window, then the rest much later, is two broken windows. */
        assert_int_equal(feed(&b, T0 + 2000 * MS, nr, 1, -1, -1), 0);
        r = reg(1, 0);
        assert_int_equal(damon_bursts_add(&b, T0 + 2000 * MS + 2 * GAP, 1, 2, &r), 0);
        r = reg(1, 1);
        assert_int_equal(damon_bursts_add(&b, T0 + 2000 * MS + 2 * GAP, 1, 2, &r), 0);
        assert_null(damon_bursts_take(&b, 0));

        /* And a clean window after all that still comes through. */
        assert_int_equal(feed(&b, T0 + 3000 * MS, nr, 2, -1, -1), 1);
        assert_burst(damon_bursts_take(&b, 0), nr, 2);
        assert_true(b.incomplete >= 3);
        damon_bursts_done(&b);
}

static void test_reset(void **state _unused_) {
        struct damon_bursts b = {};
        const unsigned nr[] = { 2, 2 };

        /* No targets: nothing completes. */
        assert_int_equal(damon_bursts_reset(&b, 0, GAP), 0);
        assert_int_equal(feed(&b, T0, nr, 2, -1, -1), 0);
        assert_null(damon_bursts_take(&b, 0));

        /* A new layout drops a held window. */
        assert_int_equal(damon_bursts_reset(&b, 2, GAP), 0);
        assert_int_equal(feed(&b, T0, nr, 2, -1, -1), 1);
        assert_int_equal(damon_bursts_reset(&b, 1, GAP), 0);
        assert_null(damon_bursts_take(&b, 0));
        assert_int_equal(feed(&b, T0 + 1000 * MS, nr, 1, -1, -1), 1);
        assert_burst(damon_bursts_take(&b, 0), nr, 1);
        damon_bursts_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_complete_window),
                cmocka_unit_test(test_lost_records),
                cmocka_unit_test(test_contradictions),
                cmocka_unit_test(test_reset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
