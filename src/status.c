/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "cpu-budget.h"
#include "loop-turns.h"
#include "status.h"

static json_object *json_u64(uint64_t v) {
        /* json-c stores uint64 natively; sizes above INT64_MAX cannot occur but would still print unsigned. */
        return json_object_new_uint64(v);
}

static json_object *node_set_to_json(const struct node_set *set) {
        json_object *a = json_object_new_array();

        NODE_SET_FOREACH(n, set)
                json_object_array_add(a, json_object_new_int(n));
        return a;
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *permille_or_null(int permille) {
        return permille >= 0 ? json_object_new_double(permille / 1000.0) : NULL;
}

static json_object *payoff_figures_to_json(const struct payoff_figures *f) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "cohorts", json_u64(f->cohorts));
        json_object_object_add(o, "promoted_units", json_u64(f->promoted_units));
        json_object_object_add(o, "promoted_bytes", json_u64(f->promoted_bytes));
        json_object_object_add(o, "paid_bytes", json_u64(f->paid_bytes));
        json_object_object_add(o, "paid_ratio", permille_or_null(payoff_paid_permille(f)));
        json_object_object_add(o, "exchange_units", json_u64(f->exchange_units));
        json_object_object_add(o, "exchange_bytes", json_u64(f->exchange_bytes));
        json_object_object_add(o, "exchange_paid_bytes", json_u64(f->exchange_paid_bytes));
        json_object_object_add(o, "exchange_paid_ratio", permille_or_null(payoff_exchange_paid_permille(f)));
        json_object_object_add(o, "demoted_units", json_u64(f->demoted_units));
        json_object_object_add(o, "demoted_bytes", json_u64(f->demoted_bytes));
        json_object_object_add(o, "regret_units", json_u64(f->regret_units));
        json_object_object_add(o, "regret_bytes", json_u64(f->regret_bytes));
        json_object_object_add(o, "regret_ratio", permille_or_null(payoff_regret_permille(f)));
        json_object_object_add(o, "regret_rounds_mean",
                               f->regret_units > 0 ?
                                       json_object_new_double((double) f->regret_rounds / (double) f->regret_units) :
                                       NULL);
        return o;
}

static json_object *payoff_to_json(const struct tierd_status *s) {
        json_object *o, *books;

        if (!s->payoff)
                return NULL;
        o = json_object_new_object();
        books = json_object_new_array();
        json_object_object_add(o, "feedback", json_object_new_boolean(s->exchange_feedback));
        json_object_object_add(o, "window_rounds", json_object_new_int((int) payoff_ledger_window(s->payoff)));
        for (size_t b = 0; b < payoff_ledger_books(s->payoff); b++) {
                struct payoff_book_status st;
                json_object *e = json_object_new_object(), *noted = json_object_new_object();

                payoff_ledger_get(s->payoff, b, &st);
                /* Book 0 holds the targets outside any workload: no name. */
                json_object_object_add(e, "workload", b == 0 ? NULL : str_or_null(payoff_ledger_name(s->payoff, b)));
                json_object_object_add(e, "exchange", str_or_null(policy_exchange_to_string(st.exchange)));
                json_object_object_add(e, "exchange_since_round", json_u64(st.exchange_since_round));
                json_object_object_add(e, "changes", json_u64(st.changes));
                for (int d = 0; d < _POLICY_DIRECTION_MAX; d++)
                        json_object_object_add(noted, policy_direction_to_string(d), json_u64(st.moves_noted[d]));
                json_object_object_add(e, "moves_noted", noted);
                json_object_object_add(e, "recent", payoff_figures_to_json(&st.recent));
                json_object_object_add(e, "total", payoff_figures_to_json(&st.total));
                json_object_array_add(books, e);
        }
        json_object_object_add(o, "books", books);
        return o;
}

static json_object *cpu_to_json(const struct tierd_status *s) {
        const struct cpu_budget *b = s->cpu;
        json_object *o;

        if (!b)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "budget_bp", b->budget_bp > 0 ? json_object_new_int((int) b->budget_bp) : NULL);
        json_object_object_add(o, "used_bp", json_object_new_int64(cpu_budget_last_bp(b)));
        json_object_object_add(o, "used_total_bp", json_object_new_int64(cpu_budget_total_bp(b)));
        json_object_object_add(o, "tierd_us", json_u64(b->own_us));
        json_object_object_add(o, "kdamond_us", json_u64(b->kernel_us));
        json_object_object_add(o, "kdamond_counted", json_object_new_boolean(s->cpu_kernel_thread));
        json_object_object_add(o, "wall_us", json_u64(b->wall_us));
        json_object_object_add(o, "limiting", json_object_new_boolean(cpu_budget_limiting(b)));
        json_object_object_add(o, "slowdown_permille", json_u64((uint64_t) (b->slowdown * 1000.0 + 0.5)));
        json_object_object_add(o, "debt_us", json_u64(b->balance_us < 0 ? (uint64_t) -b->balance_us : 0));
        json_object_object_add(o, "round_gap_us", json_u64(s->round_gap_us));
        json_object_object_add(o, "damon_sample_scale", json_object_new_int((int) MAX(s->sample_scale, 1U)));
        json_object_object_add(o, "damon_region_scale", json_object_new_int((int) MAX(s->region_scale, 1U)));
        return o;
}

static json_object *turn_to_json(const struct loop_turn *t) {
        json_object *o;

        if (!t->what)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "us", json_u64(t->us));
        json_object_object_add(o, "in", json_object_new_string(t->what));
        return o;
}

static json_object *loop_to_json(const struct tierd_status *s) {
        const struct loop_turns *t = s->loop_turns;
        json_object *o;

        if (!t)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "turns", json_u64(t->turns));
        json_object_object_add(o, "slow_turns", json_u64(t->slow_turns));
        json_object_object_add(o, "slow_turn_us", json_u64(LOOP_TURN_SLOW_US));
        json_object_object_add(o, "longest_last_round", turn_to_json(&t->last_round));
        json_object_object_add(o, "longest", turn_to_json(&t->ever));
        return o;
}

static json_object *direction_to_json(const struct placement_direction_stats *d) {
        json_object *o = json_object_new_object(), *failures = json_object_new_object();

        json_object_object_add(o, "bytes", json_u64(d->bytes));
        json_object_object_add(o, "pages", json_u64(d->pages));
        json_object_object_add(o, "units", json_u64(d->units));
        json_object_object_add(o, "failed_pages", json_u64(d->failed_pages));
        for (int e = 0; e < PLACEMENT_ERRNO_MAX; e++)
                if (d->failures[e] > 0) {
                        char buf[16];

                        json_object_object_add(failures, placement_errno_name(e, buf, sizeof(buf)),
                                               json_u64(d->failures[e]));
                }
        json_object_object_add(o, "failures", failures);
        json_object_object_add(o, "pingpongs", json_u64(d->pingpongs));
        json_object_object_add(o, "calls", json_u64(d->calls));
        json_object_object_add(o, "move_time_us", json_u64(d->time_us));
        json_object_object_add(o, "rate_waits", json_u64(d->rate_waits));
        json_object_object_add(o, "dropped_bytes", json_u64(d->dropped_bytes));
        json_object_object_add(o, "dry_run_bytes", json_u64(d->would_bytes));
        json_object_object_add(o, "dry_run_pages", json_u64(d->would_pages));
        return o;
}

static json_object *migrate_to_json(const struct tierd_status *s) {
        json_object *o = json_object_new_object(), *skipped = json_object_new_object();
        const struct placement_stats *st = s->placement;

        json_object_object_add(o, "dry_run", json_object_new_boolean(s->dry_run));
        json_object_object_add(o, "active", json_object_new_boolean(s->placement_active));
        json_object_object_add(o, "plans", json_u64(st->plans));
        for (int d = 0; d < _POLICY_DIRECTION_MAX; d++)
                json_object_object_add(o, policy_direction_to_string(d), direction_to_json(&st->dir[d]));
        for (int k = 0; k < _POLICY_SKIP_MAX; k++) {
                json_object *e = json_object_new_object();

                json_object_object_add(e, "units", json_u64(st->skipped_units[k]));
                json_object_object_add(e, "bytes", json_u64(st->skipped_bytes[k]));
                json_object_object_add(skipped, policy_skip_to_string(k), e);
        }
        json_object_object_add(o, "skipped", skipped);
        if (s->last_plan) {
                json_object *lp = json_object_new_object();

                for (int d = 0; d < _POLICY_DIRECTION_MAX; d++) {
                        char key[32];

                        snprintf(key, sizeof(key), "%s_moves", policy_direction_to_string(d));
                        json_object_object_add(lp, key, json_u64(s->last_plan->moves[d]));
                        snprintf(key, sizeof(key), "%s_bytes", policy_direction_to_string(d));
                        json_object_object_add(lp, key, json_u64(s->last_plan->bytes[d]));
                }
                json_object_object_add(lp, "units_located", json_u64(s->last_plan->units_located));
                json_object_object_add(o, "last_plan", lp);
        } else
                json_object_object_add(o, "last_plan", NULL);
        return o;
}

void workload_status_free_many(struct workload_status *w, size_t n) {
        for (size_t i = 0; w && i < n; i++)
                free(w[i].name);
        free(w);
}

static json_object *workloads_to_json(const struct tierd_status *s) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < s->n_workloads; i++) {
                const struct workload_status *w = &s->workloads[i];
                bool budget = w->fast_max_bytes != UINT64_MAX;
                json_object *e = json_object_new_object();

                json_object_object_add(e, "name", json_object_new_string(w->name));
                json_object_object_add(e, "processes", json_u64(w->n_processes));
                json_object_object_add(e, "fast_max_bytes", budget ? json_u64(w->fast_max_bytes) : NULL);
                json_object_object_add(e, "fast_bytes", budget && w->measured ? json_u64(w->fast_bytes) : NULL);
                json_object_object_add(e, "planned_fast_bytes",
                                       budget && w->measured ? json_u64(w->planned_fast_bytes) : NULL);
                json_object_object_add(e, "over_budget", json_object_new_boolean(w->over));
                json_object_array_add(a, e);
        }
        return a;
}

static json_object *classes_to_json(const struct kmigrate_counts *c) {
        json_object *o = json_object_new_object();

        /* A class the source cannot count is null, not 0: vmstat cannot tell tierd's moves from others'. */
        for (int k = 0; k < _KMIGRATE_CLASS_MAX; k++)
                json_object_object_add(o, kmigrate_class_to_string(k),
                                       kmigrate_counts_has(c, k) ? json_u64(c->pages[k]) : NULL);
        return o;
}

static json_object *kernel_to_json(const struct observer_snapshot *k) {
        json_object *o = json_object_new_object(), *fights = json_object_new_object();

        json_object_object_add(o, "source", str_or_null(k->source));
        json_object_object_add(o, "bpf_reason", str_or_null(k->bpf_reason));
        json_object_object_add(o, "attach_mode", str_or_null(k->attach_mode));
        json_object_object_add(o, "reason_names_source", str_or_null(k->names_source));
        json_object_object_add(o, "rounds", json_u64(k->rounds));
        json_object_object_add(o, "pages", classes_to_json(&k->total));
        json_object_object_add(o, "last_round_pages", classes_to_json(&k->last_round));
        if (streq_ptr(k->source, "bpf")) {
                json_object *reasons = json_object_new_object();

                for (unsigned i = 0; i < TIERD_MIGRATE_REASON_SLOTS; i++)
                        if (k->reason_names[i])
                                json_object_object_add(reasons, k->reason_names[i],
                                                       json_u64(k->total.reason_pages[i]));
                json_object_object_add(o, "reason_pages", reasons);
        } else
                json_object_object_add(o, "reason_pages", NULL);
        json_object_object_add(o, "fight_mode", json_object_new_string(kernel_fight_mode_to_string(k->mode) ?: ""));
        for (int f = 0; f < _OBSERVER_FIGHT_MAX; f++) {
                const struct observer_fight_status *fs = &k->fight[f];
                json_object *e = json_object_new_object();

                json_object_object_add(e, "fighting", json_object_new_boolean(fs->fighting));
                json_object_object_add(e, "fights", json_u64(fs->fights));
                json_object_object_add(e, "rounds", json_u64(fs->rounds));
                json_object_object_add(e, "permille", json_object_new_int((int) fs->permille));
                json_object_object_add(e, "kernel_pages", json_u64(fs->kernel_pages));
                json_object_object_add(e, "tierd_pages", json_u64(fs->tierd_pages));
                json_object_object_add(e, "remedy", str_or_null(observer_fight_remedy(f)));
                json_object_object_add(fights, observer_fight_to_string(f), e);
        }
        json_object_object_add(o, "fights", fights);
        return o;
}

static json_object *bpf_to_json(const struct tierd_status *s) {
        json_object *o = json_object_new_object();

        for (size_t i = 0; i < s->n_bpf; i++) {
                json_object *e = json_object_new_object();

                json_object_object_add(e, "active", json_object_new_boolean(s->bpf[i].active));
                json_object_object_add(e, "attach_mode", str_or_null(s->bpf[i].attach_mode));
                json_object_object_add(e, "reason", str_or_null(s->bpf[i].reason));
                json_object_object_add(o, s->bpf[i].name, e);
        }
        return o;
}

static json_object *damon_results_to_json(const struct tierd_status *s) {
        const struct scan_damon_results *d = &s->damon_results;
        json_object *o;

        if (!s->have_damon_results)
                return NULL;
        o = json_object_new_object();
        json_object_object_add(o, "last_path", str_or_null(d->last_path));
        json_object_object_add(o, "passes_tracepoint", json_u64(d->passes_tracepoint));
        json_object_object_add(o, "passes_tried_regions", json_u64(d->passes_tried_regions));
        json_object_object_add(o, "fallbacks", json_u64(d->fallbacks));
        json_object_object_add(o, "dropped", json_u64(d->dropped));
        json_object_object_add(o, "incomplete_windows", json_u64(d->incomplete));
        return o;
}

static json_object *proc_events_to_json(const struct proc_events_status *p) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "exec", json_u64(p->exec));
        json_object_object_add(o, "exit", json_u64(p->exit));
        json_object_object_add(o, "dropped", json_u64(p->dropped));
        json_object_object_add(o, "targets_added", json_u64(p->targets_added));
        json_object_object_add(o, "targets_dropped", json_u64(p->targets_dropped));
        json_object_object_add(o, "rounds_cut", json_u64(p->rounds_cut));
        return o;
}

json_object *status_to_json(const struct tierd_status *s) {
        json_object *o = json_object_new_object(), *tiers = json_object_new_array(),
                    *nodes = json_object_new_array();
        const struct topology *t = s->topology;

        json_object_object_add(o, "version", str_or_null(s->version));
        json_object_object_add(o, "pid", json_object_new_int(s->pid));
        json_object_object_add(o, "state", str_or_null(s->state));
        json_object_object_add(o, "state_reason", str_or_null(s->state_reason));
        json_object_object_add(o, "uptime_us", json_u64(s->uptime_us));
        json_object_object_add(o, "config", str_or_null(s->config_path));
        json_object_object_add(o, "config_reloads", json_u64(s->config_reloads));
        json_object_object_add(o, "config_reload_failures", json_u64(s->config_reload_failures));
        json_object_object_add(o, "backend", str_or_null(s->backend));
        json_object_object_add(o, "backend_reason", str_or_null(s->backend_reason));
        json_object *reports = json_object_new_array();
        for (size_t i = 0; i < s->n_backend_reports; i++) {
                const struct scan_backend_report *rep = &s->backend_reports[i];
                json_object *e = json_object_new_object();

                json_object_object_add(e, "backend", json_object_new_string(rep->name));
                json_object_object_add(e, "usable", json_object_new_boolean(rep->usable > 0));
                json_object_object_add(e, "in_use", json_object_new_boolean(streq_ptr(rep->name, s->backend)));
                json_object_object_add(e, "reason", str_or_null(rep->reason));
                json_object_array_add(reports, e);
        }
        json_object_object_add(o, "backends", reports);
        json_object_object_add(o, "policy", str_or_null(s->policy));
        json_object_object_add(o, "workloads", workloads_to_json(s));
        json_object_object_add(o, "payoff", payoff_to_json(s));
        json_object_object_add(o, "tracked_pages", json_u64(s->heat.pages));
        json_object_object_add(o, "tracked_bytes", json_u64(s->heat.tracked_bytes));
        json_object_object_add(o, "tracked_thp_units", json_u64(s->heat.thp_units));
        json_object_object_add(o, "heat_store_bytes", json_u64(s->heat.memory_bytes));
        json_object_object_add(o, "tracked_units", json_u64(s->heat.units));
        json_object_object_add(o, "settled_units", json_u64(s->settled_units));
        json_object_object_add(o, "observed_pages", json_u64(s->heat.observed_pages));
        json_object_object_add(o, "parked_units", json_u64(s->heat.parked_units));
        json_object_object_add(o, "move_table_entries", json_u64(s->heat.moves));
        json_object_object_add(o, "move_table_evictions", json_u64(s->heat.moves_evictions));
        json_object_object_add(o, "census_round", s->census ? json_u64(s->census->round) : NULL);
        json_object_object_add(o, "passes", json_object_new_int((int) s->passes));
        json_object_object_add(o, "pass_interval_us", json_u64(s->pass_interval_us));
        json_object_object_add(o, "pass_interval_configured_us", json_u64(s->pass_interval_configured_us));
        json_object_object_add(o, "pass_interval_auto", json_object_new_boolean(s->pass_interval_auto));
        json_object_object_add(o, "round", json_u64(s->round));
        json_object_object_add(o, "round_duration_us", json_u64(s->round_duration_us));
        json_object_object_add(o, "round_interval_us", json_u64(s->round_interval_us));
        json_object_object_add(o, "round_busy_us", json_u64(s->round_busy_us));
        json_object_object_add(o, "cpu", cpu_to_json(s));
        json_object_object_add(o, "loop", loop_to_json(s));

        if (t) {
                json_object_object_add(o, "tier_source",
                                       json_object_new_string(tier_source_to_string(t->tier_source)));
                for (size_t i = 0; i < t->n_tiers; i++) {
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "tier", json_object_new_int((int) i));
                        json_object_object_add(e, "kernel_tier",
                                               t->tiers[i].kernel_tier >= 0 ?
                                                       json_object_new_int(t->tiers[i].kernel_tier) :
                                                       NULL);
                        json_object_object_add(e, "nodes", node_set_to_json(&t->tiers[i].nodes));
                        json_object_object_add(e, "total_bytes", json_u64(t->tiers[i].total_bytes));
                        json_object_object_add(e, "free_bytes", json_u64(t->tiers[i].free_bytes));
                        json_object_object_add(e, "kept_bytes", json_u64(t->tiers[i].kept_bytes));
                        if (s->census) {
                                uint64_t bytes[_HEAT_CLASS_MAX];

                                census_tier_class_bytes(s->census, t, i, bytes);
                                for (int k = 0; k < _HEAT_CLASS_MAX; k++) {
                                        char key[32];

                                        snprintf(key, sizeof(key), "%s_bytes", heat_class_to_string(k));
                                        json_object_object_add(e, key, json_u64(bytes[k]));
                                }
                        }
                        json_object_array_add(tiers, e);
                }
                for (size_t i = 0; i < t->n_nodes; i++) {
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "node", json_object_new_int(t->nodes[i].id));
                        json_object_object_add(e, "tier",
                                               t->nodes[i].tier >= 0 ? json_object_new_int(t->nodes[i].tier) :
                                                                       NULL);
                        json_object_object_add(e, "cpus", json_object_new_int((int) t->nodes[i].n_cpus));
                        json_object_object_add(e, "total_bytes", json_u64(t->nodes[i].total_bytes));
                        json_object_object_add(e, "free_bytes", json_u64(t->nodes[i].free_bytes));
                        json_object_object_add(e, "kept_bytes", json_u64(t->nodes[i].kept_bytes));
                        json_object_array_add(nodes, e);
                }
        }
        json_object_object_add(o, "tiers", tiers);
        json_object_object_add(o, "nodes", nodes);

        uint64_t rss = 0;
        size_t n_targets = s->targets ? s->targets->n_targets : 0;
        for (size_t i = 0; i < n_targets; i++)
                rss += s->targets->targets[i].rss_bytes;
        json_object_object_add(o, "targets", json_object_new_int64((int64_t) n_targets));
        json_object_object_add(o, "targets_rss_bytes", json_u64(rss));

        json_object_object_add(o, "promoted_bytes", json_u64(s->promoted_bytes));
        json_object_object_add(o, "demoted_bytes", json_u64(s->demoted_bytes));
        json_object_object_add(o, "promoted_pages", json_u64(s->promoted_pages));
        json_object_object_add(o, "demoted_pages", json_u64(s->demoted_pages));
        json_object_object_add(o, "dry_run", json_object_new_boolean(s->dry_run));
        if (s->placement)
                json_object_object_add(o, "migrate", migrate_to_json(s));
        json_object_object_add(o, "kernel_migrations", kernel_to_json(&s->kernel));
        json_object_object_add(o, "bpf", bpf_to_json(s));
        json_object_object_add(o, "process_events", proc_events_to_json(&s->proc_events));
        json_object_object_add(o, "damon_results", damon_results_to_json(s));
        json_object_object_add(o, "log_suppressed", json_u64(s->log_suppressed));
        return o;
}

json_object *targets_to_json(const struct target_set *set) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; set && i < set->n_targets; i++) {
                const struct target *t = &set->targets[i];
                json_object *e = json_object_new_object();

                json_object_object_add(e, "pid", json_object_new_int(t->pid));
                json_object_object_add(e, "comm", json_object_new_string(t->comm));
                json_object_object_add(e, "exe", str_or_null(t->exe));
                json_object_object_add(e, "cgroup", str_or_null(t->cgroup));
                json_object_object_add(e, "matched_by",
                                       json_object_new_string(target_match_to_string(t->matched_by)));
                json_object_object_add(e, "workload", str_or_null(t->workload_name));
                json_object_object_add(e, "rss_bytes", json_u64(t->rss_bytes));
                json_object_object_add(e, "vmas", json_object_new_int64((int64_t) t->n_vmas));
                json_object_object_add(e, "mapped_bytes", json_u64(t->mapped_bytes));
                json_object_array_add(a, e);
        }
        return a;
}

static json_object *histogram_to_json(const struct heat_histogram *h) {
        json_object *o = json_object_new_object(), *hits = json_object_new_array(), *classes = json_object_new_object();

        json_object_object_add(o, "units", json_u64(h->units));
        json_object_object_add(o, "pages", json_u64(h->pages));
        json_object_object_add(o, "thp_units", json_u64(h->thp_units));
        json_object_object_add(o, "lazyfree_units", json_u64(h->lazyfree_units));
        json_object_object_add(o, "skip_units", json_u64(h->skip_units));
        for (size_t i = 0; i < ELEMENTSOF(h->hits); i++)
                json_object_array_add(hits, json_u64(h->hits[i]));
        json_object_object_add(o, "hits_units", hits);
        for (int k = 0; k < _HEAT_CLASS_MAX; k++)
                json_object_object_add(classes, heat_class_to_string(k), json_u64(h->class_bytes[k]));
        json_object_object_add(o, "class_bytes", classes);
        return o;
}

struct pages_walk {
        json_object *vmas;
        struct heat_histogram total;
        const struct numa_maps_entry *numa;
        size_t n_numa;
};

static int pages_on_vma(const struct heat_vma_info *v, void *userdata) {
        struct pages_walk *w = userdata;
        json_object *e = json_object_new_object(), *nodes = json_object_new_array();

        json_object_object_add(e, "start", json_u64(v->start));
        json_object_object_add(e, "end", json_u64(v->end));
        json_object_object_add(e, "heat", histogram_to_json(&v->histogram));
        for (size_t i = 0; i < w->n_numa; i++) {
                if (w->numa[i].start != v->start)
                        continue;
                for (unsigned j = 0; j < w->numa[i].n_nodes; j++) {
                        json_object *n = json_object_new_object();

                        json_object_object_add(n, "node", json_object_new_int(w->numa[i].nodes[j].node));
                        json_object_object_add(n, "bytes", json_u64(w->numa[i].nodes[j].bytes));
                        json_object_array_add(nodes, n);
                }
                break;
        }
        json_object_object_add(e, "nodes", nodes);
        json_object_array_add(w->vmas, e);

        /* Totals over the VMAs: the histogram is additive. */
        w->total.units += v->histogram.units;
        w->total.pages += v->histogram.pages;
        w->total.thp_units += v->histogram.thp_units;
        w->total.lazyfree_units += v->histogram.lazyfree_units;
        w->total.skip_units += v->histogram.skip_units;
        w->total.moved_units += v->histogram.moved_units;
        for (size_t i = 0; i < ELEMENTSOF(w->total.hits); i++)
                w->total.hits[i] += v->histogram.hits[i];
        for (int k = 0; k < _HEAT_CLASS_MAX; k++) {
                w->total.class_units[k] += v->histogram.class_units[k];
                w->total.class_bytes[k] += v->histogram.class_bytes[k];
        }
        return 0;
}

int pages_to_json(const struct heat_store *heat, const struct heat_class_params *p, const struct target *t,
                  const struct numa_maps_entry *numa, size_t n_numa, json_object **ret) {
        struct pages_walk w = { .vmas = json_object_new_array(), .numa = numa, .n_numa = n_numa };
        json_object *o;
        int r;

        r = heat_store_foreach_vma(heat, t->pid, p, pages_on_vma, &w);
        if (r < 0) {
                json_object_put(w.vmas);
                return r;
        }
        o = json_object_new_object();
        json_object_object_add(o, "pid", json_object_new_int(t->pid));
        json_object_object_add(o, "comm", json_object_new_string(t->comm));
        json_object_object_add(o, "heat", histogram_to_json(&w.total));
        json_object_object_add(o, "vmas", w.vmas);
        *ret = o;
        return 0;
}

struct range_walk {
        uint64_t start, end;
        uint64_t units, class_bytes[_HEAT_CLASS_MAX];
};

static int range_on_unit(const struct heat_unit *u, void *userdata) {
        struct range_walk *w = userdata;

        if (u->addr < w->start || u->addr >= w->end)
                return 0;
        w->units++;
        w->class_bytes[u->class] += u->size_bytes;
        return 0;
}

int pages_range_to_json(const struct heat_store *heat, const struct heat_class_params *p, pid_t pid, uint64_t start,
                        uint64_t end, json_object **ret) {
        struct range_walk w = { .start = start, .end = end };
        json_object *o, *classes;
        int r;

        r = heat_store_foreach_unit(heat, pid, p, HEAT_CLASS_MASK_ALL, range_on_unit, &w);
        if (r < 0)
                return r;
        o = json_object_new_object();
        classes = json_object_new_object();
        json_object_object_add(o, "start", json_u64(start));
        json_object_object_add(o, "end", json_u64(end));
        json_object_object_add(o, "units", json_u64(w.units));
        for (int k = 0; k < _HEAT_CLASS_MAX; k++)
                json_object_object_add(classes, heat_class_to_string(k), json_u64(w.class_bytes[k]));
        json_object_object_add(o, "class_bytes", classes);
        *ret = o;
        return 0;
}
