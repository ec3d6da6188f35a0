/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "heat.h"
#include "scan-backend.h"
#include "topology.h"
#include "targets.h"

/* The scan engine: picks one access-tracking backend, keeps the heat store, and runs the round protocol of
 * scan-backend.h. The daemon owns time and calls round_begin, then pass_begin/pass_end once per pass with the
 * pass interval in between (on its event loop timer), then round_end.
 *
 * Only one backend ever runs: page_idle and DAMON both use the kernel's PG_idle flag, and running them over the
 * same pages corrupts both. */

struct scan_backend_report {
        const char *name;
        int usable;   /* 1 usable, 0 not usable, < 0 probe failed (errno) */
        char *reason; /* why it is not used; NULL for the one in use */
};

struct scan_engine;

/* Probes the backends (auto: idle_pages, page_idle, damon, first usable wins; otherwise only the configured one)
 * and opens the chosen one. Never fails for lack of a backend: the engine then has none and says why. Returns 0
 * or -ENOMEM. */
int scan_engine_new(const struct tierd_config *c, const char *runtime_dir, struct scan_engine **ret);
struct scan_engine *scan_engine_free(struct scan_engine *e);
static inline void scan_engine_freep(struct scan_engine **e) {
        scan_engine_free(*e);
}

/* Whether a configuration change needs a new engine (backend choice or its options changed). */
bool scan_engine_config_changed(const struct tierd_config *a, const struct tierd_config *b);

bool scan_engine_active(const struct scan_engine *e);
const char *scan_engine_backend(const struct scan_engine *e); /* "none" without a backend */
const char *scan_engine_reason(const struct scan_engine *e);  /* why this backend, or why none */
const struct scan_backend_report *scan_engine_reports(const struct scan_engine *e, size_t *ret_n);
struct heat_store *scan_engine_heat(const struct scan_engine *e);
/* What the backend observes as one (grains.h); no grains for backends that look at every page. */
struct grain_map *scan_engine_grains(const struct scan_engine *e);
/* How the DAMON backend reads its results; false when the backend in use is not DAMON. */
bool scan_engine_damon_results(const struct scan_engine *e, struct scan_damon_results *ret);
bool scan_engine_in_round(const struct scan_engine *e);
unsigned scan_engine_passes_left(const struct scan_engine *e);

/* The kernel thread that samples for the backend (DAMON's kdamond), 0 while there is none. */
pid_t scan_engine_kernel_thread(const struct scan_engine *e);
/* Samples scale times less often than configured, with at most region_scale times fewer regions, from now on, where
 * the backend samples on its own (DAMON); returns the sample scale in effect (1 for backends whose sampling is
 * tierd's passes). */
unsigned scan_engine_set_sample_scale(struct scan_engine *e, unsigned scale, unsigned region_scale);
/* The region scale in effect (1 for backends without regions of their own). */
unsigned scan_engine_region_scale(const struct scan_engine *e);

/* The tiers as the next round will see them, the streak that makes a unit hot and the idle age that makes it cold:
 * a backend that resolves PFNs (page_idle) also tells the heat store where each page is (pfn-map.h), and parks cold
 * units on the fastest tier (heat.h, "Parked units"). Logs once when the nodes' PFN spans cannot serve. */
void scan_engine_set_placement(struct scan_engine *e, const struct topology *t, unsigned promote_rounds,
                               unsigned cold_rounds);

/* How long one loop turn of a backend's round_begin may work: well within what a `tierctl status` may wait. */
#define SCAN_SLICE_US (10 * 1000)

/* The steps of a round that a backend may do in slices, one loop turn each. */
enum scan_step {
        SCAN_STEP_NONE,
        SCAN_STEP_ROUND_BEGIN,
        SCAN_STEP_PASS_BEGIN,
        SCAN_STEP_PASS_END,
};

/* Syncs the heat store with the targets' fresh VMAs, opens the round and calls the backend. round_begin,
 * pass_begin and pass_end return 0 when the step is done (a backend failure is logged and ends the round's
 * passes: scan_engine_passes_left() is then 0), 1 when it goes on in slices: call scan_engine_resume(), one loop
 * turn each, until it returns 0; or a negative errno (-EBUSY: a step is still pending). */
int scan_engine_round_begin(struct scan_engine *e, const struct target_set *targets, uint64_t round, unsigned passes,
                            uint64_t pass_interval_us, unsigned hot_threshold);
int scan_engine_pass_begin(struct scan_engine *e);
int scan_engine_pass_end(struct scan_engine *e);
/* The next slice of the pending step: 1 while it goes on, 0 when it is done (*ret_done says which step that
 * was; SCAN_STEP_NONE when nothing was pending). */
int scan_engine_resume(struct scan_engine *e, enum scan_step *ret_done);
enum scan_step scan_engine_pending(const struct scan_engine *e);
/* While a step is pending: how long to wait before its next slice (0: at once; see scan-backend.h). */
uint64_t scan_engine_resume_wait_us(const struct scan_engine *e);
/* Ends the round, also one cut short (pause, reload): the heat store folds the passes that ran. */
int scan_engine_round_end(struct scan_engine *e);
/* Forgets a process that exited (its heat data goes); harmless when it is not tracked. */
int scan_engine_drop_target(struct scan_engine *e, pid_t pid);
