/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "scan.h"

struct scan_engine {
        const struct scan_backend_ops *ops;
        void *state;
        char *reason;
        struct scan_backend_report reports[3];
        size_t n_reports;
        struct scan_options opts;
        char *runtime_dir;

        struct heat_store *heat;
        struct grain_map *grains;
        struct scan_context ctx;
        bool in_round;
        bool round_failed;
        enum scan_step pending; /* a step that goes on in slices (scan_engine_resume()) */
        unsigned sample_scale, region_scale;
        struct pfn_map pfn_map; /* from the last scan_engine_set_placement(); empty: none */
        unsigned hot_streak;
        unsigned park_idle;
};

/* The order auto tries them in: idle_pages is the cheapest (one read per pass, no PFN lookups), page_idle is
 * exact per page, DAMON is approximate (regions) and needs a kdamond of its own. */
static const struct scan_backend_ops *const backend_order[] = {
        &scan_backend_idle_pages,
        &scan_backend_page_idle,
        &scan_backend_damon,
};

static const struct scan_backend_ops *backend_for_kind(enum scan_backend_kind k) {
        switch (k) {
        case SCAN_BACKEND_IDLE_PAGES:
                return &scan_backend_idle_pages;
        case SCAN_BACKEND_PAGE_IDLE:
                return &scan_backend_page_idle;
        case SCAN_BACKEND_DAMON:
                return &scan_backend_damon;
        default:
                return NULL;
        }
}

static int engine_probe_and_open(struct scan_engine *e, const struct tierd_config *c) {
        const struct scan_backend_ops *wanted = backend_for_kind(c->backend);
        int r;

        for (size_t i = 0; i < ELEMENTSOF(backend_order); i++) {
                const struct scan_backend_ops *ops = backend_order[i];
                struct scan_backend_report *rep = &e->reports[e->n_reports++];
                char *reason = NULL;

                rep->name = ops->name;
                if (wanted && ops != wanted) {
                        rep->usable = 0;
                        if (asprintf(&rep->reason, "not selected: [scan] backend = %s", wanted->name) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (e->ops) {
                        /* Probing cannot change kernel state, so the others are still probed: status then tells
                         * an admin what else would work here. */
                        r = ops->probe(&e->opts, &reason);
                        rep->usable = r;
                        if (r > 0) {
                                free(reason);
                                reason = NULL;
                                if (asprintf(&rep->reason, "usable, but %s comes first", e->ops->name) < 0)
                                        return -ENOMEM;
                        } else
                                rep->reason = reason ?: strdup(r < 0 ? strerror(-r) : "not usable");
                        continue;
                }

                r = ops->probe(&e->opts, &reason);
                rep->usable = r;
                if (r <= 0) {
                        if (r < 0 && !reason && asprintf(&reason, "probe failed: %s", strerror(-r)) < 0)
                                return -ENOMEM;
                        rep->reason = reason ?: strdup("not usable");
                        log_info("Scan backend %s not usable: %s", ops->name, strna(rep->reason));
                        continue;
                }
                free(reason);

                r = ops->open(&e->opts, &e->state);
                if (r < 0) {
                        rep->usable = r;
                        if (asprintf(&rep->reason, "cannot start: %s", strerror(-r)) < 0)
                                return -ENOMEM;
                        log_error_errno(r, "Cannot start scan backend %s: %m", ops->name);
                        continue;
                }
                e->ops = ops;
                if (asprintf(&e->reason, "%s", wanted ? "selected by [scan] backend" :
                                                        "first usable of idle_pages, page_idle, damon") < 0)
                        return -ENOMEM;
                log_info("Scan backend: %s (%s)", ops->name, e->reason);
        }

        if (!e->ops) {
                if (asprintf(&e->reason, "%s", wanted ? "the configured backend is not usable here" :
                                                        "no backend is usable here") < 0)
                        return -ENOMEM;
                log_warning("No access-scanning backend can run: %s; tierd stays idle (see tierctl status)",
                            e->reason);
        }
        return 0;
}

int scan_engine_new(const struct tierd_config *c, const char *runtime_dir, struct scan_engine **ret) {
        struct scan_engine *e;
        int r;

        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->runtime_dir = runtime_dir ? strdup(runtime_dir) : NULL;
        e->opts = (struct scan_options) {
                .runtime_dir = e->runtime_dir,
                .damon_kdamond = c->damon_kdamond,
                .damon_sample_interval_us = c->damon_sample_interval_us,
                .damon_min_regions = c->damon_min_regions,
                .damon_max_regions = c->damon_max_regions,
                .move_shared = c->move_shared,
                .bpf = c->bpf,
                .damon_results = c->damon_results,
        };

        r = heat_store_new(&e->heat);
        if (r >= 0)
                r = grain_map_new(&e->grains);
        if (r >= 0)
                r = engine_probe_and_open(e, c);
        if (r < 0) {
                scan_engine_free(e);
                return r;
        }
        *ret = e;
        return 0;
}

struct scan_engine *scan_engine_free(struct scan_engine *e) {
        if (!e)
                return NULL;
        if (e->ops)
                e->ops->close(e->state);
        for (size_t i = 0; i < e->n_reports; i++)
                free(e->reports[i].reason);
        heat_store_free(e->heat);
        grain_map_free(e->grains);
        pfn_map_done(&e->pfn_map);
        free(e->reason);
        free(e->runtime_dir);
        free(e);
        return NULL;
}

bool scan_engine_config_changed(const struct tierd_config *a, const struct tierd_config *b) {
        return a->backend != b->backend || a->damon_kdamond != b->damon_kdamond ||
               a->damon_sample_interval_us != b->damon_sample_interval_us ||
               a->damon_min_regions != b->damon_min_regions || a->damon_max_regions != b->damon_max_regions ||
               a->move_shared != b->move_shared || a->damon_results != b->damon_results ||
               /* [scan] bpf decides DAMON's results path; other backends do not care. */
               (a->bpf != b->bpf && (b->backend == SCAN_BACKEND_AUTO || b->backend == SCAN_BACKEND_DAMON));
}

bool scan_engine_damon_results(const struct scan_engine *e, struct scan_damon_results *ret) {
        *ret = (struct scan_damon_results) {};
        if (!e || !e->ops || !e->ops->damon_results)
                return false;
        e->ops->damon_results(e->state, ret);
        return true;
}

bool scan_engine_active(const struct scan_engine *e) {
        return e && e->ops;
}

const char *scan_engine_backend(const struct scan_engine *e) {
        return e && e->ops ? e->ops->name : "none";
}

const char *scan_engine_reason(const struct scan_engine *e) {
        return e ? e->reason : "scan engine not started";
}

const struct scan_backend_report *scan_engine_reports(const struct scan_engine *e, size_t *ret_n) {
        *ret_n = e ? e->n_reports : 0;
        return e ? e->reports : NULL;
}

struct heat_store *scan_engine_heat(const struct scan_engine *e) {
        return e ? e->heat : NULL;
}

struct grain_map *scan_engine_grains(const struct scan_engine *e) {
        return e ? e->grains : NULL;
}

pid_t scan_engine_kernel_thread(const struct scan_engine *e) {
        if (!e || !e->ops || !e->ops->kernel_thread)
                return 0;
        return e->ops->kernel_thread(e->state);
}

unsigned scan_engine_set_sample_scale(struct scan_engine *e, unsigned scale, unsigned region_scale) {
        int r;

        if (!e || !e->ops || !e->ops->set_sample_scale)
                return 1;
        scale = MAX(scale, 1U);
        region_scale = MAX(region_scale, 1U);
        if ((scale != MAX(e->sample_scale, 1U) || region_scale != MAX(e->region_scale, 1U)) && !e->in_round) {
                r = e->ops->set_sample_scale(e->state, scale, region_scale);
                if (r < 0)
                        log_repeat_errno(LOG_WARNING, "scan-sample-scale", r,
                                         "Cannot change how often %s samples: %m; the next round tries again",
                                         e->ops->name);
        }
        e->sample_scale = scale;
        e->region_scale = region_scale;
        return scale;
}

unsigned scan_engine_region_scale(const struct scan_engine *e) {
        return e && e->ops && e->ops->set_sample_scale ? MAX(e->region_scale, 1U) : 1;
}

bool scan_engine_in_round(const struct scan_engine *e) {
        return e && e->in_round;
}

unsigned scan_engine_passes_left(const struct scan_engine *e) {
        if (!e || !e->in_round || e->round_failed)
                return 0;
        return e->ctx.passes - e->ctx.pass;
}

static void backend_failed(struct scan_engine *e, const char *step, int r) {
        char key[64];

        snprintf(key, sizeof(key), "scan-%s-%s", e->ops->name, step);
        log_repeat_errno(LOG_ERR, key, r, "Scan backend %s failed in %s: %m; this round's remaining passes are "
                         "skipped", e->ops->name, step);
        e->round_failed = true;
}

static const char *const step_names[] = {
        [SCAN_STEP_ROUND_BEGIN] = "round_begin",
        [SCAN_STEP_PASS_BEGIN] = "pass_begin",
        [SCAN_STEP_PASS_END] = "pass_end",
};

/* A backend's step returned r: 1 (and it can resume) means it goes on in slices. A failure is logged here and
 * skips the rest of the round. Returns 1 or 0. */
static int step_started(struct scan_engine *e, enum scan_step step, int r) {
        if (r < 0) {
                backend_failed(e, step_names[step], r);
                return 0;
        }
        if (r > 0 && e->ops->resume) {
                e->pending = step;
                return 1;
        }
        return 0;
}

int scan_engine_round_begin(struct scan_engine *e, const struct target_set *targets, uint64_t round, unsigned passes,
                            uint64_t pass_interval_us, unsigned hot_threshold) {
        _cleanup_free_ pid_t *alive = NULL;
        int r;

        if (!e->ops)
                return -EOPNOTSUPP;
        if (e->in_round)
                return -EBUSY;

        alive = malloc(sizeof(pid_t) * (targets->n_targets + 1));
        if (!alive)
                return -ENOMEM;
        for (size_t i = 0; i < targets->n_targets; i++) {
                const struct target *t = &targets->targets[i];

                alive[i] = t->pid;
                r = heat_store_sync_target(e->heat, t->pid, t->vmas, t->n_vmas);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        char key[48];

                        /* Every round while it lasts: once per process. */
                        snprintf(key, sizeof(key), "scan-track:%d", (int) t->pid);
                        (void) log_repeat_errno(LOG_WARNING, key, r,
                                                "Cannot track the memory map of pid %d: %m, ignoring", (int) t->pid);
                }
        }
        (void) heat_store_drop_missing_targets(e->heat, alive, targets->n_targets);

        heat_store_set_partial_observation(e->heat, e->ops->observes_partially);
        r = heat_store_begin_round(e->heat, round, hot_threshold);
        if (r < 0)
                return r;

        e->ctx = (struct scan_context) {
                .targets = targets,
                .heat = e->heat,
                .grains = e->grains,
                .passes = passes,
                .pass_interval_us = pass_interval_us,
                .round = round,
                .sample_scale = MAX(e->sample_scale, 1U),
                .region_scale = MAX(e->region_scale, 1U),
                .pfn_map = e->pfn_map.n > 0 ? &e->pfn_map : NULL,
                .hot_streak = MAX(e->hot_streak, 1U),
                .park_idle = e->park_idle,
                .slice_us = SCAN_SLICE_US,
        };
        e->in_round = true;
        e->round_failed = false;
        e->pending = SCAN_STEP_NONE;

        return step_started(e, SCAN_STEP_ROUND_BEGIN, e->ops->round_begin(e->state, &e->ctx));
}

int scan_engine_resume(struct scan_engine *e, enum scan_step *ret_done) {
        enum scan_step step = e->pending;
        int r;

        *ret_done = step;
        if (!e->in_round || step == SCAN_STEP_NONE || e->round_failed) {
                e->pending = SCAN_STEP_NONE;
                return 0;
        }
        r = e->ops->resume(e->state, &e->ctx);
        if (r < 0)
                backend_failed(e, step_names[step], r);
        if (r > 0)
                return 1;
        e->pending = SCAN_STEP_NONE;
        return 0;
}

enum scan_step scan_engine_pending(const struct scan_engine *e) {
        return e ? e->pending : SCAN_STEP_NONE;
}

uint64_t scan_engine_resume_wait_us(const struct scan_engine *e) {
        if (!e || e->pending == SCAN_STEP_NONE || !e->ops->resume_wait_us)
                return 0;
        return e->ops->resume_wait_us(e->state);
}

void scan_engine_set_placement(struct scan_engine *e, const struct topology *t, unsigned promote_rounds,
                               unsigned cold_rounds) {
        int r;

        if (!e || !t)
                return;
        e->hot_streak = MIN(MAX(promote_rounds, 1U), (unsigned) HEAT_STREAK_MAX);
        e->park_idle = MIN(MAX(cold_rounds, 1U), (unsigned) HEAT_IDLE_MAX);
        pfn_map_done(&e->pfn_map);
        /* Only a backend that observes partially resolves PFNs; the others have no use for the map. */
        if (!e->ops || !e->ops->observes_partially || t->n_tiers < 2)
                return;
        r = pfn_map_build(t, &e->pfn_map);
        if (r == -ENOMEM)
                log_oom();
        else if (r < 0)
                log_repeat_errno(LOG_INFO, "scan-pfn-map", r,
                                 "Node PFN spans in /proc/zoneinfo %s: %m; locating pages through move_pages(2), "
                                 "which costs more CPU",
                                 r == -ENOTUNIQ ? "overlap (memory interleaved between nodes)" : "are missing");
}

int scan_engine_pass_begin(struct scan_engine *e) {
        int r;

        if (!e->in_round || e->round_failed)
                return 0;
        if (e->pending != SCAN_STEP_NONE)
                return -EBUSY;
        r = heat_store_begin_pass(e->heat);
        if (r < 0)
                return r;
        grain_map_begin_pass(e->grains);
        e->ctx.pass = (unsigned) r;
        return step_started(e, SCAN_STEP_PASS_BEGIN, e->ops->pass_begin(e->state, &e->ctx));
}

int scan_engine_pass_end(struct scan_engine *e) {
        if (!e->in_round || e->round_failed)
                return 0;
        if (e->pending != SCAN_STEP_NONE)
                return -EBUSY;
        return step_started(e, SCAN_STEP_PASS_END, e->ops->pass_end(e->state, &e->ctx));
}

int scan_engine_round_end(struct scan_engine *e) {
        int r = 0;

        if (!e->in_round)
                return 0;
        if (!e->round_failed) {
                r = e->ops->round_end(e->state, &e->ctx);
                if (r < 0)
                        backend_failed(e, "round_end", r);
        }
        heat_store_end_round(e->heat);
        e->in_round = false;
        e->pending = SCAN_STEP_NONE;
        e->ctx.pass = 0;
        e->ctx.targets = NULL;
        return 0;
}

int scan_engine_drop_target(struct scan_engine *e, pid_t pid) {
        int r;

        if (!e)
                return 0;
        /* Backends skip a pid the heat store no longer has (see scan-backend.h), also within a round. */
        grain_map_drop(e->grains, pid);
        r = heat_store_drop_target(e->heat, pid);
        return r == -ENOENT ? 0 : r;
}
