/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <numaif.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "policy.h"

/* See policy.h for the rules and the order of the plan; this file implements them. */

static const char *const direction_names[_POLICY_DIRECTION_MAX] = {
        [POLICY_PROMOTE] = "promote",
        [POLICY_DEMOTE] = "demote",
};

static const char *const reason_names[_POLICY_REASON_MAX] = {
        [POLICY_REASON_HOT_ON_SLOW] = "hot-on-slow",
        [POLICY_REASON_ONE_FOR_ONE] = "one-for-one",
        [POLICY_REASON_COLD_ON_FAST] = "cold-on-fast",
        [POLICY_REASON_HEADROOM] = "headroom",
        [POLICY_REASON_OVER_BUDGET] = "over-budget",
        [POLICY_REASON_FILL] = "fill",
};

static const char *const skip_names[_POLICY_SKIP_MAX] = {
        [POLICY_SKIP_LAZYFREE] = "lazyfree",
        [POLICY_SKIP_FLAGGED] = "skip",
        [POLICY_SKIP_RESIDENCY] = "residency",
        [POLICY_SKIP_NOT_PRESENT] = "not-present",
        [POLICY_SKIP_UNMANAGED] = "unmanaged-node",
        [POLICY_SKIP_FAST_MAX] = "fast-max",
        [POLICY_SKIP_NO_ROOM] = "no-room",
};

static const char *const exchange_names[_POLICY_EXCHANGE_MAX] = {
        [POLICY_EXCHANGE_NORMAL] = "normal",
        [POLICY_EXCHANGE_EAGER] = "eager",
        [POLICY_EXCHANGE_PROBING] = "probing",
};

const char *policy_direction_to_string(enum policy_direction d) {
        return (unsigned) d < _POLICY_DIRECTION_MAX ? direction_names[d] : NULL;
}

const char *policy_reason_to_string(enum policy_reason r) {
        return (unsigned) r < _POLICY_REASON_MAX ? reason_names[r] : NULL;
}

const char *policy_skip_to_string(enum policy_skip s) {
        return (unsigned) s < _POLICY_SKIP_MAX ? skip_names[s] : NULL;
}

const char *policy_exchange_to_string(enum policy_exchange e) {
        return (unsigned) e < _POLICY_EXCHANGE_MAX ? exchange_names[e] : NULL;
}

/* Heat keys
 * =========
 *
 * One number orders units from coldest to hottest: units not hit in the last round by idle age (31 rounds idle is
 * key 0, 1 round is key 30), then units hit in the last round by streak and hits (key 32 + streak x 16 + hits).
 * Cold units (idle age >= cold_rounds) all sort below warm and hot ones, and hot units (streak >= promote_rounds,
 * so idle age 0) order by streak, then hits. Key 31 is unused. */
#define KEY_IDLE_LEVELS (HEAT_IDLE_MAX + 1)
#define KEY_LEVELS (KEY_IDLE_LEVELS + (HEAT_STREAK_MAX + 1) * (HEAT_HITS_MAX + 1))

static unsigned unit_key(uint16_t e) {
        unsigned idle = heat_entry_idle_rounds(e);

        if (idle > 0)
                return HEAT_IDLE_MAX - idle;
        return KEY_IDLE_LEVELS + heat_entry_streak(e) * (HEAT_HITS_MAX + 1) + heat_entry_hits(e);
}

static uint64_t entry_size(uint16_t e) {
        return (e & HEAT_F_THP) ? HEAT_THP_SIZE : HEAT_PAGE_SIZE;
}

/* Candidate sets
 * ==============
 *
 * A bounded "best so far" over units, in buckets by heat key. A set keeps at least its byte budget of the best
 * units seen (and never more than that plus one unit, nor more than cap_units): once it holds its budget, a unit
 * gets in only if it is strictly better than the worst bucket, and then the last unit of the worst bucket goes.
 * Within a bucket, units stay in the order they came, which is the walk's (pid, address) order: the first come
 * are kept and taken first. */
/* 16 bytes: the sets of a round hold some (promote + demote budget) / 4 KiB of them at their fullest, and user
 * addresses stay below 2^57, so the page number fits 45 bits. */
struct cand {
        uint64_t page : 48; /* address >> HEAT_PAGE_SHIFT */
        uint64_t entry : 16;
        pid_t pid;
        int16_t node;     /* index into topology.nodes */
        int16_t workload; /* index into policy_params.workloads, -1: none */
};
_Static_assert(sizeof(struct cand) == 16, "a candidate set's memory is counted in 16-byte candidates");

static uint64_t cand_addr(const struct cand *c) {
        return (uint64_t) c->page << HEAT_PAGE_SHIFT;
}

struct cand_vec {
        struct cand *v;
        size_t n, n_allocated;
};

static int vec_push(struct cand_vec *v, const struct cand *c) {
        if (v->n == v->n_allocated) {
                size_t a = MAX(v->n_allocated * 2, (size_t) 16);
                struct cand *n = reallocarray(v->v, a, sizeof(struct cand));

                if (!n)
                        return -ENOMEM;
                v->v = n;
                v->n_allocated = a;
        }
        v->v[v->n++] = *c;
        return 0;
}

struct cand_set {
        struct cand_vec *levels; /* KEY_LEVELS, allocated on the first insert */
        bool hottest_first;
        uint64_t cap_bytes, cap_units;
        uint64_t bytes, units;
        int worst; /* key of the worst non-empty bucket, -1 when empty */
        int cur_level; /* consumption cursor */
        size_t cur_idx;
};

struct cand_cursor {
        int level;
        size_t idx;
};

static uint64_t cand_size(const struct cand *c) {
        return entry_size(c->entry);
}

static void set_init(struct cand_set *s, bool hottest_first, uint64_t cap_bytes) {
        *s = (struct cand_set) {
                .hottest_first = hottest_first,
                .cap_bytes = cap_bytes,
                .cap_units = POLICY_SET_UNITS_MAX,
                .worst = -1,
                .cur_level = hottest_first ? KEY_LEVELS - 1 : 0,
        };
}

static void set_done(struct cand_set *s) {
        if (s->levels)
                for (unsigned k = 0; k < KEY_LEVELS; k++)
                        free(s->levels[k].v);
        free(s->levels);
        *s = (struct cand_set) {};
}

/* Empties the set, keeping its allocations. */
static void set_clear(struct cand_set *s) {
        if (s->levels)
                for (unsigned k = 0; k < KEY_LEVELS; k++)
                        s->levels[k].n = 0;
        s->bytes = s->units = 0;
        s->worst = -1;
        s->cur_level = s->hottest_first ? KEY_LEVELS - 1 : 0;
        s->cur_idx = 0;
}

static bool set_better(const struct cand_set *s, unsigned a, unsigned b) {
        return s->hottest_first ? a > b : a < b;
}

static bool set_full(const struct cand_set *s) {
        return s->bytes >= s->cap_bytes || s->units >= s->cap_units;
}

static bool set_wants(const struct cand_set *s, unsigned key) {
        if (s->cap_bytes == 0)
                return false;
        if (!set_full(s))
                return true;
        return set_better(s, key, (unsigned) s->worst);
}

/* The worst non-empty bucket at or better than from. */
static int set_find_worst(const struct cand_set *s, int from) {
        for (int k = from; k >= 0 && k < KEY_LEVELS; k += s->hottest_first ? 1 : -1)
                if (s->levels[k].n > 0)
                        return k;
        return -1;
}

static int set_insert(struct cand_set *s, unsigned key, const struct cand *c) {
        int r;

        if (!s->levels) {
                s->levels = calloc(KEY_LEVELS, sizeof(struct cand_vec));
                if (!s->levels)
                        return -ENOMEM;
        }
        r = vec_push(&s->levels[key], c);
        if (r < 0)
                return r;
        s->bytes += cand_size(c);
        s->units++;
        if (s->worst < 0 || set_better(s, (unsigned) s->worst, key))
                s->worst = (int) key;

        /* Drop from the worst bucket what the set can do without and still hold its budget. */
        while (s->worst >= 0) {
                struct cand_vec *w = &s->levels[s->worst];
                uint64_t size = cand_size(&w->v[w->n - 1]);

                if (s->bytes - size < s->cap_bytes && s->units - 1 < s->cap_units)
                        break;
                w->n--;
                s->bytes -= size;
                s->units--;
                if (w->n == 0) {
                        /* Better units pushed the bucket out: its storage goes too, or a set that narrowed through
                         * many buckets would hold several times its budget (at 1 TiB, 13 MiB for a 4 MiB set). */
                        free(w->v);
                        *w = (struct cand_vec) {};
                        s->worst = set_find_worst(s, s->worst);
                } else if (w->n_allocated >= 1024 && w->n < w->n_allocated / 4) {
                        struct cand *v = reallocarray(w->v, w->n_allocated / 2, sizeof(struct cand));

                        if (v) { /* else it keeps the larger array, which is no error */
                                w->v = v;
                                w->n_allocated /= 2;
                        }
                }
        }
        return 0;
}

/* The next unit in priority order (coldest or hottest first), or NULL. */
static const struct cand *set_next(struct cand_set *s) {
        if (!s->levels)
                return NULL;
        while (s->cur_level >= 0 && s->cur_level < KEY_LEVELS) {
                struct cand_vec *l = &s->levels[s->cur_level];

                if (s->cur_idx < l->n)
                        return &l->v[s->cur_idx++];
                s->cur_idx = 0;
                s->cur_level += s->hottest_first ? -1 : 1;
        }
        return NULL;
}

static struct cand_cursor set_cursor(const struct cand_set *s) {
        return (struct cand_cursor) { s->cur_level, s->cur_idx };
}

static void set_seek(struct cand_set *s, struct cand_cursor c) {
        s->cur_level = c.level;
        s->cur_idx = c.idx;
}

/* The plan under construction */

struct pid_workload {
        pid_t pid;
        int16_t workload;
        bool walked;
};

struct workload_state {
        bool budgeted;
        struct cand_set fast; /* its units on tier 0, coldest first (budgeted workloads only) */
        uint64_t fast_bytes, planned_fast_bytes;
        bool over;
};

struct unit_key_ref {
        pid_t pid;
        uint64_t addr;
};

enum plan_phase {
        PLAN_WORKLOADS, /* walks of the budgeted workloads' units */
        PLAN_MAIN,      /* the walk for hot, cold and skipped units */
        PLAN_WARM,      /* step 5's walk for displaceable warm units */
        PLAN_FILL,      /* step 6's walk for warm units to fill free room with */
        PLAN_DONE,
};

struct plan_ctx {
        struct heat_store *heat; /* written only to mark units settled (heat.h) */
        const struct topology *topo;
        const struct policy_params *p;
        policy_locate_fn locate;
        void *userdata;

        size_t n_tiers;
        int16_t *node_index; /* NODE_SET_MAX: node id -> index into topo->nodes, -1 */
        uint64_t *node_free, *node_reserve, *node_free_saved;
        uint64_t tier_free[TIERD_MAX_TIERS], tier_min[TIERD_MAX_TIERS], tier_target[TIERD_MAX_TIERS];
        uint64_t promote_left, demote_left;

        struct cand_set cold[TIERD_MAX_TIERS]; /* cold units on tier t, t < n_tiers - 1 */
        struct cand_set warm[TIERD_MAX_TIERS]; /* displaceable warm units on tier t (second walk, see below) */
        struct cand_vec waiting[TIERD_MAX_TIERS]; /* hot units of tier t no room was found for, hottest first */
        bool warm_walk; /* the walk collects warm units into warm[] */
        struct cand_set fill[TIERD_MAX_TIERS]; /* warm units on tier t, t > 0, for room above tier t - 1's target */
        bool fill_walk; /* the walk collects warm units into fill[] */
        struct cand_set hot[TIERD_MAX_TIERS];  /* hot units on tier t, t > 0 */
        struct cand_set wl_hot[TIERD_MAX_TIERS]; /* hot units of the budgeted workload being walked */

        struct workload_state *wl;
        uint64_t *wl_saved;
        struct pid_workload *pid_map; /* ascending pid */
        size_t n_pid_map;
        pid_t cache_pid;
        int cache_wl;

        /* Probing workloads' exchanges (policy_plan.shadow) are planned against free memory and budgets of their
         * own: as if every earlier shadow exchange had happened, and none of the real moves after them. */
        struct free_state *shadow_state, *real_state; /* NULL until the first shadow exchange */

        struct unit_key_ref *planned; /* demoted for budgets: sorted, so headroom and exchanges skip them */
        size_t n_planned, n_planned_allocated;

        struct policy_plan plan;
        size_t moves_allocated;

        /* The walk */
        int walk_wl; /* the budgeted workload being walked, -1: the global walk */
        pid_t batch_pid;
        size_t batch_n;
        void *addrs[POLICY_LOCATE_BATCH];
        uint16_t entries[POLICY_LOCATE_BATCH];
        int nodes[POLICY_LOCATE_BATCH];

        /* The global walk's filter (heat_store_foreach_unit_filtered()): the least heat a candidate set would
         * still take. Sets only narrow as they fill, so a filter refreshed at each batch is never too narrow;
         * worth_locating() still decides for each unit that passes it. */
        bool filtering;
        struct heat_walk_filter filter;

        bool eager; /* eager units are candidates: eager_hits is set and some faster tier has room above its target */

        /* Spread over steps (policy_planner_step()): where the plan is, and where its walk goes on. */
        enum plan_phase phase;
        size_t phase_wl, phase_pid; /* PLAN_WORKLOADS: the workload and the index of the pid being walked */
        bool walking;               /* a walk of the phase is under way at cursor */
        struct heat_walk_cursor cursor;
        struct heat_class_params walk_class;
        uint64_t step_located_max; /* this step pauses once it located this many units */
        uint64_t step_located, step_walked, step_locate_calls;
        bool handed_out; /* the plan went to the caller (or a step failed): the planner is only to be freed */
};

static void skip_count(struct plan_ctx *c, enum policy_skip why, uint64_t size) {
        c->plan.summary.skipped_units[why]++;
        c->plan.summary.skipped_bytes[why] += size;
}

static int pid_workload_cmp(const void *a, const void *b) {
        const struct pid_workload *x = a, *y = b;

        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return x->workload < y->workload ? -1 : x->workload > y->workload;
}

static struct pid_workload *pid_map_find(const struct plan_ctx *c, pid_t pid) {
        size_t lo = 0, hi = c->n_pid_map;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (c->pid_map[mid].pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < c->n_pid_map && c->pid_map[lo].pid == pid ? &c->pid_map[lo] : NULL;
}

/* The workload pid belongs to, or -1. Called per unit: units come in pid order, so one lookup per pid. */
static int workload_of(struct plan_ctx *c, pid_t pid) {
        const struct pid_workload *m;

        if (pid == c->cache_pid)
                return c->cache_wl;
        m = pid_map_find(c, pid);
        c->cache_pid = pid;
        c->cache_wl = m ? m->workload : -1;
        return c->cache_wl;
}

static int unit_key_ref_cmp(const void *a, const void *b) {
        const struct unit_key_ref *x = a, *y = b;

        if (x->pid != y->pid)
                return x->pid < y->pid ? -1 : 1;
        return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool planned_already(const struct plan_ctx *c, const struct cand *cd) {
        struct unit_key_ref k = { cd->pid, cand_addr(cd) };

        return c->n_planned > 0 &&
                bsearch(&k, c->planned, c->n_planned, sizeof(k), unit_key_ref_cmp) != NULL;
}

/* The tier of topology node idx, or -1 when it is in none the plan can use (an id past NODE_SET_MAX cannot be a
 * move_pages() target either). */
static int node_tier(const struct plan_ctx *c, int idx) {
        const struct topology_node *n = &c->topo->nodes[idx];

        if (n->id < 0 || n->id >= NODE_SET_MAX)
                return -1;
        return n->tier >= 0 && (size_t) n->tier < c->n_tiers ? n->tier : -1;
}

/* Capacity */

static uint64_t node_room(const struct plan_ctx *c, size_t idx) {
        return c->node_free[idx] > c->node_reserve[idx] ? c->node_free[idx] - c->node_reserve[idx] : 0;
}

/* The node of tier t that takes size bytes with the most room left, or -1 when the tier (or every node of it)
 * would go below its minimum. */
static int pick_node(const struct plan_ctx *c, size_t t, uint64_t size) {
        uint64_t best_room = 0;
        int best = -1;

        if (c->tier_free[t] < size || c->tier_free[t] - size < c->tier_min[t])
                return -1;
        for (size_t i = 0; i < c->topo->n_nodes; i++) {
                uint64_t room;

                if (node_tier(c, (int) i) != (int) t)
                        continue;
                room = node_room(c, i);
                if (room >= size && (best < 0 || room > best_room)) {
                        best = (int) i;
                        best_room = room;
                }
        }
        return best;
}

static int plan_add(struct plan_ctx *c, const struct cand *cd, int to_idx, enum policy_direction dir,
                    enum policy_reason reason, bool source_released) {
        struct policy_summary *sum = &c->plan.summary;
        uint64_t size = cand_size(cd);
        int from_tier = node_tier(c, cd->node), to_tier = node_tier(c, to_idx);
        uint64_t *left = dir == POLICY_PROMOTE ? &c->promote_left : &c->demote_left;

        if (c->plan.n_moves == c->moves_allocated) {
                size_t a = MAX(c->moves_allocated * 2, (size_t) 64);
                struct policy_move *m = reallocarray(c->plan.moves, a, sizeof(struct policy_move));

                if (!m)
                        return -ENOMEM;
                c->plan.moves = m;
                c->moves_allocated = a;
        }
        c->plan.moves[c->plan.n_moves++] = (struct policy_move) {
                .pid = cd->pid,
                .addr = cand_addr(cd),
                .size_bytes = size,
                .from_node = c->topo->nodes[cd->node].id,
                .to_node = c->topo->nodes[to_idx].id,
                .from_tier = from_tier,
                .to_tier = to_tier,
                .direction = dir,
                .reason = reason,
                .workload = cd->workload,
                .entry = cd->entry,
                /* An eager unit on the fast tier must stay in view until its streak says it is hot. */
                .settles = dir == POLICY_DEMOTE || heat_entry_streak(cd->entry) >= c->p->class.promote_rounds,
        };

        if (!source_released) {
                c->node_free[cd->node] += size;
                c->tier_free[from_tier] += size;
        }
        c->node_free[to_idx] -= size;
        c->tier_free[to_tier] -= size;
        if (*left != UINT64_MAX)
                *left -= size;
        if (cd->workload >= 0 && c->wl[cd->workload].budgeted) {
                struct workload_state *w = &c->wl[cd->workload];

                if (from_tier == 0)
                        w->planned_fast_bytes -= MIN(size, w->planned_fast_bytes);
                if (to_tier == 0)
                        w->planned_fast_bytes += size;
        }

        sum->moves[dir]++;
        sum->bytes[dir] += size;
        sum->reason_moves[reason]++;
        sum->reason_bytes[reason] += size;
        return 0;
}

/* Plans demoting cd to the next slower tier (with tier_skip: the next slower one with room). Returns 1 when
 * planned, 0 when there is no room below or no budget, or a negative errno. */
static int try_demote(struct plan_ctx *c, const struct cand *cd, enum policy_reason reason) {
        uint64_t size = cand_size(cd);
        int t = node_tier(c, cd->node);

        if (t < 0 || size > c->demote_left)
                return 0;
        for (size_t to = (size_t) t + 1; to < c->n_tiers; to++) {
                int idx = pick_node(c, to, size);

                if (idx >= 0) {
                        int r = plan_add(c, cd, idx, POLICY_DEMOTE, reason, false);

                        return r < 0 ? r : 1;
                }
                if (!c->p->tier_skip)
                        break;
        }
        return 0;
}

/* The next cold unit of tier t not already planned. */
static const struct cand *next_cold(struct plan_ctx *c, size_t t) {
        const struct cand *cd;

        while ((cd = set_next(&c->cold[t])))
                if (t != 0 || !planned_already(c, cd))
                        return cd;
        return NULL;
}

/* What an exchange may displace from tier t: cold units, then, once the warm walk has run, warm ones. */
static const struct cand *next_victim(struct plan_ctx *c, size_t t) {
        const struct cand *cd = next_cold(c, t);

        if (cd || !c->warm_walk)
                return cd;
        while ((cd = set_next(&c->warm[t])))
                if (t != 0 || !planned_already(c, cd))
                        return cd;
        return NULL;
}

/* Step 1 and 3: cold units of tier t, coldest first, until the tier's free bytes reach its target. */
static int plan_headroom(struct plan_ctx *c, size_t t) {
        const struct cand *cd;
        int r;

        while (c->tier_free[t] < c->tier_target[t] && c->demote_left >= HEAT_PAGE_SIZE) {
                cd = next_cold(c, t);
                if (!cd)
                        break;
                if (cand_size(cd) > c->demote_left)
                        continue; /* a THP that no longer fits the budget; a page after it may */
                r = try_demote(c, cd, POLICY_REASON_HEADROOM);
                if (r < 0)
                        return r;
                if (r == 0)
                        break; /* no room below */
        }
        return 0;
}

static int planned_push(struct plan_ctx *c, const struct cand *cd) {
        if (c->n_planned == c->n_planned_allocated) {
                size_t a = MAX(c->n_planned_allocated * 2, (size_t) 64);
                struct unit_key_ref *v = reallocarray(c->planned, a, sizeof(struct unit_key_ref));

                if (!v)
                        return -ENOMEM;
                c->planned = v;
                c->n_planned_allocated = a;
        }
        c->planned[c->n_planned++] = (struct unit_key_ref) { cd->pid, cand_addr(cd) };
        return 0;
}

/* Step 2: workloads over their fast_max, in the order given. */
static int plan_budgets(struct plan_ctx *c) {
        int r;

        for (size_t w = 0; w < c->p->n_workloads; w++) {
                struct workload_state *ws = &c->wl[w];
                uint64_t fast_max = c->p->workloads[w].fast_max_bytes;
                const struct cand *cd;

                if (!ws->budgeted || ws->fast_bytes <= fast_max)
                        continue;
                ws->over = true;
                while (ws->planned_fast_bytes > fast_max && c->demote_left >= HEAT_PAGE_SIZE) {
                        cd = set_next(&ws->fast);
                        if (!cd)
                                break;
                        if (cand_size(cd) > c->demote_left)
                                continue;
                        r = try_demote(c, cd, POLICY_REASON_OVER_BUDGET);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                break;
                        r = planned_push(c, cd);
                        if (r < 0)
                                return r;
                }
        }
        if (c->n_planned > 1)
                qsort(c->planned, c->n_planned, sizeof(struct unit_key_ref), unit_key_ref_cmp);
        return 0;
}

/* Is a promotion of cd into tier 0 barred by its workload's budget? */
static bool fast_max_blocks(const struct plan_ctx *c, const struct cand *cd) {
        const struct workload_state *w;

        if (cd->workload < 0 || !c->wl[cd->workload].budgeted)
                return false;
        w = &c->wl[cd->workload];
        return w->over || w->planned_fast_bytes + cand_size(cd) > c->p->workloads[cd->workload].fast_max_bytes;
}

/* What an exchange changes, so that one that cannot complete leaves no trace. */
struct plan_snapshot {
        uint64_t tier_free[TIERD_MAX_TIERS];
        uint64_t promote_left, demote_left;
        size_t n_moves;
        struct policy_summary summary;
        struct cand_cursor cold_cursor, warm_cursor;
};

static void snapshot_take(struct plan_ctx *c, size_t t, struct plan_snapshot *s) {
        memcpy(s->tier_free, c->tier_free, sizeof(s->tier_free));
        s->promote_left = c->promote_left;
        s->demote_left = c->demote_left;
        s->n_moves = c->plan.n_moves;
        s->summary = c->plan.summary;
        s->cold_cursor = set_cursor(&c->cold[t]);
        s->warm_cursor = set_cursor(&c->warm[t]);
        memcpy(c->node_free_saved, c->node_free, c->topo->n_nodes * sizeof(uint64_t));
        for (size_t w = 0; w < c->p->n_workloads; w++)
                c->wl_saved[w] = c->wl[w].planned_fast_bytes;
}

static void snapshot_restore(struct plan_ctx *c, size_t t, const struct plan_snapshot *s) {
        memcpy(c->tier_free, s->tier_free, sizeof(s->tier_free));
        c->promote_left = s->promote_left;
        c->demote_left = s->demote_left;
        c->plan.n_moves = s->n_moves;
        c->plan.summary = s->summary;
        set_seek(&c->cold[t], s->cold_cursor);
        set_seek(&c->warm[t], s->warm_cursor);
        memcpy(c->node_free, c->node_free_saved, c->topo->n_nodes * sizeof(uint64_t));
        for (size_t w = 0; w < c->p->n_workloads; w++)
                c->wl[w].planned_fast_bytes = c->wl_saved[w];
}

/* The exchange level of cd's workload. */
static enum policy_exchange exchange_level(const struct plan_ctx *c, const struct cand *cd) {
        return cd->workload >= 0 ? c->p->workloads[cd->workload].exchange : c->p->exchange;
}

/* What a shadow exchange plans against: the free memory of every node and tier, and the round's budgets. */
struct free_state {
        uint64_t tier_free[TIERD_MAX_TIERS];
        uint64_t promote_left, demote_left;
        uint64_t node_free[]; /* topo->n_nodes */
};

static void free_state_save(const struct plan_ctx *c, struct free_state *s) {
        memcpy(s->tier_free, c->tier_free, sizeof(s->tier_free));
        s->promote_left = c->promote_left;
        s->demote_left = c->demote_left;
        memcpy(s->node_free, c->node_free, c->topo->n_nodes * sizeof(uint64_t));
}

static void free_state_load(struct plan_ctx *c, const struct free_state *s) {
        memcpy(c->tier_free, s->tier_free, sizeof(s->tier_free));
        c->promote_left = s->promote_left;
        c->demote_left = s->demote_left;
        memcpy(c->node_free, s->node_free, c->topo->n_nodes * sizeof(uint64_t));
}

/* Before a probing workload's exchange: the plan's state aside, the shadow state in (the plan's as it is, at the
 * first one). Returns 0 or -ENOMEM. */
static int shadow_enter(struct plan_ctx *c) {
        size_t size = sizeof(struct free_state) + c->topo->n_nodes * sizeof(uint64_t);

        if (!c->shadow_state) {
                c->shadow_state = malloc(size);
                c->real_state = malloc(size);
                if (!c->shadow_state || !c->real_state)
                        return -ENOMEM;
                free_state_save(c, c->shadow_state);
        }
        free_state_save(c, c->real_state);
        free_state_load(c, c->shadow_state);
        for (size_t w = 0; w < c->p->n_workloads; w++)
                c->wl_saved[w] = c->wl[w].planned_fast_bytes;
        return 0;
}

/* After it: planned (r == 1), its moves from snap's on go to the shadow list and out of the plan; the shadow
 * state keeps what it did, the plan's state comes back. The victim sets' cursors stay where the exchange left
 * them: the next exchange takes the next victims, as it would have. Returns 2 when planned, r otherwise. */
static int shadow_leave(struct plan_ctx *c, const struct plan_snapshot *snap, int r) {
        struct policy_move *m;
        size_t n;

        free_state_save(c, c->shadow_state);
        free_state_load(c, c->real_state);
        for (size_t w = 0; w < c->p->n_workloads; w++)
                c->wl[w].planned_fast_bytes = c->wl_saved[w];
        if (r != 1)
                return r;
        n = c->plan.n_moves - snap->n_moves;
        m = reallocarray(c->plan.shadow, c->plan.n_shadow + n, sizeof(struct policy_move));
        if (!m)
                return -ENOMEM;
        c->plan.shadow = m;
        memcpy(m + c->plan.n_shadow, c->plan.moves + snap->n_moves, n * sizeof(struct policy_move));
        c->plan.n_moves = snap->n_moves;
        c->plan.summary = snap->summary;
        for (size_t i = c->plan.n_shadow; i < c->plan.n_shadow + n; i++) {
                c->plan.summary.shadow_moves[m[i].direction]++;
                c->plan.summary.shadow_bytes[m[i].direction] += m[i].size_bytes;
        }
        c->plan.n_shadow += n;
        return 2;
}

/* One for one: demote cold units of tier t (after the warm walk also warm ones), coldest first, until the hot unit hot (on tier t + 1) fits into tier t,
 * then promote it. The hot unit's bytes leave its node first, so the demotions may land in that room. snap gets
 * the plan as it was before. Returns 1 when planned, 0 when it cannot complete (and nothing was planned), or a
 * negative errno. */
static int plan_exchange_one(struct plan_ctx *c, const struct cand *hot, size_t t, struct plan_snapshot *snap) {
        uint64_t size = cand_size(hot);
        const struct cand *cd;
        int idx, r;

        snapshot_take(c, t, snap);
        c->node_free[hot->node] += size;
        c->tier_free[t + 1] += size;
        for (;;) {
                idx = pick_node(c, t, size);
                if (idx >= 0) {
                        r = plan_add(c, hot, idx, POLICY_PROMOTE, POLICY_REASON_ONE_FOR_ONE, true);
                        return r < 0 ? r : 1;
                }
                cd = next_victim(c, t);
                if (!cd)
                        break;
                r = try_demote(c, cd, POLICY_REASON_COLD_ON_FAST);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
        }
        snapshot_restore(c, t, snap);
        return 0;
}

/* plan_exchange_one(), as a shadow when the hot unit's workload is probing. Returns 1 when planned, 2 when
 * planned as a shadow, 0 when it cannot complete, or a negative errno. */
static int plan_exchange(struct plan_ctx *c, const struct cand *hot, size_t t) {
        struct plan_snapshot snap;
        int r;

        if (exchange_level(c, hot) != POLICY_EXCHANGE_PROBING)
                return plan_exchange_one(c, hot, t, &snap);
        r = shadow_enter(c);
        if (r < 0)
                return r;
        r = plan_exchange_one(c, hot, t, &snap);
        return r < 0 ? r : shadow_leave(c, &snap, r);
}

/* Step 4 for source tier s: its hot units, hottest first. */
static int plan_promotions(struct plan_ctx *c, size_t s) {
        uint64_t failed_size = UINT64_MAX;
        const struct cand *cd;
        int r;

        while ((cd = set_next(&c->hot[s]))) {
                uint64_t size = cand_size(cd);
                bool blocked = fast_max_blocks(c, cd), done = false;
                bool eager = heat_entry_streak(cd->entry) < c->p->class.promote_rounds;

                if (size > c->promote_left)
                        continue; /* budget: a smaller unit after it may still fit */
                if (size >= failed_size) {
                        skip_count(c, POLICY_SKIP_NO_ROOM, size);
                        r = vec_push(&c->waiting[s], cd);
                        if (r < 0)
                                return r;
                        continue;
                }

                /* Into headroom: the next faster tier, or with tier_skip the fastest one with room. */
                for (size_t to = c->p->tier_skip ? 0 : s - 1; to < s && !done; to++) {
                        int idx;

                        if (to == 0 && blocked)
                                continue;
                        /* An eager unit takes only room above the target: the headroom is for what is hot. */
                        if (eager && c->tier_free[to] < size + c->tier_target[to])
                                continue;
                        idx = pick_node(c, to, size);
                        if (idx < 0)
                                continue;
                        r = plan_add(c, cd, idx, POLICY_PROMOTE, POLICY_REASON_HOT_ON_SLOW, false);
                        if (r < 0)
                                return r;
                        done = true;
                }
                if (done || eager)
                        continue;

                /* The next faster tier is full: an exchange with its coldest. */
                if (s - 1 == 0 && blocked) {
                        skip_count(c, POLICY_SKIP_FAST_MAX, size);
                        continue;
                }
                r = plan_exchange(c, cd, s - 1);
                if (r < 0)
                        return r;
                if (r == 0) {
                        /* What did not fit now will not fit later in this pass either: the tiers only fill up. */
                        failed_size = size;
                        skip_count(c, POLICY_SKIP_NO_ROOM, size);
                        r = vec_push(&c->waiting[s], cd);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* May cd displace a warm unit on the next faster tier? Normally only when hot for twice as long as it takes to
 * become hot: a unit just past promote_rounds is as likely a page of a busy background that hit the threshold a
 * few rounds running by chance, and trading it for a warm page of the same background is pure churn, both come
 * back (measured on the GUPS hot-set workload with DAMON: 3.5 times the migrations and about 4 ping-pongs per hot
 * page without this). Where the ledger has seen exchanges pay, that wait buys nothing and the level is eager. Nor
 * does it for a unit hot in every round since its process became a target: a background page is that by chance
 * less and less often with each round, a hot set always, and a hot set found at tierd's start (or a new target's)
 * is what first placement is about (the fixed wait cost it two rounds against NUMA balancing's 14 s). */
static bool displaces_warm(const struct plan_ctx *c, const struct cand *cd) {
        unsigned p = c->p->class.promote_rounds, streak = heat_entry_streak(cd->entry);

        if (streak < p)
                return false;
        if (exchange_level(c, cd) == POLICY_EXCHANGE_EAGER ||
            heat_store_target_rounds(c->heat, cd->pid) == (int) streak)
                return true;
        return streak >= MIN(2 * p, (unsigned) HEAT_STREAK_MAX);
}

/* Step 5 for source tier s: the hot units step 4 found no room for, hottest first, exchanged for warm units of
 * tier s - 1 (coldest first) that the second walk found. */
static int plan_warm_exchanges(struct plan_ctx *c, size_t s) {
        uint64_t failed_size = UINT64_MAX;

        for (size_t i = 0; i < c->waiting[s].n; i++) {
                const struct cand *cd = &c->waiting[s].v[i];
                uint64_t size = cand_size(cd);
                int r;

                if (size > c->promote_left || size >= failed_size || !displaces_warm(c, cd))
                        continue;
                r = plan_exchange(c, cd, s - 1);
                if (r < 0)
                        return r;
                if (r == 0) {
                        failed_size = size;
                        continue;
                }
                if (r == 2)
                        continue; /* a shadow: the unit still waits */
                c->plan.summary.skipped_units[POLICY_SKIP_NO_ROOM]--;
                c->plan.summary.skipped_bytes[POLICY_SKIP_NO_ROOM] -= size;
        }
        return 0;
}

/* The walk */

/* A warm unit may be displaced only when it was not at the hot threshold in the last round: one at it is a round
 * away from being hot itself, and would come straight back. */
static bool warm_displaceable(uint16_t e) {
        return heat_entry_streak(e) == 0;
}

/* Hot before its time (policy_params.eager_hits): hit in every pass of the round that started its streak. */
static bool eager_hot(const struct plan_ctx *c, uint16_t e) {
        unsigned streak = heat_entry_streak(e);

        return c->eager && !(e & (HEAT_F_LAZYFREE | HEAT_F_SKIP)) && streak >= 1 &&
                streak < c->p->class.promote_rounds && heat_entry_hits(e) >= c->p->eager_hits;
}

/* A unit's class as the plan treats it: eager units count as hot. */
static enum heat_class plan_class(const struct plan_ctx *c, uint16_t e) {
        enum heat_class cls = heat_entry_class(e, &c->p->class);

        return cls == HEAT_CLASS_WARM && eager_hot(c, e) ? HEAT_CLASS_HOT : cls;
}

/* Step 6 fills room with warm units that were hit in the last round: one merely not idle for cold_rounds yet (a
 * page nobody touched since tierd began to watch it is warm for its first rounds) buys nothing up there. */
static bool fill_wanted(const struct plan_ctx *c, uint16_t e) {
        return plan_class(c, e) == HEAT_CLASS_WARM && heat_entry_hits(e) > 0;
}

static bool worth_locating(struct plan_ctx *c, const struct heat_unit *u) {
        unsigned key = unit_key(u->entry);

        if (c->warm_walk) {
                if (u->class != HEAT_CLASS_WARM || !warm_displaceable(u->entry))
                        return false;
                for (size_t t = 0; t + 1 < c->n_tiers; t++)
                        if (set_wants(&c->warm[t], key))
                                return true;
                return false;
        }
        if (c->fill_walk) {
                if (!fill_wanted(c, u->entry))
                        return false;
                for (size_t t = 1; t < c->n_tiers; t++)
                        if (set_wants(&c->fill[t], key))
                                return true;
                return false;
        }
        if (plan_class(c, u->entry) == HEAT_CLASS_HOT) {
                struct cand_set *sets = c->walk_wl >= 0 ? c->wl_hot : c->hot;

                for (size_t t = 1; t < c->n_tiers; t++)
                        if (set_wants(&sets[t], key))
                                return true;
        } else if (u->class == HEAT_CLASS_COLD) {
                for (size_t t = 0; t + 1 < c->n_tiers; t++)
                        if (set_wants(&c->cold[t], key))
                                return true;
        }
        return false;
}

static int place_unit(struct plan_ctx *c, pid_t pid, uint64_t addr, uint16_t e, int node) {
        enum heat_class cls = plan_class(c, e);
        bool candidate = cls == HEAT_CLASS_HOT || cls == HEAT_CLASS_COLD;
        uint64_t size = entry_size(e);
        unsigned key = unit_key(e);
        bool want_cold, want_hot, want_fast, want_warm, want_fill;
        struct cand_set *hot_sets = c->walk_wl >= 0 ? c->wl_hot : c->hot;
        struct cand cd;
        int idx, t, r;

        if (node < 0) {
                if (candidate)
                        skip_count(c, POLICY_SKIP_NOT_PRESENT, size);
                return 0;
        }
        idx = node < NODE_SET_MAX ? c->node_index[node] : -1;
        t = idx >= 0 ? node_tier(c, idx) : -1;
        if (t < 0) {
                if (candidate)
                        skip_count(c, POLICY_SKIP_UNMANAGED, size);
                return 0;
        }
        if (c->walk_wl >= 0 && t == 0)
                c->wl[c->walk_wl].fast_bytes += size;

        /* Where its trend wants it: the walks of the next rounds need not locate it again. Not an eager unit: a
         * settled unit is only sampled, and one settled on a streak of 1 would never be seen to build it up. */
        if (t == 0 && cls == HEAT_CLASS_HOT && !eager_hot(c, e))
                (void) heat_store_settle(c->heat, pid, addr, HEAT_SETTLE_FASTEST);
        else if ((size_t) t + 1 == c->n_tiers && (e & HEAT_IDLE_MASK))
                (void) heat_store_settle(c->heat, pid, addr, HEAT_SETTLE_SLOWEST);

        want_cold = cls == HEAT_CLASS_COLD && (size_t) t + 1 < c->n_tiers && set_wants(&c->cold[t], key);
        want_hot = cls == HEAT_CLASS_HOT && t > 0 && set_wants(&hot_sets[t], key);
        want_fast = c->walk_wl >= 0 && t == 0 && cls != HEAT_CLASS_SKIPPED &&
                set_wants(&c->wl[c->walk_wl].fast, key);
        /* Only in the second walk (step 5), which sees warm units only. */
        want_warm = c->warm_walk && cls == HEAT_CLASS_WARM && warm_displaceable(e) && (size_t) t + 1 < c->n_tiers &&
                set_wants(&c->warm[t], key);
        /* Only in the third walk (step 6), which sees warm units only. */
        want_fill = c->fill_walk && fill_wanted(c, e) && t > 0 && set_wants(&c->fill[t], key);
        if (!want_cold && !want_hot && !want_fast && !want_warm && !want_fill)
                return 0;

        /* Only units moved recently have the marker; for all others the move table is not even looked at. The
         * summary counts candidates of the first walk: step 5's warm units are not candidates of their own. */
        if ((e & HEAT_F_MOVED) && !heat_store_may_move(c->heat, pid, addr, c->p->round)) {
                if (!want_warm && !want_fill)
                        skip_count(c, POLICY_SKIP_RESIDENCY, size);
                return 0;
        }

        cd = (struct cand) {
                .page = addr >> HEAT_PAGE_SHIFT,
                .pid = pid,
                .node = (int16_t) idx,
                .workload = (int16_t) workload_of(c, pid),
                .entry = e,
        };
        if (want_cold) {
                r = set_insert(&c->cold[t], key, &cd);
                if (r < 0)
                        return r;
        }
        if (want_hot) {
                r = set_insert(&hot_sets[t], key, &cd);
                if (r < 0)
                        return r;
        }
        if (want_fast) {
                r = set_insert(&c->wl[c->walk_wl].fast, key, &cd);
                if (r < 0)
                        return r;
        }
        if (want_warm) {
                r = set_insert(&c->warm[t], key, &cd);
                if (r < 0)
                        return r;
        }
        if (want_fill) {
                r = set_insert(&c->fill[t], key, &cd);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The loosest of the sets' wishes in heat.h's terms. A hot unit's key is KEY_IDLE_LEVELS + its rank, a cold one's
 * HEAT_IDLE_MAX - its idle age; a full set takes only keys strictly better than its worst. */
static void filter_refresh(struct plan_ctx *c) {
        unsigned rank_min = HEAT_HOT_RANK_MASK + 1, idle_min = HEAT_IDLE_MAX + 1;

        for (size_t t = 1; t < c->n_tiers; t++) {
                const struct cand_set *s = &c->hot[t];

                if (s->cap_bytes == 0)
                        continue;
                rank_min = MIN(rank_min, !set_full(s) ? 0U : (unsigned) s->worst + 1 - KEY_IDLE_LEVELS);
        }
        for (size_t t = 0; t + 1 < c->n_tiers; t++) {
                const struct cand_set *s = &c->cold[t];

                if (s->cap_bytes == 0)
                        continue;
                idle_min = MIN(idle_min, !set_full(s) ? 0U : HEAT_IDLE_MAX + 1 - (unsigned) s->worst);
        }
        c->filter = (struct heat_walk_filter) { .hot_rank_min = rank_min, .cold_idle_min = idle_min };
}

static int batch_flush(struct plan_ctx *c) {
        size_t n = c->batch_n;
        int r;

        if (n == 0)
                return 0;
        c->batch_n = 0;
        for (size_t i = 0; i < n; i++)
                c->nodes[i] = -ENOENT;
        r = c->locate(c->batch_pid, c->addrs, n, c->nodes, c->userdata);
        c->plan.summary.locate_calls++;
        c->step_locate_calls++;
        if (r == -ESRCH || r == -ENOENT)
                r = 0; /* the process is gone: its units stay "not present" */
        if (r < 0)
                return r;
        c->plan.summary.units_located += n;
        c->step_located += n;
        for (size_t i = 0; i < n; i++) {
                r = place_unit(c, c->batch_pid, (uint64_t) (uintptr_t) c->addrs[i], c->entries[i], c->nodes[i]);
                if (r < 0)
                        return r;
        }
        if (c->filtering)
                filter_refresh(c);
        return 0;
}

static int on_unit(const struct heat_unit *u, void *userdata) {
        struct plan_ctx *c = userdata;
        int r;

        c->step_walked++;
        if (c->walk_wl < 0 && !c->warm_walk) {
                int w = workload_of(c, u->pid);

                if (w >= 0 && c->wl[w].budgeted)
                        return 0; /* walked with its workload */
        }
        if (u->class == HEAT_CLASS_SKIPPED)
                skip_count(c, (u->entry & HEAT_F_LAZYFREE) ? POLICY_SKIP_LAZYFREE : POLICY_SKIP_FLAGGED,
                           u->size_bytes);

        /* Flush first: the batch may fill the sets, and then this unit may not be worth locating any more. */
        if (c->batch_n == POLICY_LOCATE_BATCH || (c->batch_n > 0 && c->batch_pid != u->pid)) {
                r = batch_flush(c);
                if (r < 0)
                        return r;
        }

        /* A budgeted workload's units are all located: its use of tier 0 is measured, skipped units included. */
        if (c->walk_wl < 0 && !worth_locating(c, u))
                return c->step_located >= c->step_located_max;

        c->batch_pid = u->pid;
        c->addrs[c->batch_n] = (void *) (uintptr_t) u->addr;
        c->entries[c->batch_n] = u->entry;
        c->batch_n++;
        /* Locating is what a plan's time goes into (a move_pages() entry per unit): the step pauses the walk
         * once it has located its share. The batch waits in the context for the next step. */
        return c->step_located >= c->step_located_max;
}

/* After a budgeted workload's walk: its hot units join the others, unless it is over its budget. */
static int workload_walk_done(struct plan_ctx *c, size_t w) {
        struct workload_state *ws = &c->wl[w];
        bool over = ws->fast_bytes > c->p->workloads[w].fast_max_bytes;
        int r;

        for (size_t t = 1; t < c->n_tiers; t++) {
                struct cand_set *s = &c->wl_hot[t];
                const struct cand *cd;

                while ((cd = set_next(s))) {
                        if (over) {
                                skip_count(c, POLICY_SKIP_FAST_MAX, cand_size(cd));
                                continue;
                        }
                        if (!set_wants(&c->hot[t], unit_key(cd->entry)))
                                continue;
                        r = set_insert(&c->hot[t], unit_key(cd->entry), cd);
                        if (r < 0)
                                return r;
                }
                set_clear(s);
        }
        return 0;
}

/* The walks of the budgeted workloads, from where the last step paused. Returns 1 when this step paused. */
static int walk_workloads(struct plan_ctx *c) {
        int r;

        for (; c->phase_wl < c->p->n_workloads; c->phase_wl++, c->phase_pid = 0) {
                size_t w = c->phase_wl;
                const struct policy_workload *wl = &c->p->workloads[w];

                if (!c->wl[w].budgeted)
                        continue;
                c->walk_wl = (int) w;
                for (; c->phase_pid < wl->n_pids; c->phase_pid++) {
                        struct pid_workload *m = pid_map_find(c, wl->pids[c->phase_pid]);

                        /* Once per pid, and only for the workload it belongs to. */
                        if (!m || m->workload != (int16_t) w || (m->walked && !c->walking))
                                continue;
                        m->walked = true;
                        if (!c->walking)
                                c->cursor = (struct heat_walk_cursor) {};
                        r = heat_store_walk(c->heat, m->pid, &c->p->class, HEAT_CLASS_MASK_ALL, NULL, &c->cursor,
                                            on_unit, c);
                        c->walking = r > 0;
                        if (r > 0)
                                return 1;
                        if (r == -ENOENT)
                                continue; /* not tracked (yet), or gone since the last step */
                        if (r >= 0)
                                r = batch_flush(c);
                        if (r < 0)
                                return r;
                }
                r = batch_flush(c);
                if (r < 0)
                        return r;
                c->wl[w].planned_fast_bytes = c->wl[w].fast_bytes;
                r = workload_walk_done(c, w);
                if (r < 0)
                        return r;
        }
        c->walk_wl = -1;
        return 0;
}

/* Setup and teardown */

static int ctx_init(struct plan_ctx *c) {
        const struct topology *topo = c->topo;
        const struct policy_params *p = c->p;
        size_t n_map = 0;

        c->n_tiers = MIN(topo->n_tiers, (size_t) TIERD_MAX_TIERS);
        c->walk_wl = -1;
        c->cache_pid = 0; /* pid 0 is never a target */
        c->cache_wl = -1;
        c->promote_left = p->promote_budget_bytes;
        c->demote_left = p->demote_budget_bytes;

        c->node_index = malloc(NODE_SET_MAX * sizeof(int16_t));
        c->node_free = calloc(topo->n_nodes ?: 1, sizeof(uint64_t));
        c->node_free_saved = calloc(topo->n_nodes ?: 1, sizeof(uint64_t));
        c->node_reserve = calloc(topo->n_nodes ?: 1, sizeof(uint64_t));
        c->wl = calloc(p->n_workloads ?: 1, sizeof(struct workload_state));
        c->wl_saved = calloc(p->n_workloads ?: 1, sizeof(uint64_t));
        c->plan.workloads = calloc(p->n_workloads ?: 1, sizeof(struct policy_workload_summary));
        if (!c->node_index || !c->node_free || !c->node_free_saved || !c->node_reserve || !c->wl || !c->wl_saved ||
            !c->plan.workloads)
                return -ENOMEM;
        c->plan.n_workloads = p->n_workloads;

        for (size_t i = 0; i < NODE_SET_MAX; i++)
                c->node_index[i] = -1;
        for (size_t t = 0; t < c->n_tiers; t++) {
                c->tier_min[t] = p->free_min_bytes[t];
                c->tier_target[t] = MAX(p->free_target_bytes[t], p->free_min_bytes[t]);
        }
        for (size_t i = 0; i < topo->n_nodes; i++) {
                const struct topology_node *n = &topo->nodes[i];
                int t;

                if (n->id < 0 || n->id >= NODE_SET_MAX)
                        continue;
                c->node_index[n->id] = (int16_t) i;
                c->node_free[i] = topology_node_usable_free(n);
                t = node_tier(c, (int) i);
                if (t < 0)
                        continue;
                c->tier_free[t] += c->node_free[i];
        }
        /* Each node's share of its tier's minimum, rounded up so that the shares add up to at least the minimum. */
        for (size_t i = 0; i < topo->n_nodes; i++) {
                int t = node_tier(c, (int) i);
                uint64_t tier_total = 0;

                if (t < 0)
                        continue;
                for (size_t j = 0; j < topo->n_nodes; j++)
                        if (node_tier(c, (int) j) == t)
                                tier_total += topo->nodes[j].total_bytes;
                if (tier_total > 0)
                        c->node_reserve[i] = (uint64_t) (((unsigned __int128) c->tier_min[t] *
                                                                  topo->nodes[i].total_bytes +
                                                          tier_total - 1) /
                                                         tier_total);
        }

        for (size_t t = 0; t < c->n_tiers; t++) {
                set_init(&c->cold[t], false, t + 1 < c->n_tiers ? p->demote_budget_bytes : 0);
                set_init(&c->warm[t], false, 0); /* sized by what waits, before the second walk */
                set_init(&c->fill[t], true, 0);  /* sized by the room left, before the third walk */
                set_init(&c->hot[t], true, t > 0 ? p->promote_budget_bytes : 0);
                set_init(&c->wl_hot[t], true, t > 0 ? p->promote_budget_bytes : 0);
        }

        for (size_t w = 0; w < p->n_workloads; w++) {
                c->wl[w].budgeted = p->workloads[w].fast_max_bytes != POLICY_NO_LIMIT;
                set_init(&c->wl[w].fast, false, c->wl[w].budgeted ? p->demote_budget_bytes : 0);
                n_map += p->workloads[w].n_pids;
        }
        if (n_map > 0) {
                size_t k = 0;

                c->pid_map = calloc(n_map, sizeof(struct pid_workload));
                if (!c->pid_map)
                        return -ENOMEM;
                for (size_t w = 0; w < p->n_workloads; w++)
                        for (size_t i = 0; i < p->workloads[w].n_pids; i++)
                                if (p->workloads[w].pids[i] > 0)
                                        c->pid_map[k++] = (struct pid_workload) {
                                                .pid = p->workloads[w].pids[i],
                                                .workload = (int16_t) w,
                                        };
                qsort(c->pid_map, k, sizeof(struct pid_workload), pid_workload_cmp);
                /* A pid in several workloads belongs to the first: after the sort, the first of each run. */
                c->n_pid_map = 0;
                for (size_t i = 0; i < k; i++)
                        if (c->n_pid_map == 0 || c->pid_map[c->n_pid_map - 1].pid != c->pid_map[i].pid)
                                c->pid_map[c->n_pid_map++] = c->pid_map[i];
        }
        return 0;
}

static void ctx_done(struct plan_ctx *c) {
        for (size_t t = 0; t < TIERD_MAX_TIERS; t++) {
                set_done(&c->cold[t]);
                set_done(&c->warm[t]);
                set_done(&c->fill[t]);
                free(c->waiting[t].v);
                set_done(&c->hot[t]);
                set_done(&c->wl_hot[t]);
        }
        if (c->wl)
                for (size_t w = 0; w < c->p->n_workloads; w++)
                        set_done(&c->wl[w].fast);
        free(c->wl);
        free(c->wl_saved);
        free(c->node_index);
        free(c->node_free);
        free(c->node_free_saved);
        free(c->node_reserve);
        free(c->pid_map);
        free(c->planned);
        free(c->shadow_state);
        free(c->real_state);
        policy_plan_done(&c->plan);
}

static void summary_finish(struct plan_ctx *c) {
        struct policy_summary *s = &c->plan.summary;

        s->n_tiers = c->n_tiers;
        for (size_t t = 0; t < c->n_tiers; t++) {
                struct policy_tier_summary *ts = &s->tiers[t];

                ts->free_bytes = 0;
                for (size_t i = 0; i < c->topo->n_nodes; i++)
                        if (node_tier(c, (int) i) == (int) t)
                                ts->free_bytes += topology_node_usable_free(&c->topo->nodes[i]);
                ts->planned_free_bytes = c->tier_free[t];
                ts->free_min_bytes = c->tier_min[t];
                ts->free_target_bytes = c->tier_target[t];
                /* The slowest tier is not demoted from: its target is no goal of the plan. */
                if (t + 1 < c->n_tiers && c->tier_free[t] < c->tier_target[t])
                        ts->headroom_short_bytes = c->tier_target[t] - c->tier_free[t];
        }
        for (size_t w = 0; w < c->p->n_workloads; w++)
                c->plan.workloads[w] = (struct policy_workload_summary) {
                        .fast_bytes = c->wl[w].fast_bytes,
                        .planned_fast_bytes = c->wl[w].planned_fast_bytes,
                        .over = c->wl[w].over,
                };
}

static bool exchange_move(const struct policy_move *m) {
        return m->reason == POLICY_REASON_COLD_ON_FAST || m->reason == POLICY_REASON_ONE_FOR_ONE;
}

/* Execution order of exchanges. Planned, each exchange is its demotions followed by its promotion, so carried out
 * in that order every move_pages() call would move one page, and each call costs a TLB shootdown on every CPU the
 * process runs on. Within a run of exchanges, chunks of up to batch_bytes of promotions are reordered to all their
 * demotions, then all their promotions (each keeping its order): every promotion still comes after the demotions
 * that make its room, and the batches are whole. The price is that the slower tier holds up to one chunk more for
 * a moment, which is what batch_size bounds. */
static int plan_order_exchanges(struct plan_ctx *c) {
        struct policy_move *moves = c->plan.moves;
        uint64_t chunk_max = MAX(c->p->batch_bytes, HEAT_PAGE_SIZE);
        _cleanup_free_ struct policy_move *tmp = NULL;
        size_t i = 0, n_tmp = 0;

        while (i < c->plan.n_moves) {
                size_t start = i, end, k = 0;
                uint64_t promoted = 0;

                if (!exchange_move(&moves[i])) {
                        i++;
                        continue;
                }
                /* The chunk: whole exchanges (ending in their promotion) until batch_bytes are promoted. */
                for (end = start; end < c->plan.n_moves && exchange_move(&moves[end]); end++)
                        if (moves[end].direction == POLICY_PROMOTE) {
                                promoted += moves[end].size_bytes;
                                if (promoted >= chunk_max) {
                                        end++;
                                        break;
                                }
                        }
                /* A chunk, not the plan: a copy of the whole would add half a plan to the round's peak memory. */
                if (end - start > n_tmp) {
                        struct policy_move *m = reallocarray(tmp, end - start, sizeof(struct policy_move));

                        if (!m)
                                return -ENOMEM;
                        tmp = m;
                        n_tmp = end - start;
                }
                for (size_t j = start; j < end; j++)
                        if (moves[j].direction == POLICY_DEMOTE)
                                tmp[k++] = moves[j];
                for (size_t j = start; j < end; j++)
                        if (moves[j].direction == POLICY_PROMOTE)
                                tmp[k++] = moves[j];
                memcpy(&moves[start], tmp, k * sizeof(struct policy_move));
                i = end;
        }
        return 0;
}

/* Step 5: hot units still wait and the tier above has no cold unit left to give for them. Only then are warm
 * units walked (a second walk, so that a steady state with cold units to spare never locates warm ones), and only
 * as many as could make room for what waits: its bytes, and what the tier lacks of its minimum free memory, which
 * an exchange restores before it promotes. Without the second part a tier below its minimum with no cold unit left
 * never completes an exchange (in the guest: 1.6 MiB of a hot set waited on the slow tier for 60 s beside as many
 * warm victims, with the fast tier 5 MiB short of its minimum). */
static bool plan_warm_begin(struct plan_ctx *c) {
        bool any = false;

        if (c->demote_left < HEAT_PAGE_SIZE || c->promote_left < HEAT_PAGE_SIZE)
                return false;
        for (size_t s = 1; s < c->n_tiers; s++) {
                uint64_t bytes = 0, short_bytes = 0;

                for (size_t i = 0; i < c->waiting[s].n; i++) {
                        const struct cand *cd = &c->waiting[s].v[i];

                        c->plan.summary.waiting_streak_max = MAX(c->plan.summary.waiting_streak_max,
                                                                 heat_entry_streak(cd->entry));
                        if (displaces_warm(c, cd))
                                bytes += cand_size(cd);
                }
                c->plan.summary.warm_waiting_bytes += bytes;
                if (bytes > 0 && c->tier_free[s - 1] < c->tier_min[s - 1])
                        short_bytes = c->tier_min[s - 1] - c->tier_free[s - 1];
                bytes = MIN(MIN(bytes, c->promote_left) + short_bytes, c->demote_left);
                set_init(&c->warm[s - 1], false, bytes);
                any = any || bytes > 0;
        }
        c->warm_walk = any;
        return any;
}

/* Step 5's walk, from where the last step paused. Returns 1 when this step paused. */
static int plan_warm_walk(struct plan_ctx *c) {
        int r;

        /* A settled unit is never displaceable: on the fastest tier it has a streak, on the slowest nothing to
         * give. */
        r = heat_store_walk(c->heat, 0, &c->p->class, HEAT_CLASS_MASK(HEAT_CLASS_WARM) | HEAT_WALK_UNSETTLED, NULL,
                            &c->cursor, on_unit, c);
        if (r != 0)
                return r;
        r = batch_flush(c);
        if (r < 0)
                return r;
        for (size_t t = 0; t + 1 < c->n_tiers; t++) {
                c->plan.summary.candidate_units += c->warm[t].units;
                c->plan.summary.warm_victim_units += c->warm[t].units;
        }

        for (size_t s = 1; s < c->n_tiers; s++) {
                r = plan_warm_exchanges(c, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The room above tier t's free target that step 6 may fill. */
static uint64_t fill_room(const struct plan_ctx *c, size_t t) {
        return c->tier_free[t] > c->tier_target[t] ? c->tier_free[t] - c->tier_target[t] : 0;
}

/* Sizes step 6's sets: the room above each faster tier's target, within the promotion budget. Returns whether
 * there is any: a tier at its target (the steady state of a full fast tier) costs no walk. */
static bool plan_fill_begin(struct plan_ctx *c) {
        bool any = false;

        if (!c->p->fill || c->promote_left < HEAT_PAGE_SIZE)
                return false;
        for (size_t s = 1; s < c->n_tiers; s++) {
                /* A unit the size of a page at least, or nothing fits. */
                uint64_t bytes = MIN(fill_room(c, s - 1), c->promote_left);

                if (bytes < HEAT_PAGE_SIZE)
                        bytes = 0;
                set_init(&c->fill[s], true, bytes);
                any = any || bytes > 0;
        }
        c->fill_walk = any;
        return any;
}

/* Step 6 for source tier s: its warm units, hottest first, into the room above tier s - 1's target. */
static int plan_fills(struct plan_ctx *c, size_t s) {
        const struct cand *cd;

        while ((cd = set_next(&c->fill[s]))) {
                uint64_t size = cand_size(cd);
                int idx, r;

                if (size > c->promote_left || size > fill_room(c, s - 1))
                        continue;
                if (s - 1 == 0 && fast_max_blocks(c, cd))
                        continue;
                idx = pick_node(c, s - 1, size);
                if (idx < 0)
                        continue;
                r = plan_add(c, cd, idx, POLICY_PROMOTE, POLICY_REASON_FILL, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Step 6's walk, from where the last step paused. Settled warm units are walked too: a warm unit is settled on
 * the slowest tier, which is where step 6 looks. Returns 1 when this step paused. */
static int plan_fill_walk(struct plan_ctx *c) {
        int r;

        r = heat_store_walk(c->heat, 0, &c->p->class, HEAT_CLASS_MASK(HEAT_CLASS_WARM), NULL, &c->cursor, on_unit,
                            c);
        if (r != 0)
                return r;
        r = batch_flush(c);
        if (r < 0)
                return r;
        for (size_t t = 1; t < c->n_tiers; t++)
                c->plan.summary.candidate_units += c->fill[t].units;
        for (size_t s = 1; s < c->n_tiers; s++) {
                r = plan_fills(c, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The public handle of a plan in steps: the context the steps share. */
struct policy_planner {
        struct plan_ctx ctx;
};

int policy_planner_new(struct heat_store *heat, const struct topology *topo, const struct policy_params *p,
                       policy_locate_fn locate, void *userdata, struct policy_planner **ret) {
        _cleanup_free_ struct policy_planner *planner = NULL;
        struct plan_ctx *c;
        int r;

        if (!heat || !topo || !p || !locate || !ret || !heat_class_params_valid(&p->class))
                return -EINVAL;

        if (p->n_workloads > INT16_MAX || (p->n_workloads > 0 && !p->workloads) || topo->n_nodes > NODE_SET_MAX ||
            (topo->n_nodes > 0 && !topo->nodes))
                return -EINVAL;
        for (size_t w = 0; w < p->n_workloads; w++)
                if (p->workloads[w].n_pids > 0 && !p->workloads[w].pids)
                        return -EINVAL;

        planner = calloc(1, sizeof(struct policy_planner));
        if (!planner)
                return -ENOMEM;
        c = &planner->ctx;
        c->heat = heat;
        c->topo = topo;
        c->p = p;
        c->locate = locate;
        c->userdata = userdata;
        c->plan.round = p->round;
        c->plan.move_flags = p->move_shared ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE;

        r = ctx_init(c);
        if (r < 0) {
                ctx_done(c);
                return r;
        }

        /* Eager units only ever take room above a target: without any, they are not even looked for. The walk
         * then selects them with the hot ones (a streak of 1), and plan_class() tells them apart. */
        for (size_t t = 0; t + 1 < c->n_tiers && p->eager_hits > 0; t++)
                c->eager = c->eager || c->tier_free[t] > c->tier_target[t];
        c->walk_class = p->class;
        if (c->eager)
                c->walk_class.promote_rounds = 1;

        /* One tier: nowhere to move anything. */
        c->phase = c->n_tiers < 2 ? PLAN_DONE : PLAN_WORKLOADS;
        *ret = TAKE_PTR(planner);
        return 0;
}

/* What follows the main walk, up to step 5's walk: every candidate is located by then, so this is arithmetic
 * over the candidate sets. Returns whether step 5 has a walk to do. */
static int plan_after_walk(struct plan_ctx *c) {
        int r;

        /* Parked units reach the walk only where their words were observed (heat.h, "Parked units"): when that left
         * the fastest tier short of cold candidates for a full round of demotion, all of them are looked at next
         * round. */
        heat_store_hold_parking(c->heat, c->cold[0].cap_bytes > 0 && !set_full(&c->cold[0]));

        for (size_t t = 0; t < c->n_tiers; t++)
                c->plan.summary.candidate_units += c->cold[t].units + c->hot[t].units;
        for (size_t w = 0; w < c->p->n_workloads; w++)
                c->plan.summary.candidate_units += c->wl[w].fast.units;

        for (size_t t = c->n_tiers - 1; t-- > 1;) {
                r = plan_headroom(c, t);
                if (r < 0)
                        return r;
        }
        r = plan_budgets(c);
        if (r < 0)
                return r;
        r = plan_headroom(c, 0);
        if (r < 0)
                return r;
        for (size_t s = 1; s < c->n_tiers; s++) {
                r = plan_promotions(c, s);
                if (r < 0)
                        return r;
        }
        return plan_warm_begin(c);
}

/* Runs the plan's phases from where the last step left them, until they are done (0) or a walk pauses (1). */
static int plan_run(struct plan_ctx *c) {
        int r;

        if (c->phase == PLAN_WORKLOADS) {
                r = walk_workloads(c);
                if (r != 0)
                        return r;
                c->phase = PLAN_MAIN;
                c->walking = false;
        }
        if (c->phase == PLAN_MAIN) {
                if (!c->walking) {
                        /* Settled units are where the plan would put them: the walk leaves them out, so once
                         * placement has settled, what it locates follows what changed rather than what is
                         * tracked. */
                        filter_refresh(c);
                        c->cursor = (struct heat_walk_cursor) {};
                }
                c->filtering = true;
                r = heat_store_walk(c->heat, 0, &c->walk_class,
                                    HEAT_CLASS_MASK(HEAT_CLASS_HOT) | HEAT_CLASS_MASK(HEAT_CLASS_COLD) |
                                            HEAT_CLASS_MASK(HEAT_CLASS_SKIPPED) | HEAT_WALK_UNSETTLED,
                                    &c->filter, &c->cursor, on_unit, c);
                c->walking = r > 0;
                if (r == 0)
                        r = batch_flush(c);
                c->filtering = false;
                if (r != 0)
                        return r;
                r = plan_after_walk(c);
                if (r < 0)
                        return r;
                c->phase = r > 0 ? PLAN_WARM : PLAN_FILL;
                c->cursor = (struct heat_walk_cursor) {};
                c->walking = false;
        }
        if (c->phase == PLAN_WARM) {
                r = plan_warm_walk(c);
                if (r != 0)
                        return r;
                c->warm_walk = false;
                c->phase = PLAN_FILL;
                c->cursor = (struct heat_walk_cursor) {};
        }
        if (c->phase == PLAN_FILL) {
                if (!c->walking) {
                        if (!plan_fill_begin(c)) {
                                c->phase = PLAN_DONE;
                                return 0;
                        }
                        c->walking = true;
                }
                r = plan_fill_walk(c);
                if (r != 0)
                        return r;
                c->fill_walk = false;
                c->walking = false;
                c->phase = PLAN_DONE;
        }
        return 0;
}

int policy_planner_step(struct policy_planner *planner, uint64_t located_max, struct policy_plan *ret) {
        struct plan_ctx *c = planner ? &planner->ctx : NULL;
        int r;

        if (!c || !ret || located_max == 0 || c->handed_out)
                return -EINVAL;
        c->step_located = c->step_walked = c->step_locate_calls = 0;
        c->step_located_max = located_max;
        r = plan_run(c);
        if (r > 0)
                return 1;
        if (r >= 0)
                r = plan_order_exchanges(c);
        if (r < 0) {
                /* What a failed step leaves is of no use to another. */
                c->handed_out = true;
                return r;
        }
        summary_finish(c);
        *ret = c->plan;
        c->plan = (struct policy_plan) {};
        c->handed_out = true;
        return 0;
}

void policy_planner_step_stats(const struct policy_planner *planner, struct policy_step_stats *ret) {
        static const char *const phase_names[] = {
                [PLAN_WORKLOADS] = "workload walks",
                [PLAN_MAIN] = "walk",
                [PLAN_WARM] = "warm walk",
                [PLAN_FILL] = "fill walk",
                [PLAN_DONE] = "done",
        };

        if (!planner) {
                *ret = (struct policy_step_stats) { .ended_in = "done" };
                return;
        }
        *ret = (struct policy_step_stats) {
                .walked = planner->ctx.step_walked,
                .located = planner->ctx.step_located,
                .locate_calls = planner->ctx.step_locate_calls,
                .ended_in = phase_names[planner->ctx.phase],
        };
}

struct policy_planner *policy_planner_free(struct policy_planner *planner) {
        if (!planner)
                return NULL;
        ctx_done(&planner->ctx);
        free(planner);
        return NULL;
}

int policy_plan(struct heat_store *heat, const struct topology *topo, const struct policy_params *p,
                policy_locate_fn locate, void *userdata, struct policy_plan *ret) {
        _cleanup_(policy_planner_freep) struct policy_planner *planner = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = policy_planner_new(heat, topo, p, locate, userdata, &planner);
        if (r < 0)
                return r;
        r = policy_planner_step(planner, UINT64_MAX, ret);
        /* Never paused: nothing locates UINT64_MAX units. */
        return MIN(r, 0);
}

void policy_plan_done(struct policy_plan *plan) {
        if (!plan)
                return;
        free(plan->moves);
        free(plan->shadow);
        free(plan->workloads);
        *plan = (struct policy_plan) {};
}

/* The tuner */

void policy_params_set_headroom(struct policy_params *p, const struct topology *topo,
                                const struct size_or_percent *free_min, const struct size_or_percent *free_target) {
        for (size_t t = 0; t < TIERD_MAX_TIERS; t++) {
                uint64_t total = t < topo->n_tiers ? topo->tiers[t].total_bytes : 0;

                p->free_min_bytes[t] = t < topo->n_tiers ? MIN(size_or_percent_resolve(free_min, total), total) : 0;
                p->free_target_bytes[t] = t < topo->n_tiers ?
                        MAX(MIN(size_or_percent_resolve(free_target, total), total), p->free_min_bytes[t]) :
                        0;
        }
}

uint64_t policy_tune_pass_interval(const struct policy_tuner_params *t, uint64_t hot_bytes,
                                   uint64_t fast_total_bytes, uint64_t interval_us) {
        uint64_t lo = t->interval_min_us, hi = MAX(t->interval_max_us, t->interval_min_us);
        uint64_t target = fast_total_bytes > 0 ? size_or_percent_resolve(&t->hot_target, fast_total_bytes) : 0;
        uint64_t next = interval_us;

        if (target > 0) {
                if (hot_bytes > target) {
                        /* interval x target / hot, between half and seven eighths of the interval. */
                        uint64_t scaled = (uint64_t) ((unsigned __int128) interval_us * target / hot_bytes);

                        next = MIN(MAX(scaled, interval_us / 2), interval_us - interval_us / 8);
                } else if (hot_bytes < target / 2) {
                        uint64_t step = MAX(interval_us / 8, UINT64_C(1));

                        next = interval_us > UINT64_MAX - step ? UINT64_MAX : interval_us + step;
                }
        }
        return MIN(MAX(next, lo), hi);
}
