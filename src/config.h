/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util.h"

#define TIERD_CONFIG_PATH "/etc/tierd.conf"
#define TIERD_CONTROL_SOCKET_PATH "/run/tierd/control"
#define TIERD_MAX_TIERS 8

enum scan_backend_kind {
        SCAN_BACKEND_AUTO,
        SCAN_BACKEND_IDLE_PAGES,
        SCAN_BACKEND_PAGE_IDLE,
        SCAN_BACKEND_DAMON,
        _SCAN_BACKEND_KIND_MAX,
};

const char *scan_backend_kind_to_string(enum scan_backend_kind k);
int scan_backend_kind_from_string(const char *s);

/* [scan] damon_results: how the DAMON backend reads its regions each pass (see scan-damon.c). */
enum damon_results_mode {
        DAMON_RESULTS_AUTO,          /* the tracepoint where BPF can run and [scan] bpf allows it */
        DAMON_RESULTS_TRIED_REGIONS, /* update_schemes_tried_regions through sysfs */
        DAMON_RESULTS_TRACEPOINT,    /* damon:damon_aggregated through BPF, tried regions when it cannot load */
        _DAMON_RESULTS_MODE_MAX,
};

const char *damon_results_mode_to_string(enum damon_results_mode m);
int damon_results_mode_from_string(const char *s);

/* [policy] kernel_fight: what tierd does when the kernel moves pages against it (see observer.h). */
enum kernel_fight_mode {
        KERNEL_FIGHT_WARN,     /* detect and report */
        KERNEL_FIGHT_THROTTLE, /* also back off in the fighting direction */
        _KERNEL_FIGHT_MODE_MAX,
};
const char *kernel_fight_mode_to_string(enum kernel_fight_mode m);
int kernel_fight_mode_from_string(const char *s);

/* sysexits.h's EX_CONFIG: systemd's RestartPreventExitStatus=78 keeps a bad configuration from restart-looping. */
#define EXIT_CONFIG 78

/* [scan] cpu_budget, in basis points of one CPU. The kernel's own tiering (NUMA balancing's tiering mode) cost 3.2
 * to 5% of one CPU in the benchmark guest (docs/BENCHMARKS.md: kswapd plus hinting faults over 90 s runs); tierd is
 * held to the same order by default. 0.1% is the least a round of any size can be spread over. */
#define CPU_BUDGET_DEFAULT_BP 500
#define CPU_BUDGET_MIN_BP 10

/* A named workload, from a [target.NAME] section: processes chosen by its own selectors (matched like those of
 * [targets], whose min_rss and exclude_* apply too), managed like any target, and optionally held to a budget on
 * the fast tier. A process matching several sections belongs to the first in the file. */
struct config_workload {
        char *name;    /* NAME of [target.NAME] */
        unsigned line; /* of the section header, for messages */
        char **cgroups;
        char **comms;
        char **exes;
        pid_t *pids;
        size_t n_pids;
        struct size_or_percent fast_max; /* bytes, or a percentage of tier 0's memory */
        bool has_fast_max;               /* false: no budget */
};

/* The effective configuration. Built by config_load() from the defaults plus the file; never partially
 * filled: a missing section keeps its defaults. Reload builds a new one and swaps only on success. */
struct tierd_config {
        char *path; /* the file it was loaded from; NULL when no file was read */

        /* [daemon] */
        int log_level;          /* LOG_* from syslog.h */
        char *control_socket;   /* path of the unix control socket */
        char *control_group;    /* group allowed to connect for read-only requests; NULL: root only */
        gid_t control_gid;      /* resolved from control_group at load time; (gid_t) -1 when control_group is NULL */

        /* [scan] */
        unsigned passes;          /* accessed-bit passes per round */
        uint64_t pass_interval_us; /* time between setting and reading accessed bits */
        enum scan_backend_kind backend;
        int damon_kdamond;        /* kdamond index to use when others exist; -1: none configured */
        uint64_t damon_sample_interval_us;
        unsigned damon_min_regions, damon_max_regions;
        enum damon_results_mode damon_results;
        bool bpf;                 /* auto: BPF programs where the kernel allows them; false: the fallbacks only */
        unsigned cpu_budget_bp;   /* tierd's CPU plus its kdamond's, basis points of one CPU; 0: no budget */

        /* [policy] page classes (the heat store's rules, see heat.h) */
        unsigned hot_threshold;   /* hits per round that count as hot; 0: every pass of the round */
        unsigned promote_rounds;  /* consecutive hot rounds before a page is hot */
        unsigned cold_rounds;     /* rounds without a hit before a page is cold */

        /* [policy] placement (see policy.h) */
        struct size_or_percent fast_free_min;    /* never fill a tier below this much free memory */
        struct size_or_percent fast_free_target; /* demote cold pages until a tier has this much free */
        struct size_or_percent hot_target;       /* the pass-interval tuner's goal for hot bytes, of tier 0 */
        bool pass_interval_auto;                 /* tune pass_interval within [scan] pass_interval_min/max */
        unsigned min_residency_rounds;           /* heat.h's struct heat_move_params */
        unsigned pingpong_window_rounds;
        unsigned max_backoff_rounds;
        enum kernel_fight_mode kernel_fight;     /* when the kernel moves pages against tierd */
        bool exchange_feedback;                  /* the payoff ledger sets how readily exchanges happen (off) */
        bool fill_free;                          /* warm pages into free fast memory above the target */

        /* [scan] bounds of the tuned pass interval */
        uint64_t pass_interval_min_us, pass_interval_max_us;

        /* [migrate] */
        uint64_t promote_rate_bytes, demote_rate_bytes;         /* per second; 0: unlimited */
        uint64_t promote_round_max_bytes, demote_round_max_bytes; /* per round; 0: no cap */
        uint64_t batch_bytes;                                   /* bytes per move_pages() call */
        bool move_shared;                                       /* MPOL_MF_MOVE_ALL instead of MPOL_MF_MOVE */
        bool tier_skip;                                         /* moves may skip a tier */
        bool dry_run;                                           /* plan and count, move nothing */

        /* [tiers] tierN = nodelist, fastest first; n_tiers == 0 means detect from the kernel */
        struct node_set tiers[TIERD_MAX_TIERS];
        unsigned n_tiers;

        /* [targets]: a process is a target if any include selector matches, its RSS is at least
         * min_rss_bytes and no exclude selector matches. */
        char **cgroups;        /* cgroup v2 paths relative to the hierarchy root, normalised to start with "/" */
        char **comms;          /* fnmatch globs on /proc/PID/comm */
        char **exes;           /* fnmatch globs on the /proc/PID/exe target */
        pid_t *pids;
        size_t n_pids;
        uint64_t min_rss_bytes;
        char **exclude_cgroups;
        char **exclude_comms;
        char **exclude_exes;
        pid_t *exclude_pids;
        size_t n_exclude_pids;

        /* [target.NAME] sections, in file order */
        struct config_workload *workloads;
        size_t n_workloads;
};

/* The budget of w on a fast tier of fast_total_bytes: UINT64_MAX when it has none. */
uint64_t config_workload_fast_max_bytes(const struct config_workload *w, uint64_t fast_total_bytes);

/* Whether c selects any process: an include selector of [targets] or a [target.NAME] section. Without one tierd
 * runs and manages nothing (the shipped file is like that until the admin names what to manage). */
bool config_selects_targets(const struct tierd_config *c);

/* The built-in defaults (what an empty file gives). */
int config_new_defaults(struct tierd_config **ret);

/* A configuration file is a few KiB; one larger than this is a mistake (a device, a log given by accident). */
#define CONFIG_FILE_MAX_BYTES (1024U * 1024U)

/* Loads path over the defaults. Every problem is logged as "PATH:LINE: message" at error level, and all of them
 * are reported, not only the first. Returns 0, -EINVAL for any configuration error, or a negative errno when the
 * file cannot be read (also logged, naming the file; -EFBIG beyond CONFIG_FILE_MAX_BYTES). */
int config_load(const char *path, struct tierd_config **ret);

/* Same, from a string (tests); name is used in messages in place of the file name. */
int config_load_string(const char *name, const char *text, struct tierd_config **ret);

struct tierd_config *config_free(struct tierd_config *c);
static inline void config_freep(struct tierd_config **c) {
        config_free(*c);
}
#define _cleanup_config_free_ _cleanup_(config_freep)

/* Writes the effective configuration as an INI file that config_load() accepts and that yields the same
 * configuration. */
int config_dump(const struct tierd_config *c, FILE *f);

/* Do a and b configure the same behaviour? path is not compared: the same settings read from another file are
 * equal. An empty list equals a NULL one. Lets a reload tell "nothing changed" from a real change. */
bool config_equal(const struct tierd_config *a, const struct tierd_config *b);
