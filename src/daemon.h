/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* The long-running daemon: sd-event loop, rounds on a timer, signals, sd_notify, control socket. */

struct daemon_options {
        const char *config_path;   /* file to load, and to reload on SIGHUP */
        bool config_path_explicit; /* a missing file is an error only when the user named it */
        const char *control_socket; /* overrides [daemon] control_socket when set */
        int log_level_override;     /* -1: use the configuration */
        const char *runtime_dir;    /* state that must survive a crash but not a reboot (DAMON marker) */
        bool dry_run;               /* --dry-run: plan and report moves, never call move_pages */
};

/* Runs until SIGTERM/SIGINT. Returns the process exit status (0, 1, or EXIT_CONFIG). */
int daemon_run(const struct daemon_options *opts);
