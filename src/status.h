/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "targets.h"
#include "topology.h"

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
        const char *policy;

        unsigned passes;
        uint64_t pass_interval_us;
        uint64_t round;              /* rounds completed */
        uint64_t round_duration_us;  /* of the last completed round */
        uint64_t round_interval_us;  /* passes x pass interval */

        const struct topology *topology;
        const struct target_set *targets;

        uint64_t promoted_bytes;
        uint64_t demoted_bytes;
        uint64_t promoted_pages;
        uint64_t demoted_pages;

        uint64_t log_suppressed;
};

/* Stable machine-readable form (tierctl status --json). */
json_object *status_to_json(const struct tierd_status *s);
/* tierctl targets --json. */
json_object *targets_to_json(const struct target_set *t);
