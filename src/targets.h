/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "maps.h"

/* The processes tierd manages, chosen by [targets] and re-evaluated every round from /proc (through the fsroot
 * door). A process may exit at any moment: when any of its files vanishes mid-read it is simply left out. */

enum target_match {
        TARGET_MATCH_PID,
        TARGET_MATCH_CGROUP,
        TARGET_MATCH_COMM,
        TARGET_MATCH_EXE,
};

struct target {
        pid_t pid;
        char comm[17];
        char *exe;    /* NULL when unreadable */
        char *cgroup; /* cgroup v2 path from /proc/PID/cgroup ("0::/..."), NULL when none */
        uint64_t rss_bytes;
        enum target_match matched_by;
        int workload;        /* index into the config's workloads ([target.NAME]), -1: none */
        char *workload_name; /* its NAME, kept so the target still says which after a reload */
        struct vma *vmas;
        size_t n_vmas;
        uint64_t mapped_bytes;
};

struct target_set {
        struct target *targets; /* ascending pid */
        size_t n_targets;
};

const char *target_match_to_string(enum target_match m);

/* Pure helpers, exposed for tests. */
/* Does the process cgroup path lie at or below the selector path (component-wise, "/" matches all)? */
bool cgroup_path_below(const char *path, const char *selector);
/* Extracts the cgroup v2 path from a /proc/PID/cgroup buffer. -ENOENT if there is no "0::" line. */
int cgroup_parse_v2_path(const char *buf, char **ret);

int targets_scan(const struct tierd_config *config, pid_t self_pid, struct target_set *ret);
void target_set_done(struct target_set *s);
void target_done(struct target *t);

/* One process, judged by the same rules as targets_scan() (for a process event between rescans). Returns 1 and
 * fills *ret when it is a target, 0 when it is not (or went away), a negative errno on a fatal error. */
int targets_examine_pid(const struct tierd_config *config, pid_t self_pid, pid_t pid, struct target *ret);
struct target *target_set_find(const struct target_set *s, pid_t pid);
/* Drops the pid's target; false when it was not one. */
bool target_set_remove(struct target_set *s, pid_t pid);
