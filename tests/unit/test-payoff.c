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
#define PAGES 2048
#define PASSES 3

static const struct heat_class_params class_params = { .promote_rounds = 2, .cold_rounds = 3 };

/* Hits per round of each page from now on: 0 to PASSES. */
struct world {
        struct heat_store *heat;
        struct payoff_ledger *ledger;
        unsigned hits[PAGES];
        uint64_t round;
        bool dropped; /* the process left: nothing to record */
        bool busy;    /* a busy background: every page below PASSES is hit in every pass of even rounds */
        bool shadow;  /* note() notes probed exchanges, not moves */
        struct grain_map *grains; /* NULL: every page observed on its own (page_idle) */
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
        grain_map_free(w->grains);
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
                        if (p < w->hits[i] || (w->busy && w->round % 2 == 0))
                                bitmap[i / 64] |= UINT64_C(1) << (i % 64);
                if (!w->dropped)
                        assert_int_equal(heat_store_record_bitmap(w->heat, PID, BASE, PAGES, bitmap), 0);
        }
        heat_store_end_round(w->heat);
        assert_int_equal(payoff_ledger_observe(w->ledger, w->heat, &class_params, w->round, PASSES), 0);
}

/* The rounds after a plan until its moves are judged: the round they happen in, then the window (2); probed
 * exchanges, which do not move, PAYOFF_SHADOW_WINDOW. */
static void judge(struct world *w) {
        for (unsigned i = 0; i < (w->shadow ? PAYOFF_SHADOW_WINDOW : 3U); i++)
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

                assert_true(payoff_ledger_note(w->ledger, w->heat, w->grains, &m, w->round, w->shadow) >= 0);
        }
}

/* A plan's worth of exchanges: [from, from + n) promoted for [from + n, from + 2n) displaced; the promoted ones
 * take hits a round from then on. */
static void exchanges(struct world *w, size_t from, size_t n, unsigned hits, int16_t workload) {
        note(w, from, from + n, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, workload);
        note(w, from + n, from + 2 * n, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, workload);
        set_hits(w, from, from + n, hits);
}

/* A world of one book whose pages take a hit a round (never a hot round), a round run, noting probed exchanges. */
static void world_probing(struct world *w) {
        world_new(w, 1);
        set_hits(w, 0, PAGES, 1);
        round_run(w);
        w->shadow = true;
}

/* A plan of exchanges that pay in full, from page from on (the 128 pages from there are the caller's to leave):
 * what makes a probing book normal. */
static void make_normal(struct world *w, size_t from) {
        assert_int_equal(payoff_ledger_exchange(w->ledger, 0), POLICY_EXCHANGE_PROBING);
        exchanges(w, from, 32, PASSES, -1);
        judge(w);
        assert_int_equal(payoff_ledger_exchange(w->ledger, 0), POLICY_EXCHANGE_NORMAL);
}

/* 32 hot units exchanged for 32 cold ones: the hot stay hot on the fast tier, the cold stay idle. A book starts
 * probing; judged once the round the moves happen in and the window (2 rounds) have passed, not before; paid in
 * full less the sampling error of 32 units, nothing regretted: normal after one such plan; two more: eager, the
 * floor of its kind. */
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
        assert_in_range(payoff_exchange_paid_permille(&st.total), 950, 999);
        assert_int_equal(payoff_paid_permille(&st.total), payoff_exchange_paid_permille(&st.total));
        assert_int_equal(payoff_regret_permille(&st.total), 0);
        /* Paid well: one plan is enough. */
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
        for (size_t k = 192; k < 384; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_EAGER);
        assert_int_equal(st.changes, 2);
        assert_int_equal(st.total.cohorts, 6);
        world_done(&w);
}

/* A plan's worth of exchanges of which only `real` of n promoted units turn out hot; the rest keep the
 * background's hits. */
static void exchanges_part(struct world *w, size_t from, size_t n, size_t real, int16_t workload) {
        exchanges(w, from, n, 1, workload);
        set_hits(w, from, from + real, PASSES);
}

/* Uniform access, quiet and busy: what is (or would be) promoted is hot no more often than what it displaced,
 * nothing paid, whether the background is never hot in a round, hot in every other round by chance, or hot in
 * most rounds (nothing to tell). Probed exchanges of which three quarters would pay (fair, not good, once the
 * sampling error is off) make the book normal over two plans, not one; exchanges made that pay for
 * too little send it back to probing only after PAYOFF_CAREFUL_COHORTS_MIN plans; from eager, one poor plan is
 * enough to step back. */
static void test_probing(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_probing(&w);
        exchanges(&w, 0, 32, 1, -1);
        round_run(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 1);
        assert_int_equal(st.total.exchange_units, 32);
        assert_int_equal(payoff_exchange_paid_permille(&st.total), 0);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        assert_int_equal(st.changes, 0);

        /* Busy: both sides hot in every other round. Promoted pages that keep the background's pattern paid
         * nothing; a hot set on it paid in full. */
        w.busy = true;
        for (size_t k = 64; k < 320; k += 64) {
                exchanges(&w, k, 32, 1, -1);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 5);
        assert_int_equal(payoff_exchange_paid_permille(&st.total), 0);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);

        /* The promoted pages hot every round, 26 of the 32 they displaced too: a background hot that often
         * (81% of its rounds) leaves nothing to tell. */
        w.busy = false;
        for (size_t k = 1500; k < 1500 + 4 * 64; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                set_hits(&w, k + 32, k + 58, PASSES);
                set_hits(&w, k + 58, k + 64, PASSES - 1);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 9);
        assert_int_equal(payoff_exchange_paid_permille(&st.total), 0);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        set_hits(&w, 0, PAGES, 1);

        /* Three quarters of the probed picks hot for real, the sampling error of 32 units taken off: fair, over
         * the last two plans before it counts (one such plan after one that paid nothing is not enough). */
        w.busy = false;
        exchanges_part(&w, 320, 32, 24, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_in_range(payoff_exchange_paid_permille(&st.recent) * (int) st.recent.cohorts, 500, 749);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        exchanges_part(&w, 384, 32, 24, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_int_equal(st.exchange_since_round, w.round);

        /* Exchanges made that do not pay: normal for five plans, probing at the sixth. */
        w.shadow = false;
        for (size_t k = 448; k < 448 + PAYOFF_CAREFUL_COHORTS_MIN * 64; k += 64) {
                assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_NORMAL);
                exchanges(&w, k, 32, 1, -1);
                judge(&w);
        }
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_PROBING);

        /* To eager (a paying probe, then two paying plans), and back one level for one poor plan. */
        w.shadow = true;
        make_normal(&w, 832);
        w.shadow = false;
        for (size_t k = 960; k < 1088; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                judge(&w);
        }
        assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_EAGER);
        set_hits(&w, 0, PAGES, 1);
        exchanges(&w, 1088, 32, 1, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_int_equal(st.changes, 5);
        world_done(&w);
}

/* The probing verdict: one plan that pays well (30 of 32 picks hot for real) is enough alone; one that pays fairly
 * (24 of 32) is not, and a poorer one after it does not wipe it out (a hot set that partly moves on within the
 * window): over the two, fair. */
static void test_probing_window(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_probing(&w);
        exchanges_part(&w, 0, 32, 30, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_in_range(payoff_exchange_paid_permille(&st.total), PAYOFF_GOOD_PERMILLE, 999);
        world_done(&w);

        world_probing(&w);
        exchanges_part(&w, 0, 32, 24, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_in_range(payoff_exchange_paid_permille(&st.recent), PAYOFF_FAIR_PERMILLE, PAYOFF_GOOD_PERMILLE - 1);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        exchanges_part(&w, 64, 32, 20, -1);
        judge(&w);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_int_equal(st.total.cohorts, 2);
        world_done(&w);
}

/* Grains of pages_per_grain pages over the whole mapping, as DAMON's regions would be. */
static void world_grains(struct world *w, size_t pages_per_grain) {
        assert_int_equal(grain_map_new(&w->grains), 0);
        grain_map_begin_pass(w->grains);
        /* In an order a directory read might give: the map sorts them itself. */
        for (size_t k = PAGES; k > 0; k -= pages_per_grain)
                assert_int_equal(grain_map_add(w->grains, PID, BASE + (k - pages_per_grain) * PG), 0);
}

/* Probed exchanges that would pay in full, as make_normal() plans them, but seen by a backend that gives a whole
 * region one result. Each side's 32 units from one region are one observation a round: two plans, or six, cannot
 * tell that from chance, and the book keeps probing (DAMON's zipf read 60-97% from one or two regions). From
 * regions of 4 pages, 8 observations a side: as good as the 32 pages seen one by one. */
static void test_grains(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_probing(&w);
        world_grains(&w, 64);
        for (size_t k = 0; k < 6 * 64; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.total.cohorts, 6);
        assert_int_equal(st.total.exchange_units, 6 * 32);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_PROBING);
        assert_in_range(payoff_exchange_paid_permille(&st.recent), 0, 249);
        world_done(&w);

        world_probing(&w);
        world_grains(&w, 4);
        make_normal(&w, 0);
        payoff_ledger_get(w.ledger, 0, &st);
        assert_in_range(payoff_exchange_paid_permille(&st.total), 750, 999);
        world_done(&w);
}

/* A hot set that moves on right after it is placed (zigzag): each plan's promotions are hot for the first round
 * of the window, idle in the second, and the displaced background never hot: half paid less the sampling error,
 * which is not poor; the book stays normal however long it goes on. */
static void test_heat_that_moves_on(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        round_run(&w);
        make_normal(&w, 0);
        for (size_t k = 128; k < 1280; k += 64) {
                exchanges(&w, k, 32, PASSES, -1);
                round_run(&w);  /* the round the moves happen in */
                round_run(&w);  /* hot */
                set_hits(&w, k, k + 32, 0);
                round_run(&w);  /* idle */
        }
        payoff_ledger_get(w.ledger, 0, &st);
        assert_int_equal(st.recent.cohorts, PAYOFF_HISTORY);
        assert_in_range(payoff_exchange_paid_permille(&st.recent), PAYOFF_POOR_PERMILLE, 499);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        assert_int_equal(st.changes, 1);
        world_done(&w);
}

/* Demotions that turn hot again within the window are regretted, after the rounds it takes to be hot (2). Once
 * normal (two clean paying plans first): with exchanges that paid in full, regret alone moves nothing; with
 * exchanges that paid for less than the fair share (in a ledger of its own: a verdict rests on every cohort
 * judged since the last change), it sends the book back to probing after PAYOFF_CAREFUL_COHORTS_MIN plans. */
static void test_regret(void **state _unused_) {
        struct world w;
        struct payoff_book_status st;

        world_new(&w, 1);
        round_run(&w);
        make_normal(&w, 1024);
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
        assert_in_range(payoff_exchange_paid_permille(&st.recent), 950, 999);
        assert_int_equal(st.exchange, POLICY_EXCHANGE_NORMAL);
        world_done(&w);

        /* Half of 32 exchanges hot (under 50% once the sampling error is taken off: not poor alone) and the same
         * regret: back to probing at the sixth such plan. */
        world_new(&w, 1);
        round_run(&w);
        make_normal(&w, 1024);
        for (size_t k = 0; k < PAYOFF_CAREFUL_COHORTS_MIN * 128; k += 128) {
                assert_int_equal(payoff_ledger_exchange(w.ledger, 0), POLICY_EXCHANGE_NORMAL);
                set_hits(&w, 0, PAGES, 0);
                note(&w, k, k + 32, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, -1);
                note(&w, k + 32, k + 64, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, -1);
                note(&w, k + 64, k + 84, POLICY_DEMOTE, POLICY_REASON_HEADROOM, -1);
                set_hits(&w, k, k + 16, PASSES);
                set_hits(&w, k + 64, k + 84, PASSES);
                judge(&w);
                payoff_ledger_get(w.ledger, 0, &st);
                if (st.exchange == POLICY_EXCHANGE_NORMAL)
                        assert_in_range(payoff_exchange_paid_permille(&st.recent), PAYOFF_POOR_PERMILLE,
                                        PAYOFF_FAIR_PERMILLE - 1);
        }
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
        for (size_t k = 0; k < 256; k += 64) {
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
        for (size_t k = 256; k < 384; k += 64) {
                note(&w, k, k + 32, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, 0);
                note(&w, k + 32, k + 64, POLICY_DEMOTE, POLICY_REASON_COLD_ON_FAST, 0);
                set_hits(&w, k, k + 32, PASSES);
                judge(&w);
        }
        payoff_ledger_get(w.ledger, 1, &st);
        assert_int_equal(st.total.cohorts, 6);
        assert_int_equal(st.total.exchange_units, 192);
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
                cmocka_unit_test(test_probing_window),
                cmocka_unit_test(test_grains),
                cmocka_unit_test(test_heat_that_moves_on),
                cmocka_unit_test(test_regret),
                cmocka_unit_test(test_sample_spans_the_plan),
                cmocka_unit_test(test_gone_and_unjudged),
                cmocka_unit_test(test_books),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
