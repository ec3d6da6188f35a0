/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "macro.h"
#include "ratelimit.h"

/* See ratelimit.h for the rules. */

static uint64_t clamp_bytes(uint64_t v) {
        return MIN(v, RATELIMIT_BYTES_MAX);
}

static void refill(struct ratelimit *rl, uint64_t now_us) {
        unsigned __int128 add;
        uint64_t elapsed;

        if (rl->rate_bytes_per_sec == 0)
                return;
        /* A clock that seems to go back (a caller mixing clocks) refills nothing, and time does not go back. */
        if (now_us <= rl->last_us)
                return;
        elapsed = now_us - rl->last_us;
        rl->last_us = now_us;

        if (rl->tokens >= (int64_t) rl->burst_bytes) {
                rl->frac = 0;
                return;
        }
        add = (unsigned __int128) elapsed * rl->rate_bytes_per_sec + rl->frac;
        if ((__int128) rl->tokens + (__int128) (add / USEC_PER_SEC) >= (__int128) rl->burst_bytes) {
                rl->tokens = (int64_t) rl->burst_bytes;
                rl->frac = 0;
                return;
        }
        rl->tokens += (int64_t) (add / USEC_PER_SEC);
        rl->frac = (uint64_t) (add % USEC_PER_SEC);
}

static void set_limits(struct ratelimit *rl, uint64_t rate_bytes_per_sec, uint64_t burst_bytes,
                       uint64_t round_cap_bytes) {
        rl->rate_bytes_per_sec = clamp_bytes(rate_bytes_per_sec);
        /* Without a burst, one second's worth; at least one byte, so a bucket with a rate can ever fill. */
        rl->burst_bytes = clamp_bytes(burst_bytes > 0 ? burst_bytes : MAX(rl->rate_bytes_per_sec, UINT64_C(1)));
        rl->round_cap_bytes = clamp_bytes(round_cap_bytes);
}

void ratelimit_init(struct ratelimit *rl, uint64_t rate_bytes_per_sec, uint64_t burst_bytes,
                    uint64_t round_cap_bytes, uint64_t now_us) {
        *rl = (struct ratelimit) {};
        set_limits(rl, rate_bytes_per_sec, burst_bytes, round_cap_bytes);
        rl->tokens = (int64_t) rl->burst_bytes;
        rl->last_us = now_us;
}

void ratelimit_set(struct ratelimit *rl, uint64_t rate_bytes_per_sec, uint64_t burst_bytes,
                   uint64_t round_cap_bytes, uint64_t now_us) {
        bool was_limited = rl->rate_bytes_per_sec > 0;

        /* What accrued under the old rate is kept; a reload must not hand out a fresh burst. */
        refill(rl, now_us);
        set_limits(rl, rate_bytes_per_sec, burst_bytes, round_cap_bytes);
        if (!was_limited) {
                /* There was no bucket: start with a full one, as at init. */
                rl->tokens = (int64_t) rl->burst_bytes;
                rl->frac = 0;
        } else if (rl->tokens > (int64_t) rl->burst_bytes) {
                rl->tokens = (int64_t) rl->burst_bytes;
                rl->frac = 0;
        }
        rl->last_us = MAX(rl->last_us, now_us);
}

void ratelimit_round_begin(struct ratelimit *rl) {
        rl->round_bytes = 0;
}

uint64_t ratelimit_round_left(const struct ratelimit *rl) {
        if (rl->round_cap_bytes == 0)
                return UINT64_MAX;
        return rl->round_cap_bytes - MIN(rl->round_bytes, rl->round_cap_bytes);
}

/* The round cap lets an oversized take (bytes > cap) through only as the first of a round, for the same reason
 * the bucket lets one through only when full: one unit larger than the cap must not wedge the direction. */
static bool round_allows(const struct ratelimit *rl, uint64_t bytes) {
        if (rl->round_cap_bytes == 0)
                return true;
        return MIN(bytes, rl->round_cap_bytes) <= ratelimit_round_left(rl);
}

uint64_t ratelimit_available(struct ratelimit *rl, uint64_t now_us) {
        uint64_t bucket = UINT64_MAX;

        refill(rl, now_us);
        if (rl->rate_bytes_per_sec > 0)
                bucket = rl->tokens > 0 ? (uint64_t) rl->tokens : 0;
        return MIN(bucket, ratelimit_round_left(rl));
}

bool ratelimit_take(struct ratelimit *rl, uint64_t now_us, uint64_t bytes) {
        bytes = clamp_bytes(bytes);
        refill(rl, now_us);
        if (!round_allows(rl, bytes))
                return false;
        if (rl->rate_bytes_per_sec > 0) {
                if (rl->tokens < (int64_t) MIN(bytes, rl->burst_bytes))
                        return false;
                rl->tokens -= (int64_t) bytes;
        }
        rl->round_bytes += bytes;
        return true;
}

void ratelimit_refund(struct ratelimit *rl, uint64_t bytes) {
        bytes = clamp_bytes(bytes);
        rl->round_bytes -= MIN(bytes, rl->round_bytes);
        if (rl->rate_bytes_per_sec > 0)
                rl->tokens = (int64_t) MIN((__int128) rl->tokens + (__int128) bytes, (__int128) rl->burst_bytes);
}

uint64_t ratelimit_time_until(struct ratelimit *rl, uint64_t now_us, uint64_t bytes) {
        unsigned __int128 need_micro, t;
        int64_t need;

        bytes = clamp_bytes(bytes);
        refill(rl, now_us);
        if (!round_allows(rl, bytes))
                return RATELIMIT_NEVER;
        if (rl->rate_bytes_per_sec == 0)
                return 0;
        need = (int64_t) MIN(bytes, rl->burst_bytes);
        if (rl->tokens >= need)
                return 0;
        /* Whole tokens missing, in 1/1000000 byte, less the remainder already carried; rounded up, so the timer
         * never fires a microsecond too early and finds the bucket one byte short. */
        need_micro = (unsigned __int128) ((__int128) need - rl->tokens) * USEC_PER_SEC - rl->frac;
        t = (need_micro + rl->rate_bytes_per_sec - 1) / rl->rate_bytes_per_sec;
        return t < RATELIMIT_NEVER ? (uint64_t) t : RATELIMIT_NEVER - 1;
}
