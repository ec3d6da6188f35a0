/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "grains.h"
#include "heat.h"
#include "policy.h"

/* The payoff ledger: whether tierd's moves bought anything, and the exchange level that follows from it.
 *
 * A move pays when what it put on the faster tier takes more of the workload's accesses there than what it took
 * off. The ledger watches a sample of each plan's moves (a cohort) in the heat store, for window_rounds rounds
 * after the round the moves happen in (the plan's next: page_idle looks at the old page frames of what moves
 * during it; a plan of shadows only, for PAYOFF_SHADOW_WINDOW rounds after the plan), and judges the cohort then:
 *
 *   - Exchange promotions (ONE_FOR_ONE) are judged together, against what the plan displaced (its sampled
 *     COLD_ON_FAST demotions). A scan sees at most one access a pass, so intensity shows only as how often a unit
 *     is hit in every pass of a round (a hot round). A busy background has hot rounds by chance, a hot page in
 *     every round: with a byte-weighted share p of hot rounds among the promoted units and d among the displaced,
 *     the share of the exchange that paid is (p - d) / (1 - d), clamped to [0, 1]: the part of the promotions
 *     that is hotter than chance. Uniform access gives zero whatever its rate; a real hot set its share of the
 *     picks. A cohort that sampled fewer than PAYOFF_BASELINE_MIN displaced units is not judged.
 *   - A promotion into free room (HOT_ON_SLOW, FILL) displaced nothing: it paid when it took a hit a round on
 *     average.
 *   - A demotion is regretted when the unit turned hot (a streak of promote_rounds) within the window. Over-budget
 *     demotions are the budget's, not a judgement, and are left out.
 *
 * A book starts probing: the plan lays out its exchanges as normal would, but they are not carried out; the
 * ledger samples them (policy_plan.shadow) and watches the pages where they are. Heat does not depend on the
 * tier a page is on, so would-be promotions that stay hotter than what they would have displaced show that the
 * exchange would pay, without paying for it; ones that fall back to the others (pages hot by chance, under
 * uniform access or in a region of mixed pages) show it would not, and nothing moved.
 *
 * The verdict, per book (a [target.NAME] workload, or the targets outside any), over the last of its plans judged
 * since its level last changed that judged exchanges (at most PAYOFF_HISTORY; a window that slides, so one plan's
 * chance result neither decides alone nor wipes out the plans before it), once they hold PAYOFF_VERDICT_MIN
 * judged exchange promotions. Poor: paid for less than PAYOFF_POOR_PERMILLE, or regretted for more than
 * PAYOFF_REGRET_HIGH_PERMILLE while paid for less than PAYOFF_FAIR_PERMILLE.
 *   - probing -> normal: the last plan paid for at least PAYOFF_GOOD_PERMILLE, or the last PAYOFF_PROBE_COHORTS_MIN
 *     for at least PAYOFF_FAIR_PERMILLE. Chance alone does not reach either: the share is taken less its
 *     sampling error, counted in independent observations (units of one grain, a DAMON region, are one;
 *     grains.h), and a plan that only partly pays needs a second;
 *   - normal -> probing: poor over the last PAYOFF_CAREFUL_COHORTS_MIN plans. A hot set that moves on every few
 *     rounds (zigzag) makes the plans just before each move look poor and the ones after it good; the verdict
 *     must see both before it stops trading;
 *   - normal -> eager: paid for at least PAYOFF_GOOD_PERMILLE, regretted for at most PAYOFF_REGRET_LOW_PERMILLE,
 *     over the last PAYOFF_EAGER_COHORTS_MIN plans (a plan's exchanges that pay while a hot set is still arriving
 *     say little about the next plan's, which may be trading background pages);
 *   - eager -> normal: the last plan paid for less than PAYOFF_FAIR_PERMILLE (which covers poor).
 *   A change starts the book's evidence over: each verdict is about exchanges made (or watched) at the level it
 *   judges. Probing is the floor and keeps watching every plan's exchanges, so a workload whose heat becomes worth
 *   trading (a hot set that forms or moves) is found without moving anything first.
 *
 * Memory: at most PAYOFF_SAMPLE_UNITS per direction for each of window_rounds + 2 cohorts per book (32 bytes a
 * unit). Cost per round: a heat-store lookup per sampled unit, and heat_store_watch_unit() so that page_idle's
 * partial observation looks at it (a settled unit's heat would otherwise go unseen for up to 8 rounds). */

#define PAYOFF_SAMPLE_UNITS 64
#define PAYOFF_HISTORY 6
#define PAYOFF_VERDICT_MIN 16
#define PAYOFF_BASELINE_MIN 4
#define PAYOFF_SHADOW_WINDOW 1
#define PAYOFF_BACKGROUND_HOT_MAX_PERCENT 75
#define PAYOFF_MARGIN_ERRORS 1.5
#define PAYOFF_GOOD_PERMILLE 750
#define PAYOFF_FAIR_PERMILLE 500
#define PAYOFF_POOR_PERMILLE 250
#define PAYOFF_PROBE_COHORTS_MIN 2
#define PAYOFF_EAGER_COHORTS_MIN 2
#define PAYOFF_CAREFUL_COHORTS_MIN 6
#define PAYOFF_REGRET_LOW_PERMILLE 100
#define PAYOFF_REGRET_HIGH_PERMILLE 250

/* Judged moves, summed over cohorts. */
struct payoff_figures {
        uint64_t cohorts;
        uint64_t promoted_units, promoted_bytes, paid_bytes;                 /* every judged promotion */
        uint64_t exchange_units, exchange_bytes, exchange_paid_bytes;        /* of those, exchanges */
        uint64_t demoted_units, demoted_bytes, regret_units, regret_bytes;
        uint64_t regret_rounds;                                              /* summed over regret_units */
};

/* Per mille, or -1 when nothing was judged. */
int payoff_paid_permille(const struct payoff_figures *f);
int payoff_exchange_paid_permille(const struct payoff_figures *f);
int payoff_regret_permille(const struct payoff_figures *f);

struct payoff_book_status {
        enum policy_exchange exchange;
        uint64_t exchange_since_round; /* round of the last change (0: never changed) */
        uint64_t changes;              /* level changes since the book was made */
        uint64_t moves_noted[_POLICY_DIRECTION_MAX]; /* every move seen, sampled or not */
        struct payoff_figures recent;  /* the cohorts the next verdict rests on */
        struct payoff_figures total;   /* every cohort judged */
};

struct payoff_ledger;

/* n_books: book 0 for the units of no workload, book w + 1 for workload w; names[b] is what the log calls book b
 * (copied; NULL or a NULL entry: "targets outside any workload" for book 0). window_rounds: 1 to
 * HEAT_STREAK_MAX + 1. seed: for the sample (reservoir sampling per cohort and direction). */
int payoff_ledger_new(size_t n_books, const char *const *names, unsigned window_rounds, uint64_t seed,
                      struct payoff_ledger **ret);
struct payoff_ledger *payoff_ledger_free(struct payoff_ledger *l);
static inline void payoff_ledger_freep(struct payoff_ledger **l) {
        payoff_ledger_free(*l);
}
size_t payoff_ledger_books(const struct payoff_ledger *l);
/* Book b's name as given (NULL out of range). */
const char *payoff_ledger_name(const struct payoff_ledger *l, size_t b);
unsigned payoff_ledger_window(const struct payoff_ledger *l);

/* The move m, planned for round round_no, was carried out (shadow: was planned as a probing workload's exchange
 * and not carried out, policy_plan.shadow). Returns 1 if it joined the sample (and so is watched in heat, which
 * may be NULL), 0 if not, -ENOMEM. grains (NULL: none) tells which sampled units the backend saw as one at the
 * plan: they count as one observation. */
int payoff_ledger_note(struct payoff_ledger *l, struct heat_store *heat, struct grain_map *grains,
                       const struct policy_move *m, uint64_t round_no, bool shadow);

/* After the heat store folded round round_no, a round of passes passes: each sampled unit's heat of that round
 * joins its cohort (from the second round after its plan), cohorts window_rounds + 1 old are judged, and each
 * book's level follows (logged at the change). Units are looked up with class (promote_rounds decides what is
 * hot again) and watched for the next round. Returns 0, or -EINVAL. */
int payoff_ledger_observe(struct payoff_ledger *l, struct heat_store *heat, const struct heat_class_params *class,
                          uint64_t round_no, unsigned passes);

/* With feedback off ([policy] exchange_feedback = no, tierd's default) the ledger keeps judging but sets no level:
 * every book is normal. Switched on, every book starts probing. A new ledger has it on. */
void payoff_ledger_set_feedback(struct payoff_ledger *l, bool on);

/* The exchange level of book b (POLICY_EXCHANGE_NORMAL for a book out of range). */
enum policy_exchange payoff_ledger_exchange(const struct payoff_ledger *l, size_t b);
void payoff_ledger_get(const struct payoff_ledger *l, size_t b, struct payoff_book_status *ret);
