/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsroot.h"
#include "log.h"
#include "macro.h"
#include "maps.h"
#include "proc-stat.h"
#include "targets.h"
#include "util.h"


/* stat, comm, cgroup and statm are a few hundred bytes; cgroup can grow with long paths and v1 lines. */
#define PROC_FILE_MAX (64U * 1024)

static const char *const target_match_table[] = {
        [TARGET_MATCH_PID] = "pid",
        [TARGET_MATCH_CGROUP] = "cgroup",
        [TARGET_MATCH_COMM] = "comm",
        [TARGET_MATCH_EXE] = "exe",
};

const char *target_match_to_string(enum target_match m) {
        if ((unsigned) m >= ELEMENTSOF(target_match_table))
                return NULL;
        return target_match_table[m];
}

bool cgroup_path_below(const char *path, const char *selector) {
        size_t n;

        if (!path || !selector)
                return false;

        /* Compare component-wise: "/a" covers "/a" and "/a/b", not "/ab". A trailing slash in the selector
         * does not change its meaning, and "/" (or "") covers the whole hierarchy. */
        n = strlen(selector);
        while (n > 0 && selector[n - 1] == '/')
                n--;
        if (n == 0)
                return true;

        return strncmp(path, selector, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int cgroup_parse_v2_path(const char *buf, char **ret) {
        /* One line per hierarchy: "ID:controllers:path". The unified (v2) hierarchy is always "0::path"; on a
         * hybrid system v1 lines such as "4:memory:/foo" come before it. */
        for (const char *p = buf; *p;) {
                const char *eol = strchrnul(p, '\n');

                if (startswith(p, "0::") && p + 3 <= eol) {
                        const char *path = p + 3;
                        char *s;

                        if (path >= eol || *path != '/')
                                return -EINVAL;
                        s = strndup(path, (size_t) (eol - path));
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 0;
                }
                p = *eol ? eol + 1 : eol;
        }
        return -ENOENT;
}

/* Parses /proc/PID/statm: "size resident shared text lib data dt", in pages. */
static int statm_parse_resident(const char *buf, uint64_t *ret_pages) {
        const char *p = buf;

        p += strspn(p, " ");
        p += strcspn(p, " \n");
        p += strspn(p, " ");
        return parse_u64_field(p, ret_pages);
}

void target_done(struct target *t) {
        free(t->exe);
        free(t->cgroup);
        free(t->workload_name);
        vmas_free(t->vmas, t->n_vmas);
        *t = (struct target) { .workload = -1 };
}

void target_set_done(struct target_set *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_targets; i++)
                target_done(&s->targets[i]);
        free(s->targets);
        *s = (struct target_set) {};
}

static bool pid_in(const pid_t *pids, size_t n, pid_t pid) {
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

static bool cgroup_in(char *const *selectors, const char *path) {
        STRV_FOREACH(s, selectors)
                if (cgroup_path_below(path, *s))
                        return true;
        return false;
}

static bool config_has_includes(const struct tierd_config *c) {
        /* Every [target.NAME] selects something (config_load() makes sure). */
        return c->n_pids > 0 || strv_length(c->cgroups) > 0 || strv_length(c->comms) > 0 ||
               strv_length(c->exes) > 0 || c->n_workloads > 0;
}

/* Does one set of include selectors ([targets] or a [target.NAME]) match t? Sets *ret to the first kind that
 * does, in the order pid, cgroup, comm, exe. */
static bool selectors_match(const pid_t *pids, size_t n_pids, char *const *cgroups, char *const *comms,
                            char *const *exes, const struct target *t, enum target_match *ret) {
        if (pid_in(pids, n_pids, t->pid))
                *ret = TARGET_MATCH_PID;
        else if (t->cgroup && cgroup_in(cgroups, t->cgroup))
                *ret = TARGET_MATCH_CGROUP;
        else if (strv_fnmatch(comms, t->comm))
                *ret = TARGET_MATCH_COMM;
        else if (t->exe && strv_fnmatch(exes, t->exe))
                *ret = TARGET_MATCH_EXE;
        else
                return false;
        return true;
}

/* Decides what a failure to read one of a process's files means. The process exiting is normal at any moment:
 * skipped quietly. Anything else skips the process too, logged once while it persists. Returns 0 (skip the
 * process) or a negative errno that must stop the scan. */
static int process_file_failed(pid_t pid, const char *path, const char *verb, int r) {
        char key[PATH_MAX + 16];

        if (r == -ENOMEM)
                return log_error_errno(r, "Failed to %s %s: %m", verb, path);
        if (r == -ENOENT || r == -ESRCH) {
                log_debug_errno(r, "Process %d exited while being examined (%s: %m), ignoring.", (int) pid, path);
                return 0;
        }
        /* Keyed by path, and so by pid: a process that stays unreadable is reported once, while a new process
         * with the same problem is reported on its own. */
        snprintf(key, sizeof(key), "targets:%s", path);
        (void) log_repeat_errno(LOG_WARNING, key, r, "Failed to %s %s: %m, ignoring process %d.", verb, path,
                                (int) pid);
        return 0;
}

static int process_read_failed(pid_t pid, const char *path, int r) {
        return process_file_failed(pid, path, "read", r);
}

static int process_parse_failed(pid_t pid, const char *path, int r) {
        return process_file_failed(pid, path, "parse", r);
}

/* Examines one process. Returns 1 and fills *ret if it is a target, 0 if not (or if it went away), negative
 * errno on a fatal error. */
static int process_examine(const struct tierd_config *c, pid_t pid, struct target *ret) {
        _cleanup_(target_done) struct target t = { .pid = pid, .workload = -1 };
        _cleanup_free_ char *buf = NULL;
        char path[64], stat_comm[17];
        enum target_match matched_by;
        uint64_t pages;
        bool kthread;
        long page_size;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        r = proc_stat_read(pid, &buf);
        if (r < 0)
                return process_read_failed(pid, path, r);
        r = proc_stat_parse(buf, stat_comm, &kthread);
        if (r < 0)
                return process_parse_failed(pid, path, r);
        if (kthread)
                return 0;
        buf = mfree(buf);

        snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        r = fsroot_read_line(path, &buf);
        if (r < 0)
                return process_read_failed(pid, path, r);
        snprintf(t.comm, sizeof(t.comm), "%s", buf);
        buf = mfree(buf);

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) pid);
        r = fsroot_read_file(path, PROC_FILE_MAX, &buf, NULL);
        if (r < 0)
                return process_read_failed(pid, path, r);
        r = cgroup_parse_v2_path(buf, &t.cgroup);
        if (r == -ENOMEM)
                return log_error_errno(r, "Failed to parse %s: %m", path);
        if (r < 0) /* No unified hierarchy line (pure cgroup v1 system): cgroup selectors do not match it. */
                t.cgroup = NULL;
        buf = mfree(buf);

        snprintf(path, sizeof(path), "/proc/%d/exe", (int) pid);
        r = fsroot_readlink(path, &t.exe);
        if (r == -ENOMEM)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (r == -ESRCH)
                return process_read_failed(pid, path, r);
        if (r < 0) {
                /* EACCES without ptrace rights, ENOENT for zombies and some special processes: the process is
                 * still there, it just has no exe we can see, and exe globs cannot match it. */
                log_debug_errno(r, "Cannot read %s: %m, treating the executable as unknown.", path);
                t.exe = NULL;
        } else {
                /* A package upgrade replaces the binary under a running process and the kernel then reports
                 * "/usr/bin/foo (deleted)"; the service is still the same one, so globs match the path. */
                static const char deleted[] = " (deleted)";
                size_t len = strlen(t.exe);

                if (len > strlen(deleted) && streq(t.exe + len - strlen(deleted), deleted))
                        t.exe[len - strlen(deleted)] = '\0';
        }

        /* A workload's selectors first: a process in a workload is held to its budget even when [targets]
         * selects it as well. */
        for (size_t i = 0; i < c->n_workloads; i++) {
                const struct config_workload *w = &c->workloads[i];

                if (selectors_match(w->pids, w->n_pids, w->cgroups, w->comms, w->exes, &t, &matched_by)) {
                        t.workload = (int) i;
                        t.workload_name = strdup(w->name);
                        if (!t.workload_name)
                                return log_error_errno(-ENOMEM, "Failed to allocate memory: %m");
                        break;
                }
        }
        if (t.workload < 0 && !selectors_match(c->pids, c->n_pids, c->cgroups, c->comms, c->exes, &t, &matched_by))
                return 0;
        t.matched_by = matched_by;

        snprintf(path, sizeof(path), "/proc/%d/statm", (int) pid);
        r = fsroot_read_file(path, PROC_FILE_MAX, &buf, NULL);
        if (r < 0)
                return process_read_failed(pid, path, r);
        r = statm_parse_resident(buf, &pages);
        if (r < 0)
                return process_parse_failed(pid, path, r);
        page_size = sysconf(_SC_PAGESIZE);
        if (__builtin_mul_overflow(pages, (uint64_t) (page_size > 0 ? page_size : 4096), &t.rss_bytes))
                return process_parse_failed(pid, path, -ERANGE);
        buf = mfree(buf);

        if (t.rss_bytes < c->min_rss_bytes)
                return 0;

        if (pid_in(c->exclude_pids, c->n_exclude_pids, pid) ||
            (t.cgroup && cgroup_in(c->exclude_cgroups, t.cgroup)) ||
            strv_fnmatch(c->exclude_comms, t.comm) ||
            (t.exe && strv_fnmatch(c->exclude_exes, t.exe))) {
                log_debug("Process %d (%s) matches an exclude selector, not a target.", (int) pid, t.comm);
                return 0;
        }

        /* The maps are the expensive part: read them only for processes that made it this far. */
        r = maps_read(pid, &t.vmas, &t.n_vmas);
        if (r < 0) {
                snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
                return process_read_failed(pid, path, r);
        }
        for (size_t i = 0; i < t.n_vmas; i++)
                t.mapped_bytes += vma_size(&t.vmas[i]);

        *ret = t;
        t = (struct target) {};
        return 1;
}

static int target_compare(const void *a, const void *b) {
        const struct target *x = a, *y = b;

        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int targets_scan(const struct tierd_config *config, pid_t self_pid, struct target_set *ret) {
        _cleanup_(target_set_done) struct target_set s = {};
        _cleanup_closedir_ DIR *d = NULL;
        size_t allocated = 0;
        struct dirent *de;
        int r;

        /* Nothing selected means nothing managed: tierd never moves memory of processes nobody asked for. */
        if (!config || !config_has_includes(config)) {
                log_debug("No target selector configured, no process is a target.");
                *ret = (struct target_set) {};
                return 0;
        }

        d = fsroot_opendir("/proc");
        /* Called every round: a persisting failure is logged once (see log_repeat_errno()). */
        if (!d)
                return log_repeat_errno(LOG_ERR, "targets-opendir-proc", errno, "Failed to open /proc: %m");

        for (;;) {
                struct target t;
                int pid;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return log_repeat_errno(LOG_ERR, "targets-readdir-proc", errno,
                                                        "Failed to read /proc: %m");
                        break;
                }

                /* Numeric entries only: "self", "sys", "meminfo" and friends are not processes. */
                if (!isdigit((unsigned char) de->d_name[0]) || parse_pid(de->d_name, &pid) < 0)
                        continue;
                if (pid == self_pid)
                        continue;

                r = process_examine(config, pid, &t);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;

                if (s.n_targets == allocated) {
                        size_t na = allocated ? allocated * 2 : 16;
                        struct target *p = realloc(s.targets, na * sizeof(*p));

                        if (!p) {
                                target_done(&t);
                                return log_error_errno(-ENOMEM, "Failed to allocate memory: %m");
                        }
                        s.targets = p;
                        allocated = na;
                }
                s.targets[s.n_targets++] = t;
        }

        /* readdir() order on /proc is by pid on current kernels, but nothing promises it (and fake trees
         * differ). */
        if (s.n_targets > 0)
                qsort(s.targets, s.n_targets, sizeof(*s.targets), target_compare);

        *ret = s;
        s = (struct target_set) {};
        return 0;
}

int targets_examine_pid(const struct tierd_config *config, pid_t self_pid, pid_t pid, struct target *ret) {
        if (!config || !ret || pid <= 0)
                return -EINVAL;
        if (pid == self_pid || !config_has_includes(config))
                return 0;
        return process_examine(config, pid, ret);
}

struct target *target_set_find(const struct target_set *s, pid_t pid) {
        for (size_t i = 0; s && i < s->n_targets; i++)
                if (s->targets[i].pid == pid)
                        return &s->targets[i];
        return NULL;
}

bool target_set_remove(struct target_set *s, pid_t pid) {
        struct target *t = target_set_find(s, pid);
        size_t i;

        if (!t)
                return false;
        i = (size_t) (t - s->targets);
        target_done(t);
        memmove(s->targets + i, s->targets + i + 1, (s->n_targets - i - 1) * sizeof(*t));
        s->n_targets--;
        return true;
}
