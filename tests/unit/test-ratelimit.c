/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "macro.h"
#include "ratelimit.h"

#define T0 UINT64_C(1000000000) /* an arbitrary monotonic start */

static void test_refill_and_burst(void **state _unused_) {
        struct ratelimit rl;

        /* 1000 B/s, burst 500: starts full. */
        ratelimit_init(&rl, 1000, 500, 0, T0);
        assert_int_equal(ratelimit_available(&rl, T0), 500);
        assert_true(ratelimit_take(&rl, T0, 500));
        assert_false(ratelimit_take(&rl, T0, 1));
        assert_int_equal(ratelimit_available(&rl, T0), 0);

        /* 1 ms is one byte. */
        assert_false(ratelimit_take(&rl, T0 + 999, 1));
        assert_true(ratelimit_take(&rl, T0 + 1000, 1));
        assert_false(ratelimit_take(&rl, T0 + 1000, 1));

        /* 100 ms later: 100 bytes. */
        assert_int_equal(ratelimit_available(&rl, T0 + 101000), 100);

        /* A long pause fills the bucket to the burst, not beyond. */
        assert_int_equal(ratelimit_available(&rl, T0 + 3600 * USEC_PER_SEC), 500);
        assert_true(ratelimit_take(&rl, T0 + 3600 * USEC_PER_SEC, 500));
        assert_false(ratelimit_take(&rl, T0 + 3600 * USEC_PER_SEC, 1));

        /* Without a burst: one second's worth. */
        ratelimit_init(&rl, 4096, 0, 0, T0);
        assert_int_equal(rl.burst_bytes, 4096);
        assert_int_equal(ratelimit_available(&rl, T0), 4096);
}

/* Many small refills add up to exactly what one long one gives: the remainder is carried. */
static void test_sub_byte_precision(void **state _unused_) {
        struct ratelimit a, b;
        uint64_t now = T0;

        ratelimit_init(&a, 3, 1000, 0, T0);
        ratelimit_init(&b, 3, 1000, 0, T0);
        assert_true(ratelimit_take(&a, T0, 1000));
        assert_true(ratelimit_take(&b, T0, 1000));

        /* 10 s in steps of 1 ms: each step is 0.003 bytes. */
        for (unsigned i = 0; i < 10000; i++) {
                now += 1000;
                (void) ratelimit_available(&a, now);
        }
        assert_int_equal(ratelimit_available(&a, now), 30);
        assert_int_equal(ratelimit_available(&b, now), 30);

        /* Odd steps too: 7 x 142857 us = 999999 us is 2 bytes and 999997/1000000 of one; one more us makes 3. */
        ratelimit_init(&a, 3, 1000, 0, T0);
        assert_true(ratelimit_take(&a, T0, 1000));
        now = T0;
        for (unsigned i = 0; i < 7; i++) {
                now += 142857;
                (void) ratelimit_available(&a, now);
        }
        assert_int_equal(ratelimit_available(&a, now), 2);
        assert_int_equal(ratelimit_time_until(&a, now, 3), 1);
        assert_int_equal(ratelimit_available(&a, now + 1), 3);
}

static void test_time_until(void **state _unused_) {
        struct ratelimit rl;

        ratelimit_init(&rl, 1000, 1000, 0, T0);
        assert_int_equal(ratelimit_time_until(&rl, T0, 1000), 0);
        assert_true(ratelimit_take(&rl, T0, 1000));

        /* 100 bytes at 1000 B/s: 100 ms, and not a microsecond less. */
        assert_int_equal(ratelimit_time_until(&rl, T0, 100), 100000);
        assert_false(ratelimit_take(&rl, T0 + 99999, 100));
        assert_int_equal(ratelimit_time_until(&rl, T0 + 99999, 100), 1);
        assert_true(ratelimit_take(&rl, T0 + 100000, 100));

        /* A rate that does not divide a second: 3 B/s, 1 byte takes 333334 us (rounded up). */
        ratelimit_init(&rl, 3, 10, 0, T0);
        assert_true(ratelimit_take(&rl, T0, 10));
        assert_int_equal(ratelimit_time_until(&rl, T0, 1), 333334);
        assert_false(ratelimit_take(&rl, T0 + 333333, 1));
        assert_true(ratelimit_take(&rl, T0 + 333334, 1));

        /* Asking for more than the burst waits for a full bucket, not forever. */
        ratelimit_init(&rl, 1000, 1000, 0, T0);
        assert_true(ratelimit_take(&rl, T0, 1000));
        assert_int_equal(ratelimit_time_until(&rl, T0, 5000), 1000000);
}

/* A unit larger than the burst (a THP against a small burst) passes when the bucket is full, leaving a debt. */
static void test_oversized_take(void **state _unused_) {
        struct ratelimit rl;

        ratelimit_init(&rl, 1000, 1000, 0, T0);
        assert_true(ratelimit_take(&rl, T0, 4096));
        assert_int_equal(rl.tokens, 1000 - 4096);
        assert_int_equal(ratelimit_available(&rl, T0), 0);
        /* The debt is paid first: one byte needs 3097 bytes of refill. */
        assert_int_equal(ratelimit_time_until(&rl, T0, 1), 3097000);
        assert_false(ratelimit_take(&rl, T0 + 3096999, 1));
        assert_true(ratelimit_take(&rl, T0 + 3097000, 1));

        /* Not when the bucket is not full. */
        ratelimit_init(&rl, 1000, 1000, 0, T0);
        assert_true(ratelimit_take(&rl, T0, 1));
        assert_false(ratelimit_take(&rl, T0, 4096));
        assert_true(ratelimit_take(&rl, T0 + 1000, 4096));
}

static void test_refund(void **state _unused_) {
        struct ratelimit rl;

        ratelimit_init(&rl, 1000, 1000, 10000, T0);
        assert_true(ratelimit_take(&rl, T0, 1000));
        assert_int_equal(ratelimit_round_left(&rl), 9000);
        /* 400 of the 1000 bytes moved. */
        ratelimit_refund(&rl, 600);
        assert_int_equal(ratelimit_available(&rl, T0), 600);
        assert_int_equal(ratelimit_round_left(&rl), 9600);
        /* A refund never fills beyond the burst nor takes the round below 0. */
        ratelimit_refund(&rl, 100000);
        assert_int_equal(ratelimit_available(&rl, T0), 1000);
        assert_int_equal(ratelimit_round_left(&rl), 10000);
}

static void test_round_cap(void **state _unused_) {
        struct ratelimit rl;

        /* No rate, a cap of 10000 per round. */
        ratelimit_init(&rl, 0, 0, 10000, T0);
        assert_int_equal(ratelimit_available(&rl, T0), 10000);
        assert_true(ratelimit_take(&rl, T0, 6000));
        assert_false(ratelimit_take(&rl, T0, 6000));
        assert_int_equal(ratelimit_time_until(&rl, T0, 6000), RATELIMIT_NEVER);
        assert_int_equal(ratelimit_time_until(&rl, T0, 4000), 0);
        assert_int_equal(ratelimit_round_left(&rl), 4000);
        assert_true(ratelimit_take(&rl, T0, 4000));
        assert_int_equal(ratelimit_available(&rl, T0 + 3600 * USEC_PER_SEC), 0);

        ratelimit_round_begin(&rl);
        assert_true(ratelimit_take(&rl, T0, 6000));

        /* A unit larger than the cap passes as the first of a round only. */
        ratelimit_init(&rl, 0, 0, 1000, T0);
        assert_true(ratelimit_take(&rl, T0, 4096));
        assert_false(ratelimit_take(&rl, T0, 1));
        ratelimit_round_begin(&rl);
        assert_true(ratelimit_take(&rl, T0, 1));
        assert_false(ratelimit_take(&rl, T0, 4096));

        /* Both limits: the smaller one decides. */
        ratelimit_init(&rl, 1000, 1000, 1500, T0);
        assert_true(ratelimit_take(&rl, T0, 1000));
        assert_int_equal(ratelimit_available(&rl, T0 + USEC_PER_SEC), 500);
        assert_false(ratelimit_take(&rl, T0 + USEC_PER_SEC, 600));
        assert_int_equal(ratelimit_time_until(&rl, T0 + USEC_PER_SEC, 600), RATELIMIT_NEVER);
        assert_true(ratelimit_take(&rl, T0 + USEC_PER_SEC, 500));
}

static void test_unlimited_and_clock(void **state _unused_) {
        struct ratelimit rl;

        ratelimit_init(&rl, 0, 0, 0, T0);
        assert_int_equal(ratelimit_available(&rl, T0), UINT64_MAX);
        assert_true(ratelimit_take(&rl, T0, UINT64_C(1) << 40));
        assert_int_equal(ratelimit_time_until(&rl, T0, UINT64_C(1) << 40), 0);
        assert_int_equal(ratelimit_round_left(&rl), UINT64_MAX);

        /* A clock that goes back refills nothing, and does not undo refills either. */
        ratelimit_init(&rl, 1000, 1000, 0, T0);
        assert_true(ratelimit_take(&rl, T0, 1000));
        assert_int_equal(ratelimit_available(&rl, T0 - 500000), 0);
        assert_int_equal(ratelimit_available(&rl, T0 + 100000), 100);
        assert_int_equal(ratelimit_available(&rl, T0 + 50000), 100);
        assert_int_equal(ratelimit_available(&rl, T0 + 101000), 101);
}

static void test_reload(void **state _unused_) {
        struct ratelimit rl;

        /* A reload keeps the tokens: no fresh burst. */
        ratelimit_init(&rl, 1000, 1000, 0, T0);
        assert_true(ratelimit_take(&rl, T0, 900));
        ratelimit_set(&rl, 2000, 5000, 0, T0 + 100000); /* 100 bytes accrued at the old rate */
        assert_int_equal(ratelimit_available(&rl, T0 + 100000), 200);
        assert_int_equal(ratelimit_available(&rl, T0 + 200000), 400); /* new rate */

        /* A smaller burst clamps. */
        ratelimit_set(&rl, 2000, 100, 0, T0 + 200000);
        assert_int_equal(ratelimit_available(&rl, T0 + 200000), 100);

        /* From unlimited to limited: a full bucket. */
        ratelimit_init(&rl, 0, 0, 0, T0);
        ratelimit_set(&rl, 1000, 300, 0, T0);
        assert_int_equal(ratelimit_available(&rl, T0), 300);

        /* The round's count survives a reload. */
        ratelimit_init(&rl, 0, 0, 1000, T0);
        assert_true(ratelimit_take(&rl, T0, 700));
        ratelimit_set(&rl, 0, 0, 800, T0);
        assert_int_equal(ratelimit_round_left(&rl), 100);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_refill_and_burst),
                cmocka_unit_test(test_sub_byte_precision),
                cmocka_unit_test(test_time_until),
                cmocka_unit_test(test_oversized_take),
                cmocka_unit_test(test_refund),
                cmocka_unit_test(test_round_cap),
                cmocka_unit_test(test_unlimited_and_clock),
                cmocka_unit_test(test_reload),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
