/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "migrate.h"
#include "placement.h"
#include "util.h"

static uint64_t clock_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

static void limits_apply(struct placement *p, const struct placement_settings *s, uint64_t now_us, bool init) {
        for (int d = 0; d < _POLICY_DIRECTION_MAX; d++) {
                if (init)
                        ratelimit_init(&p->limit[d], s->rate_bytes_per_sec[d], 0, s->round_max_bytes[d], now_us);
                else
                        ratelimit_set(&p->limit[d], s->rate_bytes_per_sec[d], 0, s->round_max_bytes[d], now_us);
        }
        p->settings = *s;
        if (p->settings.batch_bytes < HEAT_PAGE_SIZE)
                p->settings.batch_bytes = HEAT_PAGE_SIZE;
}

void placement_init(struct placement *p, const struct placement_settings *s, uint64_t now_us) {
        *p = (struct placement) {};
        limits_apply(p, s, now_us, true);
}

void placement_configure(struct placement *p, const struct placement_settings *s, uint64_t now_us) {
        limits_apply(p, s, now_us, false);
}

static void plan_drop(struct placement *p) {
        for (size_t i = p->next; i < p->plan.n_moves; i++)
                p->stats.dir[p->plan.moves[i].direction].dropped_bytes += p->plan.moves[i].size_bytes;
        policy_plan_done(&p->plan);
        p->next = 0;
        p->active = false;
        p->stop_promotions = false;
        p->stop_headroom_promotions = false;
        p->skip_pids = mfree(p->skip_pids);
        p->n_skip_pids = 0;
}

void placement_done(struct placement *p) {
        plan_drop(p);
}

void placement_abort(struct placement *p) {
        plan_drop(p);
}

bool placement_active(const struct placement *p) {
        return p->active;
}

void placement_start(struct placement *p, struct policy_plan *plan) {
        plan_drop(p);
        p->plan = *plan;
        *plan = (struct policy_plan) {};
        p->active = true;
        p->last_summary = p->plan.summary;
        p->last_plan_round = p->plan.round;
        p->stats.plans++;
        for (int k = 0; k < _POLICY_SKIP_MAX; k++) {
                p->stats.skipped_units[k] += p->plan.summary.skipped_units[k];
                p->stats.skipped_bytes[k] += p->plan.summary.skipped_bytes[k];
        }
        for (int d = 0; d < _POLICY_DIRECTION_MAX; d++)
                ratelimit_round_begin(&p->limit[d]);
}

static bool pid_skipped(const struct placement *p, pid_t pid) {
        for (size_t i = 0; i < p->n_skip_pids; i++)
                if (p->skip_pids[i] == pid)
                        return true;
        return false;
}

static int pid_skip(struct placement *p, pid_t pid) {
        pid_t *a;

        if (pid_skipped(p, pid))
                return 0;
        a = reallocarray(p->skip_pids, p->n_skip_pids + 1, sizeof(pid_t));
        if (!a)
                return -ENOMEM;
        a[p->n_skip_pids++] = pid;
        p->skip_pids = a;
        return 0;
}

static bool move_excluded(const struct placement *p, const struct policy_move *m) {
        if (m->direction == POLICY_PROMOTE &&
            (p->stop_promotions || (p->stop_headroom_promotions && m->reason == POLICY_REASON_HOT_ON_SLOW)))
                return true;
        return pid_skipped(p, m->pid);
}

/* The destination had no page to give although the plan saw room: the free memory it planned with was not all
 * there for the taking (a kernel without /proc/zoneinfo, memory taken since the round began). Promotions into
 * headroom stop; an exchange's promotion follows demotions that made its room, so only an -ENOMEM there stops
 * all of them. */
static void promote_refused(struct placement *p, const struct policy_move *m) {
        if (m->to_node >= 0 && m->to_node < NODE_SET_MAX)
                node_set_add(&p->full_nodes, (unsigned) m->to_node);
        if (m->reason == POLICY_REASON_ONE_FOR_ONE)
                p->stop_promotions = true;
        else
                p->stop_headroom_promotions = true;
        log_debug("Node %d has no free page for a promotion (%s): %s this round", m->to_node,
                  policy_reason_to_string(m->reason),
                  p->stop_promotions ? "no more promotions" : "exchanges only");
}

void placement_take_full_nodes(struct placement *p, struct node_set *ret) {
        *ret = p->full_nodes;
        p->full_nodes = (struct node_set) {};
}

/* The batch starting at p->next: consecutive moves of the same pid, direction and destination, at most
 * batch_bytes (at least one move). Returns the number of moves and their bytes. */
static size_t batch_end(const struct placement *p, uint64_t *ret_bytes) {
        const struct policy_move *first = &p->plan.moves[p->next];
        uint64_t bytes = first->size_bytes, max_bytes = p->settings.batch_bytes;
        size_t i = p->next + 1;

        if (p->pace_bytes > 0)
                max_bytes = MIN(max_bytes, p->pace_bytes);
        for (; i < p->plan.n_moves; i++) {
                const struct policy_move *m = &p->plan.moves[i];

                if (m->pid != first->pid || m->to_node != first->to_node || m->direction != first->direction ||
                    bytes + m->size_bytes > max_bytes)
                        break;
                bytes += m->size_bytes;
        }
        *ret_bytes = bytes;
        return i - p->next;
}

static void count_failure(struct placement_direction_stats *st, int error, uint64_t pages) {
        int e = error < 0 ? -error : error;

        if (e >= PLACEMENT_ERRNO_MAX)
                e = PLACEMENT_ERRNO_MAX - 1;
        st->failures[e]++;
        st->failed_pages += pages;
}

const char *placement_errno_name(int error, char *buf, size_t size) {
        const char *name = error > 0 ? strerrorname_np(error) : NULL;

        if (name)
                return name;
        snprintf(buf, size, "E%d", error);
        return buf;
}

/* A hot unit promoted into the fastest tier, or a cold one demoted into the slowest, is where the policy wants it
 * until its heat turns: the next walks need not locate it (heat.h, "Settled units"). The plan says which moves
 * those are (an eager promotion is not one), and an over-budget demotion may take any class, so heat_store_settle()
 * checks the unit's trend itself. */
static void settle_moved(struct placement *p, struct heat_store *heat, const struct policy_move *m) {
        if (!m->settles)
                return;
        if (m->direction == POLICY_PROMOTE && m->to_tier == 0)
                (void) heat_store_settle(heat, m->pid, m->addr, HEAT_SETTLE_FASTEST);
        else if (m->direction == POLICY_DEMOTE && p->plan.summary.n_tiers > 0 &&
                 (size_t) m->to_tier + 1 == p->plan.summary.n_tiers)
                (void) heat_store_settle(heat, m->pid, m->addr, HEAT_SETTLE_SLOWEST);
}

/* How many moves ahead of the one being noted the heat store is asked to fetch what noting touches
 * (heat_store_prefetch_unit()): far enough for a cache miss to be over by then, near enough for the lines to
 * still be in the cache. */
#define NOTE_AHEAD 8

/* Carries out one batch [p->next, p->next + n). Returns 0 or -ENOMEM. */
static int batch_execute(struct placement *p, struct heat_store *heat, size_t n, uint64_t bytes) {
        const struct policy_move *moves = &p->plan.moves[p->next];
        enum policy_direction dir = moves[0].direction;
        struct placement_direction_stats *st = &p->stats.dir[dir];
        _cleanup_free_ void **addrs = NULL;
        _cleanup_free_ int *status = NULL;
        struct migrate_result result = {};
        uint64_t moved_bytes = 0;
        long r;

        addrs = malloc(n * sizeof(void *));
        status = malloc(n * sizeof(int));
        if (!addrs || !status)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                addrs[i] = (void *) (uintptr_t) moves[i].addr;

        r = migrate_move_pages(moves[0].pid, addrs, n, moves[0].to_node, n, p->plan.move_flags, status, &result);
        st->calls++;
        st->time_us += result.time_us;
        /* A call should take a slice at most: the next call is cut to what this one's pace fits into it (not
         * below PLACEMENT_PACE_MIN_BYTES: a call has a fixed cost, 10 ms under TCG, and calls of a page or two
         * would move next to nothing), and one under half a slice lets the calls grow back. */
        if (result.time_us > PLACEMENT_SLICE_US)
                p->pace_bytes = MAX((bytes * PLACEMENT_SLICE_US / result.time_us) & ~(HEAT_PAGE_SIZE - 1),
                                    PLACEMENT_PACE_MIN_BYTES);
        else if (result.time_us < PLACEMENT_SLICE_US / 2 && p->pace_bytes > 0 && bytes >= p->pace_bytes)
                p->pace_bytes = p->pace_bytes >= p->settings.batch_bytes / 2 ? 0 : p->pace_bytes * 2;
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        count_failure(st, (int) r, moves[i].size_bytes / HEAT_PAGE_SIZE);
                ratelimit_refund(&p->limit[dir], bytes);
                switch (r) {
                case -ENOMEM:
                        if (dir == POLICY_PROMOTE)
                                promote_refused(p, &moves[0]);
                        return 0;
                case -ESRCH:
                        return pid_skip(p, moves[0].pid);
                case -EACCES: {
                        char key[64];

                        snprintf(key, sizeof(key), "place-eacces-%d", (int) moves[0].pid);
                        log_repeat_errno(LOG_WARNING, key, (int) r,
                                         "Cannot move pages of pid %d to node %d: %m (its cpuset excludes the "
                                         "node?), skipping it",
                                         (int) moves[0].pid, moves[0].to_node);
                        return pid_skip(p, moves[0].pid);
                }
                default: {
                        char key[64];

                        snprintf(key, sizeof(key), "place-fail-%d", (int) moves[0].pid);
                        log_repeat_errno(LOG_WARNING, key, (int) r, "Cannot move pages of pid %d to node %d: %m",
                                         (int) moves[0].pid, moves[0].to_node);
                        return pid_skip(p, moves[0].pid);
                }
                }
        }

        if (heat)
                for (size_t i = 0; i < MIN(n, (size_t) NOTE_AHEAD); i++)
                        heat_store_prefetch_unit(heat, moves[i].pid, moves[i].addr);
        for (size_t i = 0; i < n; i++) {
                const struct policy_move *m = &moves[i];
                uint64_t pages = m->size_bytes / HEAT_PAGE_SIZE;

                if (heat && i + NOTE_AHEAD < n)
                        heat_store_prefetch_unit(heat, moves[i + NOTE_AHEAD].pid, moves[i + NOTE_AHEAD].addr);
                if (status[i] != m->to_node) {
                        count_failure(st, status[i] < 0 ? status[i] : EAGAIN, pages);
                        if (status[i] == -ENOMEM && dir == POLICY_PROMOTE)
                                promote_refused(p, m);
                        continue;
                }
                moved_bytes += m->size_bytes;
                st->bytes += m->size_bytes;
                st->pages += pages;
                st->units++;
                if (!heat)
                        continue;
                int k = heat_store_note_move(heat, m->pid, m->addr, m->from_node, m->to_node, p->plan.round);
                if (k > 0)
                        st->pingpongs++;
                else if (k == -ENOSPC) {
                        p->stats.heat_full++;
                        log_repeat_errno(LOG_NOTICE, "place-heat-full", k,
                                         "This round's moves alone filled the move table: no more moves this round");
                        p->next += n;
                        ratelimit_refund(&p->limit[dir], bytes - moved_bytes);
                        /* Counted as dropped from here on. */
                        plan_drop(p);
                        return 0;
                } else if (k < 0)
                        log_debug_errno(k, "Cannot note a move of pid %d at 0x%" PRIx64 ": %m", (int) m->pid,
                                        m->addr);
                settle_moved(p, heat, m);
                k = payoff_ledger_note(p->payoff, heat, p->grains, m, p->plan.round, false);
                if (k < 0)
                        log_debug_errno(k, "Cannot note a move in the payoff ledger: %m, ignoring");
        }
        ratelimit_refund(&p->limit[dir], bytes - moved_bytes);
        return 0;
}

int placement_run(struct placement *p, struct heat_store *heat, uint64_t now_us, uint64_t *ret_wait_us) {
        uint64_t start = clock_us();

        *ret_wait_us = 0;
        while (p->active && p->next < p->plan.n_moves) {
                const struct policy_move *m = &p->plan.moves[p->next];
                enum policy_direction dir = m->direction;
                uint64_t bytes;
                size_t n;
                int r;

                if (move_excluded(p, m)) {
                        p->stats.dir[dir].dropped_bytes += m->size_bytes;
                        p->next++;
                        continue;
                }

                n = batch_end(p, &bytes);

                if (p->settings.dry_run) {
                        p->stats.dir[dir].would_bytes += bytes;
                        p->stats.dir[dir].would_pages += bytes / HEAT_PAGE_SIZE;
                        log_debug("Dry run: would %s %zu units (%" PRIu64 " KiB) of pid %d from node %d to node %d",
                                  dir == POLICY_PROMOTE ? "promote" : "demote", n, bytes >> 10, (int) m->pid,
                                  m->from_node, m->to_node);
                        p->next += n;
                        continue;
                }

                if (clock_us() - start >= PLACEMENT_SLICE_US / 2)
                        return 1; /* the loop gets a turn; *ret_wait_us is 0 */

                if (!ratelimit_take(&p->limit[dir], now_us, bytes)) {
                        uint64_t wait = ratelimit_time_until(&p->limit[dir], now_us, bytes);

                        p->stats.dir[dir].rate_waits++;
                        if (wait == RATELIMIT_NEVER) {
                                /* Only the next round can help; nothing after this move may run before it. */
                                plan_drop(p);
                                return 0;
                        }
                        *ret_wait_us = MAX(wait, (uint64_t) 1);
                        return 1;
                }

                r = batch_execute(p, heat, n, bytes);
                if (r < 0) {
                        plan_drop(p);
                        return r;
                }
                if (!p->active)
                        return 0;
                p->next += n;
        }
        if (p->active)
                plan_drop(p);
        return 0;
}

int placement_locate(pid_t pid, void **addrs, size_t n, int *nodes, void *userdata) {
        return migrate_query_nodes(pid, addrs, n, nodes);
}
