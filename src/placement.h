/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heat.h"
#include "payoff.h"
#include "policy.h"
#include "ratelimit.h"

/* The plan executor: carries out a policy_plan (policy.h) under the rate limits (ratelimit.h), a slice at a time,
 * so the daemon's event loop never blocks for long.
 *
 * The plan is walked in order. Consecutive moves with the same pid, direction and destination node form one batch
 * of at most batch_bytes (at least one unit, so a THP always fits); each batch takes its bytes from the bucket of
 * its direction before migrate_move_pages() is called, and what did not move is refunded. When a take is refused,
 * placement_run() returns 1 with the time to wait (the daemon arms a timer for it); a round cap that only the next
 * round can lift ends the plan (RATELIMIT_NEVER): the next round plans afresh. Every unit that moved is noted with
 * heat_store_note_move() (a ping-pong is counted; -ENOSPC ends the plan for the round).
 *
 * Whole-call errors of migrate_move_pages(): -ENOMEM (the destination is full; also as a per-page status) on a
 * promotion into headroom ends the plan's headroom promotions, and on a one-for-one promotion all of them: the
 * exchanges' promotions after it still run, since the demotions before each make its room. The node is remembered
 * (placement_take_full_nodes()) so that the next plan counts it as full and exchanges from the start. -ESRCH (the process is gone) and -EACCES (the destination is outside the process's cpuset: logged once per
 * process while it lasts) skip the rest of that process's moves; the batch's units are counted as failed under
 * that errno. Per-page errors are counted by errno.
 *
 * Dry run: nothing is moved and nothing noted; the plan's moves are counted as "would move" (and logged at debug
 * level per batch), without the rate limits: the plan is already bounded by the round caps
 * (policy_params.promote_budget_bytes). */

/* errno values counted one by one; larger ones land in the last slot. EHWPOISON is 133. */
#define PLACEMENT_ERRNO_MAX 134

/* How long one placement_run() may hold the loop, about: it gives the loop back (asking for a zero wait) once half
 * of it has passed, and a call is cut to take about one at most (struct placement, pace_bytes). */
#define PLACEMENT_SLICE_US (20 * USEC_PER_MSEC)
/* The least a call is cut to: 64 pages. */
#define PLACEMENT_PACE_MIN_BYTES (64 * HEAT_PAGE_SIZE)

struct placement_direction_stats {
        uint64_t pages, bytes, units;     /* moved */
        uint64_t failed_pages;            /* per-page and whole-call failures */
        uint64_t failures[PLACEMENT_ERRNO_MAX]; /* by errno, in units */
        uint64_t pingpongs;               /* heat_store_note_move() returned 1 */
        uint64_t calls;                   /* migrate_move_pages() calls */
        uint64_t time_us;                 /* inside move_pages() */
        uint64_t would_pages, would_bytes; /* dry run */
        uint64_t rate_waits;              /* takes refused by the bucket */
        uint64_t dropped_bytes;           /* planned but not carried out: round cap, stop, next plan */
};

struct placement_stats {
        struct placement_direction_stats dir[_POLICY_DIRECTION_MAX];
        uint64_t plans;
        uint64_t skipped_units[_POLICY_SKIP_MAX]; /* summed over the plans' summaries */
        uint64_t skipped_bytes[_POLICY_SKIP_MAX];
        uint64_t heat_full; /* plans ended because the move table was full */
};

struct placement_settings {
        uint64_t rate_bytes_per_sec[_POLICY_DIRECTION_MAX]; /* 0: unlimited */
        uint64_t round_max_bytes[_POLICY_DIRECTION_MAX];    /* 0: no cap */
        uint64_t batch_bytes;
        bool dry_run;
};

struct placement {
        struct placement_settings settings;
        struct ratelimit limit[_POLICY_DIRECTION_MAX];

        struct policy_plan plan;
        size_t next;          /* next move of plan to carry out */
        bool active;          /* a plan is in progress */
        bool stop_promotions; /* -ENOMEM on a one-for-one promotion this plan */
        bool stop_headroom_promotions; /* -ENOMEM on a promotion into headroom this plan */
        struct node_set full_nodes; /* refused a promotion with -ENOMEM since placement_take_full_nodes() */
        pid_t *skip_pids;     /* processes gone or refusing this plan */
        size_t n_skip_pids;
        /* A batch's bytes at most, from the pace move_pages() showed (0: batch_bytes): after a call over
         * PLACEMENT_SLICE_US, what that pace moves in one; after one under half of it, twice as much.
         * batch_size is 4 MiB by default, which real hardware moves in a millisecond or two and TCG in 170 ms:
         * a call holds the loop. */
        uint64_t pace_bytes;

        /* Told of every unit that moved (payoff.h), with the heat store; NULL: no ledger. Not owned. */
        struct payoff_ledger *payoff;
        /* What the backend observes as one (grains.h), for the ledger's sample; NULL: none. Not owned. */
        struct grain_map *grains;

        struct placement_stats stats;
        struct policy_summary last_summary; /* of the last plan started */
        uint64_t last_plan_round;
};

void placement_init(struct placement *p, const struct placement_settings *s, uint64_t now_us);
/* New limits (reload): the buckets keep their tokens. */
void placement_configure(struct placement *p, const struct placement_settings *s, uint64_t now_us);
void placement_done(struct placement *p);

/* Takes over plan (zeroed on return) and starts a new round of the limits; a plan still in progress is dropped
 * (its remaining bytes count as dropped). */
void placement_start(struct placement *p, struct policy_plan *plan);
/* Drops the plan in progress (pause, reload). */
void placement_abort(struct placement *p);
bool placement_active(const struct placement *p);

/* Carries out the plan from where it stopped. Returns 0 when the plan is done (or there is none), 1 when it must
 * be called again after *ret_wait_us (0: at once, the slice is used up), or a negative errno for a failure of the
 * executor itself (-ENOMEM), which drops the plan. heat may be NULL in a dry run. */
int placement_run(struct placement *p, struct heat_store *heat, uint64_t now_us, uint64_t *ret_wait_us);

/* The nodes that refused a promotion with -ENOMEM since the last call, and forgets them. */
void placement_take_full_nodes(struct placement *p, struct node_set *ret);

/* The locator policy_plan() wants, on migrate_query_nodes(). */
int placement_locate(pid_t pid, void **addrs, size_t n, int *nodes, void *userdata);

/* "EBUSY" for 16; "E133" and so on for the rest. */
const char *placement_errno_name(int error, char *buf, size_t size);
