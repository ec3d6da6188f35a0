/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "payoff.h"

struct payoff_unit {
        pid_t pid;
        uint32_t size_bytes;
        uint64_t addr;
        uint64_t grain;        /* the start of what the backend observed it in (grains.h) at the plan */
        uint16_t hits;         /* summed over the rounds seen since the move */
        uint16_t passes;       /* the passes of those rounds */
        uint8_t rounds;        /* rounds seen */
        uint8_t hot_rounds;    /* of those, rounds in which every pass found it accessed */
        uint8_t regret_round;  /* demoted: rounds after its plan to the first that found it hot (0: none) */
        uint8_t reason;        /* enum policy_reason */
        bool gone;             /* no longer tracked: left out of the judgement */
        bool shadow;           /* not moved (policy_plan.shadow): watched from the plan's next round on */
};

struct payoff_cohort {
        bool live;
        bool moved;                                 /* some of its moves were carried out, not only shadows */
        uint64_t round;                             /* the plan's */
        uint64_t seen[_POLICY_DIRECTION_MAX];       /* moves noted: the reservoir's count */
        size_t n[_POLICY_DIRECTION_MAX];
        struct payoff_unit units[_POLICY_DIRECTION_MAX][PAYOFF_SAMPLE_UNITS];
};

struct payoff_book {
        char *name;
        enum policy_exchange exchange;
        uint64_t since_round, changes;
        uint64_t moves_noted[_POLICY_DIRECTION_MAX];
        struct payoff_cohort *cohorts; /* COHORT_SLOTS(window), allocated at the first move */
        /* The last judged cohorts with judged exchanges since the last change, oldest first from next_history
         * once full: what verdicts rest on (cohorts without exchanges say nothing about them). */
        struct payoff_figures history[PAYOFF_HISTORY];
        size_t n_history, next_history;
        struct payoff_figures total;
};

_Static_assert(PAYOFF_HISTORY >= PAYOFF_CAREFUL_COHORTS_MIN && PAYOFF_HISTORY >= PAYOFF_PROBE_COHORTS_MIN &&
                       PAYOFF_HISTORY >= PAYOFF_EAGER_COHORTS_MIN,
               "a verdict looks at no more plans than the history keeps");

/* A cohort lives from its plan's round to its judgement window + 1 rounds later, one per round. */
#define COHORT_SLOTS(window) ((size_t) (window) + 2)

struct payoff_ledger {
        struct payoff_book *books;
        size_t n_books;
        unsigned window;
        uint64_t rng;
        bool feedback;
};

static int permille(uint64_t part, uint64_t whole) {
        return whole == 0 ? -1 : (int) (part * 1000 / whole);
}

int payoff_paid_permille(const struct payoff_figures *f) {
        return permille(f->paid_bytes, f->promoted_bytes);
}

int payoff_exchange_paid_permille(const struct payoff_figures *f) {
        return permille(f->exchange_paid_bytes, f->exchange_bytes);
}

int payoff_regret_permille(const struct payoff_figures *f) {
        return permille(f->regret_bytes, f->demoted_bytes);
}

static void figures_add(struct payoff_figures *a, const struct payoff_figures *b) {
        a->cohorts += b->cohorts;
        a->promoted_units += b->promoted_units;
        a->promoted_bytes += b->promoted_bytes;
        a->paid_bytes += b->paid_bytes;
        a->exchange_units += b->exchange_units;
        a->exchange_bytes += b->exchange_bytes;
        a->exchange_paid_bytes += b->exchange_paid_bytes;
        a->demoted_units += b->demoted_units;
        a->demoted_bytes += b->demoted_bytes;
        a->regret_units += b->regret_units;
        a->regret_bytes += b->regret_bytes;
        a->regret_rounds += b->regret_rounds;
}

int payoff_ledger_new(size_t n_books, const char *const *names, unsigned window_rounds, uint64_t seed,
                      struct payoff_ledger **ret) {
        _cleanup_(payoff_ledger_freep) struct payoff_ledger *l = NULL;

        if (n_books == 0 || window_rounds < 1 || window_rounds > HEAT_STREAK_MAX + 1)
                return -EINVAL;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->books = calloc(n_books, sizeof(*l->books));
        if (!l->books)
                return -ENOMEM;
        l->n_books = n_books;
        l->window = window_rounds;
        l->rng = seed | 1;
        l->feedback = true;
        for (size_t b = 0; b < n_books; b++) {
                const char *name = names && names[b] ? names[b] : "targets outside any workload";

                l->books[b].name = strdup(name);
                if (!l->books[b].name)
                        return -ENOMEM;
                /* Nothing known: exchanges are watched, not made, until they show they would pay. */
                l->books[b].exchange = POLICY_EXCHANGE_PROBING;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

struct payoff_ledger *payoff_ledger_free(struct payoff_ledger *l) {
        if (!l)
                return NULL;
        for (size_t b = 0; b < l->n_books; b++) {
                free(l->books[b].name);
                free(l->books[b].cohorts);
        }
        free(l->books);
        return mfree(l);
}

size_t payoff_ledger_books(const struct payoff_ledger *l) {
        return l ? l->n_books : 0;
}

const char *payoff_ledger_name(const struct payoff_ledger *l, size_t b) {
        return l && b < l->n_books ? l->books[b].name : NULL;
}

unsigned payoff_ledger_window(const struct payoff_ledger *l) {
        return l ? l->window : 0;
}

/* xorshift64*: the sample needs no more than evenly spread picks, and a seed makes tests repeatable. */
static uint64_t rng_next(struct payoff_ledger *l) {
        l->rng ^= l->rng >> 12;
        l->rng ^= l->rng << 25;
        l->rng ^= l->rng >> 27;
        return l->rng * UINT64_C(2685821657736338717);
}

static struct payoff_cohort *cohort_for(struct payoff_ledger *l, struct payoff_book *bk, uint64_t round_no) {
        struct payoff_cohort *free_slot = NULL;

        if (!bk->cohorts) {
                bk->cohorts = calloc(COHORT_SLOTS(l->window), sizeof(*bk->cohorts));
                if (!bk->cohorts)
                        return NULL;
        }
        for (size_t i = 0; i < COHORT_SLOTS(l->window); i++) {
                struct payoff_cohort *c = &bk->cohorts[i];

                if (c->live && c->round == round_no)
                        return c;
                if (!c->live && !free_slot)
                        free_slot = c;
        }
        if (!free_slot) {
                /* Every slot holds a plan still watched, which one plan a round cannot fill: plans of rounds that
                 * were never folded (a reload, a backend change). Reuse the oldest. */
                free_slot = &bk->cohorts[0];
                for (size_t i = 1; i < COHORT_SLOTS(l->window); i++)
                        if (bk->cohorts[i].round < free_slot->round)
                                free_slot = &bk->cohorts[i];
        }
        *free_slot = (struct payoff_cohort) { .live = true, .round = round_no };
        return free_slot;
}

int payoff_ledger_note(struct payoff_ledger *l, struct heat_store *heat, struct grain_map *grains,
                       const struct policy_move *m, uint64_t round_no, bool shadow) {
        struct payoff_book *bk;
        struct payoff_cohort *c;
        unsigned dir = m->direction;
        size_t b = m->workload >= 0 ? (size_t) m->workload + 1 : 0, slot;

        if (!l || b >= l->n_books || dir >= _POLICY_DIRECTION_MAX)
                return 0;
        bk = &l->books[b];
        bk->moves_noted[dir]++;
        c = cohort_for(l, bk, round_no);
        if (!c)
                return -ENOMEM;
        c->moved = c->moved || !shadow;
        /* Reservoir sampling: every move of the plan equally likely to be in the sample, whatever its place in
         * the plan (the plan lists the hottest first). */
        c->seen[dir]++;
        if (c->n[dir] < PAYOFF_SAMPLE_UNITS)
                slot = c->n[dir]++;
        else {
                uint64_t k = rng_next(l) % c->seen[dir];

                if (k >= PAYOFF_SAMPLE_UNITS)
                        return 0;
                slot = (size_t) k;
        }
        c->units[dir][slot] = (struct payoff_unit) {
                .pid = m->pid,
                .addr = m->addr,
                .grain = grain_map_find(grains, m->pid, m->addr),
                .size_bytes = m->size_bytes,
                .reason = m->reason,
                .shadow = shadow,
        };
        if (heat)
                (void) heat_store_watch_unit(heat, m->pid, m->addr);
        return 1;
}

/* Share of its watched rounds in which a unit was hot, byte-weighted over the units summed into it. */
struct hot_share {
        double hot_bytes, bytes;
        size_t units, grains;
        unsigned unit_rounds;
        const struct payoff_unit *unit[PAYOFF_SAMPLE_UNITS];
};

static void hot_share_add(struct hot_share *h, const struct payoff_unit *u) {
        bool seen = false;

        h->hot_bytes += (double) u->size_bytes * u->hot_rounds / u->rounds;
        h->bytes += u->size_bytes;
        h->unit_rounds += u->rounds;
        for (size_t i = 0; i < h->units && !seen; i++)
                seen = h->unit[i]->pid == u->pid && h->unit[i]->grain == u->grain;
        h->grains += !seen;
        if (h->units < PAYOFF_SAMPLE_UNITS)
                h->unit[h->units++] = u;
}

/* The independent observations behind the share: units of one grain (a DAMON region) share their heat, so a
 * sample counts as many units as it holds grains, each for its rounds. */
static double hot_share_observations(const struct hot_share *h) {
        return h->units > 0 ? (double) h->unit_rounds * (double) h->grains / (double) h->units : 0;
}

/* The sampling error of a share from n observations, kept above zero at 0 and 1 (a share of 1 from 64
 * observations is not certain). */
static double share_error(double share, double n) {
        double q = (share * n + 0.5) / (n + 1.0);

        return n > 0 ? q * (1 - q) / n : 1;
}

static double hot_share_mean(const struct hot_share *h) {
        return h->bytes > 0 ? h->hot_bytes / h->bytes : 0;
}

/* The share of an exchange's promoted bytes that paid, from the cohort as a whole. The scanner sees at most one
 * access a pass, so a page touched a hundred times a pass and one touched once look alike pass by pass; what tells
 * them apart is how often a unit is hit in every pass of a round, which a busy background reaches by chance (p^n
 * for a page hit in a share p of n passes) and a hot page every round. Promotions are a mix of pages hot for real
 * (hot nearly every round) and pages that looked hot by chance (hot as often as the background they displaced,
 * share d): with a promoted share of p, the real part is (p - d) / (1 - d). Under uniform access it is zero
 * whatever the background's rate; a hot set shows its size against the chance picks; pages idle again (the hot set
 * moved on) count as chance. Where the background is hot every round too, nothing can be told: none paid. */
static double exchange_paid_share(const struct hot_share *promoted, const struct hot_share *displaced) {
        double d = hot_share_mean(displaced), p = hot_share_mean(promoted), margin, real;

        if (d > PAYOFF_BACKGROUND_HOT_MAX_PERCENT / 100.0)
                return 0;
        /* Only the part of the difference beyond its sampling error counts: a cohort is 64 units a side, and a
         * backend whose units share their heat (DAMON's regions) makes fewer independent ones than that. */
        margin = PAYOFF_MARGIN_ERRORS * sqrt(share_error(p, hot_share_observations(promoted)) +
                                             share_error(d, hot_share_observations(displaced)));
        real = (p - d - margin) / (1.0 - d);
        return CLAMP(real, 0.0, 1.0);
}

static void cohort_judge(const struct payoff_cohort *c, struct payoff_figures *f) {
        struct hot_share promoted = {}, displaced = {};

        *f = (struct payoff_figures) { .cohorts = 1 };
        for (size_t i = 0; i < c->n[POLICY_DEMOTE]; i++) {
                const struct payoff_unit *u = &c->units[POLICY_DEMOTE][i];

                if (u->gone || u->rounds == 0 || u->reason == POLICY_REASON_OVER_BUDGET)
                        continue; /* over budget: the budget demotes whatever the heat, not a judgement to regret */
                f->demoted_units++;
                f->demoted_bytes += u->size_bytes;
                if (u->regret_round > 0) {
                        f->regret_units++;
                        f->regret_bytes += u->size_bytes;
                        f->regret_rounds += u->regret_round;
                }
                if (u->reason == POLICY_REASON_COLD_ON_FAST)
                        hot_share_add(&displaced, u);
        }

        for (size_t i = 0; i < c->n[POLICY_PROMOTE]; i++) {
                const struct payoff_unit *u = &c->units[POLICY_PROMOTE][i];

                if (u->gone || u->rounds == 0)
                        continue;
                if (u->reason == POLICY_REASON_ONE_FOR_ONE) {
                        if (displaced.units < PAYOFF_BASELINE_MIN)
                                continue; /* nothing sampled to compare with */
                        hot_share_add(&promoted, u);
                        f->exchange_units++;
                        f->exchange_bytes += u->size_bytes;
                } else if (u->hits >= u->rounds)
                        /* Into free room nothing was displaced: it pays when it is used, a hit a round on
                         * average. */
                        f->paid_bytes += u->size_bytes;
                f->promoted_units++;
                f->promoted_bytes += u->size_bytes;
        }
        f->exchange_paid_bytes = (uint64_t) (exchange_paid_share(&promoted, &displaced) * (double) f->exchange_bytes +
                                             0.5);
        f->paid_bytes += f->exchange_paid_bytes;
}

/* Debug: what a judged cohort looked like, for tuning the verdict against real workloads. */
static void cohort_log(const struct payoff_book *bk, const struct payoff_cohort *c, const struct payoff_figures *f) {
        uint64_t hits[_POLICY_DIRECTION_MAX] = {}, rounds[_POLICY_DIRECTION_MAX] = {};

        if (log_get_max_level() < LOG_DEBUG)
                return;
        for (unsigned dir = 0; dir < _POLICY_DIRECTION_MAX; dir++)
                for (size_t k = 0; k < c->n[dir]; k++)
                        if (!c->units[dir][k].gone) {
                                hits[dir] += c->units[dir][k].hits;
                                rounds[dir] += c->units[dir][k].rounds;
                        }
        log_debug("Payoff of round %" PRIu64 "'s moves for %s: %zu of %" PRIu64 " promotions sampled at %.2f hits a "
                  "round, %zu of %" PRIu64 " demotions at %.2f; judged %" PRIu64 " promotions (%" PRIu64
                  " exchanges), %" PRIu64 " of their bytes paid (%" PRIu64 " of the exchanges'), %" PRIu64
                  " of %" PRIu64 " demotions regretted",
                  c->round, bk->name, c->n[POLICY_PROMOTE], c->seen[POLICY_PROMOTE],
                  rounds[POLICY_PROMOTE] ? (double) hits[POLICY_PROMOTE] / (double) rounds[POLICY_PROMOTE] : 0.0,
                  c->n[POLICY_DEMOTE], c->seen[POLICY_DEMOTE],
                  rounds[POLICY_DEMOTE] ? (double) hits[POLICY_DEMOTE] / (double) rounds[POLICY_DEMOTE] : 0.0,
                  f->promoted_units, f->exchange_units, f->paid_bytes, f->exchange_paid_bytes, f->regret_units,
                  f->demoted_units);
}

static void book_set_level(struct payoff_book *bk, enum policy_exchange e, uint64_t round_no, const char *why) {
        log_info("Exchanges for %s: %s -> %s (%s)", bk->name, policy_exchange_to_string(bk->exchange),
                 policy_exchange_to_string(e), why);
        bk->exchange = e;
        bk->since_round = round_no;
        bk->changes++;
        bk->n_history = bk->next_history = 0;
}

/* The last n cohorts of bk's history, when it holds n and they judged PAYOFF_VERDICT_MIN exchange promotions: their
 * exchanges' paid share and demotions' regret (per mille) and why, for the log. False when there is no verdict. */
static bool history_window(const struct payoff_book *bk, size_t n, int *ret_paid, int *ret_regret, char *why,
                           size_t why_size) {
        struct payoff_figures f = {};

        if (n == 0 || bk->n_history < n)
                return false;
        for (size_t k = 1; k <= n; k++)
                figures_add(&f, &bk->history[(bk->next_history + PAYOFF_HISTORY - k) % PAYOFF_HISTORY]);
        if (f.exchange_units < PAYOFF_VERDICT_MIN)
                return false;
        *ret_paid = payoff_exchange_paid_permille(&f);
        *ret_regret = f.demoted_units >= PAYOFF_VERDICT_MIN ? payoff_regret_permille(&f) : 0;
        snprintf(why, why_size, "exchanges paid for %d.%d%% of their bytes over the last %zu %s, demotions "
                 "regretted for %d.%d%%", *ret_paid / 10, *ret_paid % 10, n, n == 1 ? "plan" : "plans",
                 *ret_regret / 10, *ret_regret % 10);
        return true;
}

/* Each level looks at as many of the last plans as its way out needs: a window that slides, so one plan's chance
 * result neither decides alone nor wipes out the plans before it. */
static void book_verdict(struct payoff_book *bk, uint64_t round_no) {
        int paid, regret;
        char why[160];

        switch (bk->exchange) {
        case POLICY_EXCHANGE_PROBING:
                /* One plan that paid well is enough (its margin of error counts a DAMON region once), two that paid
                 * fairly too: each plan waited for is a round the hot set waits on the slow tier. */
                if ((history_window(bk, 1, &paid, &regret, why, sizeof(why)) && paid >= PAYOFF_GOOD_PERMILLE) ||
                    (history_window(bk, PAYOFF_PROBE_COHORTS_MIN, &paid, &regret, why, sizeof(why)) &&
                     paid >= PAYOFF_FAIR_PERMILLE))
                        book_set_level(bk, POLICY_EXCHANGE_NORMAL, round_no, why);
                break;
        case POLICY_EXCHANGE_NORMAL:
                /* Poor: paid for little, or for less than fair while regretted a lot. */
                if (history_window(bk, PAYOFF_CAREFUL_COHORTS_MIN, &paid, &regret, why, sizeof(why)) &&
                    (paid < PAYOFF_POOR_PERMILLE ||
                     (regret > PAYOFF_REGRET_HIGH_PERMILLE && paid < PAYOFF_FAIR_PERMILLE)))
                        book_set_level(bk, POLICY_EXCHANGE_PROBING, round_no, why);
                else if (history_window(bk, PAYOFF_EAGER_COHORTS_MIN, &paid, &regret, why, sizeof(why)) &&
                         paid >= PAYOFF_GOOD_PERMILLE && regret <= PAYOFF_REGRET_LOW_PERMILLE)
                        book_set_level(bk, POLICY_EXCHANGE_EAGER, round_no, why);
                break;
        case POLICY_EXCHANGE_EAGER:
                /* Less than fair covers poor too, whatever the regret. */
                if (history_window(bk, 1, &paid, &regret, why, sizeof(why)) && paid < PAYOFF_FAIR_PERMILLE)
                        book_set_level(bk, POLICY_EXCHANGE_NORMAL, round_no, why);
                break;
        default:
                break;
        }
}

static void unit_observe(struct payoff_unit *u, unsigned dir, struct heat_store *heat,
                         const struct heat_class_params *class, unsigned passes, uint64_t age) {
        struct heat_unit hu;
        unsigned hits;

        if (u->gone)
                return;
        if (heat_store_lookup(heat, u->pid, u->addr, class, &hu) < 0) {
                u->gone = true;
                return;
        }
        hits = MIN(heat_entry_hits(hu.entry), passes);
        if (hits == passes && u->hot_rounds < UINT8_MAX)
                u->hot_rounds++;
        u->hits = (uint16_t) MIN((unsigned) u->hits + hits, (unsigned) UINT16_MAX);
        u->passes = (uint16_t) MIN((unsigned) u->passes + passes, (unsigned) UINT16_MAX);
        u->rounds++;
        /* Hot again: what would have it promoted. A hot round alone is not: a warm page of a busy background
         * has one by chance every few rounds (in the guest, a third of the displaced pages within a round). */
        if (dir == POLICY_DEMOTE && u->regret_round == 0 && hu.class == HEAT_CLASS_HOT)
                u->regret_round = (uint8_t) MIN(age, (uint64_t) UINT8_MAX);
}

int payoff_ledger_observe(struct payoff_ledger *l, struct heat_store *heat, const struct heat_class_params *class,
                          uint64_t round_no, unsigned passes) {
        if (!l || !heat || !class || passes == 0)
                return -EINVAL;
        for (size_t b = 0; b < l->n_books; b++) {
                struct payoff_book *bk = &l->books[b];
                struct payoff_figures judged_f;
                bool judged = false;

                for (size_t i = 0; bk->cohorts && i < COHORT_SLOTS(l->window); i++) {
                        struct payoff_cohort *c = &bk->cohorts[i];
                        uint64_t age, end;

                        if (!c->live || c->round >= round_no)
                                continue; /* moves of a plan whose round has not been folded since */
                        /* The first round after the plan is the one its moves happen in (when rounds follow each
                         * other without a wait): page_idle looked at the old frames of what moved during it. The
                         * window is the window rounds after that one; for shadows, which stay where they are,
                         * PAYOFF_SHADOW_WINDOW rounds after the plan. */
                        age = round_no - c->round;
                        end = c->moved ? l->window + 1 : PAYOFF_SHADOW_WINDOW;
                        for (unsigned dir = 0; dir < _POLICY_DIRECTION_MAX; dir++)
                                for (size_t k = 0; k < c->n[dir]; k++) {
                                        struct payoff_unit *u = &c->units[dir][k];

                                        if (age >= 2 || u->shadow)
                                                unit_observe(u, dir, heat, class, passes, age);
                                        if (age < end && !u->gone)
                                                (void) heat_store_watch_unit(heat, u->pid, u->addr);
                                }
                        if (age < end)
                                continue;
                        cohort_judge(c, &judged_f);
                        cohort_log(bk, c, &judged_f);
                        figures_add(&bk->total, &judged_f);
                        c->live = false;
                        if (judged_f.exchange_units == 0)
                                continue;
                        bk->history[bk->next_history] = judged_f;
                        bk->next_history = (bk->next_history + 1) % PAYOFF_HISTORY;
                        bk->n_history = MIN(bk->n_history + 1, (size_t) PAYOFF_HISTORY);
                        judged = true;
                }
                if (l->feedback && judged)
                        book_verdict(bk, round_no);
        }
        return 0;
}

void payoff_ledger_set_feedback(struct payoff_ledger *l, bool on) {
        if (!l || l->feedback == on)
                return;
        l->feedback = on;
        /* Not a verdict: no log, no change counted. On, the books know nothing yet (what they judged without
         * feedback was about normal's exchanges, which is evidence too, but a fresh start is the safe one). */
        for (size_t b = 0; b < l->n_books; b++) {
                l->books[b].exchange = on ? POLICY_EXCHANGE_PROBING : POLICY_EXCHANGE_NORMAL;
                l->books[b].n_history = l->books[b].next_history = 0;
        }
}

enum policy_exchange payoff_ledger_exchange(const struct payoff_ledger *l, size_t b) {
        return l && b < l->n_books ? l->books[b].exchange : POLICY_EXCHANGE_NORMAL;
}

void payoff_ledger_get(const struct payoff_ledger *l, size_t b, struct payoff_book_status *ret) {
        const struct payoff_book *bk;

        *ret = (struct payoff_book_status) { .exchange = POLICY_EXCHANGE_NORMAL };
        if (!l || b >= l->n_books)
                return;
        bk = &l->books[b];
        ret->exchange = bk->exchange;
        ret->exchange_since_round = bk->since_round;
        ret->changes = bk->changes;
        memcpy(ret->moves_noted, bk->moves_noted, sizeof(ret->moves_noted));
        for (size_t i = 0; i < bk->n_history; i++)
                figures_add(&ret->recent, &bk->history[i]);
        ret->total = bk->total;
}
