/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The CPU budget ([scan] cpu_budget): tierd's own CPU time plus that of the kdamond it runs, as a share of one CPU,
 * held over time. Pure: the daemon measures a cycle (from the end of one round to the end of the next, the wait
 * between them included) and asks how long to wait before the next round and how much less often DAMON should
 * sample.
 *
 * Two levers, both set by one factor, the slowdown s >= 1: rounds start s round lengths apart (the wait between
 * them costs nothing), and DAMON samples s times less often (a kdamond costs CPU in proportion to its sampling
 * rate, whether tierd reads its windows or not). Under both, every part of the cost falls as 1/s, so the
 * controller can aim directly: after a cycle that used r times its share, s is multiplied by r. It raises s at
 * once when over budget and lowers it only half the way when well under, so a passing quiet spell does
 * not send it back over. A balance of CPU time owed adds a wait that repays it, at most one slowed-down round's worth
 * per cycle, so a costly cycle (the first round's set-up, a burst of moves) is paid back within the budget over time
 * rather than only steering the next cycles, without stopping tierd for minutes; it holds at most one round's share of credit, so a quiet hour cannot be spent in one burst. */

#define CPU_BUDGET_SLOWDOWN_MAX 64.0
/* Where s is aimed: a little under the budget, so measurement noise does not push every other cycle over. */
#define CPU_BUDGET_AIM 0.9
/* Below this share of the budget a cycle lowers s. */
#define CPU_BUDGET_LOW 0.75

struct cpu_budget {
        unsigned budget_bp; /* basis points of one CPU (10000: a whole CPU); 0: no budget */
        double slowdown;    /* >= 1 */
        double balance_us;  /* CPU time the budget still grants; negative: spent ahead of it */
        uint64_t cycles;
        uint64_t last_own_us, last_kernel_us, last_wall_us; /* the last cycle */
        uint64_t own_us, kernel_us, wall_us;                /* every cycle since the daemon started */
};

void cpu_budget_init(struct cpu_budget *b, unsigned budget_bp);
/* A new budget (reload). What was spent stays counted; with no budget the levers are released at once. */
void cpu_budget_configure(struct cpu_budget *b, unsigned budget_bp);
/* One cycle: own_us of tierd's CPU and kernel_us of its kdamond's over wall_us, of which round_us was the round
 * itself (from its start to its end). */
void cpu_budget_account(struct cpu_budget *b, uint64_t own_us, uint64_t kernel_us, uint64_t wall_us,
                        uint64_t round_us);
/* How long to wait after a round that lasted round_us before the next one starts. */
uint64_t cpu_budget_gap_us(const struct cpu_budget *b, uint64_t round_us);
/* The factor for DAMON's sample interval: the smallest power of two that reaches the slowdown, within max_scale.
 * Powers of two because every change costs a kdamond commit, which waits for an aggregation window; rounded up
 * because the kdamond samples through the waits between rounds too, so only its own rate can bring its cost
 * down. */
unsigned cpu_budget_sample_scale(const struct cpu_budget *b, unsigned max_scale);
/* Past that limit (DAMON keeps some samples per window), the rest of the slowdown goes into DAMON's region bound:
 * the largest number of regions is divided by this, the smallest power of two that with sample_scale reaches the
 * slowdown, within max_scale. A kdamond checks one page per region and sample, so its cost falls with the regions
 * as with the sampling rate; the price is coarser regions, which the budget only asks for once sampling can go
 * no sparser. */
unsigned cpu_budget_region_scale(const struct cpu_budget *b, unsigned sample_scale, unsigned max_scale);
/* Whether the budget, not the configuration, sets how often tierd looks. */
bool cpu_budget_limiting(const struct cpu_budget *b);
/* CPU used as basis points of one CPU: over the last cycle, and over all cycles. */
unsigned cpu_budget_last_bp(const struct cpu_budget *b);
unsigned cpu_budget_total_bp(const struct cpu_budget *b);
