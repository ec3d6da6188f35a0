/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "heat.h"
#include "topology.h"
#include "util.h"

/* The placement policy: from the heat store, where its units are and how full each tier is, a plan of page moves
 * for one round. Pure but for one hint: it reads the heat store, the topology struct and its parameters, learns
 * each candidate's node through a caller-supplied locator (the daemon's calls migrate_query_nodes(), tests pass a
 * fake), and returns the plan; the only thing it writes back is what locating taught it, the settled bits of
 * units found where their trend wants them (heat.h, "Settled units"). It moves nothing, notes no move and reads
 * no clock: the daemon
 * executes the plan in order under the rate limits (ratelimit.h), and calls heat_store_note_move() for what moved.
 * A dry run is the same plan, not executed.
 *
 * Classes are heat.h's (heat_entry_class()): hot, warm, cold, skipped. Units are heat.h's: a 4 KiB page, or a
 * 2 MiB THP through its head address.
 *
 * Tiers and headroom
 * ==================
 *
 * Tiers are the topology's, fastest first; tier 0 is "the fast tier". Every tier t has a headroom: free_min_bytes[t]
 * and free_target_bytes[t] (policy_params_set_headroom() resolves fast_free_min/fast_free_target for every tier).
 * Free bytes are the topology's usable free bytes per node (topology_node_usable_free(): MemFree less what the kernel
 * keeps for itself), as read at the start of the round; the plan keeps its own running
 * account of every node's and tier's free bytes as it adds moves, so later decisions see earlier ones.
 *
 *   - A move into a tier never takes it below free_min: neither the tier's free bytes below free_min_bytes[t], nor
 *     the destination node's below its share of it (free_min x node total / tier total, rounded up). The node rule
 *     keeps one node of a multi-node tier from being filled to the brim (and into reclaim) while the tier as a whole
 *     looks fine; the tier rule is the guarantee ("never below the minimum").
 *   - Destination node within a tier: the node with the most room (free bytes above its share of free_min) that
 *     fits the unit; ties go to the lower node id. For nodes of equal size this is "the node with most free bytes";
 *     for unequal ones it fills them in proportion.
 *   - Moves go one tier at a time: promotions from tier s to s - 1, demotions from t to t + 1. With tier_skip a
 *     promotion goes to the fastest tier above its own that has room, and a demotion to the next slower tier that
 *     has room.
 *
 * The plan, in the order it is built and must be executed
 * =======================================================
 *
 * 1. Headroom of the slower tiers, slowest boundary first (t = n_tiers - 2 .. 1): while tier t's free bytes are
 *    below free_target_bytes[t], demote its cold units, coldest first (reason HEADROOM). Lower tiers first, so that
 *    demotions from above find room.
 * 2. Workload budgets: a workload whose units on tier 0 exceed its fast_max_bytes gets its units on tier 0 demoted,
 *    coldest first (whatever their class, skipped units excepted: the budget is a hard limit), until it is within
 *    its budget (reason OVER_BUDGET). It is "over" for the whole round: none of its units is promoted into tier 0.
 *    A workload within its budget gets promotions into tier 0 only while they keep it within.
 * 3. Headroom of the fast tier: as in 1, for tier 0 (reason HEADROOM). Over-budget demotions count towards it.
 * 4. Promotions, fastest boundary first (source tier s = 1 .. n_tiers - 1): hot units of tier s, hottest first
 *    (longest streak, then most hits in the last round). Each goes into headroom if the destination tier stays at
 *    or above free_min (reason HOT_ON_SLOW). When it would not (the tier is full), it is exchanged one for one:
 *    cold units of tier s - 1, coldest first, are demoted until the hot unit fits (reason COLD_ON_FAST for those,
 *    ONE_FOR_ONE for the promotion). The exchange is checked net: the demoted bytes may use the room in tier s that
 *    the promoted unit leaves. An exchange that cannot complete (no cold units left, budget, no room below) is not
 *    planned at all, and no further unit of that size or larger is tried for this boundary.
 * 5. Warm exchanges: when hot units wait after step 4 (no room, no cold unit left), a second walk collects the
 *    coldest warm units of each tier above them (longest idle, then fewest hits; only units not at the hot threshold
 *    in the last round, streak 0), at most as many bytes as wait, and the waiting units, hottest first, are
 *    exchanged for them as in step 4 (same reasons, same rollback).
 *
 * 6. Fill (with policy_params.fill): when a faster tier still has free memory above its target after all that,
 *    a third walk collects the warmest warm units of the tier below it that were hit in the last round (longest
 *    streak, then most hits; units of budgeted workloads left out), at most as many bytes as that room, and
 *    promotes them into it, hottest first (reason FILL). They displace nothing; they are warm units on the faster tier afterwards, the first a hot
 *    unit displaces (step 5) when it needs the room.
 *
 * A promotion never displaces a hot unit, nor a warm one on a streak, and a headroom demotion takes only cold ones.
 * When the fast tier holds nothing but hot units and hot units still wait below, the hot set is larger than the fast
 * tier can hold and moving would only churn: nothing moves, and the pass-interval tuner
 * (policy_tune_pass_interval()) is what shrinks the hot set.
 *
 * The plan's moves carry the unit's entry as it was when planned, so `tierctl` can show why (idle age, streak,
 * hits) next to the reason.
 *
 * Executing a plan: in order, or at least no move before one listed earlier in the other direction (a promotion
 * may rely on the room the demotions before it make, the one-for-one pairs in particular). Exchanges are listed
 * in chunks of up to batch_bytes of promotions: the chunk's demotions first, then its promotions, so that each
 * direction goes to move_pages() in whole batches rather than one page a call; the slower tier may hold up to a
 * chunk more than its minimum allows until the chunk's promotions are done. A run of consecutive
 * moves with the same pid and destination node can go to one migrate_move_pages() call (with move_flags). Each unit
 * that moved is noted with heat_store_note_move(pid, addr, from_node, to_node, round) with policy_params.round; on
 * -ENOSPC from it, stop moving for the round. What the rate limits cut off is dropped: the next round plans
 * afresh from newer heat and free bytes.
 *
 * Never moved: skipped units (HEAT_F_SKIP: mlocked/unevictable, KSM, zero page, shared unless move_shared;
 * HEAT_F_LAZYFREE: a MADV_FREE'd page is neither demoted nor promoted), units not present (status < 0 from the
 * locator), units on nodes that belong to no tier, and units whose residency (with ping-pong back-off) has not
 * expired: heat_store_may_move() is consulted for every candidate that has been moved before.
 *
 * Budgets and cost
 * ================
 *
 * promote_budget_bytes and demote_budget_bytes bound what one plan moves in each direction; the daemon passes the
 * per-round caps (promote_round_max, demote_round_max; UINT64_MAX: no cap). The time limit (bytes per second) is
 * the executor's business: it takes from the rate limiters as it goes, so the plan may be cut short.
 *
 * The selection is one walk over the heat store (heat_store_foreach_unit(), hot, cold and skipped classes only,
 * settled units left out; warm units cost one table lookup each, a word of 64 settled ones one load) plus one walk over the units of each budgeted workload (all classes: its
 * usage of tier 0 is measured). Candidates are kept per source tier in buckets by heat (32 idle ages, 8 x 16
 * streak/hits levels), each set bounded by its budget in bytes and by POLICY_SET_UNITS_MAX units: once a set
 * holds its budget, only units colder (hotter) than its warmest (coldest) bucket are located at all, and a new
 * one pushes out the last of that bucket. Within a bucket the walk order is the tie-break: ascending (pid, address),
 * the processes of budgeted workloads first (they are walked first, to measure them). So the cost is O(units) per
 * round with memory bounded by the budgets, and no sort of all units.
 *
 * A histogram of heat (heat_store_histogram()) cannot give the cut-offs: it knows heat, not placement, and in a
 * steady state most cold units are already on a slow tier (that is where the policy puts them), so the idle-age
 * cut-off that "yields the budget" depends on where the units are. The buckets find it while locating.
 *
 * Locating costs one move_pages(nodes=NULL) entry per candidate located (~0.1-0.2 us). Every unsettled hot and
 * cold unit is located until the sets are full, then only those that could still get in; a unit found on the
 * fastest tier with a streak, or on the slowest with an idle age, is marked settled and not located again until
 * its trend turns or its slice of the store is re-verified (HEAT_SETTLED_VERIFY_ROUNDS). */

/* Bound on each candidate set, whatever the budgets (24 bytes a unit): 2^18 units is 1 GiB of base pages (512 GiB
 * of THPs) per source tier and direction, 6 MiB. More base pages than that do not move in one round anyway:
 * move_pages() manages a few GiB per second. */
#define POLICY_SET_UNITS_MAX (UINT64_C(1) << 18)
/* Units located per locator call: the locator is migrate_query_nodes(), which passes them to one move_pages(). */
#define POLICY_LOCATE_BATCH 1024

/* For policy_workload.fast_max_bytes: no budget. */
#define POLICY_NO_LIMIT UINT64_MAX

enum policy_direction {
        POLICY_PROMOTE, /* to a faster tier */
        POLICY_DEMOTE,  /* to a slower tier */
        _POLICY_DIRECTION_MAX,
};

enum policy_reason {
        POLICY_REASON_HOT_ON_SLOW,  /* promote: hot unit on a slower tier, into headroom */
        POLICY_REASON_ONE_FOR_ONE,  /* promote: hot unit into a full tier, against COLD_ON_FAST demotions */
        POLICY_REASON_COLD_ON_FAST, /* demote: cold unit displaced by a ONE_FOR_ONE promotion */
        POLICY_REASON_HEADROOM,     /* demote: cold unit, the tier's free bytes are below free_target */
        POLICY_REASON_OVER_BUDGET,  /* demote: the unit's workload is over its fast_max */
        POLICY_REASON_FILL,         /* promote: a warm unit into room above the faster tier's free target */
        _POLICY_REASON_MAX,
};

/* Why candidates were not moved. Counted over units, see policy_summary. */
enum policy_skip {
        POLICY_SKIP_LAZYFREE,    /* lazyfree (MADV_FREE): never demoted, nor promoted */
        POLICY_SKIP_FLAGGED,     /* skip flag, not lazyfree (mlocked, unevictable, KSM, zero page, shared) */
        POLICY_SKIP_RESIDENCY,   /* a candidate by class and place, but its residency/back-off has not expired */
        POLICY_SKIP_NOT_PRESENT, /* hot or cold, but the locator found no page (swapped out, never touched, gone) */
        POLICY_SKIP_UNMANAGED,   /* hot or cold, on a node that belongs to no tier */
        POLICY_SKIP_FAST_MAX,    /* a hot candidate whose workload is over (or would go over) its fast_max */
        POLICY_SKIP_NO_ROOM,     /* a hot candidate for which neither headroom nor an exchange was available */
        _POLICY_SKIP_MAX,
};

const char *policy_direction_to_string(enum policy_direction d);
const char *policy_reason_to_string(enum policy_reason r);
const char *policy_skip_to_string(enum policy_skip s);

/* How readily a hot unit takes the place of a colder one on the faster tier (an exchange), set per workload by
 * the payoff ledger (payoff.h) from whether such exchanges paid. P is promote_rounds; streaks are capped at
 * HEAT_STREAK_MAX. Promotions into free room and headroom demotions do not depend on it. */
enum policy_exchange {
        POLICY_EXCHANGE_NORMAL,  /* cold units give way to a hot unit, warm ones to a unit hot for 2P rounds */
        POLICY_EXCHANGE_EAGER,   /* cold and warm units give way to a hot unit (streak P) */
        POLICY_EXCHANGE_PROBING, /* exchanges are planned as normal but not carried out: policy_plan.shadow */
        _POLICY_EXCHANGE_MAX,
};

const char *policy_exchange_to_string(enum policy_exchange e);

/* A workload: a set of processes with an optional budget on tier 0 ([target.NAME] fast_max = 8G). Only tracked
 * units count (private anonymous memory, what the heat store holds). A pid listed in several workloads belongs to
 * the first. Workloads without a budget are accepted and change nothing. */
struct policy_workload {
        const char *name;
        const pid_t *pids;
        size_t n_pids;
        uint64_t fast_max_bytes; /* POLICY_NO_LIMIT: none */
        enum policy_exchange exchange;
};

struct policy_params {
        struct heat_class_params class;
        uint64_t round; /* the round the moves will be noted in (heat_store_note_move()), as numbered for
                         * heat_store_begin_round(); heat_store_may_move() is asked about it */

        /* Headroom per tier (index into topology.tiers); target < min is taken as min. */
        uint64_t free_min_bytes[TIERD_MAX_TIERS];
        uint64_t free_target_bytes[TIERD_MAX_TIERS];

        uint64_t promote_budget_bytes; /* at most this much promoted by one plan (UINT64_MAX: no cap) */
        uint64_t demote_budget_bytes;

        uint64_t batch_bytes; /* exchanges are ordered for batches of this size (see "Executing a plan") */

        /* Clearly hot units need not wait promote_rounds while there is free room for them: a unit hit in every
         * pass of the last round (a streak of 1 and at least eager_hits hits, normally the round's passes) is
         * promoted too, but only into room the next faster tier has above its free target, never by exchange or
         * displacement, so it costs nothing but the move. 0: off (units wait their promote_rounds). */
        unsigned eager_hits;

        /* Exchanges of the units that belong to no workload (a workload's are in policy_workload.exchange). */
        enum policy_exchange exchange;

        bool fill; /* step 6: warm units into room above the faster tier's target ([policy] fill_free) */

        bool tier_skip;   /* moves may skip a tier (see above); default false: one tier at a time */
        bool move_shared; /* only sets policy_plan.move_flags: the heat store's skip flag decides what is shared */

        const struct policy_workload *workloads;
        size_t n_workloads;
};

/* Fills free_min_bytes/free_target_bytes for every tier of topo: a percentage applies to each tier's own total,
 * a size to every tier as is (clamped to the tier's total). Tiers beyond topo->n_tiers get 0. */
void policy_params_set_headroom(struct policy_params *p, const struct topology *topo,
                                const struct size_or_percent *free_min, const struct size_or_percent *free_target);

/* Learns where units are: nodes[i] = the node of the page at addrs[i] of pid, or a negative errno (-ENOENT not
 * present, -EFAULT unmapped or the zero page), exactly as migrate_query_nodes(). Returns 0, -ESRCH (or -ENOENT)
 * when the process is gone (its units are then not present), or another negative errno, which aborts the plan. */
typedef int (*policy_locate_fn)(pid_t pid, void **addrs, size_t n, int *nodes, void *userdata);

/* 32 bytes: a plan holds up to (promote + demote budget) / 4 KiB of them, 512 Ki moves and 16 MiB at the default
 * round caps, and the fields are as wide as their ranges (nodes below NODE_SET_MAX, tiers below TIERD_MAX_TIERS,
 * workloads below INT16_MAX: policy_plan() refuses more). */
struct policy_move {
        pid_t pid;
        uint32_t size_bytes; /* HEAT_PAGE_SIZE or HEAT_THP_SIZE */
        uint64_t addr;       /* the unit's address (a THP's head) */
        int16_t from_node, to_node;
        int8_t from_tier, to_tier;
        uint8_t direction;   /* enum policy_direction */
        uint8_t reason;      /* enum policy_reason */
        int16_t workload;    /* index into policy_params.workloads, or -1 */
        uint16_t entry;      /* heat entry when planned: heat_entry_*() */
        bool settles;        /* where it lands is where it stays: the executor may settle it (heat.h) */
};
_Static_assert(sizeof(struct policy_move) == 32, "a plan's memory is counted in 32-byte moves");

struct policy_tier_summary {
        uint64_t free_bytes;         /* at the start (the topology's) */
        uint64_t planned_free_bytes; /* after the plan, if every move succeeds */
        uint64_t free_min_bytes, free_target_bytes;
        uint64_t headroom_short_bytes; /* target - planned free when the plan could not restore it (slowest: 0) */
};

struct policy_workload_summary {
        uint64_t fast_bytes;         /* its tracked bytes on tier 0 at the start */
        uint64_t planned_fast_bytes; /* after the plan */
        bool over;                   /* over fast_max at the start: demoted, not promoted */
};

struct policy_summary {
        uint64_t moves[_POLICY_DIRECTION_MAX];
        uint64_t bytes[_POLICY_DIRECTION_MAX];
        uint64_t reason_moves[_POLICY_REASON_MAX];
        uint64_t reason_bytes[_POLICY_REASON_MAX];
        /* LAZYFREE and FLAGGED: every such unit of the store, whatever its heat (they are not located, so wherever
         * they are). The others: among the units located for the plan, so once candidate sets are full they are
         * lower bounds. */
        uint64_t skipped_units[_POLICY_SKIP_MAX];
        uint64_t skipped_bytes[_POLICY_SKIP_MAX];
        uint64_t units_located;
        uint64_t locate_calls;
        uint64_t candidate_units; /* held in the candidate sets after the walk: bounded by the budgets */
        /* Step 5: hot units that found no room and have the streak to displace a warm unit (bytes, before the
         * rate limits cap them), the longest streak among those that found no room, and the warm units the second
         * walk found to displace. */
        uint64_t warm_waiting_bytes;
        unsigned waiting_streak_max;
        uint64_t warm_victim_units;
        uint64_t shadow_moves[_POLICY_DIRECTION_MAX]; /* policy_plan.shadow, by direction */
        uint64_t shadow_bytes[_POLICY_DIRECTION_MAX];
        struct policy_tier_summary tiers[TIERD_MAX_TIERS];
        size_t n_tiers;
};

struct policy_plan {
        struct policy_move *moves; /* in execution order */
        size_t n_moves;
        /* Exchanges of workloads whose level is probing, as they would have been planned: not to be carried out,
         * only watched (payoff_ledger_note()); in the summary's shadow_* only. Each left the plan's arithmetic
         * as it was (free bytes, budgets), and took its victims from the sets as a real exchange would. */
        struct policy_move *shadow;
        size_t n_shadow;
        int move_flags; /* for move_pages(): MPOL_MF_MOVE, or MPOL_MF_MOVE_ALL with move_shared */
        uint64_t round;
        struct policy_summary summary;
        struct policy_workload_summary *workloads; /* n_workloads entries, parallel to policy_params.workloads */
        size_t n_workloads;
};

/* Builds the plan for one round. topo: nodes with their free bytes and tiers (the struct only; no topology
 * function is called). With fewer than two tiers the plan is empty. Returns 0, -EINVAL (invalid class params,
 * NULL arguments), -ENOMEM, or the locator's error. *ret is only written on success; free it with
 * policy_plan_done(). */
int policy_plan(struct heat_store *heat, const struct topology *topo, const struct policy_params *p,
                policy_locate_fn locate, void *userdata, struct policy_plan *ret);
void policy_plan_done(struct policy_plan *plan);

/* The same plan in steps, so that the daemon's event loop is not held for the whole of it: the walks pause once a
 * step has located located_max units (locating, a move_pages() entry per unit, is what a plan's time goes into:
 * 9 us a unit under TCG, where a 1.5 GiB target took 3.5 s in one turn), and the next step goes on where it
 * paused. Between steps the caller keeps heat, topo and p as they were given (the heat store may lose targets:
 * their units are left out); a plan built in steps is the one policy_plan() builds when nothing changed between
 * them. policy_planner_step() returns 1 while steps remain, 0 with *ret written when the plan is done (the
 * planner is then only to be freed), or a negative errno as policy_plan() does (the planner is then of no more
 * use). located_max 0 is -EINVAL; UINT64_MAX never pauses. */
struct policy_planner;
int policy_planner_new(struct heat_store *heat, const struct topology *topo, const struct policy_params *p,
                       policy_locate_fn locate, void *userdata, struct policy_planner **ret);
int policy_planner_step(struct policy_planner *planner, uint64_t located_max, struct policy_plan *ret);
struct policy_planner *policy_planner_free(struct policy_planner *planner);
/* What the last step did: the daemon paces the next step by it and logs a step that held its loop long. */
struct policy_step_stats {
        uint64_t walked;       /* units the walks handed to the plan */
        uint64_t located;      /* of them, located */
        uint64_t locate_calls;
        const char *ended_in;  /* "workload walks", "walk", "warm walk", "fill walk" (paused there) or "done" */
};
void policy_planner_step_stats(const struct policy_planner *planner, struct policy_step_stats *ret);
static inline void policy_planner_freep(struct policy_planner **p) {
        policy_planner_free(*p);
}

/* The pass-interval tuner
 * =======================
 *
 * Counting accesses over a pass interval classifies as hot every page touched at least once per interval; the
 * longer the interval, the more pages look hot. A hot set larger than the fast tier cannot be told apart (every
 * count is at its maximum), so the interval is tuned to keep the last round's hot bytes below hot_target
 * (default 50% of tier 0):
 *
 *   hot > target           multiplicative decrease: interval x target / hot, but at most halved per round (one
 *                          odd round must not collapse the interval) and always at least 1/8 shorter;
 *   hot < target / 2       slow increase: + 1/8 (at least 1 us), to spend less scanning when little is hot;
 *   otherwise              unchanged (a dead band: without it the two rules above would alternate).
 *
 * The result is clamped to [interval_min_us, interval_max_us]. A fast tier of size 0 (no tiers) or a target of 0
 * leaves the interval alone (clamped). */
struct policy_tuner_params {
        struct size_or_percent hot_target; /* of tier 0's total: default 50% */
        uint64_t interval_min_us, interval_max_us;
};

uint64_t policy_tune_pass_interval(const struct policy_tuner_params *t, uint64_t hot_bytes,
                                   uint64_t fast_total_bytes, uint64_t interval_us);

