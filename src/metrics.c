/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include "cpu-budget.h"
#include "loop-turns.h"
#include "metrics.h"

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
        header(f, name, type, help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void metric_seconds(FILE *f, const char *name, const char *type, const char *help, uint64_t us) {
        header(f, name, type, help);
        fprintf(f, "%s %" PRIu64 ".%06" PRIu64 "\n", name, us / USEC_PER_SEC, us % USEC_PER_SEC);
}

/* One series per ledger book: workload="" for the targets outside any workload. Counters, so that a ratio over
 * any window is a rate() over the same window. */
static void payoff_write(const struct tierd_status *s, FILE *f) {
        static const struct {
                const char *name, *help;
                size_t offset;
        } counters[] = {
                { "tierd_payoff_promoted_bytes_total", "Promoted bytes the payoff ledger judged (a sample).",
                  offsetof(struct payoff_figures, promoted_bytes) },
                { "tierd_payoff_paid_bytes_total",
                  "Of the judged promoted bytes, those that took more hits on the faster tier than what they "
                  "displaced.",
                  offsetof(struct payoff_figures, paid_bytes) },
                { "tierd_payoff_exchange_bytes_total", "Judged promoted bytes that displaced others (exchanges).",
                  offsetof(struct payoff_figures, exchange_bytes) },
                { "tierd_payoff_exchange_paid_bytes_total", "Of the judged exchange bytes, those that paid.",
                  offsetof(struct payoff_figures, exchange_paid_bytes) },
                { "tierd_payoff_demoted_bytes_total", "Demoted bytes the payoff ledger judged (a sample).",
                  offsetof(struct payoff_figures, demoted_bytes) },
                { "tierd_payoff_regret_bytes_total", "Of the judged demoted bytes, those hot again within the window.",
                  offsetof(struct payoff_figures, regret_bytes) },
        };
        size_t n = payoff_ledger_books(s->payoff);

        for (size_t k = 0; k < ELEMENTSOF(counters); k++) {
                header(f, counters[k].name, "counter", counters[k].help);
                for (size_t b = 0; b < n; b++) {
                        struct payoff_book_status st;

                        payoff_ledger_get(s->payoff, b, &st);
                        fprintf(f, "%s{workload=\"%s\"} %" PRIu64 "\n", counters[k].name,
                                b == 0 ? "" : payoff_ledger_name(s->payoff, b),
                                *(const uint64_t *) ((const char *) &st.total + counters[k].offset));
                }
        }
        header(f, "tierd_payoff_exchange_level", "gauge",
               "1 for how readily a workload's hot units take the place of colder ones (probing: exchanges only "
               "watched, normal, eager).");
        for (size_t b = 0; b < n; b++) {
                enum policy_exchange e = payoff_ledger_exchange(s->payoff, b);

                for (int l = 0; l < _POLICY_EXCHANGE_MAX; l++)
                        fprintf(f, "tierd_payoff_exchange_level{workload=\"%s\",level=\"%s\"} %d\n",
                                b == 0 ? "" : payoff_ledger_name(s->payoff, b), policy_exchange_to_string(l),
                                (int) (l == (int) e));
        }
        header(f, "tierd_payoff_level_changes_total", "counter", "Exchange level changes the payoff ledger made.");
        for (size_t b = 0; b < n; b++) {
                struct payoff_book_status st;

                payoff_ledger_get(s->payoff, b, &st);
                fprintf(f, "tierd_payoff_level_changes_total{workload=\"%s\"} %" PRIu64 "\n",
                        b == 0 ? "" : payoff_ledger_name(s->payoff, b), st.changes);
        }
}

int metrics_write(const struct tierd_status *s, FILE *f) {
        const struct topology *t = s->topology;
        static const char *const states[] = { "starting", "running", "paused", "idle" };

        header(f, "tierd_info", "gauge", "Version and scan backend of the running daemon.");
        fprintf(f, "tierd_info{version=\"%s\",backend=\"%s\"} 1\n", s->version ?: "", s->backend ?: "none");

        header(f, "tierd_state", "gauge", "1 for the daemon's current state.");
        for (size_t i = 0; i < ELEMENTSOF(states); i++)
                fprintf(f, "tierd_state{state=\"%s\"} %d\n", states[i], streq_ptr(s->state, states[i]));

        metric_seconds(f, "tierd_uptime_seconds", "gauge", "Time since the daemon started.", s->uptime_us);
        metric_u64(f, "tierd_rounds_total", "counter", "Scan rounds completed.", s->round);
        metric_seconds(f, "tierd_round_duration_seconds", "gauge", "Duration of the last completed round.",
                       s->round_duration_us);
        metric_seconds(f, "tierd_round_interval_seconds", "gauge", "Configured round length (passes x pass interval).",
                       s->round_interval_us);
        metric_u64(f, "tierd_config_reloads_total", "counter", "Configuration reloads that took effect.",
                   s->config_reloads);
        metric_u64(f, "tierd_config_reload_failures_total", "counter",
                   "Configuration reloads refused because the new file was invalid.", s->config_reload_failures);

        uint64_t rss = 0;
        size_t n_targets = s->targets ? s->targets->n_targets : 0;
        for (size_t i = 0; i < n_targets; i++)
                rss += s->targets->targets[i].rss_bytes;
        metric_u64(f, "tierd_targets", "gauge", "Processes currently selected as targets.", n_targets);
        metric_u64(f, "tierd_targets_resident_bytes", "gauge", "Resident memory of the target processes.", rss);
        if (s->n_workloads > 0) {
                header(f, "tierd_workload_processes", "gauge", "Target processes of a [target.NAME] workload.");
                for (size_t i = 0; i < s->n_workloads; i++)
                        fprintf(f, "tierd_workload_processes{workload=\"%s\"} %zu\n", s->workloads[i].name,
                                s->workloads[i].n_processes);
                header(f, "tierd_workload_fast_max_bytes", "gauge", "Fast-tier budget of a workload (fast_max).");
                for (size_t i = 0; i < s->n_workloads; i++)
                        if (s->workloads[i].fast_max_bytes != UINT64_MAX)
                                fprintf(f, "tierd_workload_fast_max_bytes{workload=\"%s\"} %" PRIu64 "\n",
                                        s->workloads[i].name, s->workloads[i].fast_max_bytes);
                header(f, "tierd_workload_fast_bytes", "gauge",
                       "Tracked memory of a budgeted workload on the fast tier, at the last plan.");
                for (size_t i = 0; i < s->n_workloads; i++)
                        if (s->workloads[i].fast_max_bytes != UINT64_MAX && s->workloads[i].measured)
                                fprintf(f, "tierd_workload_fast_bytes{workload=\"%s\"} %" PRIu64 "\n",
                                        s->workloads[i].name, s->workloads[i].fast_bytes);
                header(f, "tierd_workload_over_budget", "gauge",
                       "1 while a workload is over its fast_max (its pages are demoted, none promoted).");
                for (size_t i = 0; i < s->n_workloads; i++)
                        fprintf(f, "tierd_workload_over_budget{workload=\"%s\"} %d\n", s->workloads[i].name,
                                s->workloads[i].over);
        }

        if (t) {
                metric_u64(f, "tierd_tiers", "gauge", "Memory tiers in use.", t->n_tiers);
                header(f, "tierd_tier_total_bytes", "gauge", "Memory of a tier.");
                for (size_t i = 0; i < t->n_tiers; i++)
                        fprintf(f, "tierd_tier_total_bytes{tier=\"%zu\"} %" PRIu64 "\n", i, t->tiers[i].total_bytes);
                header(f, "tierd_tier_free_bytes", "gauge", "Free memory of a tier.");
                for (size_t i = 0; i < t->n_tiers; i++)
                        fprintf(f, "tierd_tier_free_bytes{tier=\"%zu\"} %" PRIu64 "\n", i, t->tiers[i].free_bytes);
                header(f, "tierd_node_kept_bytes", "gauge",
                       "Free memory of a NUMA node that the kernel keeps for itself (watermarks, lowmem reserve).");
                for (size_t i = 0; i < t->n_nodes; i++)
                        fprintf(f, "tierd_node_kept_bytes{node=\"%d\",tier=\"%d\"} %" PRIu64 "\n", t->nodes[i].id,
                                t->nodes[i].tier, t->nodes[i].kept_bytes);
                header(f, "tierd_node_total_bytes", "gauge", "Memory of a NUMA node.");
                for (size_t i = 0; i < t->n_nodes; i++)
                        fprintf(f, "tierd_node_total_bytes{node=\"%d\",tier=\"%d\"} %" PRIu64 "\n", t->nodes[i].id,
                                t->nodes[i].tier, t->nodes[i].total_bytes);
                header(f, "tierd_node_free_bytes", "gauge", "Free memory of a NUMA node.");
                for (size_t i = 0; i < t->n_nodes; i++)
                        fprintf(f, "tierd_node_free_bytes{node=\"%d\",tier=\"%d\"} %" PRIu64 "\n", t->nodes[i].id,
                                t->nodes[i].tier, t->nodes[i].free_bytes);
        }

        metric_u64(f, "tierd_tracked_bytes", "gauge", "Memory of the targets tracked in the heat store.",
                   s->heat.tracked_bytes);
        metric_u64(f, "tierd_heat_store_bytes", "gauge", "Memory used by the heat store itself.",
                   s->heat.memory_bytes);
        metric_u64(f, "tierd_settled_units", "gauge",
                   "Tracked units where their trend wants them (hot on the fastest tier, idle on the slowest).",
                   s->settled_units);
        metric_u64(f, "tierd_observed_pages", "gauge", "Tracked pages the last round observed.",
                   s->heat.observed_pages);
        metric_u64(f, "tierd_parked_units", "gauge",
                   "Settled units that are cold on the fastest tier, watched by sample until room is needed.",
                   s->heat.parked_units);
        if (t && s->census) {
                header(f, "tierd_tier_class_bytes", "gauge",
                       "Tracked memory in a tier by heat class (hot, warm, cold, skipped).");
                for (size_t i = 0; i < t->n_tiers; i++) {
                        uint64_t bytes[_HEAT_CLASS_MAX];

                        census_tier_class_bytes(s->census, t, i, bytes);
                        for (int k = 0; k < _HEAT_CLASS_MAX; k++)
                                fprintf(f, "tierd_tier_class_bytes{tier=\"%zu\",class=\"%s\"} %" PRIu64 "\n", i,
                                        heat_class_to_string(k), bytes[k]);
                }
        }

        metric_u64(f, "tierd_promoted_bytes_total", "counter", "Bytes moved to a faster tier.", s->promoted_bytes);
        metric_u64(f, "tierd_demoted_bytes_total", "counter", "Bytes moved to a slower tier.", s->demoted_bytes);
        metric_u64(f, "tierd_promoted_pages_total", "counter", "Pages moved to a faster tier.", s->promoted_pages);
        metric_u64(f, "tierd_demoted_pages_total", "counter", "Pages moved to a slower tier.", s->demoted_pages);
        if (s->placement) {
                const struct placement_stats *st = s->placement;
                static const struct {
                        const char *name, *help;
                        size_t offset;
                } per_dir[] = {
                        { "tierd_moved_bytes_total", "Bytes moved, by direction.",
                          offsetof(struct placement_direction_stats, bytes) },
                        { "tierd_moved_pages_total", "Pages (4 KiB) moved, by direction.",
                          offsetof(struct placement_direction_stats, pages) },
                        { "tierd_move_failed_pages_total", "Pages that failed to move, by direction.",
                          offsetof(struct placement_direction_stats, failed_pages) },
                        { "tierd_pingpongs_total", "Moves back to the node a page last came from within the "
                          "ping-pong window, by direction.", offsetof(struct placement_direction_stats, pingpongs) },
                        { "tierd_move_calls_total", "migrate_move_pages() calls, by direction.",
                          offsetof(struct placement_direction_stats, calls) },
                        { "tierd_move_rate_waits_total", "Batches held back by the rate limit, by direction.",
                          offsetof(struct placement_direction_stats, rate_waits) },
                        { "tierd_move_dropped_bytes_total", "Planned bytes not moved (round cap, errors, next "
                          "plan), by direction.", offsetof(struct placement_direction_stats, dropped_bytes) },
                        { "tierd_dry_run_bytes_total", "Bytes a dry run would have moved, by direction.",
                          offsetof(struct placement_direction_stats, would_bytes) },
                };

                for (size_t i = 0; i < ELEMENTSOF(per_dir); i++) {
                        header(f, per_dir[i].name, "counter", per_dir[i].help);
                        for (int d = 0; d < _POLICY_DIRECTION_MAX; d++)
                                fprintf(f, "%s{direction=\"%s\"} %" PRIu64 "\n", per_dir[i].name,
                                        policy_direction_to_string(d),
                                        *(const uint64_t *) ((const uint8_t *) &st->dir[d] + per_dir[i].offset));
                }
                header(f, "tierd_move_seconds_total", "counter", "Time spent in move_pages(), by direction.");
                for (int d = 0; d < _POLICY_DIRECTION_MAX; d++)
                        fprintf(f, "tierd_move_seconds_total{direction=\"%s\"} %" PRIu64 ".%06" PRIu64 "\n",
                                policy_direction_to_string(d), st->dir[d].time_us / USEC_PER_SEC,
                                st->dir[d].time_us % USEC_PER_SEC);
                header(f, "tierd_move_failures_total", "counter", "Units that failed to move, by direction and errno.");
                for (int d = 0; d < _POLICY_DIRECTION_MAX; d++)
                        for (int e = 0; e < PLACEMENT_ERRNO_MAX; e++)
                                if (st->dir[d].failures[e] > 0) {
                                        char buf[16];

                                        fprintf(f, "tierd_move_failures_total{direction=\"%s\",errno=\"%s\"} %" PRIu64
                                                "\n", policy_direction_to_string(d),
                                                placement_errno_name(e, buf, sizeof(buf)), st->dir[d].failures[e]);
                                }
                header(f, "tierd_placement_skipped_units_total", "counter",
                       "Candidate units the placement plans left alone, by reason.");
                for (int k = 0; k < _POLICY_SKIP_MAX; k++)
                        fprintf(f, "tierd_placement_skipped_units_total{reason=\"%s\"} %" PRIu64 "\n",
                                policy_skip_to_string(k), st->skipped_units[k]);
                metric_u64(f, "tierd_placement_plans_total", "counter", "Placement plans made.", st->plans);
        }
        if (s->payoff)
                payoff_write(s, f);
        {
                const struct observer_snapshot *k = &s->kernel;

                header(f, "tierd_kernel_migrated_pages_total", "counter",
                       "Base pages the kernel migrated since tierd started, by class (tierd: its own move_pages calls, "
                       "BPF only); a class the source cannot count is left out.");
                for (int c = 0; c < _KMIGRATE_CLASS_MAX; c++)
                        if (kmigrate_counts_has(&k->total, c))
                                fprintf(f, "tierd_kernel_migrated_pages_total{class=\"%s\"} %" PRIu64 "\n",
                                        kmigrate_class_to_string(c), k->total.pages[c]);
                header(f, "tierd_kernel_migration_source", "gauge",
                       "1 for where the kernel's migrations are counted from (bpf, vmstat, none).");
                for (int i = 0; i < _KMIGRATE_SOURCE_MAX; i++)
                        fprintf(f, "tierd_kernel_migration_source{source=\"%s\"} %d\n", kmigrate_source_to_string(i),
                                streq_ptr(k->source, kmigrate_source_to_string(i)));
                header(f, "tierd_kernel_fights_total", "counter",
                       "Fights with the kernel started, by kind (demotion: the kernel demotes while tierd promotes; "
                       "promotion: the other way round).");
                for (int i = 0; i < _OBSERVER_FIGHT_MAX; i++)
                        fprintf(f, "tierd_kernel_fights_total{kind=\"%s\"} %" PRIu64 "\n", observer_fight_to_string(i),
                                k->fight[i].fights);
                header(f, "tierd_kernel_fighting", "gauge", "1 while a fight with the kernel lasts, by kind.");
                for (int i = 0; i < _OBSERVER_FIGHT_MAX; i++)
                        fprintf(f, "tierd_kernel_fighting{kind=\"%s\"} %d\n", observer_fight_to_string(i),
                                k->fight[i].fighting);
                header(f, "tierd_kernel_fight_rounds_total", "counter", "Rounds spent fighting the kernel, by kind.");
                for (int i = 0; i < _OBSERVER_FIGHT_MAX; i++)
                        fprintf(f, "tierd_kernel_fight_rounds_total{kind=\"%s\"} %" PRIu64 "\n",
                                observer_fight_to_string(i), k->fight[i].rounds);
                header(f, "tierd_kernel_fight_limit_ratio", "gauge",
                       "Share of its rate limits tierd uses in the direction of a fight (1 unless kernel_fight = "
                       "throttle), by kind.");
                for (int i = 0; i < _OBSERVER_FIGHT_MAX; i++)
                        fprintf(f, "tierd_kernel_fight_limit_ratio{kind=\"%s\"} %u.%03u\n", observer_fight_to_string(i),
                                k->fight[i].permille / 1000, k->fight[i].permille % 1000);
                header(f, "tierd_bpf_feature_active", "gauge", "1 for a BPF feature in use, 0 for one that fell back.");
                for (size_t i = 0; i < s->n_bpf; i++)
                        fprintf(f, "tierd_bpf_feature_active{feature=\"%s\"} %d\n", s->bpf[i].name, s->bpf[i].active);
                header(f, "tierd_process_events_total", "counter", "Process events received through BPF, by type.");
                fprintf(f, "tierd_process_events_total{type=\"exec\"} %" PRIu64 "\n", s->proc_events.exec);
                fprintf(f, "tierd_process_events_total{type=\"exit\"} %" PRIu64 "\n", s->proc_events.exit);
                metric_u64(f, "tierd_process_events_dropped_total", "counter",
                           "Process events the kernel side lost (ring buffer full); each loss forces a rescan.",
                           s->proc_events.dropped);
                metric_u64(f, "tierd_process_event_targets_added_total", "counter",
                           "New targets picked up from an exec event rather than the round's rescan.",
                           s->proc_events.targets_added);
                metric_u64(f, "tierd_process_event_targets_dropped_total", "counter",
                           "Targets dropped at their exit event rather than at the next rescan.",
                           s->proc_events.targets_dropped);
        }
        if (s->have_damon_results) {
                header(f, "tierd_damon_result_passes_total", "counter",
                       "Passes whose DAMON regions came through the tracepoint or tried regions.");
                fprintf(f, "tierd_damon_result_passes_total{source=\"tracepoint\"} %" PRIu64 "\n",
                        s->damon_results.passes_tracepoint);
                fprintf(f, "tierd_damon_result_passes_total{source=\"tried_regions\"} %" PRIu64 "\n",
                        s->damon_results.passes_tried_regions);
                metric_u64(f, "tierd_damon_result_fallbacks_total", "counter",
                           "Passes meant for the tracepoint that tried regions served (no whole window).",
                           s->damon_results.fallbacks);
        }
        metric_u64(f, "tierd_dry_run", "gauge", "1 when pages are planned but not moved.", s->dry_run);
        metric_seconds(f, "tierd_pass_interval_seconds", "gauge", "Pass interval in use (tuned with pass_interval_auto).",
                       s->pass_interval_us);
        if (s->cpu) {
                header(f, "tierd_cpu_seconds_total", "counter",
                       "CPU time counted against [scan] cpu_budget: tierd's own and its kdamond's.");
                fprintf(f, "tierd_cpu_seconds_total{part=\"tierd\"} %.6f\n", s->cpu->own_us / 1e6);
                fprintf(f, "tierd_cpu_seconds_total{part=\"kdamond\"} %.6f\n", s->cpu->kernel_us / 1e6);
                if (s->cpu->budget_bp > 0) {
                        header(f, "tierd_cpu_budget_ratio", "gauge", "[scan] cpu_budget as a share of one CPU.");
                        fprintf(f, "tierd_cpu_budget_ratio %.4f\n", s->cpu->budget_bp / 10000.0);
                }
                header(f, "tierd_cpu_used_ratio", "gauge",
                       "CPU used (tierd and its kdamond) as a share of one CPU over the last round and its wait.");
                fprintf(f, "tierd_cpu_used_ratio %.4f\n", cpu_budget_last_bp(s->cpu) / 10000.0);
                header(f, "tierd_cpu_budget_slowdown", "gauge",
                       "How many times further apart the CPU budget puts rounds (1: it does not limit).");
                fprintf(f, "tierd_cpu_budget_slowdown %.3f\n", s->cpu->slowdown);
                metric_u64(f, "tierd_cpu_budget_limiting", "gauge",
                           "1 when the CPU budget, not the configuration, sets how often tierd looks.",
                           cpu_budget_limiting(s->cpu));
        }
        if (s->loop_turns) {
                header(f, "tierd_loop_turn_longest_seconds", "gauge",
                       "Longest turn of the event loop (work between two waits), in the last round and since start.");
                fprintf(f, "tierd_loop_turn_longest_seconds{scope=\"last_round\"} %.6f\n",
                        s->loop_turns->last_round.us / 1e6);
                fprintf(f, "tierd_loop_turn_longest_seconds{scope=\"uptime\"} %.6f\n", s->loop_turns->ever.us / 1e6);
                metric_u64(f, "tierd_loop_turns_slow_total", "counter",
                           "Event loop turns over 50 ms: a control request arriving then waits for them.",
                           s->loop_turns->slow_turns);
        }
        metric_u64(f, "tierd_log_suppressed_total", "counter",
                   "Repeated log messages counted instead of printed.", s->log_suppressed);

        return ferror(f) ? -EIO : 0;
}

int metrics_format(const struct tierd_status *s, char **ret) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        r = metrics_write(s, f);
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        return 0;
}
