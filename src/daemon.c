/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <sys/epoll.h>
#include <time.h>

#include "bpf-procs.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "log.h"
#include "loop-turns.h"
#include "metrics.h"
#include "migrate.h"
#include "observer.h"
#include "payoff.h"
#include "placement.h"
#include "policy.h"
#include "util.h"
#include "census.h"
#include "cpu-budget.h"
#include "proc-stat.h"
#include "scan.h"
#include "status.h"
#include "targets.h"
#include "tierd-build.h"
#include "topology.h"

struct daemon {
        const struct daemon_options *opts;
        sd_event *event;
        sd_event_source *round_timer;
        sd_event_source *pass_timer;
        sd_event_source *place_timer; /* resumes a plan the rate limits paused */
        sd_event_source *step_defer; /* the next slice of a scan step that works in slices */
        sd_event_source *step_timer; /* the same, after the wait a step that waits for the kernel asked for */
        sd_event_source *census_defer; /* the census of the round that just ended, in a turn of its own */
        sd_event_source *plan_defer;   /* the next step of the plan in progress */
        sd_event_source *round_end_defer; /* the end of a round whose last pass just ended, in a turn of its own */
        struct control_server *control;
        char *control_socket; /* the path actually bound; changing it needs a restart */

        struct tierd_config *config;

        struct topology topology;
        struct target_set targets;

        struct scan_engine *scan;
        struct census census;
        bool have_census;
        bool census_due;       /* census_defer is on: the census of the round that ended has not run yet */
        struct census_taker *census_taker; /* that census, part taken (NULL: not begun) */
        uint64_t census_units_max;         /* units a census step locates, paced as the plan's steps */
        bool round_open;       /* a scanning round is between round_begin and round_end */
        uint64_t round_start_us;
        uint64_t last_tune_round; /* round in which the tuner last changed the pass interval */
        uint64_t round_busy_us; /* time spent working (not waiting for passes) in the current round */
        uint64_t last_round_busy_us;
        struct loop_turns turns;

        bool paused;
        uint64_t start_us;
        uint64_t round;
        uint64_t round_duration_us;
        uint64_t reloads;
        uint64_t reload_failures;

        uint64_t pass_interval_us; /* in use: the configured one, or tuned with pass_interval_auto */

        /* [scan] cpu_budget: tierd's CPU and its kdamond's, measured from one round's end to the next. */
        struct cpu_budget budget;
        uint64_t budget_wall_mark_us;    /* when the last cycle ended */
        uint64_t budget_own_mark_us;     /* tierd's CPU time then */
        pid_t budget_kthread;            /* the backend's kernel thread then (0: none) */
        uint64_t budget_kthread_mark_us; /* its CPU time then */
        uint64_t round_gap_us;           /* the wait before the next round that the budget asked for */
        unsigned sample_scale;           /* DAMON samples this many times less often than configured */
        unsigned region_scale;           /* and keeps at most this many times fewer regions */

        struct placement placement;
        struct payoff_ledger *payoff; /* whether moves paid, per workload; the exchange level that follows */

        /* The plan of the round that ended, built a step per loop turn (policy_planner_step()); what it plans
         * with is kept here until it is done. No round begins meanwhile. */
        struct policy_planner *planner;
        struct policy_params plan_params;
        struct policy_workload *plan_workloads;
        pid_t *plan_workload_pids;
        uint64_t plan_located_max;  /* units a step locates: what fits LOCATE_STEP_US at the last step's pace */
        uint64_t plan_locate_us;    /* of the step in progress, the time its locate calls took */
        bool round_after_plan;      /* the round timer fired while planning: the round begins once it is done */

        struct workload_status *workloads; /* [target.NAME] workloads as the last plan saw them */
        size_t n_workloads;

        struct observer *observer; /* the kernel's own migrations */

        /* Process events (BPF): new targets at once, dead ones dropped at once. NULL: the per-round rescan only. */
        struct bpf_procs *procs;
        sd_event_source *procs_source;
        char *procs_reason;        /* why there are no process events */
        uint64_t procs_dropped;    /* bpf_procs_dropped() when last looked at */
        bool procs_pending;        /* a new target (or lost events) waits for the next pass boundary */
        struct proc_events_status proc_events;
};

static uint64_t now_us(void) {
        return now_monotonic_us();
}

static uint64_t round_interval_us(const struct daemon *d) {
        return d->pass_interval_us * d->config->passes;
}

static const char *daemon_policy_describe(const struct daemon *d) {
        if (d->config->dry_run)
                return "dry run: hot pages on slow tiers and cold pages on fast tiers are planned and counted, "
                       "none is moved";
        if (d->config->fill_free)
                return "hot pages are promoted and cold pages demoted within the fast tier's free-memory headroom, "
                       "free memory above it takes warm pages too, rate limited";
        return "hot pages are promoted and cold pages demoted within the fast tier's free-memory headroom, "
               "rate limited";
}

static const char *daemon_state(const struct daemon *d, const char **ret_reason) {
        const char *reason = NULL, *state;

        if (d->round == 0)
                state = "starting";
        else if (d->paused) {
                state = "paused";
                reason = "paused by tierctl pause: no scanning and no page moves until tierctl resume";
        } else if (d->topology.n_tiers < 2) {
                state = "idle";
                reason = "only one memory tier: nothing to do";
        } else if (!scan_engine_active(d->scan)) {
                state = "idle";
                reason = "no access-scanning backend can run here (see Backends)";
        } else
                state = "running";
        if (ret_reason)
                *ret_reason = reason;
        return state;
}

static void daemon_status_snapshot(const struct daemon *d, struct tierd_status *ret) {
        *ret = (struct tierd_status) {
                .version = TIERD_VERSION,
                .pid = getpid(),
                .uptime_us = now_us() - d->start_us,
                .config_path = d->config->path,
                .config_reloads = d->reloads,
                .config_reload_failures = d->reload_failures,
                .backend = scan_engine_backend(d->scan),
                .backend_reason = scan_engine_reason(d->scan),
                .census = d->have_census ? &d->census : NULL,
                .policy = daemon_policy_describe(d),
                .passes = d->config->passes,
                .pass_interval_us = d->pass_interval_us,
                .pass_interval_configured_us = d->config->pass_interval_us,
                .pass_interval_auto = d->config->pass_interval_auto,
                .dry_run = d->config->dry_run,
                .placement = &d->placement.stats,
                .payoff = d->payoff,
                .exchange_feedback = d->config->exchange_feedback,
                .last_plan = d->placement.stats.plans > 0 ? &d->placement.last_summary : NULL,
                .placement_active = placement_active(&d->placement),
                .round = d->round,
                .round_duration_us = d->round_duration_us,
                .round_busy_us = d->last_round_busy_us,
                .loop_turns = &d->turns,
                .round_interval_us = round_interval_us(d),
                .cpu = &d->budget,
                .cpu_kernel_thread = d->budget_kthread > 0,
                .round_gap_us = d->round_gap_us,
                .sample_scale = d->sample_scale,
                .region_scale = d->region_scale,
                .topology = &d->topology,
                .targets = &d->targets,
                .workloads = d->workloads,
                .n_workloads = d->n_workloads,
                .promoted_bytes = d->placement.stats.dir[POLICY_PROMOTE].bytes,
                .demoted_bytes = d->placement.stats.dir[POLICY_DEMOTE].bytes,
                .promoted_pages = d->placement.stats.dir[POLICY_PROMOTE].pages,
                .demoted_pages = d->placement.stats.dir[POLICY_DEMOTE].pages,
                .log_suppressed = log_repeat_suppressed_total(),
        };
        ret->backend_reports = scan_engine_reports(d->scan, &ret->n_backend_reports);
        observer_snapshot(d->observer, &ret->kernel);
        ret->bpf[ret->n_bpf++] = (struct bpf_feature_status) {
                .name = "migrations",
                .active = streq_ptr(ret->kernel.source, "bpf"),
                .attach_mode = ret->kernel.attach_mode,
                .reason = ret->kernel.bpf_reason,
        };
        ret->bpf[ret->n_bpf++] = (struct bpf_feature_status) {
                .name = "process_events",
                .active = d->procs,
                .attach_mode = d->procs ? bpf_procs_attach_mode(d->procs) : NULL,
                .reason = d->procs ? NULL : d->procs_reason,
        };
        ret->have_damon_results = scan_engine_damon_results(d->scan, &ret->damon_results);
        ret->bpf[ret->n_bpf++] = (struct bpf_feature_status) {
                .name = "damon_results",
                .active = ret->damon_results.tracepoint,
                .attach_mode = ret->damon_results.attach_mode,
                .reason = !ret->have_damon_results ? "the scan backend is not DAMON" : ret->damon_results.reason,
        };
        ret->proc_events = d->proc_events;
        if (d->procs)
                ret->proc_events.dropped = bpf_procs_dropped(d->procs);
        if (d->scan) {
                heat_store_get_stats(scan_engine_heat(d->scan), &ret->heat);
                ret->settled_units = heat_store_settled_units(scan_engine_heat(d->scan));
        }
        ret->state = daemon_state(d, &ret->state_reason);
}

static void daemon_notify_status(const struct daemon *d) {
        const char *reason, *state = daemon_state(d, &reason);
        struct heat_store_stats heat = {};
        char tracked[FORMAT_BYTES_MAX];

        if (d->scan)
                heat_store_get_stats(scan_engine_heat(d->scan), &heat);
        if (reason)
                (void) sd_notifyf(false, "STATUS=%s: %s", state, reason);
        else
                (void) sd_notifyf(false, "STATUS=round %" PRIu64 ": %zu tiers, %zu targets, %s tracked, backend %s",
                                  d->round, d->topology.n_tiers, d->targets.n_targets,
                                  format_bytes(tracked, sizeof(tracked), heat.tracked_bytes), scan_engine_backend(d->scan));
}

static bool daemon_should_scan(const struct daemon *d) {
        return !d->paused && d->topology.n_tiers >= 2 && scan_engine_active(d->scan) && d->targets.n_targets > 0;
}

/* The [target.NAME] workloads as status shows them: names, members and budgets from the configuration and this
 * round's targets, and what the last plan measured, kept by name. */
static void daemon_workloads_refresh(struct daemon *d) {
        const struct tierd_config *c = d->config;
        uint64_t fast_total = d->topology.n_tiers > 0 ? d->topology.tiers[0].total_bytes : 0;
        struct workload_status *s;

        s = calloc(MAX(c->n_workloads, (size_t) 1), sizeof(*s));
        if (!s) {
                log_repeat_errno(LOG_WARNING, "workload-status", -ENOMEM,
                                 "Cannot keep the workloads' status: %m, ignoring");
                return;
        }
        for (size_t i = 0; i < c->n_workloads; i++) {
                const struct config_workload *w = &c->workloads[i];

                s[i] = (struct workload_status) {
                        .name = strdup(w->name),
                        .fast_max_bytes = config_workload_fast_max_bytes(w, fast_total),
                };
                if (!s[i].name) {
                        workload_status_free_many(s, i);
                        log_repeat_errno(LOG_WARNING, "workload-status", -ENOMEM,
                                         "Cannot keep the workloads' status: %m, ignoring");
                        return;
                }
                for (size_t j = 0; j < d->targets.n_targets; j++)
                        if (streq_ptr(d->targets.targets[j].workload_name, w->name))
                                s[i].n_processes++;
                for (size_t k = 0; k < d->n_workloads; k++)
                        if (streq(d->workloads[k].name, w->name) && s[i].fast_max_bytes != UINT64_MAX) {
                                s[i].measured = d->workloads[k].measured;
                                s[i].fast_bytes = d->workloads[k].fast_bytes;
                                s[i].planned_fast_bytes = d->workloads[k].planned_fast_bytes;
                                s[i].over = d->workloads[k].over;
                        }
        }
        workload_status_free_many(d->workloads, d->n_workloads);
        d->workloads = s;
        d->n_workloads = c->n_workloads;
}

/* Takes over *topo. "Fastest" and "slowest" tier may now be other nodes: what the heat store took as settled is
 * located again. */
static void daemon_topology_replace(struct daemon *d, struct topology *topo) {
        if (d->scan && !topology_same_tiers(&d->topology, topo))
                heat_store_unsettle_all(scan_engine_heat(d->scan));
        topology_done(&d->topology);
        d->topology = *topo;
        *topo = (struct topology) {};
}

/* Refreshes what a round works on: topology and targets. Failures keep the previous view. */
static void daemon_refresh(struct daemon *d) {
        struct topology topology = {};
        struct target_set targets = {};
        size_t old_tiers = d->topology.n_tiers;
        int r;

        r = topology_load(d->config, &topology);
        if (r < 0)
                log_repeat_errno(LOG_ERR, "round-topology", r,
                                 "Cannot read the memory topology: %m, keeping the previous one");
        else {
                daemon_topology_replace(d, &topology);
        }

        r = targets_scan(d->config, getpid(), &targets);
        if (r < 0)
                log_repeat_errno(LOG_ERR, "round-targets", r,
                                 "Cannot evaluate the target processes: %m, keeping the previous set");
        else {
                target_set_done(&d->targets);
                d->targets = targets;
        }
        daemon_workloads_refresh(d);

        if (d->round == 0 || old_tiers != d->topology.n_tiers) {
                if (d->topology.n_tiers < 2)
                        log_notice("Only one memory tier: nothing to do; staying idle until a second tier appears");
                else
                        log_info("%zu memory tiers (from %s)", d->topology.n_tiers,
                                 tier_source_to_string(d->topology.tier_source));
        }
}

static int daemon_arm(sd_event_source *s, uint64_t usec) {
        int r;

        r = sd_event_source_set_time_relative(s, usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r;
}

static struct heat_class_params daemon_class_params(const struct daemon *d) {
        return (struct heat_class_params) {
                .promote_rounds = d->config->promote_rounds,
                .cold_rounds = d->config->cold_rounds,
        };
}

/* A limit scaled down while tierd backs off in a fight with the kernel (kernel_fight = throttle). 0 means
 * unlimited and stays so: there is nothing to take a share of. */
static uint64_t throttled(uint64_t limit, unsigned permille) {
        if (limit == 0 || permille >= FIGHT_PERMILLE_MAX)
                return limit;
        return MAX(limit / FIGHT_PERMILLE_MAX * permille, (uint64_t) 4096);
}

static struct placement_settings daemon_placement_settings(const struct daemon *d) {
        const struct tierd_config *c = d->config;
        unsigned pp = observer_promote_permille(d->observer), dp = observer_demote_permille(d->observer);

        return (struct placement_settings) {
                .rate_bytes_per_sec = { [POLICY_PROMOTE] = throttled(c->promote_rate_bytes, pp),
                                        [POLICY_DEMOTE] = throttled(c->demote_rate_bytes, dp) },
                .round_max_bytes = { [POLICY_PROMOTE] = throttled(c->promote_round_max_bytes, pp),
                                     [POLICY_DEMOTE] = throttled(c->demote_round_max_bytes, dp) },
                .batch_bytes = c->batch_bytes,
                .dry_run = c->dry_run,
        };
}

static void daemon_set_move_params(struct daemon *d) {
        struct heat_move_params mp = {
                .min_residency_rounds = d->config->min_residency_rounds,
                .pingpong_window_rounds = d->config->pingpong_window_rounds,
                .max_backoff_rounds = d->config->max_backoff_rounds,
        };
        int r;

        if (!d->scan)
                return;
        r = heat_store_set_move_params(scan_engine_heat(d->scan), &mp);
        if (r < 0)
                log_warning_errno(r, "Cannot apply the residency settings: %m, ignoring");
}

static int on_place_timer(sd_event_source *s, uint64_t usec, void *userdata);

/* Runs the plan in progress until it ends or the rate limits make it wait; then the place timer resumes it. */
static void daemon_place_continue(struct daemon *d) {
        uint64_t wait = 0;
        int r;

        if (!placement_active(&d->placement))
                return;
        d->placement.grains = scan_engine_grains(d->scan);
        r = placement_run(&d->placement, d->scan ? scan_engine_heat(d->scan) : NULL, now_us(), &wait);
        if (r < 0) {
                log_repeat_errno(LOG_ERR, "place-run", r, "Cannot carry out the placement plan: %m");
                return;
        }
        if (r == 0)
                return;
        r = daemon_arm(d->place_timer, wait);
        if (r < 0) {
                log_error_errno(r, "Cannot arm the placement timer: %m, dropping the plan");
                placement_abort(&d->placement);
        }
}

static int on_place_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;

        d->turns.doing = "placement";
        daemon_place_continue(d);
        return 0;
}

/* The [target.NAME] workloads for the policy, from this round's targets: their pids (all in *ret_pids, which the
 * workloads point into) and budgets resolved against tier 0's memory. */
static int daemon_policy_workloads(const struct daemon *d, struct policy_workload **ret, pid_t **ret_pids) {
        const struct tierd_config *c = d->config;
        uint64_t fast_total = d->topology.n_tiers > 0 ? d->topology.tiers[0].total_bytes : 0;
        _cleanup_free_ struct policy_workload *w = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;

        *ret = NULL;
        *ret_pids = NULL;
        if (c->n_workloads == 0)
                return 0;
        w = calloc(c->n_workloads, sizeof(*w));
        pids = calloc(MAX(d->targets.n_targets, (size_t) 1), sizeof(*pids));
        if (!w || !pids)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_workloads; i++) {
                w[i] = (struct policy_workload) {
                        .name = c->workloads[i].name,
                        .pids = pids + n,
                        .fast_max_bytes = config_workload_fast_max_bytes(&c->workloads[i], fast_total),
                };
                /* The name check: targets scanned before a reload may number the workloads differently. */
                for (size_t j = 0; j < d->targets.n_targets; j++) {
                        const struct target *t = &d->targets.targets[j];

                        if (t->workload == (int) i && streq_ptr(t->workload_name, c->workloads[i].name))
                                pids[n++] = t->pid;
                }
                w[i].n_pids = (size_t) (pids + n - w[i].pids);
        }
        *ret = TAKE_PTR(w);
        *ret_pids = TAKE_PTR(pids);
        return 0;
}

/* Keeps what the plan found about each budgeted workload, and says when one goes over its budget or back within
 * it: that is when tierd starts or stops demoting its pages regardless of heat. */
static void daemon_note_workloads(struct daemon *d, const struct policy_params *pp, const struct policy_plan *plan) {
        for (size_t i = 0; i < plan->n_workloads; i++) {
                const struct policy_workload *w = &pp->workloads[i];
                const struct policy_workload_summary *ws = &plan->workloads[i];
                char b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX];
                struct workload_status *s = NULL;

                if (w->fast_max_bytes == POLICY_NO_LIMIT)
                        continue;
                for (size_t k = 0; k < d->n_workloads && !s; k++)
                        if (streq(d->workloads[k].name, w->name))
                                s = &d->workloads[k];
                if (!s)
                        continue;
                if (ws->over && !s->over)
                        log_info("Workload %s uses %s of the fast tier, over its fast_max of %s: demoting its "
                                 "coldest pages and promoting none until it is within.",
                                 w->name, format_bytes(b1, sizeof(b1), ws->fast_bytes),
                                 format_bytes(b2, sizeof(b2), w->fast_max_bytes));
                else if (!ws->over && s->over)
                        log_info("Workload %s is within its fast_max again (%s of %s).", w->name,
                                 format_bytes(b1, sizeof(b1), ws->fast_bytes),
                                 format_bytes(b2, sizeof(b2), w->fast_max_bytes));
                s->measured = true;
                s->fast_bytes = ws->fast_bytes;
                s->planned_fast_bytes = ws->planned_fast_bytes;
                s->over = ws->over;
                s->fast_max_bytes = w->fast_max_bytes;
        }
}

/* A node that refused a promotion with ENOMEM in the last plan had less free memory to give than tierd planned
 * with: it counts as full for this plan, so that promotions into it go one for one. */
static void daemon_full_nodes(struct daemon *d) {
        struct node_set full;

        placement_take_full_nodes(&d->placement, &full);
        NODE_SET_FOREACH(id, &full) {
                struct topology_node *n = (struct topology_node *) topology_find_node(&d->topology, id);
                char key[64], b[FORMAT_BYTES_MAX];

                if (!n)
                        continue;
                snprintf(key, sizeof(key), "place-node-full:%d", id);
                log_repeat_errno(LOG_INFO, key, 0,
                                 "Node %d refused promotions with ENOMEM although %s of its free memory looked "
                                 "usable: exchanging one for one while it does.",
                                 id, format_bytes(b, sizeof(b), topology_node_usable_free(n)));
                n->kept_bytes = n->free_bytes;
        }
}

/* What a step of the plan or the census should take: the units it locates are paced to it. */
#define LOCATE_STEP_US (10 * USEC_PER_MSEC)
/* Most units a step locates: 2^20 is ~0.2 s of move_pages() on real hardware, never reached at LOCATE_STEP_US. */
#define LOCATE_STEP_UNITS_MAX (UINT64_C(1) << 20)

/* The units the next step may locate: as many as the last step's pace fits into LOCATE_STEP_US, at least min,
 * and at most twice what it located (the pace varies from one part of a target to the next: 5-50 us a unit
 * under TCG, ~0.2 us on real hardware). */
static uint64_t locate_pace(uint64_t located, uint64_t took_us, uint64_t min) {
        uint64_t n;

        if (located == 0)
                return min;
        n = (uint64_t) ((unsigned __int128) located * LOCATE_STEP_US / MAX(took_us, (uint64_t) 1));
        return MIN(MAX(MIN(n, 2 * located), min), LOCATE_STEP_UNITS_MAX);
}

/* Forgets the plan in progress (none is fine). A round that waited for it may begin. */
static void daemon_plan_drop(struct daemon *d) {
        d->planner = policy_planner_free(d->planner);
        d->plan_workloads = mfree(d->plan_workloads);
        d->plan_workload_pids = mfree(d->plan_workload_pids);
        d->plan_params = (struct policy_params) {};
        (void) sd_event_source_set_enabled(d->plan_defer, SD_EVENT_OFF);
        if (d->round_after_plan) {
                int r;

                d->round_after_plan = false;
                r = daemon_arm(d->round_timer, 0);
                if (r < 0) {
                        log_error_errno(r, "Cannot re-arm the round timer: %m");
                        (void) sd_event_exit(d->event, EXIT_FAILURE);
                }
        }
}

/* The plan is done: start carrying it out. */
static void daemon_plan_ready(struct daemon *d, struct policy_plan *plan) {
        if (plan->n_moves > 0 || plan->n_shadow > 0 || plan->summary.skipped_units[POLICY_SKIP_NO_ROOM] > 0)
                log_debug("Round %" PRIu64 ": plan of %" PRIu64 " promotions (%" PRIu64 " KiB, %" PRIu64
                          " KiB one for one, %" PRIu64 " KiB fill), %" PRIu64 " demotions (%" PRIu64
                          " KiB); %" PRIu64 " KiB of exchanges probed; fast tier usable free %" PRIu64
                          " KiB, planned %" PRIu64 " KiB; %" PRIu64 " KiB hot found no room (longest streak %u; %"
                          PRIu64 " KiB of it may displace warm units, %" PRIu64 " found)%s",
                          plan->round, plan->summary.moves[POLICY_PROMOTE],
                          plan->summary.bytes[POLICY_PROMOTE] >> 10,
                          plan->summary.reason_bytes[POLICY_REASON_ONE_FOR_ONE] >> 10,
                          plan->summary.reason_bytes[POLICY_REASON_FILL] >> 10,
                          plan->summary.moves[POLICY_DEMOTE], plan->summary.bytes[POLICY_DEMOTE] >> 10,
                          plan->summary.shadow_bytes[POLICY_PROMOTE] >> 10,
                          plan->summary.tiers[0].free_bytes >> 10, plan->summary.tiers[0].planned_free_bytes >> 10,
                          plan->summary.skipped_bytes[POLICY_SKIP_NO_ROOM] >> 10,
                          plan->summary.waiting_streak_max, plan->summary.warm_waiting_bytes >> 10,
                          plan->summary.warm_victim_units, d->config->dry_run ? " (dry run: not moved)" : "");
        daemon_note_workloads(d, &d->plan_params, plan);
        /* Probing workloads' exchanges: watched where they are, not moved (nothing is watched in a dry run,
         * where nothing moves either). */
        for (size_t i = 0; i < plan->n_shadow && !d->config->dry_run; i++) {
                int r = payoff_ledger_note(d->payoff, scan_engine_heat(d->scan), scan_engine_grains(d->scan),
                                            &plan->shadow[i], plan->round, true);

                if (r < 0) {
                        log_debug_errno(r, "Cannot note a probed exchange in the payoff ledger: %m, ignoring");
                        break;
                }
        }
        placement_start(&d->placement, plan);
        /* The first moves in a turn of their own: this one has had the plan's last step. */
        if (daemon_arm(d->place_timer, 0) < 0)
                daemon_place_continue(d);
}

/* The plan's locate calls, timed: a slow step's log says how much of it they were. */
static int daemon_locate(pid_t pid, void **addrs, size_t n, int *nodes, void *userdata) {
        struct daemon *d = userdata;
        uint64_t start = now_us();
        int r;

        r = placement_locate(pid, addrs, n, nodes, NULL);
        d->plan_locate_us += now_us() - start;
        return r;
}

/* One step of the plan in progress; the next gets a turn of its own, and locates what the pace of this one fits
 * into LOCATE_STEP_US (a step pauses at a batch's end, so at least one batch). */
static void daemon_plan_step(struct daemon *d) {
        struct policy_step_stats stats;
        struct policy_plan plan;
        uint64_t start = now_us(), took_us;
        int r;

        if (!d->planner)
                return;
        d->plan_locate_us = 0;
        r = policy_planner_step(d->planner, d->plan_located_max, &plan);
        took_us = now_us() - start;
        policy_planner_step_stats(d->planner, &stats);
        if (took_us > LOOP_TURN_SLOW_US)
                log_debug("Plan step of %" PRIu64 "ms, ended in %s: %" PRIu64 " units walked, %" PRIu64
                          " located in %" PRIu64 " calls (%" PRIu64 "ms)",
                          took_us / 1000, stats.ended_in, stats.walked, stats.located, stats.locate_calls,
                          d->plan_locate_us / 1000);
        d->plan_located_max = locate_pace(stats.located, took_us, POLICY_LOCATE_BATCH);
        if (r > 0) {
                (void) sd_event_source_set_enabled(d->plan_defer, SD_EVENT_ONESHOT);
                return;
        }
        if (r < 0)
                log_repeat_errno(LOG_WARNING, "place-plan", r, "Cannot plan page moves: %m, skipping this round");
        else
                daemon_plan_ready(d, &plan);
        daemon_plan_drop(d);
}

static int on_plan_defer(sd_event_source *s, void *userdata) {
        struct daemon *d = userdata;

        d->turns.doing = "plan";
        daemon_plan_step(d);
        return 0;
}

/* The ledger's books follow the [target.NAME] workloads, and its window promote_rounds (at least 2) rounds after
 * the one the moves happen in: a demotion is regretted when its unit is hot again, which takes promote_rounds
 * rounds to show, and one round of three passes cannot tell a hot-set page from a background page hit in most
 * passes (in the guest, a window of one round judged a hot set's exchanges unpaid and a third of the displaced
 * background regretted). A change of either starts the ledger over, since its evidence is about moves the old
 * ones judged. */
static int daemon_payoff_setup(struct daemon *d) {
        const struct tierd_config *c = d->config;
        unsigned window = MAX(c->promote_rounds, 2U);
        _cleanup_free_ const char **names = NULL;
        struct payoff_ledger *l = NULL;
        bool same;
        int r;

        names = calloc(c->n_workloads + 1, sizeof(*names));
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_workloads; i++)
                names[i + 1] = c->workloads[i].name;
        same = d->payoff && payoff_ledger_books(d->payoff) == c->n_workloads + 1 &&
                payoff_ledger_window(d->payoff) == window;
        for (size_t i = 0; same && i < c->n_workloads; i++)
                same = streq_ptr(payoff_ledger_name(d->payoff, i + 1), names[i + 1]);
        if (same) {
                payoff_ledger_set_feedback(d->payoff, c->exchange_feedback);
                return 0;
        }
        r = payoff_ledger_new(c->n_workloads + 1, names, window, now_us() ^ (uint64_t) getpid(), &l);
        if (r < 0)
                return r;
        if (d->payoff)
                log_info("Workloads or promote_rounds changed: the payoff ledger starts over");
        payoff_ledger_set_feedback(l, c->exchange_feedback);
        payoff_ledger_free(d->payoff);
        d->payoff = l;
        d->placement.payoff = l;
        return 0;
}

/* After the round's fold: the heat of the moves the ledger watches, and the verdicts of those old enough. */
static void daemon_payoff_observe(struct daemon *d) {
        struct heat_class_params cp = daemon_class_params(d);
        struct heat_store_stats hs;
        int r;

        if (!d->payoff || !d->scan)
                return;
        heat_store_get_stats(scan_engine_heat(d->scan), &hs);
        if (hs.last_passes == 0)
                return; /* a round cut short before its first pass saw nothing */
        r = payoff_ledger_observe(d->payoff, scan_engine_heat(d->scan), &cp, hs.round, hs.last_passes);
        if (r < 0)
                log_repeat_errno(LOG_WARNING, "payoff-observe", r, "Cannot judge the last moves: %m, ignoring");
}

/* Plans the moves for the round just folded, a step at a time (the first in this turn), and then carries them
 * out. What the last plan had left to move is dropped: this plan sees where things are now. */
static void daemon_place(struct daemon *d) {
        struct heat_class_params cp = daemon_class_params(d);
        struct heat_store_stats hs;
        struct topology topo = {};
        int r;

        daemon_plan_drop(d);
        if (d->paused || d->topology.n_tiers < 2 || !d->scan || !scan_engine_active(d->scan))
                return;

        /* Free memory as it is now: the previous plan and the kernel changed it since the round began. */
        r = topology_load(d->config, &topo);
        if (r >= 0)
                daemon_topology_replace(d, &topo);
        daemon_full_nodes(d);

        heat_store_get_stats(scan_engine_heat(d->scan), &hs);
        d->plan_params = (struct policy_params) {
                .class = cp,
                .round = hs.round,
                .promote_budget_bytes = d->placement.settings.round_max_bytes[POLICY_PROMOTE] ?: UINT64_MAX,
                .demote_budget_bytes = d->placement.settings.round_max_bytes[POLICY_DEMOTE] ?: UINT64_MAX,
                .batch_bytes = d->config->batch_bytes,
                /* Every pass of a round of at least two: one hit alone says little. */
                .eager_hits = hs.last_passes >= 2 ? hs.last_passes : 0,
                /* The ledger's book 0 is the targets outside any workload, w + 1 is workload w; with
                 * exchange_feedback off every book is normal. */
                .exchange = payoff_ledger_exchange(d->payoff, 0),
                .fill = d->config->fill_free,
                .tier_skip = d->config->tier_skip,
                .move_shared = d->config->move_shared,
        };
        policy_params_set_headroom(&d->plan_params, &d->topology, &d->config->fast_free_min,
                                   &d->config->fast_free_target);
        r = daemon_policy_workloads(d, &d->plan_workloads, &d->plan_workload_pids);
        if (r >= 0) {
                for (size_t i = 0; i < d->config->n_workloads; i++)
                        d->plan_workloads[i].exchange = payoff_ledger_exchange(d->payoff, i + 1);
                d->plan_params.workloads = d->plan_workloads;
                d->plan_params.n_workloads = d->config->n_workloads;
                r = policy_planner_new(scan_engine_heat(d->scan), &d->topology, &d->plan_params, daemon_locate, d,
                                       &d->planner);
        }
        if (r < 0) {
                log_repeat_errno(LOG_WARNING, "place-plan", r, "Cannot plan page moves: %m, skipping this round");
                daemon_plan_drop(d);
                return;
        }
        (void) sd_event_source_set_enabled(d->place_timer, SD_EVENT_OFF);
        placement_abort(&d->placement);
        if (d->plan_located_max == 0)
                d->plan_located_max = POLICY_LOCATE_BATCH;
        daemon_plan_step(d);
}

/* What of the fast tier the targets can have: what they hold there and its usable free memory. Memory that other
 * processes, the kernel or hugetlb hold is no room for a hot set, so a hot target as a share of the whole tier
 * would let the hot set grow past what can ever be placed and leave hot pages indistinguishable. */
static uint64_t daemon_fast_capacity(const struct daemon *d) {
        uint64_t bytes[_HEAT_CLASS_MAX], held = 0, usable = 0;

        census_tier_class_bytes(&d->census, &d->topology, 0, bytes);
        for (size_t k = 0; k < _HEAT_CLASS_MAX; k++)
                held += bytes[k];
        for (size_t i = 0; i < d->topology.n_nodes; i++)
                if (d->topology.nodes[i].tier == 0)
                        usable += topology_node_usable_free(&d->topology.nodes[i]);
        return MIN(held + usable, d->topology.tiers[0].total_bytes);
}

/* With pass_interval_auto, the next round's pass interval from the hot bytes of the round just folded. */
static void daemon_tune(struct daemon *d) {
        struct policy_tuner_params tp;
        uint64_t hot = 0, next;

        if (!d->config->pass_interval_auto || !d->have_census || d->topology.n_tiers < 1)
                return;
        /* A new interval changes what counts as hot, so classes need promote_rounds + cold_rounds rounds to
         * settle before the next judgement; DAMON also has to re-commit (and rebuild its regions) each time. */
        if (d->round < d->last_tune_round + d->config->promote_rounds + d->config->cold_rounds)
                return;
        for (size_t i = 0; i < d->census.n_nodes; i++)
                hot += d->census.nodes[i].class_bytes[HEAT_CLASS_HOT];
        tp = (struct policy_tuner_params) {
                .hot_target = d->config->hot_target,
                .interval_min_us = d->config->pass_interval_min_us,
                .interval_max_us = d->config->pass_interval_max_us,
        };
        next = policy_tune_pass_interval(&tp, hot, daemon_fast_capacity(d), d->pass_interval_us);
        if (next != d->pass_interval_us) {
                log_debug("Pass interval %" PRIu64 "ms -> %" PRIu64 "ms (hot: %" PRIu64 " MiB)",
                          d->pass_interval_us / USEC_PER_MSEC, next / USEC_PER_MSEC, hot >> 20);
                d->last_tune_round = d->round;
        }
        d->pass_interval_us = next;
}

/* Samples the kernel's migrations for the round that ends, and follows a fight with the kernel: with
 * kernel_fight = throttle the rate limits shrink while it lasts and grow back after. */
static void daemon_observe(struct daemon *d) {
        unsigned pp, dp;

        if (!d->observer)
                return;
        pp = observer_promote_permille(d->observer);
        dp = observer_demote_permille(d->observer);
        observer_round(d->observer, d->placement.stats.dir[POLICY_PROMOTE].pages,
                       d->placement.stats.dir[POLICY_DEMOTE].pages);
        if (pp != observer_promote_permille(d->observer) || dp != observer_demote_permille(d->observer)) {
                struct placement_settings ps = daemon_placement_settings(d);

                log_debug("Kernel fight: tierd uses %u/1000 of its promotion limits and %u/1000 of its demotion "
                          "limits", observer_promote_permille(d->observer), observer_demote_permille(d->observer));
                placement_configure(&d->placement, &ps, now_us());
        }
}

/* The most DAMON's sampling may be thinned: an aggregation window (a pass) keeps at least this many samples, so
 * a region touched a few times a second still shows in it. */
#define DAMON_SAMPLES_PER_PASS_MIN 10

/* Accounts the cycle that ends with this round (the wait before it included) against the CPU budget, sets the
 * sampling for the next round, and returns how long to wait before it. */
static uint64_t daemon_budget_cycle(struct daemon *d) {
        uint64_t now = now_us(), own = proc_self_cpu_us(), kernel = 0, kthread_us, max_scale;
        unsigned sample_scale, region_scale;
        pid_t kthread = scan_engine_kernel_thread(d->scan);
        int r;

        if (kthread > 0) {
                r = proc_cpu_read_us(kthread, &kthread_us);
                if (r >= 0) {
                        /* A thread that was not there at the last mark did all its work within this cycle. */
                        kernel = kthread == d->budget_kthread ? kthread_us - MIN(d->budget_kthread_mark_us, kthread_us)
                                                              : kthread_us;
                        d->budget_kthread_mark_us = kthread_us;
                } else {
                        if (r != -ENOENT && r != -ESRCH)
                                log_repeat_errno(LOG_WARNING, "budget-kthread", r,
                                                 "Cannot read the CPU time of kernel thread %d: %m; the CPU budget "
                                                 "counts tierd's own time only", (int) kthread);
                        kthread = 0;
                }
        }
        d->budget_kthread = kthread;

        cpu_budget_account(&d->budget, own - MIN(d->budget_own_mark_us, own), kernel,
                           now - MIN(d->budget_wall_mark_us, now), d->round_duration_us);
        d->budget_own_mark_us = own;
        d->budget_wall_mark_us = now;

        max_scale = d->pass_interval_us / (DAMON_SAMPLES_PER_PASS_MIN * MAX(d->config->damon_sample_interval_us, 1));
        sample_scale = cpu_budget_sample_scale(&d->budget, (unsigned) MIN(MAX(max_scale, 1), 1024));
        /* Regions go no lower than the configured least. */
        region_scale = cpu_budget_region_scale(&d->budget, sample_scale,
                                               d->config->damon_max_regions / MAX(d->config->damon_min_regions, 1U));
        d->sample_scale = scan_engine_set_sample_scale(d->scan, sample_scale, region_scale);
        d->region_scale = scan_engine_region_scale(d->scan);
        d->round_gap_us = cpu_budget_gap_us(&d->budget, d->round_duration_us);
        return d->round_gap_us;
}

/* The fewest units a census step locates. */
#define CENSUS_STEP_UNITS_MIN UINT64_C(256)

/* Forgets the census in progress, if any. */
static void daemon_census_drop(struct daemon *d) {
        d->census_due = false;
        d->census_taker = census_taker_free(d->census_taker);
        (void) sd_event_source_set_enabled(d->census_defer, SD_EVENT_OFF);
}

/* The census of the round that ended (where its classes are), then the pass-interval tuner that reads it. Taken
 * a step per loop turn after the round's end, paced as the plan's steps (daemon_plan_step()); all at once when
 * the next round begins first (finish). */
static void daemon_census(struct daemon *d, bool finish) {
        struct heat_class_params p = daemon_class_params(d);
        struct census census;
        uint64_t start = now_us(), took, located, sampled_us = 0;
        int r;

        if (!d->census_due)
                return;
        if (!d->scan) {
                daemon_census_drop(d);
                return;
        }
        if (!d->census_taker) {
                r = census_taker_new(scan_engine_heat(d->scan), &p, &d->topology, &d->census_taker);
                if (r < 0) {
                        log_repeat_errno(LOG_WARNING, "census", r,
                                         "Cannot find where the tracked pages are: %m, ignoring");
                        daemon_census_drop(d);
                        return;
                }
                sampled_us = now_us() - start;
        }
        if (d->census_units_max == 0)
                d->census_units_max = CENSUS_STEP_UNITS_MIN;
        located = census_taker_located(d->census_taker);
        r = census_taker_step(d->census_taker, finish ? UINT64_MAX : d->census_units_max, &census);
        took = now_us() - start;
        if (took > LOOP_TURN_SLOW_US)
                log_debug("Census step of %" PRIu64 "ms: %" PRIu64 " units located, taking the sample %" PRIu64 "ms",
                          took / USEC_PER_MSEC, census_taker_located(d->census_taker) - located,
                          sampled_us / USEC_PER_MSEC);
        if (!finish)
                d->census_units_max = locate_pace(census_taker_located(d->census_taker) - located, took,
                                                  CENSUS_STEP_UNITS_MIN);
        if (r > 0) {
                (void) sd_event_source_set_enabled(d->census_defer, SD_EVENT_ONESHOT);
                return;
        }
        daemon_census_drop(d);
        if (r < 0) {
                log_repeat_errno(LOG_WARNING, "census", r, "Cannot find where the tracked pages are: %m, ignoring");
                return;
        }
        census_done(&d->census);
        d->census = census;
        d->have_census = true;
        daemon_tune(d);
        log_debug("Census of round %" PRIu64 " done: last step %" PRIu64 "ms (%" PRIu64 " units asked in all)",
                  d->census.round, took / USEC_PER_MSEC, d->census.units_queried);
}

static int on_census_defer(sd_event_source *s, void *userdata) {
        struct daemon *d = userdata;

        d->turns.doing = "census";
        daemon_census(d, /* finish= */ false);
        return 0;
}

/* Ends the round: folds the scan (also one cut short), plans, schedules the census and the next round. */
static void daemon_round_finish(struct daemon *d) {
        uint64_t start = now_us(), scan_end_us = 0, plan_end_us = 0, gap;
        bool scanned = d->round_open;
        int r;

        d->turns.doing = "round end";
        (void) sd_event_source_set_enabled(d->round_end_defer, SD_EVENT_OFF);
        daemon_observe(d);

        if (d->round_open) {
                (void) sd_event_source_set_enabled(d->pass_timer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(d->step_defer, SD_EVENT_OFF);
                (void) sd_event_source_set_enabled(d->step_timer, SD_EVENT_OFF);
                (void) scan_engine_round_end(d->scan);
                d->round_open = false;
                daemon_payoff_observe(d);
                scan_end_us = now_us();

                daemon_place(d);
                /* The plan does not need the census (status and the pass-interval tuner do): it gets turns of
                 * its own, so a control request waits for the longest step, not the sum of all. */
                daemon_census_drop(d);
                d->census_due = true;
                (void) sd_event_source_set_enabled(d->census_defer, SD_EVENT_ONESHOT);
                plan_end_us = now_us();
        }

        d->round++;
        d->round_busy_us += now_us() - start;
        d->last_round_busy_us = d->round_busy_us;
        d->round_duration_us = now_us() - d->round_start_us;
        gap = daemon_budget_cycle(d);
        log_repeat_round_end();
        daemon_notify_status(d);
        /* This turn holds the loop longest (tierctl status: Loop); which part is what to split next. */
        if (scanned)
                log_debug("Round %" PRIu64 " ended in a turn of %" PRIu64 "ms: scan end %" PRIu64 "ms, the plan's "
                          "first step %" PRIu64 "ms, the budget and status %" PRIu64 "ms",
                          d->round, (now_us() - start) / USEC_PER_MSEC, (scan_end_us - start) / USEC_PER_MSEC,
                          (plan_end_us - scan_end_us) / USEC_PER_MSEC, (now_us() - plan_end_us) / USEC_PER_MSEC);

        /* A scanning round already lasted passes x pass_interval: the next one starts as soon as the CPU budget
         * allows. */
        r = daemon_arm(d->round_timer, scanned ? gap : MAX(gap, round_interval_us(d)));
        if (r < 0) {
                log_error_errno(r, "Cannot re-arm the round timer: %m");
                (void) sd_event_exit(d->event, EXIT_FAILURE);
        }
}

/* The next slice of the pending scan step: in the next turn, or after the wait the backend asked for. */
static void daemon_step_later(struct daemon *d) {
        uint64_t wait = scan_engine_resume_wait_us(d->scan);
        int r;

        if (wait > 0) {
                r = daemon_arm(d->step_timer, wait);
                if (r >= 0) {
                        (void) sd_event_source_set_enabled(d->step_defer, SD_EVENT_OFF);
                        return;
                }
                log_repeat_errno(LOG_WARNING, "step-timer", r, "Cannot arm the scan step timer: %m, going on at once");
        }
        (void) sd_event_source_set_enabled(d->step_defer, SD_EVENT_ON);
}

/* The pass interval starts once pass_begin is done. */
static void daemon_pass_wait(struct daemon *d) {
        int r;

        r = daemon_arm(d->pass_timer, d->pass_interval_us);
        if (r < 0) {
                log_error_errno(r, "Cannot arm the pass timer: %m");
                (void) sd_event_exit(d->event, EXIT_FAILURE);
        }
}

static void daemon_pass_start(struct daemon *d) {
        uint64_t start = now_us();
        int r;

        r = scan_engine_pass_begin(d->scan);
        if (r < 0)
                log_repeat_errno(LOG_ERR, "pass-begin", r, "Cannot start a scan pass: %m");
        if (r > 0)
                daemon_step_later(d);
        else
                daemon_pass_wait(d);
        d->round_busy_us += now_us() - start;
}

/* A pass ended (pass_end is done): the next pass, or the end of the round. */
static void daemon_pass_done(struct daemon *d) {
        unsigned left = scan_engine_passes_left(d->scan);

        if (left > 0 && !d->procs_pending) {
                daemon_pass_start(d);
                return;
        }
        /* A new target waits: end this round here (its passes count, as with a reload) and start the next at
         * once, so the new process is in the very next pass rather than a round later. */
        if (left > 0)
                d->proc_events.rounds_cut++;
        /* The round's end (fold, the plan's first step) in a turn of its own: this one had the pass's end. */
        if (sd_event_source_set_enabled(d->round_end_defer, SD_EVENT_ONESHOT) < 0)
                daemon_round_finish(d);
}

static int on_round_end_defer(sd_event_source *s, void *userdata) {
        struct daemon *d = userdata;

        /* A reload or a pause may have ended the round since. */
        if (d->round_open)
                daemon_round_finish(d);
        return 0;
}

static void daemon_round_start(struct daemon *d) {
        uint64_t start = now_us(), census_end_us, refresh_end_us;
        int r;

        /* The plan locates and settles units in the heat store the round would be changing, and is built for
         * the round that ended: it is finished first. */
        if (d->planner) {
                d->round_after_plan = true;
                return;
        }
        d->procs_pending = false; /* this round's rescan sees what the events announced */
        d->round_start_us = start;
        d->turns.doing = "round start";
        daemon_census(d, /* finish= */ true); /* the last round's, if its turns have not all come yet */
        loop_turns_round_done(&d->turns);
        d->round_busy_us = 0;
        census_end_us = now_us();
        daemon_refresh(d);
        refresh_end_us = now_us();

        if (daemon_should_scan(d)) {
                scan_engine_set_placement(d->scan, &d->topology, d->config->promote_rounds,
                                          d->config->cold_rounds);
                r = scan_engine_round_begin(d->scan, &d->targets, d->round + 1, d->config->passes,
                                            d->pass_interval_us, d->config->hot_threshold);
                if (r < 0)
                        log_repeat_errno(LOG_ERR, "round-begin", r, "Cannot begin a scan round: %m");
                else {
                        uint64_t begin_end_us = now_us();

                        d->round_open = true;
                        d->round_busy_us += now_us() - start;
                        if (r > 0)
                                daemon_step_later(d);
                        else
                                daemon_pass_start(d);
                        if (now_us() - start > LOOP_TURN_SLOW_US)
                                log_debug("Round %" PRIu64 " started in a turn of %" PRIu64 "ms: the last census "
                                          "%" PRIu64 "ms, finding targets %" PRIu64 "ms, the scan's round start %"
                                          PRIu64 "ms, its first pass %" PRIu64 "ms",
                                          d->round + 1, (now_us() - start) / USEC_PER_MSEC,
                                          (census_end_us - start) / USEC_PER_MSEC,
                                          (refresh_end_us - census_end_us) / USEC_PER_MSEC,
                                          (begin_end_us - refresh_end_us) / USEC_PER_MSEC,
                                          (now_us() - begin_end_us) / USEC_PER_MSEC);
                        return;
                }
        }
        d->round_busy_us += now_us() - start;
        daemon_round_finish(d);
}

static int on_round_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        daemon_round_start(userdata);
        return 0;
}

/* A slice of a backend step that works in slices, one per loop turn; the round goes on once it is done. */
static int on_step_continue(sd_event_source *s, void *userdata) {
        struct daemon *d = userdata;
        uint64_t start = now_us();
        enum scan_step done;
        int r;

        d->turns.doing = scan_engine_pending(d->scan) == SCAN_STEP_ROUND_BEGIN ? "round start slice" : "pass slice";
        r = scan_engine_resume(d->scan, &done);
        d->round_busy_us += now_us() - start;
        if (r > 0) {
                daemon_step_later(d);
                return 0;
        }
        (void) sd_event_source_set_enabled(d->step_defer, SD_EVENT_OFF);
        switch (done) {
        case SCAN_STEP_ROUND_BEGIN:
                daemon_pass_start(d);
                break;
        case SCAN_STEP_PASS_BEGIN:
                daemon_pass_wait(d);
                break;
        case SCAN_STEP_PASS_END:
                daemon_pass_done(d);
                break;
        default:
                break;
        }
        return 0;
}

static int on_step_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_step_continue(s, userdata);
}

static int on_pass_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct daemon *d = userdata;
        uint64_t start = now_us();
        int r;

        d->turns.doing = "pass";
        r = scan_engine_pass_end(d->scan);
        d->round_busy_us += now_us() - start;
        if (r < 0)
                log_repeat_errno(LOG_ERR, "pass-end", r, "Cannot end a scan pass: %m");
        if (r > 0)
                daemon_step_later(d);
        else
                daemon_pass_done(d);
        return 0;
}

/* Strips journald "<N>" prefixes so captured log text reads well in a tierctl reply. */
static char *strip_priority_prefixes(const char *text) {
        char *out = malloc(strlen(text) + 1), *o = out;
        bool line_start = true;

        if (!out)
                return NULL;
        for (const char *p = text; *p; p++) {
                if (line_start && p[0] == '<' && p[1] >= '0' && p[1] <= '7' && p[2] == '>') {
                        p += 2;
                        line_start = false;
                        continue;
                }
                *o++ = *p;
                line_start = *p == '\n';
        }
        *o = '\0';
        return out;
}

static void daemon_procs_start(struct daemon *d);
static void daemon_procs_stop(struct daemon *d);

/* Parses into a fresh configuration and swaps only on success: a bad file never touches the running one. The
 * errors are logged as usual and also handed back for tierctl. */
static int daemon_reload(struct daemon *d, char **ret_errors) {
        struct tierd_config *new_config = NULL;
        char *captured = NULL;
        size_t captured_size = 0;
        FILE *capture;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=%" PRIu64, now_us());
        log_info("Reloading configuration from %s", d->opts->config_path);

        capture = open_memstream(&captured, &captured_size);
        if (capture)
                log_set_stream(capture);
        r = config_load(d->opts->config_path, &new_config);
        if (r >= 0 && d->opts->dry_run)
                new_config->dry_run = true; /* the command line wins over the file, also across reloads */
        if (capture) {
                log_set_stream(NULL);
                fclose(capture);
                if (captured_size > 0)
                        fputs(captured, stderr);
        }

        if (r < 0) {
                d->reload_failures++;
                log_error("Configuration reload failed: keeping the running configuration");
                if (ret_errors) {
                        _cleanup_free_ char *stripped = captured ? strip_priority_prefixes(captured) : NULL;
                        if (asprintf(ret_errors, "invalid configuration, running configuration kept:\n%s",
                                     stripped ?: "") < 0)
                                *ret_errors = NULL;
                }
                free(captured);
                (void) sd_notify(false, "READY=1");
                daemon_notify_status(d);
                return r;
        }
        free(captured);

        if (!streq(new_config->control_socket, d->config->control_socket) && !d->opts->control_socket)
                log_notice("control_socket changed to %s: takes effect when tierd restarts, keeping %s",
                           new_config->control_socket, d->control_socket);
        if (new_config->control_gid != d->config->control_gid && d->control)
                (void) control_server_set_group(d->control, new_config->control_gid);
        if (d->opts->log_level_override < 0)
                log_set_max_level(new_config->log_level);

        /* A round in flight was planned with the old settings: cut it short (its passes still count). The plan
         * of a round is made with the settings of when it ends, so the cut round's is dropped: the round that
         * follows at once plans with the new ones. */
        if (d->round_open)
                daemon_round_finish(d);
        daemon_plan_drop(d);

        if (scan_engine_config_changed(d->config, new_config)) {
                struct scan_engine *scan = NULL;

                log_notice("Scan settings changed: restarting the scan backend (page history starts over)");
                daemon_census_drop(d);
                d->scan = scan_engine_free(d->scan);
                census_done(&d->census);
                d->have_census = false;
                placement_abort(&d->placement);
                r = scan_engine_new(new_config, d->opts->runtime_dir, &scan);
                if (r < 0)
                        log_error_errno(r, "Cannot restart the scan engine: %m");
                d->scan = scan;
        }

        /* A new configured interval (or the tuner switched on or off) starts the tuning over. */
        if (new_config->pass_interval_us != d->config->pass_interval_us ||
            new_config->pass_interval_auto != d->config->pass_interval_auto || !new_config->pass_interval_auto)
                d->pass_interval_us = new_config->pass_interval_us;
        else
                d->pass_interval_us = MIN(MAX(d->pass_interval_us, new_config->pass_interval_min_us),
                                          new_config->pass_interval_max_us);

        {
                bool bpf_changed = new_config->bpf != d->config->bpf;

                config_free(d->config);
                d->config = new_config;
                observer_set_mode(d->observer, d->config->kernel_fight);
                if (bpf_changed) {
                        struct observer *o = NULL;

                        log_notice("[scan] bpf changed: restarting the kernel observers");
                        r = observer_new(d->config->bpf, d->config->kernel_fight, &o);
                        if (r < 0)
                                log_error_errno(r, "Cannot restart the kernel migration observer: %m, keeping the "
                                                "old one");
                        else {
                                observer_free(d->observer);
                                d->observer = o;
                        }
                        daemon_procs_stop(d);
                        daemon_procs_start(d);
                }
        }
        cpu_budget_configure(&d->budget, d->config->cpu_budget_bp);
        /* Names, budgets and members may all have changed. */
        daemon_workloads_refresh(d);
        r = daemon_payoff_setup(d);
        if (r < 0)
                log_warning_errno(r, "Cannot start the payoff ledger over: %m, keeping the old one");
        daemon_set_move_params(d);
        {
                struct placement_settings ps = daemon_placement_settings(d);

                placement_configure(&d->placement, &ps, now_us());
        }
        if (d->config->dry_run)
                placement_abort(&d->placement); /* nothing of a plan made to move may move any more */
        d->reloads++;
        log_info("Configuration reloaded");

        /* Apply new tiers, targets and timing now rather than at the next tick. */
        r = daemon_arm(d->round_timer, 0);
        if (r < 0)
                log_error_errno(r, "Cannot re-arm the round timer after reload: %m");

        (void) sd_notify(false, "READY=1");
        daemon_notify_status(d);
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;

        d->turns.doing = "reload";
        (void) daemon_reload(d, NULL);
        return 0;
}

static int on_exit_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct daemon *d = userdata;

        log_info("Received %s, exiting", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
        return sd_event_exit(d->event, EXIT_SUCCESS);
}

static int on_control(const struct control_request *req, const struct ucred *peer, json_object **ret_data,
                      char **ret_error_message, void *userdata) {
        struct daemon *d = userdata;
        struct tierd_status status;
        int r;

        d->turns.doing = "control request";
        switch (req->command) {
        case CONTROL_STATUS:
                daemon_status_snapshot(d, &status);
                *ret_data = status_to_json(&status);
                return 0;

        case CONTROL_TARGETS:
                *ret_data = targets_to_json(&d->targets);
                return 0;

        case CONTROL_METRICS: {
                _cleanup_free_ char *text = NULL;

                daemon_status_snapshot(d, &status);
                r = metrics_format(&status, &text);
                if (r < 0)
                        return r;
                *ret_data = json_object_new_object();
                json_object_object_add(*ret_data, "text", json_object_new_string(text));
                return 0;
        }

        case CONTROL_PAGES: {
                struct heat_class_params p = daemon_class_params(d);
                _cleanup_free_ struct numa_maps_entry *numa = NULL;
                const struct target *t = NULL;
                size_t n_numa = 0;

                for (size_t i = 0; i < d->targets.n_targets; i++)
                        if (d->targets.targets[i].pid == req->pid)
                                t = &d->targets.targets[i];
                if (!t) {
                        (void) asprintf(ret_error_message, "pid %d is not a target (see tierctl targets)", req->pid);
                        return -ESRCH;
                }
                if (!scan_engine_active(d->scan)) {
                        (void) asprintf(ret_error_message, "no access-scanning backend runs, so no page is tracked");
                        return -ENODATA;
                }
                /* numa_maps is only for the bytes per node; without it the heat part still answers. */
                r = numa_maps_read(t->pid, &numa, &n_numa);
                if (r < 0)
                        log_debug_errno(r, "Cannot read /proc/%d/numa_maps: %m, ignoring", t->pid);
                r = pages_to_json(scan_engine_heat(d->scan), &p, t, numa, n_numa, ret_data);
                if (r >= 0 && req->range_end > req->range_start) {
                        json_object *range = NULL;

                        r = pages_range_to_json(scan_engine_heat(d->scan), &p, t->pid, req->range_start,
                                                req->range_end, &range);
                        if (r >= 0)
                                json_object_object_add(*ret_data, "range", range);
                        else {
                                json_object_put(*ret_data);
                                *ret_data = NULL;
                        }
                }
                if (r == -ENOENT) {
                        (void) asprintf(ret_error_message, "pid %d has not been scanned yet", req->pid);
                        return -ENODATA;
                }
                return r;
        }

        case CONTROL_PAUSE:
        case CONTROL_RESUME: {
                bool pause = req->command == CONTROL_PAUSE;

                if (d->paused != pause)
                        log_notice("%s by uid %u (pid %d)", pause ? "Paused" : "Resumed", (unsigned) peer->uid,
                                   (int) peer->pid);
                d->paused = pause;
                if (pause && d->round_open)
                        daemon_round_finish(d);
                if (pause) {
                        daemon_plan_drop(d);
                        placement_abort(&d->placement);
                        (void) sd_event_source_set_enabled(d->place_timer, SD_EVENT_OFF);
                }
                daemon_notify_status(d);
                daemon_status_snapshot(d, &status);
                *ret_data = json_object_new_object();
                json_object_object_add(*ret_data, "state", json_object_new_string(status.state));
                return 0;
        }

        case CONTROL_RELOAD:
                r = daemon_reload(d, ret_error_message);
                if (r < 0)
                        return r;
                *ret_data = json_object_new_object();
                json_object_object_add(*ret_data, "config", json_object_new_string(d->config->path ?: ""));
                return 0;

        default:
                return -EOPNOTSUPP;
        }
}

/* A process event. An exec may make a process a target (its comm and exe change), or stop one being one; an exit
 * ends a target at once. A new target is not added to the running round (the backends laid out their work at
 * round_begin): the round ends at the next pass boundary and the next one, with a fresh rescan, includes it. The per-round rescan stays the reference: it also catches what no event reports (a
 * cgroup move, RSS growing past min_rss, a reload). */
static int on_proc_event(const struct bpf_procs_event *e, void *userdata) {
        struct daemon *d = userdata;
        struct target t = { .workload = -1 };
        int r;

        if (e->type == BPF_PROCS_EXIT) {
                d->proc_events.exit++;
                if (target_set_remove(&d->targets, e->pid)) {
                        d->proc_events.targets_dropped++;
                        log_debug("Target pid %d exited: dropped", (int) e->pid);
                        r = scan_engine_drop_target(d->scan, e->pid);
                        if (r < 0)
                                log_warning_errno(r, "Cannot drop the page history of pid %d: %m, ignoring",
                                                  (int) e->pid);
                }
                return 0;
        }
        if (e->type != BPF_PROCS_EXEC)
                return 0;
        d->proc_events.exec++;

        r = targets_examine_pid(d->config, getpid(), e->pid, &t);
        if (r < 0)
                return log_repeat_errno(LOG_WARNING, "proc-event-examine", r,
                                        "Cannot examine new process %d: %m, leaving it to the next rescan",
                                        (int) e->pid);
        if (r == 0) {
                /* It may have been a target before this exec. */
                if (target_set_remove(&d->targets, e->pid)) {
                        d->proc_events.targets_dropped++;
                        (void) scan_engine_drop_target(d->scan, e->pid);
                        log_debug("Pid %d is no target any more after an exec: dropped", (int) e->pid);
                }
                return 0;
        }
        target_done(&t); /* the round that starts at the next pass boundary examines it again, with the rest */
        if (target_set_find(&d->targets, e->pid))
                return 0; /* an exec within a target that stays one: the next round re-reads its maps */
        log_info("New target: pid %d, from its exec; scanning it from the next pass", (int) e->pid);
        d->proc_events.targets_added++;
        d->procs_pending = true;
        return 0;
}

static int on_procs_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct daemon *d = userdata;
        uint64_t dropped;
        int r;

        d->turns.doing = "process events";
        r = bpf_procs_consume(d->procs);
        if (r < 0)
                log_repeat_errno(LOG_WARNING, "proc-events", r, "Cannot read process events: %m, ignoring");

        dropped = bpf_procs_dropped(d->procs);
        if (dropped != d->procs_dropped) {
                log_repeat_errno(LOG_NOTICE, "proc-events-dropped", 0,
                                 "%" PRIu64 " process events were lost: rescanning the processes", dropped - d->procs_dropped);
                d->procs_dropped = dropped;
                d->procs_pending = true;
        }
        if (d->procs_pending && !d->round_open && !d->paused && d->round_gap_us == 0) {
                /* Between rounds (no targets, or nothing to scan): start the next one now. Not while the CPU budget
                 * makes tierd wait, or processes started in a loop would run rounds back to back. */
                r = daemon_arm(d->round_timer, 0);
                if (r < 0)
                        log_warning_errno(r, "Cannot re-arm the round timer: %m, ignoring");
        }
        return 0;
}

static void daemon_procs_stop(struct daemon *d) {
        d->procs_source = sd_event_source_disable_unref(d->procs_source);
        d->procs = bpf_procs_free(d->procs);
}

/* Process events where BPF allows them; otherwise the rescan each round, and status says why. */
static void daemon_procs_start(struct daemon *d) {
        _cleanup_free_ char *reason = NULL;
        int r;

        d->procs_reason = mfree(d->procs_reason);
        if (!d->config->bpf) {
                d->procs_reason = strdup("BPF disabled by the configuration ([scan] bpf = no): processes are "
                                         "rescanned each round");
                return;
        }
        r = bpf_procs_new(on_proc_event, d, &d->procs, &reason);
        if (r < 0) {
                /* bpf_procs_new() logged it (once). */
                if (asprintf(&d->procs_reason, "%s: processes are rescanned each round",
                             reason ?: "BPF cannot be used") < 0)
                        d->procs_reason = NULL;
                return;
        }
        r = sd_event_add_io(d->event, &d->procs_source, bpf_procs_fd(d->procs), EPOLLIN, on_procs_ready, d);
        if (r < 0) {
                log_warning_errno(r, "Cannot watch process events: %m, rescanning processes each round instead");
                d->procs = bpf_procs_free(d->procs);
                d->procs_reason = strdup("cannot watch the event ring buffer: processes are rescanned each round");
                return;
        }
        d->procs_dropped = bpf_procs_dropped(d->procs);
        log_info("Process events through BPF (%s): new targets are scanned from the next pass",
                 bpf_procs_attach_mode(d->procs));
}

/* systemd makes /run/tierd (RuntimeDirectory=); started by hand or by another init, tierd makes what is missing
 * itself, readable by all (the socket's own mode and group decide who may talk to it). */
static int ensure_parent_directory(const char *path, const char *what, const char *option) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        int r;

        if (!dir)
                return log_oom();
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0; /* relative to the working directory, or in / */
        *slash = '\0';
        r = mkdir_p(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create directory %s for the %s %s: %m (choose another with %s)",
                                       dir, what, path, option);
        return 0;
}

static int daemon_setup(struct daemon *d) {
        sigset_t mask;
        int r;

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Cannot block signals: %m");

        if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, on_exit_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, on_exit_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d)) < 0)
                return log_error_errno(r, "Cannot watch signals: %m");

        /* Sends WATCHDOG=1 at half of WatchdogSec= from the loop itself, so a hung round stops the pings. */
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                log_warning_errno(r, "Cannot enable the watchdog: %m, ignoring");

        d->control_socket = strdup(d->opts->control_socket ?: d->config->control_socket);
        if (!d->control_socket)
                return log_oom();
        r = ensure_parent_directory(d->control_socket, "control socket",
                                    "[daemon] control_socket= or --control-socket=");
        if (r < 0)
                return r;
        r = control_server_new(d->event, d->control_socket, d->config->control_gid, on_control, d, &d->control);
        if (r < 0)
                return r;

        r = observer_new(d->config->bpf, d->config->kernel_fight, &d->observer);
        if (r < 0)
                return log_error_errno(r, "Cannot start the kernel migration observer: %m");
        daemon_procs_start(d);

        r = mkdir_p(d->opts->runtime_dir, 0755);
        if (r < 0)
                return log_error_errno(r, "Cannot create the runtime directory %s: %m (choose another with "
                                       "--runtime-dir=)", d->opts->runtime_dir);
        r = scan_engine_new(d->config, d->opts->runtime_dir, &d->scan);
        if (r < 0)
                return log_error_errno(r, "Cannot start the scan engine: %m");
        daemon_set_move_params(d);

        d->pass_interval_us = d->config->pass_interval_us;
        {
                struct placement_settings ps = daemon_placement_settings(d);

                placement_init(&d->placement, &ps, now_us());
        }
        r = daemon_payoff_setup(d);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the payoff ledger: %m");
        /* The first cycle counts from the daemon's start: loading BPF programs and the configuration is tierd's
         * CPU too. Not from the process's: under systemd the process's clock also holds what the service manager
         * spent setting up the sandbox before exec (0.7 s under TCG, which read as 323% of a CPU in the first
         * round). */
        cpu_budget_init(&d->budget, d->config->cpu_budget_bp);
        d->budget_wall_mark_us = d->start_us;
        d->sample_scale = d->region_scale = 1;

        /* daemon_run() starts the first round itself, before READY=1; the round code arms these. */
        r = sd_event_add_time_relative(d->event, &d->round_timer, CLOCK_MONOTONIC, round_interval_us(d),
                                       USEC_PER_MSEC, on_round_timer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the round timer: %m");
        (void) sd_event_source_set_enabled(d->round_timer, SD_EVENT_OFF);
        r = sd_event_add_time_relative(d->event, &d->pass_timer, CLOCK_MONOTONIC, d->config->pass_interval_us,
                                       USEC_PER_MSEC, on_pass_timer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the pass timer: %m");
        (void) sd_event_source_set_enabled(d->pass_timer, SD_EVENT_OFF);
        /* Rate limit waits are short (a batch at the configured rate): 1 ms accuracy is plenty. */
        r = sd_event_add_time_relative(d->event, &d->place_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
                                       on_place_timer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the placement timer: %m");
        (void) sd_event_source_set_enabled(d->place_timer, SD_EVENT_OFF);
        /* Below every other source: a control request or a signal is served between two slices. */
        r = sd_event_add_defer(d->event, &d->step_defer, on_step_continue, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the scan step source: %m");
        (void) sd_event_source_set_enabled(d->step_defer, SD_EVENT_OFF);
        (void) sd_event_source_set_priority(d->step_defer, SD_EVENT_PRIORITY_IDLE);
        /* Waits for the kernel's data are short (DAMON looks again every 10 ms): 1 ms accuracy. */
        r = sd_event_add_time_relative(d->event, &d->step_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
                                       on_step_timer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the scan step timer: %m");
        (void) sd_event_source_set_enabled(d->step_timer, SD_EVENT_OFF);
        r = sd_event_add_defer(d->event, &d->census_defer, on_census_defer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the census source: %m");
        (void) sd_event_source_set_enabled(d->census_defer, SD_EVENT_OFF);
        r = sd_event_add_defer(d->event, &d->round_end_defer, on_round_end_defer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the round end source: %m");
        (void) sd_event_source_set_enabled(d->round_end_defer, SD_EVENT_OFF);
        r = sd_event_add_defer(d->event, &d->plan_defer, on_plan_defer, d);
        if (r < 0)
                return log_error_errno(r, "Cannot create the plan source: %m");
        (void) sd_event_source_set_enabled(d->plan_defer, SD_EVENT_OFF);
        /* As the scan's slices: a control request or a signal is served between two steps. */
        (void) sd_event_source_set_priority(d->plan_defer, SD_EVENT_PRIORITY_IDLE);
        return 0;
}

static void daemon_done(struct daemon *d) {
        control_server_free(d->control);
        daemon_procs_stop(d);
        free(d->procs_reason);
        observer_free(d->observer);
        if (d->round_open)
                (void) scan_engine_round_end(d->scan);
        d->round_after_plan = false;
        daemon_plan_drop(d);
        daemon_census_drop(d);
        /* Closing the backend tidies kernel state it created (DAMON: its own kdamond). */
        scan_engine_free(d->scan);
        census_done(&d->census);
        placement_done(&d->placement);
        sd_event_source_disable_unref(d->plan_defer);
        sd_event_source_disable_unref(d->round_end_defer);
        sd_event_source_disable_unref(d->place_timer);
        sd_event_source_disable_unref(d->step_defer);
        sd_event_source_disable_unref(d->step_timer);
        sd_event_source_disable_unref(d->census_defer);
        sd_event_source_disable_unref(d->pass_timer);
        sd_event_source_disable_unref(d->round_timer);
        sd_event_unref(d->event);
        topology_done(&d->topology);
        target_set_done(&d->targets);
        workload_status_free_many(d->workloads, d->n_workloads);
        payoff_ledger_free(d->payoff);
        config_free(d->config);
        free(d->control_socket);
}

int daemon_run(const struct daemon_options *opts) {
        struct daemon d = { .opts = opts, .start_us = now_us(), .budget_own_mark_us = proc_self_cpu_us() };
        int r;

        if (access(opts->config_path, F_OK) < 0 && errno == ENOENT && !opts->config_path_explicit) {
                log_notice("%s does not exist: running with the built-in defaults", opts->config_path);
                r = config_new_defaults(&d.config);
                if (r >= 0) {
                        free(d.config->path);
                        d.config->path = NULL;
                }
        } else
                r = config_load(opts->config_path, &d.config);
        if (r >= 0 && opts->dry_run)
                d.config->dry_run = true;
        if (r < 0) {
                log_error("Invalid configuration in %s, exiting (see tierd.conf(5), check with tierd --check-config)",
                          opts->config_path);
                return EXIT_CONFIG;
        }
        if (opts->log_level_override < 0)
                log_set_max_level(d.config->log_level);
        if (!config_selects_targets(d.config))
                log_notice("%s selects no process to manage (no selector in [targets], no [target.NAME] section): "
                           "running, moving nothing until it does (see tierd.conf(5))",
                           d.config->path ?: opts->config_path);

        r = daemon_setup(&d);
        if (r < 0) {
                daemon_done(&d);
                return EXIT_FAILURE;
        }

        daemon_round_start(&d);
        (void) sd_notify(false, "READY=1");
        daemon_notify_status(&d);
        log_info("tierd " TIERD_VERSION " started: control socket %s, rounds of %u x %" PRIu64 "ms%s",
                 d.control_socket, d.config->passes, d.pass_interval_us / USEC_PER_MSEC,
                 d.config->dry_run ? ", dry run: no page is moved" : "");

        r = loop_turns_run(d.event, &d.turns);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                r = EXIT_FAILURE;
        }
        daemon_done(&d);
        return r;
}
