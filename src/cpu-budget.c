/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "cpu-budget.h"
#include "macro.h"

void cpu_budget_init(struct cpu_budget *b, unsigned budget_bp) {
        *b = (struct cpu_budget) { .budget_bp = budget_bp, .slowdown = 1.0 };
}

void cpu_budget_configure(struct cpu_budget *b, unsigned budget_bp) {
        if (budget_bp == b->budget_bp)
                return;
        b->budget_bp = budget_bp;
        /* A debt under the old budget is not one under the new; s starts over and finds its level in a cycle. */
        b->balance_us = 0;
        b->slowdown = 1.0;
}

static double share(const struct cpu_budget *b) {
        return b->budget_bp / 10000.0;
}

void cpu_budget_account(struct cpu_budget *b, uint64_t own_us, uint64_t kernel_us, uint64_t wall_us,
                        uint64_t round_us) {
        double spent = (double) own_us + (double) kernel_us, ratio, credit_max;

        b->last_own_us = own_us;
        b->last_kernel_us = kernel_us;
        b->last_wall_us = wall_us;
        b->own_us += own_us;
        b->kernel_us += kernel_us;
        b->wall_us += wall_us;
        b->cycles++;
        if (b->budget_bp == 0 || wall_us == 0)
                return;

        b->balance_us += share(b) * (double) wall_us - spent;
        credit_max = share(b) * (double) round_us;
        if (b->balance_us > credit_max)
                b->balance_us = credit_max;

        ratio = spent / (share(b) * (double) wall_us);
        if (ratio > 1.0)
                b->slowdown *= MIN(ratio / CPU_BUDGET_AIM, 4.0);
        else if (ratio < CPU_BUDGET_LOW)
                b->slowdown *= MAX((1.0 + ratio / CPU_BUDGET_AIM) / 2.0, 0.5);
        b->slowdown = MIN(MAX(b->slowdown, 1.0), CPU_BUDGET_SLOWDOWN_MAX);
}

uint64_t cpu_budget_gap_us(const struct cpu_budget *b, uint64_t round_us) {
        double gap;

        if (b->budget_bp == 0)
                return 0;
        gap = (b->slowdown - 1.0) * (double) round_us;
        /* A debt is repaid over several cycles, at most one slowed-down round's worth of waiting at a time: s aims
         * a tenth under the budget, and that margin repays the rest. Repaid at once, the set-up of the first round
         * (2-5 s of CPU under TCG) kept tierd from its second round for two minutes at a 5% budget. */
        if (b->balance_us < 0)
                gap += MIN(-b->balance_us / share(b), b->slowdown * (double) round_us);
        /* However costly one cycle was, tierd looks again within the slowest pace the budget can set. */
        gap = MIN(gap, (CPU_BUDGET_SLOWDOWN_MAX - 1.0) * (double) MAX(round_us, USEC_PER_SEC));
        return (uint64_t) gap;
}

unsigned cpu_budget_sample_scale(const struct cpu_budget *b, unsigned max_scale) {
        unsigned scale = 1;

        if (b->budget_bp == 0)
                return 1;
        while ((double) scale < b->slowdown && scale * 2 <= max_scale)
                scale *= 2;
        return scale;
}

unsigned cpu_budget_region_scale(const struct cpu_budget *b, unsigned sample_scale, unsigned max_scale) {
        unsigned scale = 1;

        if (b->budget_bp == 0)
                return 1;
        while ((double) scale * MAX(sample_scale, 1U) < b->slowdown && scale * 2 <= max_scale)
                scale *= 2;
        return scale;
}

bool cpu_budget_limiting(const struct cpu_budget *b) {
        return b->budget_bp > 0 && (b->slowdown > 1.0 || b->balance_us < 0);
}

static unsigned bp_of(uint64_t cpu_us, uint64_t wall_us) {
        if (wall_us == 0)
                return 0;
        return (unsigned) MIN((double) cpu_us * 10000.0 / (double) wall_us, (double) UINT32_MAX);
}

unsigned cpu_budget_last_bp(const struct cpu_budget *b) {
        return bp_of(b->last_own_us + b->last_kernel_us, b->last_wall_us);
}

unsigned cpu_budget_total_bp(const struct cpu_budget *b) {
        return bp_of(b->own_us + b->kernel_us, b->wall_us);
}
