/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "payoff.h"
#include "util.h"

/* The payoff ledger fed with moves whose later heat is known: a heat store of one process whose pages are
 * accessed in crafted patterns round after round, moves noted as the executor notes them, and the ledger
 * observing after each round's fold, as the daemon does. */

#define PG HEAT_PAGE_SIZE
#define BASE UINT64_C(0x7f0000000000)
#define PID 7
#define PAGES 1024
#define PASSES 3

static const struct heat_class_params class_params = { .promote_rounds = 2, .cold_rounds = 3 };

/* Hits per round of each page from now on: 0 to PASSES. */
struct world {
        struct heat_store *heat;
        struct payoff_ledger *ledger;
        unsigned hits[PAGES];
        uint64_t round;
        bool dropped; /* the process left: nothing to record */
        bool shadow;  /* note() notes probed exchanges, not moves */
};

static void world_new(struct world *w, size_t books) {
        struct vma v = { .start = BASE, .end = BASE + PAGES * PG, .perms = "rw-p" };
        const char *names[] = { NULL, "db" };

        *w = (struct world) {};
        assert_int_equal(heat_store_new(&w->heat), 0);
        assert_int_equal(heat_store_sync_target(w->heat, PID, &v, 1), 0);
        assert_int_equal(payoff_ledger_new(books, names, 2, 42, &w->ledger), 0);
}

static void world_done(struct world *w) {
        payoff_ledger_free(w->ledger);
        heat_store_free(w->heat);
}

static void set_hits(struct world *w, size_t from, size_t to, unsigned hits) {
        for (size_t i = from; i < to; i++)
                w->hits[i] = hits;
}

/* One round of the world, folded, then observed by the ledger. */
static void round_run(struct world *w) {
        uint64_t bitmap[PAGES / 64];

        w->round++;
        assert_int_equal(heat_store_begin_round(w->heat, w->round, HEAT_HOT_THRESHOLD_ALL_PASSES), 0);
        for (unsigned p = 0; p < PASSES; p++) {
                assert_int_equal(heat_store_begin_pass(w->heat), (int) p + 1);
                memset(bitmap, 0, sizeof(bitmap));
                for (size_t i = 0; i < PAGES; i++)
                        if (p < w->hits[i])
                                bitmap[i / 64] |= UINT64_C(1) << (i % 64);
                if (!w->dropped)
                        assert_int_equal(heat_store_record_bitmap(w->heat, PID, BASE, PAGES, bitmap), 0);
        }
        heat_store_end_round(w->heat);
        assert_int_equal(payoff_ledger_observe(w->ledger, w->heat, &class_params, w->round, PASSES), 0);
}

/* The rounds after a plan until its moves are judged: the round they happen in, then the window (2); probed
 * exchanges, which do not move, the window only. */
static void judge(struct world *w) {
        for (unsigned i = 0; i < (w->shadow ? 2U : 3U); i++)
                round_run(w);
}


/* Notes a move of each page in [from, to) for the plan of the round just run. */
static void note(struct world *w, size_t from, size_t to, enum policy_direction dir, enum policy_reason reason,
                 int16_t workload) {
        for (size_t i = from; i < to; i++) {
                struct policy_move m = {
                        .pid = PID,
                        .size_bytes = PG,
                        .addr = BASE + i * PG,
                        .from_node = dir == POLICY_PROMOTE ? 1 : 0,
                        .to_node = dir == POLICY_PROMOTE ? 0 : 1,
                        .direction = dir,
                        .reason = reason,
                        .workload = workload,
                };

                assert_true(payoff_ledger_note(w->ledger, w->heat, &m, w->round, w->shadow) >= 0);
        }
}

/* A plan's worth of exchanges: [from, from + n) promoted for [from + n, from + 2n) displaced; the promoted ones
 * take hits a round from then on. */
static void exchanges(struct world *w, size_t from, size_t n, unsigned hits, int16_t workload) {
        note(w, from, from + n, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, workload);
        note(w, from + n, from + 2 * n, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, workload);
        set_hits(w, from, from + n, hits);
}

/* 32 hot units exchanged for 32 cold ones: the hot stay hot on the fast tier, the cold stay idle. A book starts
 * probing; judged once the round the moves happen in and the window (2 rounds) have passed, not before; paid in
 * full, nothing regretted: normal; twice more: eager, the floor of its kind. */
static void test_exchanges_that_pay(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_PROBING);
        set_hits(&w, 0, 32, 1);
        round_run(&w);
        exchanges(&w, 0, 32, PASSES, -1);

        /* The round the moves happen in, and the first of the window: nothing judged yet. */
        for (unsigned i = 0; i < 2; i++) {
                round_run(&w);
                payoff_ledger_get(w.ledger, 0, &st);
                assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
                assert_int_equal(st.total.cohorts, 0);
        }
        assert_int_equal(st.moves_noted[POLICY_PROMOTE], 32);
        assert_int_equal(st.moves_noted[POLICY_DEMOTE], 32);

        round_run(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 1);
        assert_int_equal(st.total.exchange_units, 32);
        assert_int_equal(st.total.demoted_units, 32);
        assert_int_equal(payoff_exchange_paid_permille(&st.total), 1000);
        assert_int_equal(payoff_paid_permille(&st.total), 1000);
        assert_int_equal(payoff_regret_permille(&st.total), 0);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_int_equal(st.exchange_since_round, 4);
        assert_int_equal(st.changes, 1);
        /* A change starts the evidence over. */
        assert_int_equal(st.recent.cohorts, 0);

        /* One more plan that paid is not enough to be eager; two are. */
        exchanges(&w, 64, 32, PASSES, -1);
        judge(&w);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_NORMAL);
        exchanges(&w, 128, 32, PASSES, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_EAGER);
        assert_int_equal(st.changes, 2);
        assert_int_equal(st.exchange_since_round, 10);

        /* Eager is the floor: more paying exchanges change nothing. */
        for (size_t k = 192; k < 320; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_EAGER);
        assert_int_equal(st.changes, 2);
        assert_int_equal(st.total.cohorts, 5);
        world_done(&w);
}

/* Uniform access: what is (or would be) promoted takes no more hits than what it displaced (one a round each).
 * Probed exchanges that would not pay leave the book probing, judged after the window alone (nothing moved);
 * probed ones that would pay make it normal; exchanges made that do not pay send it back to probing, and from
 * eager one level at a time. */
static void test_probing(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        set_hits(&w, 0, PAGES, 1);
        round_run(&w);
        w.shadow = true;
        exchanges(&w, 0, 32, 1, -1);
        round_run(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 0);
        round_run(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 1);
        assert_int_equal(payoff_exchange_paid_permille(&st.total), 0);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        assert_int_equal(st.changes, 0);

        /* A hot set forms: the probed exchanges would pay. */
        exchanges(&w, 64, 32, PASSES, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_int_equal(st.exchange_since_round, 5);

        /* Exchanges made that do not pay: back to probing. */
        w.shadow = false;
        exchanges(&w, 128, 32, 1, -1);
        judge(&w);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_PROBING);

        /* From eager, one level at a time. */
        w.shadow = true;
        exchanges(&w, 192, 32, PASSES, -1);
        judge(&w);
        w.shadow = false;
        for (size_t k = 256; k < 384; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                judge(&w);
        }
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_EAGER);
        set_hits(&w, 0, PAGES, 1);
        exchanges(&w, 384, 32, 1, -1);
        judge(&w);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_NORMAL);
        exchanges(&w, 448, 32, 1, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        assert_int_equal(st.changes, 6);
        world_done(&w);
}

/* Demotions that turn hot again within the window are regretted, after the rounds it takes to be hot (2). Once
 * normal (a clean paying plan first): with exchanges that paid in full, regret alone moves nothing; with
 * exchanges that paid for less than the good share (in a ledger of its own: a verdict rests on every cohort judged
 * since the last change), it sends the book back to probing. */
static void test_regret(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        round_run(&w);
        exchanges(&w, 500, 32, PASSES, -1);
        judge(&w);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_NORMAL);
        note(&w, 0, 32, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, -1);
        note(&w, 32, 64, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, -1);
        note(&w, 100, 120, POLICY_DEMOTE, POLICY_REASON_HEADROOM, -1);
        /* Over-budget demotions are the budget's, not a judgement: never counted. */
        note(&w, 200, 210, POLICY_DEMOTE, POLICY_REASON_OVER_BUDGET, -1);
        set_hits(&w, 0, 32, PASSES);
        set_hits(&w, 100, 120, PASSES);
        set_hits(&w, 200, 210, PASSES);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.recent.demoted_units, 52);
        assert_int_equal(st.recent.regret_units, 20);
        assert_int_equal(st.recent.regret_rounds, 20 * 2);
        assert_int_equal(payoff_regret_permille(&st.recent), 20 * 1000 / 52);
        assert_int_equal(payoff_exchange_paid_permille(&st.recent), 1000);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        world_done(&w);

        /* 20 of 32 exchanges paid (62.5%) and the same regret: back to probing. */
        world_new(&w, 1);
        round_run(&w);
        exchanges(&w, 500, 32, PASSES, -1);
        judge(&w);
        set_hits(&w, 0, PAGES, 0);
        note(&w, 300, 332, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, -1);
        note(&w, 332, 364, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, -1);
        note(&w, 400, 420, POLICY_DEMOTE, POLICY_REASON_HEADROOM, -1);
        set_hits(&w, 300, 320, PASSES);
        set_hits(&w, 400, 420, PASSES);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        world_done(&w);
}

/* The sample is a reservoir over the whole plan, not its first moves: of 1000 promotions into free room, the
 * first 64 go idle after the move and the rest stay hot. A sample of the first 64 would say nothing paid. */
static void test_sample_spans_the_plan(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        round_run(&w);
        note(&w, 0, 1000, POLICY_PROMOTE, POLICY_REASON_HOT_ON_SLOW, -1);
        set_hits(&w, 64, 1000, PASSES);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.moves_noted[POLICY_PROMOTE], 1000);
        assert_int_equal(st.total.promoted_units, PAYOFF_SAMPLE_UNITS);
        assert_true(payoff_paid_permille(&st.total) > 700);
        /* Promotions into free room are not exchanges: no verdict from them. */
        assert_int_equal(st.total.exchange_units, 0);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        world_done(&w);
}

/* A unit that is no longer tracked (its process left) is not judged; an exchange whose displaced units were not
 * sampled has nothing to compare with and is not judged either. */
static void test_gone_and_unjudged(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        round_run(&w);
        note(&w, 0, 32, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, -1);
        note(&w, 32, 34, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 1);
        assert_int_equal(st.total.exchange_units, 0);
        assert_int_equal(st.total.demoted_units, 2);

        note(&w, 40, 72, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, -1);
        note(&w, 72, 104, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, -1);
        assert_int_equal(heat_store_drop_target(w.heat, PID), 0);
        w.dropped = true;
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 2);
        assert_int_equal(st.total.exchange_units, 0);
        assert_int_equal(st.total.demoted_units, 2);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        world_done(&w);
}

/* Moves of a workload's units go to its book; the other book's level is untouched. */
static void test_books(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 2);
        assert_string_equal(payoff_ledger_name(w.ledger, 1), "db");
        assert_string_equal(payoff_ledger_name(w.ledger, 0), "targets outside any workload");
        round_run(&w);
        for (size_t k = 0; k < 192; k += 64) {
                note(&w, k, k + 32, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, 0);
                note(&w, k + 32, k + 64, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, 0);
                set_hits(&w, k, k + 32, PASSES);
                judge(&w);
        }
        assert_int_equal(payoff_ledger_exchange(w.ledger, 1), POLICY_EXCHANGE_EAGER);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_PROBING);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.moves_noted[POLICY_PROMOTE], 0);
        /* Out of range: the default level, nothing else. */
        assert_int_equal(payoff_ledger_exchange(w.ledger, 2), POLICY_EXCHANGE_NORMAL);

        /* Feedback off: normal at once, and judged moves no longer change the level; on again: probing. */
        payoff_ledger_set_feedback(w.ledger, false);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 1), POLICY_EXCHANGE_NORMAL);
        for (size_t k = 192; k < 320; k += 64) {
                note(&w, k, k + 32, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, 0);
                note(&w, k + 32, k + 64, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, 0);
                set_hits(&w, k, k + 32, PASSES);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 1, &st);
        assert_int_equal(st.total.cohorts, 5);
        assert_int_equal(st.total.exchange_units, 160);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        payoff_ledger_set_feedback(w.ledger, true);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_PROBING);
        assert_int_equal(payoff_ledger_exchange(w.ledger, 1), POLICY_EXCHANGE_PROBING);
        world_done(&w);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exchanges_that_pay),
                cmocka_unit_test(test_probing),
                cmocka_unit_test(test_regret),
                cmocka_unit_test(test_sample_spans_the_plan),
                cmocka_unit_test(test_gone_and_unjudged),
                cmocka_unit_test(test_books),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
