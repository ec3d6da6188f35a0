/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Rate limits for page moves, one struct ratelimit per direction (promote, demote): a token bucket in bytes per
 * second plus a cap per round. Pure: the caller passes the time (CLOCK_MONOTONIC microseconds) into every call, so
 * the daemon drives it from its event loop and tests drive it with made-up clocks.
 *
 * The bucket
 * ==========
 *
 * Tokens are bytes. The bucket refills at rate_bytes_per_sec, to at most burst_bytes, with sub-byte precision
 * (the remainder of rate x elapsed is carried, so many short refills add up to exactly what one long one would:
 * the daemon may look at the bucket every few milliseconds without losing throughput to rounding).
 *
 * A take of more than burst_bytes could never be satisfied by a bucket that holds at most burst_bytes, and a THP
 * (2 MiB) must not wedge a limiter configured with a smaller burst. So a take succeeds when the bucket holds
 * min(bytes, burst_bytes) tokens, and may leave the bucket in debt (negative), which the refill pays back before
 * anything else passes. Over time the rate holds exactly either way.
 *
 * Limits count bytes actually moved: take() what a batch would move before calling move_pages(), then refund()
 * the part that did not move (pages already in place, failed pages). A refund never fills the bucket beyond
 * burst_bytes.
 *
 * When a take fails, time_until() says how long to wait: the daemon arms a timer for that long instead of
 * polling, and its loop (and so the control socket) stays free meanwhile. The resolution is one microsecond; how
 * finely to batch is the caller's choice (a batch of B bytes waits about B / rate).
 *
 * The round cap
 * =============
 *
 * At most round_cap_bytes pass per round (between two ratelimit_round_begin() calls), whatever the bucket holds.
 * It bounds what one round can churn even with a generous rate. take() checks both; time_until() returns
 * RATELIMIT_NEVER when only the next round can help.
 *
 * 0 disables either limit (rate 0: no bucket, round_cap_bytes 0: no cap), as in systemd's RateLimit settings. */

#define RATELIMIT_NEVER UINT64_MAX

/* Larger values are clamped (2^62 bytes is 4 EiB: no real limit is near it; the clamp keeps the debt arithmetic
 * in range). */
#define RATELIMIT_BYTES_MAX (UINT64_C(1) << 62)

struct ratelimit {
        uint64_t rate_bytes_per_sec; /* 0: unlimited */
        uint64_t burst_bytes;
        uint64_t round_cap_bytes;    /* 0: no cap */

        int64_t tokens;              /* bytes; negative: in debt */
        uint64_t frac;               /* carried remainder of the refill, in 1/1000000 byte */
        uint64_t last_us;            /* time of the last refill */

        uint64_t round_bytes;        /* taken (minus refunds) since ratelimit_round_begin() */
};

/* Sets the limits and starts with a full bucket at now_us. burst_bytes 0 with a rate means "one second's worth"
 * (rate_bytes_per_sec). */
void ratelimit_init(struct ratelimit *rl, uint64_t rate_bytes_per_sec, uint64_t burst_bytes,
                    uint64_t round_cap_bytes, uint64_t now_us);

/* Changes the limits (a reload) keeping what is in the bucket (clamped to the new burst) and the round's count. */
void ratelimit_set(struct ratelimit *rl, uint64_t rate_bytes_per_sec, uint64_t burst_bytes,
                   uint64_t round_cap_bytes, uint64_t now_us);

/* Starts a new round: the round's count goes back to 0. */
void ratelimit_round_begin(struct ratelimit *rl);

/* Bytes that a take() could get now without going into debt (0 when in debt or the round cap is reached);
 * UINT64_MAX when neither limit applies. Lets the executor size its next batch. */
uint64_t ratelimit_available(struct ratelimit *rl, uint64_t now_us);

/* Takes bytes if both limits allow it now (see above for takes larger than the burst). Returns true if taken. */
bool ratelimit_take(struct ratelimit *rl, uint64_t now_us, uint64_t bytes);

/* Gives back bytes that were taken but not moved. */
void ratelimit_refund(struct ratelimit *rl, uint64_t bytes);

/* Microseconds from now_us until take(bytes) would succeed: 0 if it would now, RATELIMIT_NEVER if the round cap
 * stands in the way (wait for the next round). */
uint64_t ratelimit_time_until(struct ratelimit *rl, uint64_t now_us, uint64_t bytes);

/* Bytes left under the round cap (UINT64_MAX without a cap). */
uint64_t ratelimit_round_left(const struct ratelimit *rl);
