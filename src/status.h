/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "census.h"
#include "heat.h"
#include "numa-maps.h"
#include "observer.h"
#include "payoff.h"
#include "placement.h"
#include "policy.h"
#include "scan.h"
#include "targets.h"
#include "topology.h"

struct loop_turns;

struct cpu_budget;

/* A [target.NAME] workload as the last plan saw it. */
struct workload_status {
        char *name;
        size_t n_processes;         /* its targets when the plan was made */
        uint64_t fast_max_bytes;    /* UINT64_MAX: no budget */
        bool measured;              /* a plan has measured it (budgeted workloads only): the next three hold */
        uint64_t fast_bytes;        /* its tracked bytes on tier 0 when the plan was made */
        uint64_t planned_fast_bytes; /* the same once the plan is carried out */
        bool over;                  /* over its budget: demoted, not promoted */
};

void workload_status_free_many(struct workload_status *w, size_t n);

/* One of tierd's BPF features as status shows it. */
struct bpf_feature_status {
        const char *name;        /* "migrations", "process_events", "damon_results" */
        bool active;
        const char *attach_mode; /* "tracepoint" or "raw_tracepoint" while active */
        const char *reason;      /* why not active, and what is used instead */
};
#define STATUS_BPF_FEATURES_MAX 3

/* Process events (bpf-procs.h) as the daemon used them. */
struct proc_events_status {
        uint64_t exec, exit;     /* events received */
        uint64_t dropped;        /* lost by the kernel side (ring buffer full) */
        uint64_t targets_added;  /* new targets picked up from an exec */
        uint64_t targets_dropped; /* targets dropped at their exit */
        uint64_t rounds_cut;     /* rounds ended early so that a new target joins at the next pass */
};

/* A read-only snapshot of the daemon, taken when a client asks. The control socket turns it into JSON and the
 * metrics endpoint into Prometheus text, so both always agree. Sizes are bytes and times microseconds. */
struct tierd_status {
        const char *version;
        pid_t pid;
        const char *state;        /* "starting", "running", "paused", "idle" */
        const char *state_reason; /* why idle or paused; NULL otherwise */
        uint64_t uptime_us;
        const char *config_path;
        uint64_t config_reloads;
        uint64_t config_reload_failures;

        const char *backend;
        const char *backend_reason;
        const struct scan_backend_report *backend_reports;
        size_t n_backend_reports;
        const char *policy;

        struct heat_store_stats heat;   /* what is tracked (zero without a backend) */
        uint64_t settled_units;         /* heat_store_settled_units(): where their trend wants them */
        const struct census *census;    /* where the tracked pages are, by class; NULL before the first round */

        unsigned passes;
        uint64_t pass_interval_us;            /* in use (tuned with pass_interval_auto) */
        uint64_t pass_interval_configured_us; /* [scan] pass_interval */
        bool pass_interval_auto;
        uint64_t round;              /* rounds completed */
        uint64_t round_duration_us;  /* of the last completed round */
        uint64_t round_interval_us;  /* passes x pass interval */
        uint64_t round_busy_us;      /* of the last round, time spent working rather than waiting for passes */
        const struct loop_turns *loop_turns; /* how long the event loop's turns take; NULL: unknown */
        const struct cpu_budget *cpu; /* tierd's CPU (and its kdamond's) against [scan] cpu_budget; NULL: unknown */
        bool cpu_kernel_thread;       /* a kdamond's CPU is counted */
        uint64_t round_gap_us;        /* the wait the budget put before the next round */
        unsigned sample_scale;        /* DAMON samples this many times less often than configured */
        unsigned region_scale;        /* and keeps at most this many times fewer regions */

        const struct topology *topology;
        const struct target_set *targets;
        const struct workload_status *workloads; /* one per [target.NAME] */
        size_t n_workloads;

        uint64_t promoted_bytes;
        uint64_t demoted_bytes;
        uint64_t promoted_pages;
        uint64_t demoted_pages;

        const struct payoff_ledger *payoff;       /* whether moves paid (payoff.h); NULL: none */
        bool exchange_feedback;                   /* [policy] exchange_feedback: the ledger sets the levels */

        bool dry_run;
        bool placement_active;                    /* a plan is being carried out */
        const struct placement_stats *placement;  /* NULL: none */
        const struct policy_summary *last_plan;   /* NULL before the first plan */

        struct observer_snapshot kernel; /* the kernel's own migrations */
        struct bpf_feature_status bpf[STATUS_BPF_FEATURES_MAX];
        size_t n_bpf;
        struct proc_events_status proc_events;
        bool have_damon_results;                 /* the scan backend is DAMON */
        struct scan_damon_results damon_results;

        uint64_t log_suppressed;
};

/* Stable machine-readable form (tierctl status --json). */
json_object *status_to_json(const struct tierd_status *s);
/* tierctl targets --json. */
json_object *targets_to_json(const struct target_set *t);
/* tierctl pages PID --json: per tracked VMA of one target, its heat histogram and class bytes from the heat
 * store, and its bytes per node from /proc/PID/numa_maps (numa may be NULL). -ENOENT if pid is not tracked. */
int pages_to_json(const struct heat_store *heat, const struct heat_class_params *p, const struct target *t,
                  const struct numa_maps_entry *numa, size_t n_numa, json_object **ret);
/* The bytes of each class among the target's units that start in [start, end) (for tests and for looking at
 * one buffer of a process). */
int pages_range_to_json(const struct heat_store *heat, const struct heat_class_params *p, pid_t pid, uint64_t start,
                        uint64_t end, json_object **ret);
