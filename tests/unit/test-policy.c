/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "policy.h"
#include "util.h"

/* Fixtures: processes whose pages get a crafted heat history through the heat store's public API (rounds, passes,
 * records, flags), a fake locator that says which node each page is on, and a hand-made topology. Each test
 * states the exact plan it expects. */

#define PG HEAT_PAGE_SIZE
#define BASE UINT64_C(0x7f0000000000) /* 2 MiB aligned */

/* Histories: ROUNDS rounds of PASSES passes, hot threshold 2 hits; a page is hot after 2 hot rounds in a row and
 * cold after 3 rounds without a hit. The plan is for round ROUNDS + 1. */
#define ROUNDS 12
#define PASSES 3
#define THRESHOLD 2
#define PLAN_ROUND (ROUNDS + 1)

static const struct heat_class_params class_params = { .promote_rounds = 2, .cold_rounds = 3 };

/* One token per page (per THP for a THP process):
 *   hN   hot, streak N (accessed in every pass of the last N rounds)
 *   HN   hot, streak N, but only 2 hits in the last round (colder than hN)
 *   cN   idle age N (accessed in round ROUNDS - N only): cold for N >= 3, warm below
 *   w    warm: one hit in the last round
 *   n    never accessed: idle age ROUNDS
 * prefixed with L (lazyfree) or S (skip flag). Nodes: one token per page, a node id or "-" (not present). */
struct proc {
        pid_t pid;
        uint64_t base;
        const char *heat;
        const char *nodes;
        bool thp; /* one 2 MiB THP at base, one token */
};

#define PAGES_MAX 4096
#define PROCS_MAX 8

struct proc_state {
        pid_t pid;
        uint64_t base;
        size_t n_tokens, n_pages;
        bool thp;
        char kind[PAGES_MAX];
        unsigned num[PAGES_MAX];
        uint16_t flags[PAGES_MAX];
        int node[PAGES_MAX];
};

struct fixture {
        struct heat_store *heat;
        struct proc_state procs[PROCS_MAX];
        size_t n_procs;
        unsigned locate_calls;
        uint64_t units_located;
        int locate_error;    /* returned for every call when set */
        pid_t gone_pid;      /* -ESRCH for this pid */
};

static size_t parse_heat(struct proc_state *ps, const char *s) {
        char *copy = strdup(s), *save = NULL;
        size_t n = 0;

        assert_non_null(copy);
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                assert_true(n < PAGES_MAX);
                ps->flags[n] = 0;
                for (; *tok == 'L' || *tok == 'S'; tok++)
                        ps->flags[n] |= *tok == 'L' ? HEAT_F_LAZYFREE : HEAT_F_SKIP;
                ps->kind[n] = *tok;
                ps->num[n] = (unsigned) atoi(tok + 1);
                n++;
        }
        free(copy);
        return n;
}

static size_t parse_nodes(struct proc_state *ps, const char *s) {
        char *copy = strdup(s), *save = NULL;
        size_t n = 0;

        assert_non_null(copy);
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                assert_true(n < PAGES_MAX);
                ps->node[n++] = streq(tok, "-") ? -ENOENT : atoi(tok);
        }
        free(copy);
        return n;
}

/* The rounds fixture_build() runs: ROUNDS but where a test looks at tierd's first rounds. */
static unsigned fixture_rounds = ROUNDS;

static bool accessed(char kind, unsigned num, unsigned round, unsigned pass) {
        switch (kind) {
        case 'h':
                return round + num > fixture_rounds;
        case 'H':
                return round + num > fixture_rounds && (round < fixture_rounds || pass < THRESHOLD);
        case 'c':
                return round + num == fixture_rounds;
        case 'w':
                return round == fixture_rounds && pass == 0;
        case 'n':
                return false;
        default:
                fail_msg("bad heat token '%c'", kind);
                return false;
        }
}

static void bit_set(uint64_t *bitmap, uint64_t i) {
        bitmap[i / 64] |= UINT64_C(1) << (i % 64);
}

/* Builds the heat store from the processes' tokens. */
static void fixture_build(struct fixture *f, const struct proc *procs, size_t n) {
        uint64_t bitmap[PAGES_MAX / 64];

        *f = (struct fixture) {};
        assert_int_equal(heat_store_new(&f->heat), 0);
        assert_true(n <= PROCS_MAX);
        for (size_t i = 0; i < n; i++) {
                struct proc_state *ps = &f->procs[i];
                struct vma v;

                ps->pid = procs[i].pid;
                ps->base = procs[i].base;
                ps->thp = procs[i].thp;
                ps->n_tokens = parse_heat(ps, procs[i].heat);
                assert_int_equal(parse_nodes(ps, procs[i].nodes), ps->n_tokens);
                ps->n_pages = ps->thp ? HEAT_THP_PAGES : ps->n_tokens;
                if (ps->thp)
                        assert_int_equal(ps->n_tokens, 1);
                v = (struct vma) { .start = ps->base, .end = ps->base + ps->n_pages * PG, .perms = "rw-p" };
                assert_int_equal(heat_store_sync_target(f->heat, ps->pid, &v, 1), 0);
                if (ps->thp)
                        assert_int_equal(heat_store_set_thp(f->heat, ps->pid, ps->base, true), 1);
        }
        f->n_procs = n;

        for (unsigned r = 1; r <= fixture_rounds; r++) {
                assert_int_equal(heat_store_begin_round(f->heat, r, THRESHOLD), 0);
                for (unsigned p = 0; p < PASSES; p++) {
                        assert_int_equal(heat_store_begin_pass(f->heat), (int) p + 1);
                        for (size_t i = 0; i < n; i++) {
                                struct proc_state *ps = &f->procs[i];

                                memset(bitmap, 0, sizeof(bitmap));
                                for (size_t k = 0; k < ps->n_pages; k++) {
                                        size_t t = ps->thp ? 0 : k;

                                        if (accessed(ps->kind[t], ps->num[t], r, p))
                                                bit_set(bitmap, k);
                                }
                                assert_int_equal(heat_store_record_bitmap(f->heat, ps->pid, ps->base, ps->n_pages,
                                                                          bitmap),
                                                 0);
                        }
                }
                heat_store_end_round(f->heat);
        }

        for (size_t i = 0; i < n; i++) {
                struct proc_state *ps = &f->procs[i];

                for (size_t t = 0; t < ps->n_tokens; t++)
                        if (ps->flags[t])
                                assert_int_equal(heat_store_set_flags(f->heat, ps->pid, ps->base + t * PG,
                                                                      ps->thp ? HEAT_THP_SIZE : PG, ps->flags[t],
                                                                      true),
                                                 0);
        }
}

static void fixture_done(struct fixture *f) {
        heat_store_free(f->heat);
        *f = (struct fixture) {};
}

static struct proc_state *fixture_proc(struct fixture *f, pid_t pid) {
        for (size_t i = 0; i < f->n_procs; i++)
                if (f->procs[i].pid == pid)
                        return &f->procs[i];
        return NULL;
}

/* The fake locator: what migrate_query_nodes() would say. */
static int fake_locate(pid_t pid, void **addrs, size_t n, int *nodes, void *userdata) {
        struct fixture *f = userdata;
        struct proc_state *ps = fixture_proc(f, pid);

        f->locate_calls++;
        assert_true(n > 0 && n <= POLICY_LOCATE_BATCH);
        if (f->locate_error)
                return f->locate_error;
        if (!ps || pid == f->gone_pid)
                return -ESRCH;
        f->units_located += n;
        for (size_t i = 0; i < n; i++) {
                uint64_t a = (uint64_t) (uintptr_t) addrs[i];

                assert_true(a >= ps->base && a < ps->base + ps->n_pages * PG);
                nodes[i] = ps->node[ps->thp ? 0 : (a - ps->base) / PG];
        }
        return 0;
}

/* Topologies */

struct node_spec {
        int id;
        int tier;
        uint64_t total_pages, free_pages;
};

struct topo_fixture {
        struct topology topo;
        struct topology_node nodes[8];
};

static void topo_build(struct topo_fixture *t, const struct node_spec *ns, size_t n, size_t n_tiers) {
        *t = (struct topo_fixture) {};
        t->topo.nodes = t->nodes;
        t->topo.n_nodes = n;
        t->topo.n_tiers = n_tiers;
        for (size_t i = 0; i < n; i++) {
                t->nodes[i] = (struct topology_node) {
                        .id = ns[i].id,
                        .total_bytes = ns[i].total_pages * PG,
                        .free_bytes = ns[i].free_pages * PG,
                        .tier = ns[i].tier,
                };
                if (ns[i].tier < 0)
                        continue;
                node_set_add(&t->topo.tiers[ns[i].tier].nodes, (unsigned) ns[i].id);
                t->topo.tiers[ns[i].tier].total_bytes += ns[i].total_pages * PG;
                t->topo.tiers[ns[i].tier].free_bytes += ns[i].free_pages * PG;
        }
}

static struct policy_params params_default(void) {
        return (struct policy_params) {
                .class = class_params,
                .round = PLAN_ROUND,
                .promote_budget_bytes = UINT64_MAX,
                .demote_budget_bytes = UINT64_MAX,
        };
}

static void headroom(struct policy_params *p, size_t tier, uint64_t min_pages, uint64_t target_pages) {
        p->free_min_bytes[tier] = min_pages * PG;
        p->free_target_bytes[tier] = target_pages * PG;
}

static int plan(struct fixture *f, const struct topo_fixture *t, const struct policy_params *p,
                struct policy_plan *ret) {
        return policy_plan(f->heat, &t->topo, p, fake_locate, f, ret);
}

static void plan_print(const struct policy_plan *plan) {
        for (size_t i = 0; i < plan->n_moves; i++) {
                const struct policy_move *m = &plan->moves[i];

                fprintf(stderr, "  #%zu pid %d page %" PRIu64 " %s %d->%d %s\n", i, m->pid, (m->addr - BASE) / PG,
                        policy_direction_to_string(m->direction), m->from_node, m->to_node,
                        policy_reason_to_string(m->reason));
        }
}

/* Is move i of the plan exactly this? Prints the plan when not, so a failing test shows what was planned. */
static bool move_is(const struct policy_plan *plan, size_t i, pid_t pid, uint64_t page, int from, int to,
                    enum policy_direction d, enum policy_reason r) {
        const struct policy_move *m;

        if (i >= plan->n_moves) {
                fprintf(stderr, "move #%zu missing; plan:\n", i);
                plan_print(plan);
                return false;
        }
        m = &plan->moves[i];
        if (m->pid != pid || m->addr != BASE + page * PG || m->from_node != from || m->to_node != to ||
            m->direction != d || m->reason != r) {
                fprintf(stderr, "move #%zu: expected pid %d page %" PRIu64 " %s %d->%d %s; plan:\n", i, pid, page,
                        policy_direction_to_string(d), from, to, policy_reason_to_string(r));
                plan_print(plan);
                return false;
        }
        return true;
}

#define P POLICY_PROMOTE
#define D POLICY_DEMOTE

/* Classification sanity: the tokens give the heat they claim. */
static void test_fixture_histories(void **state _unused_) {
        struct fixture f;
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h2 h5 H5 w c1 c3 c11 n", .nodes = "0 0 0 0 0 0 0 0" },
        };
        struct heat_unit u;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE, &class_params, &u), 0);
        assert_int_equal(u.class, HEAT_CLASS_HOT);
        assert_int_equal(heat_entry_streak(u.entry), 2);
        assert_int_equal(heat_entry_hits(u.entry), 3);
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE + 2 * PG, &class_params, &u), 0);
        assert_int_equal(heat_entry_streak(u.entry), 5);
        assert_int_equal(heat_entry_hits(u.entry), 2);
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE + 3 * PG, &class_params, &u), 0);
        assert_int_equal(u.class, HEAT_CLASS_WARM);
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE + 4 * PG, &class_params, &u), 0);
        assert_int_equal(u.class, HEAT_CLASS_WARM);
        assert_int_equal(heat_entry_idle_rounds(u.entry), 1);
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE + 5 * PG, &class_params, &u), 0);
        assert_int_equal(u.class, HEAT_CLASS_COLD);
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE + 6 * PG, &class_params, &u), 0);
        assert_int_equal(heat_entry_idle_rounds(u.entry), 11);
        assert_int_equal(heat_store_lookup(f.heat, 1, BASE + 7 * PG, &class_params, &u), 0);
        assert_int_equal(heat_entry_idle_rounds(u.entry), ROUNDS);
        fixture_done(&f);
}

/* Hot units on the slow tier go into the fast tier's headroom, hottest first (streak, then hits). */
static void test_promote_into_headroom(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 50 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h2 H5 h5 w c1 h3 w h7", .nodes = "1 1 1 1 1 1 1 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 20);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 5);
        assert_true(move_is(&pl, 0, 1, 7, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW)); /* streak 5, 3 hits */
        assert_true(move_is(&pl, 2, 1, 1, 1, 0, P, POLICY_REASON_HOT_ON_SLOW)); /* streak 5, 2 hits */
        assert_true(move_is(&pl, 3, 1, 5, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 4, 1, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.moves[0].from_tier, 1);
        assert_int_equal(pl.moves[0].to_tier, 0);
        assert_int_equal(pl.moves[0].size_bytes, PG);
        assert_int_equal(heat_entry_streak(pl.moves[0].entry), 7);
        assert_int_equal(pl.moves[0].workload, -1);
        assert_int_equal(pl.summary.moves[P], 5);
        assert_int_equal(pl.summary.bytes[P], 5 * PG);
        assert_int_equal(pl.summary.moves[D], 0);
        assert_int_equal(pl.summary.tiers[0].free_bytes, 50 * PG);
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 45 * PG);
        assert_int_equal(pl.summary.tiers[1].planned_free_bytes, 905 * PG);
        assert_int_equal(pl.round, PLAN_ROUND);
        policy_plan_done(&pl);

        /* The per-round budget: the two hottest only. */
        p.promote_budget_bytes = 2 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 7, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.candidate_units, 2);
        policy_plan_done(&pl);

        /* Nothing to promote with no budget, and nothing even located for it. */
        p.promote_budget_bytes = 0;
        f.locate_calls = 0;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        assert_int_equal(f.locate_calls, 0);
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* A promotion never takes the fast tier below its minimum free. */
static void test_promote_never_below_min(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 12 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h7 h6 h5 h4 h3", .nodes = "1 1 1 1 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 10);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 1, 1, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
        assert_int_equal(pl.summary.tiers[0].headroom_short_bytes, 0);
        /* Nothing cold on the fast tier to exchange with. */
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 3);
        assert_int_equal(pl.summary.skipped_bytes[POLICY_SKIP_NO_ROOM], 3 * PG);
        policy_plan_done(&pl);

        /* At the minimum already: nothing. */
        t.nodes[0].free_bytes = 10 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        policy_plan_done(&pl);

        /* Below it (the kernel allocated meanwhile): nothing either, no wrap-around. */
        t.nodes[0].free_bytes = 3 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        assert_int_equal(pl.summary.tiers[0].headroom_short_bytes, 7 * PG);
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* Eager units (hit in every pass of the round that started their streak) come up before their promote_rounds,
 * but only into room above the fast tier's target and after the hot ones: never by exchange. */
static void test_eager_into_free_room(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 50 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h1 H1 h3 w c5 c6 h1 h3", .nodes = "1 1 1 1 0 0 0 0" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 20);

        /* Off: only the unit hot for promote_rounds. */
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        policy_plan_done(&pl);

        /* On: the streak-1 unit with a hit in every pass follows it; the one with 2 of 3 hits waits. */
        p.eager_hits = PASSES;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 1, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(heat_entry_streak(pl.moves[1].entry), 1);
        /* Nor does the executor settle it once it is up. */
        assert_true(pl.moves[0].settles);
        assert_false(pl.moves[1].settles);
        policy_plan_done(&pl);
        /* On the fast tier a hot unit settles, an eager one does not: settled, it would only be sampled and never
         * be seen to build up its streak. */
        assert_true(heat_store_is_settled(f.heat, 1, BASE + 7 * PG));
        assert_false(heat_store_is_settled(f.heat, 1, BASE + 6 * PG));

        /* Room for one above the target: the hot unit takes it, the eager one does not go into the headroom. */
        t.nodes[0].free_bytes = 21 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        policy_plan_done(&pl);

        /* A full fast tier: the hot unit is exchanged for the coldest, the eager one is not. */
        t.nodes[0].free_bytes = 10 * PG;
        headroom(&p, 0, 10, 10);
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 5, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 2, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* A full fast tier: each hot unit comes in against the coldest unit going out. */
static void test_one_for_one(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 10 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c3 c6 w c4 h4 h6", .nodes = "0 0 0 0 1 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 10);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 4);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 5, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_true(move_is(&pl, 2, 1, 3, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 3, 1, 4, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
        assert_int_equal(pl.summary.reason_moves[POLICY_REASON_COLD_ON_FAST], 2);
        assert_int_equal(pl.summary.reason_moves[POLICY_REASON_ONE_FOR_ONE], 2);
        assert_int_equal(pl.summary.reason_bytes[POLICY_REASON_ONE_FOR_ONE], 2 * PG);
        policy_plan_done(&pl);

        /* No demotion budget: no exchange, and no half of one. */
        p.demote_budget_bytes = 0;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 2);
        policy_plan_done(&pl);

        /* The slow tier at its minimum too: the exchange is net, the cold page takes the hot page's room. */
        p.demote_budget_bytes = UINT64_MAX;
        t.nodes[1].free_bytes = 100 * PG;
        headroom(&p, 1, 100, 100);
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 4);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 5, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_int_equal(pl.summary.tiers[1].planned_free_bytes, 100 * PG);
        policy_plan_done(&pl);
        t.nodes[1].free_bytes = 900 * PG;
        headroom(&p, 1, 0, 0);

        /* One page of demotion budget: one exchange. */
        p.demote_budget_bytes = PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 5, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* An exchange that cannot complete leaves no trace: a hot THP against two cold pages. A smaller unit after it is
 * still tried. */
static void test_one_for_one_rollback(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 1000, 10 }, { 1, 1, 10000, 9000 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c5 c4", .nodes = "0 0" },
                { .pid = 2, .base = BASE, .heat = "h5", .nodes = "1", .thp = true },
                { .pid = 3, .base = BASE, .heat = "h3", .nodes = "1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 10);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 0, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 3, 0, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 1);
        assert_int_equal(pl.summary.skipped_bytes[POLICY_SKIP_NO_ROOM], HEAT_THP_SIZE);
        assert_int_equal(pl.summary.moves[D], 1);
        assert_int_equal(pl.summary.bytes[D], PG);
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
        assert_int_equal(pl.summary.tiers[1].planned_free_bytes, 9000 * PG);
        policy_plan_done(&pl);

        /* With room for it, the THP goes in whole, first (hottest), as one unit of 2 MiB. */
        t.nodes[0].free_bytes = 600 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_int_equal(pl.moves[0].pid, 2);
        assert_int_equal(pl.moves[0].addr, BASE);
        assert_int_equal(pl.moves[0].size_bytes, HEAT_THP_SIZE);
        assert_true(move_is(&pl, 1, 3, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* Below the target: cold units go, coldest first (ties by address), until the target holds; warm ones stay;
 * lazyfree and skip-flagged ones are never demoted however cold. */
static void test_demote_coldest_first(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 7 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c3 c8 w c8 c5 Lc11 Sn c1 c5", .nodes = "0 0 0 0 0 0 0 0 0" },
        };
        struct policy_params p = params_default();
        struct heat_store_stats st;
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 5, 10);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 3);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 1, 1, 3, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 2, 1, 4, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_LAZYFREE], 1);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_FLAGGED], 1);
        assert_int_equal(pl.summary.skipped_bytes[POLICY_SKIP_LAZYFREE], PG);
        policy_plan_done(&pl);
        /* Fewer cold units on the fast tier than the round could demote: parking is held (heat.h). */
        heat_store_get_stats(f.heat, &st);
        assert_true(st.parking_held);

        /* Far below the target: every cold unit goes, still no warm, lazyfree or skipped one. */
        t.nodes[0].free_bytes = 0;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 5);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 1, 1, 3, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 2, 1, 4, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 3, 1, 8, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 4, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_int_equal(pl.summary.tiers[0].headroom_short_bytes, 5 * PG);
        assert_int_equal(pl.summary.reason_bytes[POLICY_REASON_HEADROOM], 5 * PG);
        policy_plan_done(&pl);

        /* The demotion budget cuts it, coldest first still. */
        p.demote_budget_bytes = 2 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        heat_store_get_stats(f.heat, &st);
        assert_false(st.parking_held);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 1, 1, 3, 0, 1, D, POLICY_REASON_HEADROOM));
        policy_plan_done(&pl);

        /* A full slow tier takes nothing. */
        p.demote_budget_bytes = UINT64_MAX;
        t.nodes[1].free_bytes = 0;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* A lazyfree or skip-flagged hot unit on the slow tier is not promoted either. */
static void test_skip_flags_promotion(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 50 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "Lh7 Sh7 h2 SLc9", .nodes = "1 1 1 0" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 60); /* below the target: the cold one would go if it could */

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_LAZYFREE], 2);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_FLAGGED], 1);
        /* The flagged units are never even located. */
        assert_int_equal(f.units_located, 1);
        policy_plan_done(&pl);
        fixture_done(&f);
}

/* Not present, on a node of no tier, a process gone, a locator failure. */
static void test_placement_skips(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 0 }, { 1, 1, 1000, 900 }, { 2, -1, 100, 100 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c9 c8 h5 c7 h4 w", .nodes = "- 2 - 0 2 -" },
                { .pid = 2, .base = BASE, .heat = "c9 h5", .nodes = "0 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 0, 10);

        f.gone_pid = 2;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 3, 0, 1, D, POLICY_REASON_HEADROOM));
        /* Pages 0 and 2 of pid 1 and both of the gone pid 2; the warm page is not a candidate, never located. */
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NOT_PRESENT], 4);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_UNMANAGED], 2);
        assert_int_equal(pl.summary.units_located, 7);
        policy_plan_done(&pl);

        /* Any other locator error aborts the plan. */
        f.locate_error = -EIO;
        pl = (struct policy_plan) { .n_moves = 12345 };
        assert_int_equal(plan(&f, &t, &p, &pl), -EIO);
        assert_int_equal(pl.n_moves, 12345); /* untouched */
        fixture_done(&f);
}

/* Minimum residency after a move, and the doubled wait of a ping-pong, both from the heat store's move table. */
static void test_residency_and_pingpong(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 0 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c5 c4 h3", .nodes = "0 0 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 0, 10);
        assert_int_equal(heat_store_set_move_params(f.heat, &HEAT_MOVE_PARAMS_DEFAULT), 0); /* residency 2 */

        /* Page 0 was promoted in round 12 and page 2 demoted: both wait 2 rounds. */
        assert_int_equal(heat_store_note_move(f.heat, 1, BASE, 1, 0, ROUNDS), 0);
        assert_int_equal(heat_store_note_move(f.heat, 1, BASE + 2 * PG, 0, 1, ROUNDS), 0);

        p.round = ROUNDS + 1;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_RESIDENCY], 2);
        policy_plan_done(&pl);

        p.round = ROUNDS + 2;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 3);
        assert_true(move_is(&pl, 0, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 1, 1, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 2, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_RESIDENCY], 0);
        policy_plan_done(&pl);

        /* The daemon demotes page 0 in round 14, back where it came from within the window: a ping-pong, so the
         * page now waits 4 rounds. Page 0 is still cold on node 0 for the planner (the fixture's locator). */
        assert_int_equal(heat_store_note_move(f.heat, 1, BASE, 0, 1, ROUNDS + 2), 1);
        for (uint64_t r = ROUNDS + 3; r < ROUNDS + 6; r++) {
                p.round = r;
                assert_int_equal(plan(&f, &t, &p, &pl), 0);
                assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_RESIDENCY], 1);
                for (size_t i = 0; i < pl.n_moves; i++)
                        assert_false(pl.moves[i].addr == BASE);
                policy_plan_done(&pl);
        }
        p.round = ROUNDS + 6;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_true(move_is(&pl, 0, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_RESIDENCY], 0);
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* A workload over its fast_max: its coldest fast units are demoted first (whatever their class), none of its units
 * is promoted; the others are not affected. */
static void test_workload_over_budget(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 50 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 10, .base = BASE, .heat = "h5 w c4 c1 h2 c7 w c4 h6 h7", .nodes = "0 0 0 0 0 0 0 0 1 1" },
                { .pid = 20, .base = BASE, .heat = "h3 c9", .nodes = "1 0" },
        };
        const pid_t db_pids[] = { 10 };
        struct policy_workload wl = { .name = "db", .pids = db_pids, .n_pids = 1, .fast_max_bytes = 4 * PG };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 5, 10);
        p.workloads = &wl;
        p.n_workloads = 1;

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 5);
        /* Coldest first: idle 7, idle 4 (twice, by address), then the warm page idle for one round. */
        assert_true(move_is(&pl, 0, 10, 5, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 1, 10, 2, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 2, 10, 7, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 3, 10, 3, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 4, 20, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.moves[0].workload, 0);
        assert_int_equal(pl.moves[4].workload, -1);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_FAST_MAX], 2);
        assert_int_equal(pl.n_workloads, 1);
        assert_true(pl.workloads[0].over);
        assert_int_equal(pl.workloads[0].fast_bytes, 8 * PG);
        assert_int_equal(pl.workloads[0].planned_fast_bytes, 4 * PG);
        policy_plan_done(&pl);

        /* The over workload's hot units do not even take room among the candidates: with a budget of one page,
         * the other process's hot page is still promoted. */
        p.promote_budget_bytes = PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 5);
        assert_true(move_is(&pl, 4, 20, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        policy_plan_done(&pl);
        p.promote_budget_bytes = UINT64_MAX;

        /* The fast tier below its target too: units already demoted for the budget are not demoted again; the
         * headroom takes other cold units. */
        t.nodes[0].free_bytes = 3 * PG;
        headroom(&p, 0, 2, 10);
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 6);
        assert_true(move_is(&pl, 0, 10, 5, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 1, 10, 2, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 2, 10, 7, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 3, 10, 3, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 4, 20, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 5, 20, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 7 * PG);
        assert_int_equal(pl.summary.tiers[0].headroom_short_bytes, 3 * PG);
        policy_plan_done(&pl);

        /* Within its budget with room for one page: the hottest of its slow units comes in, the next does not. */
        t.nodes[0].free_bytes = 50 * PG;
        headroom(&p, 0, 5, 10);
        wl.fast_max_bytes = 9 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 10, 9, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 20, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_FAST_MAX], 1);
        assert_false(pl.workloads[0].over);
        assert_int_equal(pl.workloads[0].planned_fast_bytes, 9 * PG);
        policy_plan_done(&pl);

        /* Without a budget the workload is like any process. */
        wl.fast_max_bytes = POLICY_NO_LIMIT;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 3);
        assert_true(move_is(&pl, 0, 10, 9, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 10, 8, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 2, 20, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.moves[0].workload, 0);
        policy_plan_done(&pl);

        fixture_done(&f);
}

/* Three tiers: one step at a time, lower tiers make room first, promotions fill the fastest first. */
static void test_three_tiers(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 5 }, { 1, 1, 100, 3 }, { 2, 2, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c6 c4 c5 c7 h5 h4 c3", .nodes = "0 0 1 1 2 1 0" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 3);
        headroom(&p, 0, 2, 8);
        headroom(&p, 1, 2, 6);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 7);
        assert_true(move_is(&pl, 0, 1, 3, 1, 2, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 1, 1, 2, 1, 2, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 2, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 3, 1, 1, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 4, 1, 6, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 5, 1, 5, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 6, 1, 4, 2, 1, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.moves[6].from_tier, 2);
        assert_int_equal(pl.moves[6].to_tier, 1);
        assert_int_equal(pl.summary.n_tiers, 3);
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 7 * PG);
        assert_int_equal(pl.summary.tiers[1].planned_free_bytes, 2 * PG);
        assert_int_equal(pl.summary.tiers[1].headroom_short_bytes, 4 * PG);
        policy_plan_done(&pl);
        fixture_done(&f);
}

/* Tier skipping: only when configured, and only past a tier without room (demotion) or to the fastest tier with
 * room (promotion). */
static void test_tier_skip(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 5 }, { 1, 1, 100, 2 }, { 2, 2, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c6 h5", .nodes = "0 2" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 3);
        headroom(&p, 0, 2, 6);
        headroom(&p, 1, 2, 2);

        /* One tier at a time: the middle tier is full, so neither moves. */
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        assert_int_equal(pl.summary.tiers[0].headroom_short_bytes, PG);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 1);
        policy_plan_done(&pl);

        p.tier_skip = true;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 0, 0, 2, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 1, 1, 1, 2, 0, P, POLICY_REASON_HOT_ON_SLOW));
        policy_plan_done(&pl);

        /* With room in the middle tier, a demotion still goes one step only. */
        t.nodes[1].free_bytes = 50 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_true(move_is(&pl, 0, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        policy_plan_done(&pl);
        fixture_done(&f);
}

/* Destination within a tier: the node with the most room above its share of free_min; ties to the lower id. */
static void test_destination_node(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        /* Tier 0: node 0 (100 pages, 20 free) and node 2 (300 pages, 40 free). free_min 40 pages: shares 10 and 30,
         * so both have 10 pages of room although node 2 has more free bytes. */
        const struct node_spec nodes[] = { { 0, 0, 100, 20 }, { 1, 1, 1000, 900 }, { 2, 0, 300, 40 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h7 h6 h5", .nodes = "1 1 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 40, 40);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 3);
        assert_true(move_is(&pl, 0, 1, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 1, 1, 1, 1, 2, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 2, 1, 2, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        policy_plan_done(&pl);

        /* A node at its share takes nothing, though the tier has room. */
        t.nodes[0].free_bytes = 10 * PG;
        t.nodes[2].free_bytes = 100 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 3);
        for (size_t i = 0; i < pl.n_moves; i++)
                assert_int_equal(pl.moves[i].to_node, 2);
        policy_plan_done(&pl);

        /* The tier's minimum holds even when a node is short of its share: node 2 has 42 - 30 = 12 pages of room,
         * but the tier (node 0 has nothing) only 42 - 40 = 2. */
        t.nodes[0].free_bytes = 0;
        t.nodes[2].free_bytes = 42 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 40 * PG);
        policy_plan_done(&pl);
        fixture_done(&f);
}

/* Candidate sets are bounded by the budget, ties go by address, and once a set is full with colder units warmer
 * ones are not even located. */
static void test_candidates_bounded(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 10000, 0 }, { 1, 1, 100000, 90000 } };
        struct proc procs[1] = { { .pid = 1, .base = BASE } };
        struct policy_params p = params_default();
        struct policy_plan pl;
        const size_t n = 3000;
        char *heat, *where;
        size_t k = 0;

        heat = malloc(n * 4);
        where = malloc(n * 2 + 1);
        assert_non_null(heat);
        assert_non_null(where);

        /* All equally cold: the first 10 by address; after the first batch nothing is located. */
        for (size_t i = 0; i < n; i++) {
                memcpy(heat + i * 3, "c5 ", 3);
                memcpy(where + i * 2, "0 ", 2);
        }
        heat[n * 3 - 1] = 0;
        where[n * 2 - 1] = 0;
        procs[0].heat = heat;
        procs[0].nodes = where;
        fixture_build(&f, procs, 1);
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 0, 1000);
        p.demote_budget_bytes = 10 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 10);
        for (size_t i = 0; i < 10; i++)
                assert_true(move_is(&pl, i, 1, i, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_int_equal(f.units_located, POLICY_LOCATE_BATCH);
        assert_int_equal(pl.summary.candidate_units, 10);
        policy_plan_done(&pl);
        fixture_done(&f);

        /* Colder towards the end: idle age 3 + 8 i / n; the coldest (idle 10) start at page 2625. */
        for (size_t i = 0; i < n; i++)
                k += (size_t) sprintf(heat + k, "c%zu ", 3 + 8 * i / n);
        heat[k - 1] = 0;
        fixture_build(&f, procs, 1);
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 10);
        for (size_t i = 0; i < 10; i++)
                assert_true(move_is(&pl, i, 1, 2625 + i, 0, 1, D, POLICY_REASON_HEADROOM));
        /* Located in batches of 1024, the sets filling at each flush: pages 0-1023 (the set keeps 750-759, idle 5);
         * 1024-1124 (idle 5, no colder) are passed over; 1125-2148 (keeps 1875-1884, idle 8); 2149-2249 passed
         * over; 2250-2999. */
        assert_int_equal(f.units_located, 1024 + 1024 + 750);
        assert_int_equal(pl.summary.candidate_units, 10);
        policy_plan_done(&pl);
        fixture_done(&f);

        free(heat);
        free(where);
}

/* Nothing hot or cold: the locator is not called at all. One tier: an empty plan. */
static void test_nothing_to_do(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 0 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "w w c1 c2", .nodes = "0 0 0 0" },
                { .pid = 2, .base = BASE, .heat = "c9 h4", .nodes = "0 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, 1);
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 20);
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        assert_int_equal(f.locate_calls, 0);
        assert_int_equal(pl.summary.tiers[0].headroom_short_bytes, 20 * PG);
        policy_plan_done(&pl);
        fixture_done(&f);

        fixture_build(&f, procs + 1, 1);
        topo_build(&t, nodes, 1, 1);
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 0);
        assert_int_equal(f.locate_calls, 0);
        policy_plan_done(&pl);

        /* Invalid parameters. */
        p.class.promote_rounds = 0;
        assert_int_equal(plan(&f, &t, &p, &pl), -EINVAL);
        p = params_default();
        assert_int_equal(policy_plan(NULL, &t.topo, &p, fake_locate, &f, &pl), -EINVAL);
        assert_int_equal(policy_plan(f.heat, &t.topo, &p, NULL, &f, &pl), -EINVAL);
        fixture_done(&f);
}

/* A dry run shows what would move and why: every move has a reason, and the summary adds up. */
static void test_reasons_and_summary(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 9 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c9 c8 c7 h6 h5", .nodes = "0 0 0 1 1" },
                { .pid = 2, .base = BASE, .heat = "w c9", .nodes = "0 0" },
        };
        const pid_t pids[] = { 2 };
        struct policy_workload wl = { .name = "small", .pids = pids, .n_pids = 1, .fast_max_bytes = PG };
        struct policy_params p = params_default();
        struct policy_plan pl;
        uint64_t moves = 0, bytes = 0;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 11);
        p.workloads = &wl;
        p.n_workloads = 1;
        p.move_shared = true;

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        /* Over budget (pid 2, its cold page), headroom (to 11 free), then one hot in and one exchange. */
        assert_int_equal(pl.n_moves, 5);
        assert_true(move_is(&pl, 0, 2, 1, 0, 1, D, POLICY_REASON_OVER_BUDGET));
        assert_true(move_is(&pl, 1, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_true(move_is(&pl, 2, 1, 3, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_true(move_is(&pl, 3, 1, 1, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 4, 1, 4, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        for (int r = 0; r < _POLICY_REASON_MAX; r++) {
                /* Fill is off (policy_params.fill): test_fill has it. */
                assert_int_equal(pl.summary.reason_moves[r], r == POLICY_REASON_FILL ? 0 : 1);
                assert_int_equal(pl.summary.reason_bytes[r], r == POLICY_REASON_FILL ? 0 : PG);
                moves += pl.summary.reason_moves[r];
                bytes += pl.summary.reason_bytes[r];
        }
        assert_int_equal(moves, pl.summary.moves[P] + pl.summary.moves[D]);
        assert_int_equal(bytes, pl.summary.bytes[P] + pl.summary.bytes[D]);
        assert_int_equal(pl.summary.moves[D], 3);
        assert_int_equal(pl.move_flags, MPOL_MF_MOVE_ALL);
        policy_plan_done(&pl);

        p.move_shared = false;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.move_flags, MPOL_MF_MOVE);
        policy_plan_done(&pl);

        assert_string_equal(policy_reason_to_string(POLICY_REASON_HOT_ON_SLOW), "hot-on-slow");
        assert_string_equal(policy_reason_to_string(POLICY_REASON_ONE_FOR_ONE), "one-for-one");
        assert_string_equal(policy_reason_to_string(POLICY_REASON_COLD_ON_FAST), "cold-on-fast");
        assert_string_equal(policy_reason_to_string(POLICY_REASON_HEADROOM), "headroom");
        assert_string_equal(policy_reason_to_string(POLICY_REASON_OVER_BUDGET), "over-budget");
        assert_null(policy_reason_to_string(_POLICY_REASON_MAX));
        assert_string_equal(policy_direction_to_string(POLICY_PROMOTE), "promote");
        assert_string_equal(policy_direction_to_string(POLICY_DEMOTE), "demote");
        for (int s = 0; s < _POLICY_SKIP_MAX; s++)
                assert_non_null(policy_skip_to_string(s));
        assert_string_equal(policy_skip_to_string(POLICY_SKIP_LAZYFREE), "lazyfree");
        assert_null(policy_skip_to_string(_POLICY_SKIP_MAX));
        fixture_done(&f);
}

static void test_set_headroom(void **state _unused_) {
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 1000, 0 }, { 1, 1, 10000, 0 } };
        struct size_or_percent min, target;
        struct policy_params p = {};

        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        assert_int_equal(parse_size_or_percent("2%", &min), 0);
        assert_int_equal(parse_size_or_percent("5%", &target), 0);
        policy_params_set_headroom(&p, &t.topo, &min, &target);
        assert_int_equal(p.free_min_bytes[0], 20 * PG);
        assert_int_equal(p.free_target_bytes[0], 50 * PG);
        assert_int_equal(p.free_min_bytes[1], 200 * PG);
        assert_int_equal(p.free_target_bytes[1], 500 * PG);
        assert_int_equal(p.free_min_bytes[2], 0);

        /* Sizes apply to every tier, clamped to its total; a target below the minimum is the minimum. */
        assert_int_equal(parse_size_or_percent("8M", &min), 0);
        assert_int_equal(parse_size_or_percent("4M", &target), 0);
        policy_params_set_headroom(&p, &t.topo, &min, &target);
        assert_int_equal(p.free_min_bytes[0], 1000 * PG); /* 8M > 1000 pages */
        assert_int_equal(p.free_target_bytes[0], 1000 * PG);
        assert_int_equal(p.free_min_bytes[1], 2048 * PG);
        assert_int_equal(p.free_target_bytes[1], 2048 * PG);
}

static void test_tuner(void **state _unused_) {
        const uint64_t G = UINT64_C(1) << 30;
        struct policy_tuner_params tp = { .interval_min_us = 10000, .interval_max_us = 10000000 };

        assert_int_equal(parse_size_or_percent("50%", &tp.hot_target), 0);

        /* Fast tier 64G, target 32G. Above: interval x target / hot. */
        assert_int_equal(policy_tune_pass_interval(&tp, 40 * G, 64 * G, 1000000), 800000);
        /* At most halved per round. */
        assert_int_equal(policy_tune_pass_interval(&tp, 200 * G, 64 * G, 1000000), 500000);
        /* At least an eighth shorter, even just above the target. */
        assert_int_equal(policy_tune_pass_interval(&tp, 33 * G, 64 * G, 1000000), 875000);
        /* Dead band: between half the target and the target, unchanged. */
        assert_int_equal(policy_tune_pass_interval(&tp, 32 * G, 64 * G, 1000000), 1000000);
        assert_int_equal(policy_tune_pass_interval(&tp, 16 * G, 64 * G, 1000000), 1000000);
        /* Well below: + 1/8. */
        assert_int_equal(policy_tune_pass_interval(&tp, 16 * G - 1, 64 * G, 1000000), 1125000);
        assert_int_equal(policy_tune_pass_interval(&tp, 0, 64 * G, 1000000), 1125000);
        /* Bounds. */
        assert_int_equal(policy_tune_pass_interval(&tp, 0, 64 * G, 9500000), 10000000);
        assert_int_equal(policy_tune_pass_interval(&tp, 200 * G, 64 * G, 15000), 10000);
        assert_int_equal(policy_tune_pass_interval(&tp, 20 * G, 64 * G, 5), 10000);
        /* No fast tier: left alone. */
        assert_int_equal(policy_tune_pass_interval(&tp, 200 * G, 0, 1000000), 1000000);

        /* Repeated rounds converge into the band when the hot set follows the interval (here: proportionally). */
        uint64_t interval = 8000000;
        for (unsigned r = 0; r < 50; r++) {
                uint64_t hot = 64 * G / 1000000 * interval / 4; /* 8 s: 128G hot */

                interval = policy_tune_pass_interval(&tp, hot, 64 * G, interval);
        }
        uint64_t hot = 64 * G / 1000000 * interval / 4;
        assert_true(hot <= 32 * G && hot >= 16 * G);

        /* A size target. */
        assert_int_equal(parse_size_or_percent("1G", &tp.hot_target), 0);
        assert_int_equal(policy_tune_pass_interval(&tp, 2 * G, 64 * G, 1000000), 500000);
}

/* The fast tier full of warm units and nothing cold: hot units that have been hot for twice promote_rounds still
 * get in, each for the coldest warm unit not on a streak (idle longest, then fewest hits). A warm unit that was at
 * the hot threshold in the last round (h1: one round from hot) is never displaced, and h3, hot for less than
 * 2 x promote_rounds, waits although a warm unit (page 4) is left. */
static void test_warm_displaced(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 10 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h1 w c1 c2 w h6 h5 h4 h3", .nodes = "0 0 0 0 0 1 1 1 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 10);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 6);
        assert_true(move_is(&pl, 0, 1, 3, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 5, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_true(move_is(&pl, 2, 1, 2, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 3, 1, 6, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_true(move_is(&pl, 4, 1, 1, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 5, 1, 7, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 1);
        assert_int_equal(pl.summary.skipped_bytes[POLICY_SKIP_NO_ROOM], PG);
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
        /* What step 5 had to work with: all four waited, three with the streak for a warm victim. */
        assert_int_equal(pl.summary.waiting_streak_max, 6);
        assert_int_equal(pl.summary.warm_waiting_bytes, 3 * PG);
        assert_int_equal(pl.summary.warm_victim_units, 3);
        policy_plan_done(&pl);

        /* Exchanges in chunks for batches of two pages: the chunk's demotions, then its promotions. */
        p.batch_bytes = 2 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 6);
        assert_true(move_is(&pl, 0, 1, 3, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 2, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 2, 1, 5, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_true(move_is(&pl, 3, 1, 6, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_true(move_is(&pl, 4, 1, 1, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 5, 1, 7, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        policy_plan_done(&pl);
        p.batch_bytes = 0;

        /* The demotion budget bounds the exchanges, warm or cold: one page, one exchange. */
        p.demote_budget_bytes = PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 3, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 5, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        policy_plan_done(&pl);

        p.demote_budget_bytes = UINT64_MAX;
        /* Two pages short of the minimum free: the first exchange restores it with warm victims too (there is no
         * cold one), so two more are walked than what waits needs, and two hot units get in for four. */
        t.nodes[0].free_bytes = 8 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.summary.warm_victim_units, 4);
        assert_int_equal(pl.summary.moves[P], 2);
        assert_int_equal(pl.summary.moves[D], 4);
        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
        policy_plan_done(&pl);

        /* Room in headroom: no warm unit moves at all, and every hot unit goes in. */
        t.nodes[0].free_bytes = 20 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 4);
        for (size_t i = 0; i < pl.n_moves; i++)
                assert_int_equal(pl.moves[i].reason, POLICY_REASON_HOT_ON_SLOW);
        policy_plan_done(&pl);
        fixture_done(&f);
}

/* Tierd's first rounds: a unit hot in every round since its process became a target may displace a warm unit as
 * soon as it is hot (a hot set at the start, found in two rounds rather than four); one whose streak began a
 * round later waits for twice promote_rounds as before, and after HEAT_STREAK_MAX + 1 rounds nobody is hot in
 * all of them. */
static void test_warm_displaced_first_rounds(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 10 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "w w w h3 h2", .nodes = "0 0 0 1 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_rounds = 3;
        fixture_build(&f, procs, ELEMENTSOF(procs));
        fixture_rounds = ROUNDS;
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 10);
        assert_int_equal(heat_store_target_rounds(f.heat, 1), 3);
        assert_int_equal(heat_store_target_rounds(f.heat, 2), -ENOENT);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 1, 1, 3, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_int_equal(pl.summary.moves[D], 1);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 1); /* h2 */
        assert_int_equal(pl.summary.warm_waiting_bytes, PG);
        policy_plan_done(&pl);
        fixture_done(&f);
}

/* Plans for procs on a node 0 of 100 pages with free0 free (a minimum and target of 10) and a node 1 of 1000 with
 * 900: the layout of the exchange-level, probing and fill tests. p's headroom is set; the rest is the caller's. */
static void plan_small(const struct proc *procs, size_t n, uint64_t free0, struct policy_params *p,
                       struct policy_plan *ret) {
        const struct node_spec nodes[] = { { 0, 0, 100, free0 }, { 1, 1, 1000, 900 } };
        struct fixture f;
        struct topo_fixture t;

        fixture_build(&f, procs, n);
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(p, 0, 10, 10);
        assert_int_equal(plan(&f, &t, p, ret), 0);
        fixture_done(&f);
}

/* The exchange levels the payoff ledger sets, on test_warm_displaced's full fast tier (no cold unit there; hot units
 * of streaks 6, 5, 4 and 3 on the slow tier). Normal: the three of streak 4 or more displace warm units, streak 3
 * waits. Eager: streak 2 is enough, all four go. Probing: normal's exchanges, the same victims in the same order,
 * go to the shadow list and nothing moves; the plan's arithmetic is as if none had been planned. A workload's own
 * level applies to its units whatever the level outside. */
static void test_exchange_levels(void **state _unused_) {
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h1 w c1 c2 w h6 h5 h4 h3", .nodes = "0 0 0 0 0 1 1 1 1" },
        };
        const pid_t pids[] = { 1 };
        struct policy_workload wl = { .name = "w", .pids = pids, .n_pids = 1, .fast_max_bytes = POLICY_NO_LIMIT };
        /* free: node 0's free pages against a minimum and target of 10; 8 puts it 2 below, so the first exchange
         * also demotes the 2 it is short (the second walk looks for 3 + 2 warm units and finds 4: two exchanges
         * complete): a shadow exchange pays that as the real one does. A normal case is followed by the probing cases compared with
         * it. */
        const struct {
                enum policy_exchange outside, workload;
                bool in_workload;
                uint64_t free;
                size_t moves, no_room, shadow;
        } cases[] = {
                { POLICY_EXCHANGE_NORMAL, 0, false, 10, 6, 1, 0 },
                { POLICY_EXCHANGE_EAGER, 0, false, 10, 8, 0, 0 },
                { POLICY_EXCHANGE_PROBING, 0, false, 10, 0, 4, 6 },
                { POLICY_EXCHANGE_PROBING, POLICY_EXCHANGE_EAGER, true, 10, 8, 0, 0 },
                { POLICY_EXCHANGE_EAGER, POLICY_EXCHANGE_PROBING, true, 10, 0, 4, 6 },
                { POLICY_EXCHANGE_NORMAL, 0, false, 8, 6, 2, 0 },
                { POLICY_EXCHANGE_PROBING, 0, false, 8, 0, 4, 6 },
        };
        struct policy_plan normal = {};

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                struct policy_params p = params_default();
                struct policy_plan pl;

                p.exchange = cases[k].outside;
                if (cases[k].in_workload) {
                        wl.exchange = cases[k].workload;
                        p.workloads = &wl;
                        p.n_workloads = 1;
                }
                plan_small(procs, ELEMENTSOF(procs), cases[k].free, &p, &pl);
                if (pl.n_moves != cases[k].moves)
                        plan_print(&pl);
                assert_int_equal(pl.n_moves, cases[k].moves);
                assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], cases[k].no_room);
                assert_int_equal(pl.n_shadow, cases[k].shadow);
                assert_int_equal(pl.summary.shadow_moves[P] + pl.summary.shadow_moves[D], cases[k].shadow);
                if (cases[k].moves == 8) {
                        /* The streak-3 unit takes the last warm unit, the one at page 4. */
                        assert_true(move_is(&pl, 6, 1, 4, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
                        assert_true(move_is(&pl, 7, 1, 8, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
                }
                if (cases[k].shadow > 0) {
                        /* What normal would have moved, in the order it was planned (before the plan's reorder
                         * for batches), and nothing of it in the plan's free memory. */
                        assert_int_equal(normal.n_moves, pl.n_shadow);
                        for (size_t i = 0; i < pl.n_shadow; i++) {
                                assert_int_equal(pl.shadow[i].addr, normal.moves[i].addr);
                                assert_int_equal(pl.shadow[i].reason, normal.moves[i].reason);
                        }
                        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, cases[k].free * PG);
                        assert_int_equal(pl.summary.moves[P] + pl.summary.moves[D], 0);
                }
                if (cases[k].outside == POLICY_EXCHANGE_NORMAL && !cases[k].in_workload) {
                        policy_plan_done(&normal);
                        normal = pl;
                } else
                        policy_plan_done(&pl);
        }
        policy_plan_done(&normal);
}

/* Probed exchanges on a fast tier 2 pages short of its minimum with nothing cold to demote for it (warm units
 * only, as under a busy background): the first exchange pays the shortfall (3 demotions), the next ones one each,
 * and the 6 warm units found for the 5 hot ones that wait and the 2 pages short run out after four, exactly as the
 * real exchanges of a normal plan. A shadow exchange planned against the plan's free memory instead (2 short again
 * each time) would demote 3 for every hot unit and run out after two. */
static void test_probing_shortfall(void **state _unused_) {
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "w w w w w w h7 h6 h5 h4 h4", .nodes = "0 0 0 0 0 0 1 1 1 1 1" },
        };
        struct policy_plan pl[2];

        for (size_t k = 0; k < 2; k++) {
                struct policy_params p = params_default();

                p.exchange = k == 0 ? POLICY_EXCHANGE_NORMAL : POLICY_EXCHANGE_PROBING;
                plan_small(procs, ELEMENTSOF(procs), 8, &p, &pl[k]);
        }
        assert_int_equal(pl[0].n_moves, 10);
        assert_int_equal(pl[0].summary.moves[P], 4);
        assert_int_equal(pl[1].n_moves, 0);
        assert_int_equal(pl[1].n_shadow, 10);
        for (size_t i = 0; i < 10; i++) {
                assert_int_equal(pl[1].shadow[i].addr, pl[0].moves[i].addr);
                assert_int_equal(pl[1].shadow[i].direction, pl[0].moves[i].direction);
        }
        policy_plan_done(&pl[0]);
        policy_plan_done(&pl[1]);
}

/* Step 6: room above the fast tier's target after the hot unit went in (3 pages of room, the hot unit takes one)
 * is filled with the warmest warm units of the slow tier hit in the last round (a streak of 1, then one hit), not
 * a warm one idle for a round (it buys nothing), nor cold or never-touched ones, nor a warm unit already on the
 * fast tier. Off, nothing but the hot unit moves; a budgeted workload's units are never filled in; no room above
 * the target, no fill. */
static void test_fill(void **state _unused_) {
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "h4 w c1 H1 w c5 n", .nodes = "1 1 1 1 0 1 1" },
        };
        const pid_t pids[] = { 1 };
        struct policy_workload wl = { .name = "w", .pids = pids, .n_pids = 1, .fast_max_bytes = 50 * PG };
        const struct {
                bool fill, budgeted;
                uint64_t free_pages;
                size_t moves;
        } cases[] = {
                { true, false, 13, 3 },
                { false, false, 13, 1 },
                { true, true, 13, 1 },
                { true, false, 11, 1 },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                struct policy_params p = params_default();
                struct policy_plan pl;

                p.fill = cases[k].fill;
                if (cases[k].budgeted) {
                        p.workloads = &wl;
                        p.n_workloads = 1;
                }
                plan_small(procs, ELEMENTSOF(procs), cases[k].free_pages, &p, &pl);
                if (pl.n_moves != cases[k].moves)
                        plan_print(&pl);
                assert_int_equal(pl.n_moves, cases[k].moves);
                assert_true(move_is(&pl, 0, 1, 0, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
                if (cases[k].moves == 3) {
                        assert_true(move_is(&pl, 1, 1, 3, 1, 0, P, POLICY_REASON_FILL));
                        assert_true(move_is(&pl, 2, 1, 1, 1, 0, P, POLICY_REASON_FILL));
                        assert_int_equal(pl.summary.reason_moves[POLICY_REASON_FILL], 2);
                        assert_int_equal(pl.summary.tiers[0].planned_free_bytes, 10 * PG);
                        /* Filled units are not settled: they are warm, and the next walks must see them. */
                        assert_false(pl.moves[1].settles);
                }
                policy_plan_done(&pl);
        }
}

/* What the kernel keeps of a node's free memory (watermarks, lowmem reserve) is no headroom: a node with 30 free
 * pages of which 20 are kept is full at a minimum of 10, so the hot unit goes in one for one. With 25 kept it is
 * below its target: the cold unit goes for headroom, and the hot one does not fit after it. */
/* Field by field: a move's padding is not part of it. */
static bool moves_equal(const struct policy_move *a, const struct policy_move *b) {
        return a->pid == b->pid && a->size_bytes == b->size_bytes && a->addr == b->addr &&
                a->from_node == b->from_node && a->to_node == b->to_node && a->from_tier == b->from_tier &&
                a->to_tier == b->to_tier && a->direction == b->direction && a->reason == b->reason &&
                a->workload == b->workload && a->entry == b->entry && a->settles == b->settles;
}

/* A plan built in steps (policy_planner_step()) is the plan built in one go, whatever a step may locate: the walks
 * go on where they paused. Four processes of mixed heat on a full fast tier (exchanges, and step 5's warm walk for
 * the hot units left waiting), or with fill, on a fast tier with room for every hot unit and more (step 6's walk
 * fills it), and a budgeted workload (its own walk), each located in several batches. Each plan gets a store of
 * its own, built alike: planning marks units settled. */
static void planner_steps(bool fill) {
        static const char *const kinds[] = { "h2", "h5", "H5", "w", "c3", "c8", "n", "c1" };
        const struct node_spec nodes[] = { { 0, 0, 20000, fill ? 4200 : 0 }, { 1, 1, 100000, 90000 } };
        const size_t n_pages = 2500, n_procs = 4;
        const uint64_t steps_max[] = { 1, 700, 1024, 5000, UINT64_MAX };
        const pid_t db_pids[] = { 30, 10 };
        struct policy_workload wl = { .name = "db", .pids = db_pids, .n_pids = 2, .fast_max_bytes = 4000 * PG };
        struct proc procs[4];
        char *heat[4], *where[4];
        struct topo_fixture t;
        struct policy_params p = params_default();
        struct policy_plan whole;
        struct fixture f;
        uint32_t seed = 12345;

        for (size_t i = 0; i < n_procs; i++) {
                size_t kh = 0, kw = 0;

                heat[i] = malloc(n_pages * 4);
                where[i] = malloc(n_pages * 2 + 1);
                assert_non_null(heat[i]);
                assert_non_null(where[i]);
                for (size_t k = 0; k < n_pages; k++) {
                        const char *kind;

                        seed = seed * 1103515245 + 12345;
                        kind = kinds[(seed >> 16) % ELEMENTSOF(kinds)];
                        kh += (size_t) sprintf(heat[i] + kh, "%s ", kind);
                        /* Hot units mostly on the slow node, the others mostly on the fast one. */
                        kw += (size_t) sprintf(where[i] + kw, "%d ", (kind[0] == 'h' || kind[0] == 'H') == ((seed >> 8) % 8 != 0));
                }
                heat[i][kh - 1] = 0;
                where[i][kw - 1] = 0;
                procs[i] = (struct proc) { .pid = (pid_t) (10 * (i + 1)), .base = BASE, .heat = heat[i], .nodes = where[i] };
        }
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 0, 0);
        p.workloads = &wl;
        p.n_workloads = 1;
        p.fill = fill;

        fixture_build(&f, procs, n_procs);
        assert_int_equal(plan(&f, &t, &p, &whole), 0);
        fixture_done(&f);
        /* The fixture plans what this test is about: exchanges, and warm units displaced in step 5; or room
         * filled in step 6 after the hot units went in. */
        if (fill)
                assert_true(whole.summary.reason_bytes[POLICY_REASON_FILL] > 0 &&
                            whole.summary.reason_bytes[POLICY_REASON_HOT_ON_SLOW] > 0);
        else
                assert_true(whole.summary.reason_bytes[POLICY_REASON_ONE_FOR_ONE] > 0);
        assert_true(whole.summary.units_located > 4 * POLICY_LOCATE_BATCH);
        assert_true(whole.workloads[0].fast_bytes > 0);

        for (size_t m = 0; m < ELEMENTSOF(steps_max); m++) {
                _cleanup_(policy_planner_freep) struct policy_planner *planner = NULL;
                struct policy_plan stepped = {};
                uint64_t located = 0, calls = 0, walked = 0;
                unsigned steps = 0;
                int r;

                fixture_build(&f, procs, n_procs);
                assert_int_equal(policy_planner_new(f.heat, &t.topo, &p, fake_locate, &f, &planner), 0);
                do {
                        struct policy_step_stats st;

                        r = policy_planner_step(planner, steps_max[m], &stepped);
                        assert_true(r >= 0);
                        steps++;
                        assert_true(steps < 100);
                        /* The step's own figures: they add up to the plan's (a batch walked in one step may be
                         * located in the next), and a paused step is in a walk. */
                        policy_planner_step_stats(planner, &st);
                        assert_true(st.located <= steps_max[m] - 1 + POLICY_LOCATE_BATCH ||
                                    steps_max[m] > UINT64_MAX - POLICY_LOCATE_BATCH);
                        if (r > 0)
                                assert_true(streq(st.ended_in, "walk") || streq(st.ended_in, "warm walk") ||
                                            streq(st.ended_in, "fill walk") || streq(st.ended_in, "workload walks"));
                        else
                                assert_string_equal(st.ended_in, "done");
                        located += st.located;
                        calls += st.locate_calls;
                        walked += st.walked;
                } while (r > 0);
                assert_int_equal(located, whole.summary.units_located);
                assert_int_equal(calls, whole.summary.locate_calls);
                assert_true(walked >= located);
                /* A step pauses at the first batch flush past its share: every batch of 1024 or fewer. */
                if (steps_max[m] <= POLICY_LOCATE_BATCH)
                        assert_true(steps >= whole.summary.locate_calls / 2);
                if (steps_max[m] == UINT64_MAX)
                        assert_int_equal(steps, 1);
                /* Done: nothing more to hand out. */
                assert_int_equal(policy_planner_step(planner, 1, &(struct policy_plan) {}), -EINVAL);

                assert_int_equal(stepped.n_moves, whole.n_moves);
                for (size_t i = 0; i < whole.n_moves; i++)
                        assert_true(moves_equal(&stepped.moves[i], &whole.moves[i]));
                assert_memory_equal(&stepped.summary, &whole.summary, sizeof(whole.summary));
                assert_int_equal(stepped.n_workloads, 1);
                assert_memory_equal(stepped.workloads, whole.workloads, sizeof(struct policy_workload_summary));
                policy_plan_done(&stepped);
                fixture_done(&f);
        }

        policy_plan_done(&whole);
        for (size_t i = 0; i < n_procs; i++) {
                free(heat[i]);
                free(where[i]);
        }
}

static void test_planner_steps(void **state _unused_) {
        planner_steps(false);
        planner_steps(true);
}

static void test_kept_free_memory(void **state _unused_) {
        struct fixture f;
        struct topo_fixture t;
        const struct node_spec nodes[] = { { 0, 0, 100, 30 }, { 1, 1, 1000, 900 } };
        const struct proc procs[] = {
                { .pid = 1, .base = BASE, .heat = "c5 h5", .nodes = "0 1" },
        };
        struct policy_params p = params_default();
        struct policy_plan pl;

        fixture_build(&f, procs, ELEMENTSOF(procs));
        topo_build(&t, nodes, ELEMENTSOF(nodes), 2);
        headroom(&p, 0, 10, 10);

        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 1, 1, 0, P, POLICY_REASON_HOT_ON_SLOW));
        assert_int_equal(pl.summary.tiers[0].free_bytes, 30 * PG);
        policy_plan_done(&pl);

        t.nodes[0].kept_bytes = 20 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 2);
        assert_true(move_is(&pl, 0, 1, 0, 0, 1, D, POLICY_REASON_COLD_ON_FAST));
        assert_true(move_is(&pl, 1, 1, 1, 1, 0, P, POLICY_REASON_ONE_FOR_ONE));
        assert_int_equal(pl.summary.tiers[0].free_bytes, 10 * PG);
        policy_plan_done(&pl);

        t.nodes[0].kept_bytes = 25 * PG;
        assert_int_equal(plan(&f, &t, &p, &pl), 0);
        assert_int_equal(pl.n_moves, 1);
        assert_true(move_is(&pl, 0, 1, 0, 0, 1, D, POLICY_REASON_HEADROOM));
        assert_int_equal(pl.summary.tiers[0].free_bytes, 5 * PG);
        assert_int_equal(pl.summary.skipped_units[POLICY_SKIP_NO_ROOM], 1);
        policy_plan_done(&pl);
        fixture_done(&f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixture_histories),
                cmocka_unit_test(test_promote_into_headroom),
                cmocka_unit_test(test_promote_never_below_min),
                cmocka_unit_test(test_eager_into_free_room),
                cmocka_unit_test(test_one_for_one),
                cmocka_unit_test(test_one_for_one_rollback),
                cmocka_unit_test(test_demote_coldest_first),
                cmocka_unit_test(test_skip_flags_promotion),
                cmocka_unit_test(test_placement_skips),
                cmocka_unit_test(test_residency_and_pingpong),
                cmocka_unit_test(test_workload_over_budget),
                cmocka_unit_test(test_three_tiers),
                cmocka_unit_test(test_tier_skip),
                cmocka_unit_test(test_destination_node),
                cmocka_unit_test(test_candidates_bounded),
                cmocka_unit_test(test_nothing_to_do),
                cmocka_unit_test(test_reasons_and_summary),
                cmocka_unit_test(test_set_headroom),
                cmocka_unit_test(test_tuner),
                cmocka_unit_test(test_warm_displaced),
                cmocka_unit_test(test_warm_displaced_first_rounds),
                cmocka_unit_test(test_exchange_levels),
                cmocka_unit_test(test_probing_shortfall),
                cmocka_unit_test(test_fill),
                cmocka_unit_test(test_kept_free_memory),
                cmocka_unit_test(test_planner_steps),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
