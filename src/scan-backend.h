/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "grains.h"
#include "heat.h"
#include "pfn-map.h"
#include "targets.h"

/* The contract between the scan engine (scan.c) and an access-tracking backend (idle_pages, page_idle, DAMON).
 *
 * The engine owns time: a round is round_begin, then for each of the round's passes
 *     heat_store_begin_pass(); pass_begin(); ...pass interval later...; pass_end()
 * and finally round_end(), after which the engine folds the round with heat_store_end_round(). Every callback
 * runs on the daemon's event loop and must not sleep for long (bounded retries of a few milliseconds at most):
 * the waiting between pass_begin and pass_end is the engine's timer, never the backend's.
 *
 * Backends record into ctx->heat only: heat_store_record_bitmap()/heat_store_record_accessed() in pass_end (each
 * page at most once per pass; a backend that gives a range one result names every such range of the pass with
 * grain_map_add() on ctx->grains), and per-page facts (THP units via heat_store_set_thp(), lazyfree and skip via
 * heat_store_set_flags*()) whenever they learn them, normally in round_begin. The engine has already called
 * heat_store_sync_target() for every target with its fresh VMAs and dropped dead targets before round_begin,
 * so the backend walks ctx->targets and the trackable VMAs (heat_vma_trackable()).
 *
 * round_begin, pass_begin and pass_end may do their work in slices, one loop turn each, so that a large target
 * does not hold the event loop (and with it the control socket and the watchdog) for the whole of it: they return
 * 1 when work remains, and the engine calls resume, a turn at a time, until that returns 0; only then does the
 * round go on (the pass interval starts when pass_begin is done). A slice works for about ctx->slice_us (0: one
 * step). Targets may exit between slices (they leave ctx->targets).
 *
 * All callbacks return 0 or a negative errno. A process that exits during a callback is normal and not an
 * error: skip it. A failure that affects the whole backend (a sysfs file vanished, the kdamond was stopped by
 * someone else) is returned; the engine logs it once and retries the next round. */

struct scan_context {
        const struct target_set *targets; /* this round's targets, their VMAs fresh from /proc/PID/maps */
        struct heat_store *heat;
        struct grain_map *grains;  /* backends that observe a range as one (DAMON's regions) name the ranges */
        unsigned passes;           /* passes in this round */
        uint64_t pass_interval_us; /* time between pass_begin and pass_end */
        unsigned pass;             /* 1-based number of the current pass (0 outside passes) */
        uint64_t round;            /* round number */
        unsigned sample_scale;     /* >= 1: sample this many times less often than configured (the CPU budget) */
        unsigned region_scale;     /* >= 1: at most this many times fewer regions than configured (the same) */
        const struct pfn_map *pfn_map; /* which tier a PFN lies in; NULL when unknown */
        uint64_t slice_us;             /* how long one slice of a step's work may run (0: one step) */
        unsigned hot_streak;           /* [policy] promote_rounds: the streak that makes a unit hot */
        unsigned park_idle;            /* [policy] cold_rounds: the idle age that parks a unit (heat.h) */
};

/* Backend-specific options come from [scan] in tierd.conf; the engine passes them through. */
struct scan_options {
        const char *runtime_dir; /* where a backend keeps state that must survive a crash (DAMON's marker) */
        int damon_kdamond;       /* kdamond index to use when others exist; -1: none configured */
        uint64_t damon_sample_interval_us;
        unsigned damon_min_regions, damon_max_regions;
        bool move_shared;        /* shared pages will be moved (MPOL_MF_MOVE_ALL): do not mark them skipped */
        bool bpf;                /* [scan] bpf: BPF programs may be tried */
        enum damon_results_mode damon_results;
};

/* How the DAMON backend has been getting its regions, for status. Strings live as long as the backend. */
struct scan_damon_results {
        bool tracepoint;          /* the damon_aggregated program is loaded and listened to */
        const char *attach_mode;  /* "tracepoint" or "raw_tracepoint" while it is */
        const char *reason;       /* why tried_regions is used instead; NULL while the tracepoint is */
        const char *last_path;    /* "tracepoint" or "tried_regions" for the last pass with data; NULL before */
        uint64_t passes_tracepoint, passes_tried_regions;
        uint64_t fallbacks;       /* passes the tracepoint was meant for but tried_regions had to serve */
        uint64_t dropped;         /* records the kernel side dropped (ring buffer full) */
        uint64_t incomplete;      /* aggregation windows thrown away with records missing */
};

struct scan_backend_ops {
        const char *name; /* "idle_pages", "page_idle", "damon" */
        /* The backend tracks only the pages heat_store_observed_bitmap() names in round_begin, and records
         * nothing else: the heat store may then leave settled words out of a round (heat.h, "Partial
         * observation"). A backend that samples by region or by process cannot, and leaves this false. */
        bool observes_partially;

        /* Can this backend run here? Returns 1 (usable), 0 (not usable: *ret_reason says why in a few words
         * an admin can act on, e.g. "/sys/kernel/mm/page_idle/bitmap missing (kernel built without
         * CONFIG_IDLE_PAGE_TRACKING)", "PFNs read as zero: CAP_SYS_ADMIN missing", "kdamond 0 belongs to
         * someone else and [scan] damon_kdamond is not set"), or a negative errno. Must not change kernel
         * state. */
        int (*probe)(const struct scan_options *opts, char **ret_reason);

        int (*open)(const struct scan_options *opts, void **ret_state);
        int (*round_begin)(void *state, const struct scan_context *ctx);
        /* The next slice of the step (round_begin, pass_begin or pass_end) that returned 1: 1 while more remains,
         * 0 when done. NULL for backends whose steps never return 1. */
        int (*resume)(void *state, const struct scan_context *ctx);
        /* After a step or resume returned 1: how long the engine waits before the next slice. A step that waits
         * for the kernel (DAMON: the records of the next aggregation window) asks for a wait rather than sleep
         * in a callback or have the loop spin on it. 0 or NULL: at once. */
        uint64_t (*resume_wait_us)(void *state);
        int (*pass_begin)(void *state, const struct scan_context *ctx);
        int (*pass_end)(void *state, const struct scan_context *ctx);
        int (*round_end)(void *state, const struct scan_context *ctx);
        /* Tidies kernel state the backend created (DAMON: turns off and removes its own kdamond). NULL-safe. */
        void (*close)(void *state);
        /* The pid of the kernel thread that samples for the backend (DAMON: its kdamond), whose CPU the budget
         * counts as tierd's; 0 while there is none. NULL for backends that do all their work in tierd. */
        pid_t (*kernel_thread)(void *state);
        /* Applies a new sample and region scale between rounds, at once: a kernel thread that samples on its own
         * does so through the wait between rounds too. NULL where sampling is tierd's own (each pass). */
        int (*set_sample_scale)(void *state, unsigned sample_scale, unsigned region_scale);
        /* DAMON only (NULL elsewhere): how results were read. */
        void (*damon_results)(void *state, struct scan_damon_results *ret);
};

extern const struct scan_backend_ops scan_backend_idle_pages;
extern const struct scan_backend_ops scan_backend_page_idle;
extern const struct scan_backend_ops scan_backend_damon;
