/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bpf-damon.h"
#include "damon-burst.h"
#include "damon.h"
#include "fsroot.h"
#include "heat.h"
#include "log.h"
#include "macro.h"
#include "scan-backend.h"

/* The DAMON backend: one kdamond of tierd's own, with `vaddr` operations, one target per target process and one
 * "stat" scheme per target (see damon.h for why one scheme per target, and for the kernel's rules).
 *
 * Life of the kdamond
 * ===================
 *
 * open()         decides which kdamond tierd may use (damon_ownership_decide()), writes the marker, creates
 *                the kdamond (nr_kdamonds 0 -> 1) or turns its own leftover off, and gives it a clean context
 *                (nr_contexts = 1, operations = vaddr).
 * round_begin()  checks the kdamond is still tierd's, then makes the kernel follow the round's targets and pass
 *                interval: off -> write everything, "on"; running and something changed -> write everything,
 *                "commit"; no targets -> "off" (a vaddr kdamond without targets stops by itself anyway).
 *                The kernel holds the writer of "commit" until the next aggregation boundary (up to one window,
 *                ~pass interval; two seconds under TCG): it is written from a thread (damon_state_cmd_start()) and
 *                round_begin returns 1, looking again every 10 ms until the kernel has let go. It is the only
 *                way to change a running kdamond, done only when the target set, the pass interval or the
 *                sample interval (set_sample_scale(), between rounds, for the CPU budget) changed.
 * pass_begin()   nothing: DAMON samples continuously.
 * pass_end()     takes the regions of one aggregation window and records the accessed ones for their target,
 *                through one of two paths ([scan] damon_results):
 *                tried_regions: writes update_schemes_tried_regions to state, which returns after the kdamond's
 *                next apply pass, i.e. the end of the current aggregation window (see damon_attrs_for_pass() for
 *                why the window is a little longer than the pass interval, which keeps this wait short), then
 *                reads each scheme's tried regions.
 *                tracepoint: the damon:damon_aggregated records of tierd's kdamond (bpf-damon.h), assembled into
 *                whole windows (damon-burst.h); the first whole window that ended after pass_begin (waiting
 *                for it up to a window from pass_end, as tried regions would, but without holding the event
 *                loop: pass_end returns 1 and the engine looks again every 10 ms). No sysfs
 *                writes, and it works on kernels whose sysfs cannot filter tried regions per target (the
 *                records carry the target index). A pass without a whole window (records lost, the window has
 *                a target without regions, the program stopped) falls back to tried_regions and is counted.
 * close()        turns the kdamond off and tidies: nr_kdamonds back to 0 if tierd created it and nothing else
 *                exists, otherwise its context is removed (nr_contexts = 0); the marker is removed.
 *
 * The kdamond stops by itself when all its targets have exited, and the kernel stops it when a commit is
 * rejected (a target exited between our write and the commit): round_begin() then starts it again. If it runs
 * with a pid tierd did not start, someone else took it: tierd lets go and reports it. */

struct damon_backend {
        char *runtime_dir;
        int configured;
        uint64_t sample_us;
        unsigned min_nr_regions, max_nr_regions;

        bool owned;        /* kdamond `index` is tierd's and the marker (if any) says so */
        int index;
        int nr_kdamonds;   /* as it was when tierd acquired the kdamond: any change means it was recreated */
        bool created;      /* tierd created the kdamonds directory */
        uint64_t token;    /* this instance's marker token */
        char kd[64];       /* "/sys/kernel/mm/damon/admin/kdamonds/N" */

        bool running; /* tierd turned it on and has not seen it stop */
        int pid;      /* the kdamond's pid while running (0: started, pid not read yet), else -1 */

        struct damon_attrs attrs; /* as the running kdamond has them */
        uint64_t pass_interval_us; /* of the last round: what the attributes are laid out for */
        pid_t *slots;             /* slots[i]: the pid of target i and scheme i, as the running kdamond has them */
        size_t n_slots;

        /* A commit the kernel still holds (damon_state_cmd_start()), and what it commits: taken as the kdamond's
         * once it returns (commit_settle()). */
        struct damon_state_cmd *commit;
        struct damon_attrs commit_attrs;
        pid_t *commit_slots;
        size_t commit_n;
        bool commit_waiting; /* round_begin waits for it, a look every resume_wait_us (damon_resume()) */

        uint64_t pass_regions, pass_accessed_regions, pass_accessed_bytes;
        /* The regions of the last pass under the unscaled bound: what the CPU budget's region scale divides. The
         * kdamond usually has far fewer than damon_max_regions (400-470 for 1.5 GiB), and a bound above what it
         * has saves nothing. Not updated while the bound is scaled, or each scale would divide the last one. */
        uint64_t regions_unscaled;
        uint64_t slots_gen; /* bumped whenever slots change: the windows being assembled are void */

        /* The tracepoint path (NULL: tried regions only, reason says why). */
        struct bpf_damon *bpf;
        char *bpf_reason;
        bool tracepoint_wanted; /* [scan] damon_results asked for it explicitly */
        pid_t bpf_pid;          /* the kdamond it listens to; 0: none */
        struct damon_bursts bursts;
        uint64_t bursts_gen;    /* slots_gen the bursts were laid out for */
        bool bursts_discard;    /* draining records that belong to no pass */
        uint64_t pass_begin_ns;
        uint64_t last_record_ns, window_start_ns, window_ns; /* the last window's length as the records say */
        uint64_t dropped_at_begin;
        bool tracepoint_waiting;       /* pass_end waits for its window's records (damon_resume()) */
        uint64_t tracepoint_deadline_ns; /* when it stops waiting and falls back to tried regions */
        uint64_t resume_wait_us;       /* until it looks again */
        const char *last_path;
        uint64_t passes_tracepoint, passes_tried_regions, fallbacks;
};

static uint64_t new_token(void) {
        uint64_t t;

        if (getrandom(&t, sizeof(t), GRND_NONBLOCK) == (ssize_t) sizeof(t))
                return t;
        /* Early boot without entropy: the token only has to differ from the previous instance's. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000007) ^ (uint64_t) ts.tv_nsec ^ (uint64_t) getpid() << 32;
}

static int kd_path(const struct damon_backend *b, char *buf, size_t size, const char *fmt, va_list ap)
        _printf_(4, 0);
static int kd_path(const struct damon_backend *b, char *buf, size_t size, const char *fmt, va_list ap) {
        int n, m;

        n = snprintf(buf, size, "%s/", b->kd);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        m = vsnprintf(buf + n, size - (size_t) n, fmt, ap);
        if (m < 0 || (size_t) m >= size - (size_t) n)
                return -ENAMETOOLONG;
        return 0;
}

/* Writes value to a file of our kdamond (EBUSY retried), logging failures with the path. */
static int kd_write(const struct damon_backend *b, const char *value, const char *fmt, ...) _printf_(3, 4);
static int kd_write(const struct damon_backend *b, const char *value, const char *fmt, ...) {
        char path[PATH_MAX];
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = kd_path(b, path, sizeof(path), fmt, ap);
        va_end(ap);
        if (r < 0)
                return log_error_errno(r, "DAMON sysfs path too long: %m");
        r = damon_write_retry(path, value);
        if (r < 0)
                return log_error_errno(r, "Cannot write \"%s\" to %s: %m", value, path);
        return 0;
}

static bool kd_exists(const struct damon_backend *b, const char *fmt, ...) _printf_(2, 3);
static bool kd_exists(const struct damon_backend *b, const char *fmt, ...) {
        char path[PATH_MAX];
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = kd_path(b, path, sizeof(path), fmt, ap);
        va_end(ap);
        return r >= 0 && fsroot_access(path, F_OK) >= 0;
}

static int kd_state_path(const struct damon_backend *b, char *buf, size_t size) {
        return damon_kdamond_path(b->index, "state", buf, size);
}

static void marker_update(struct damon_backend *b) {
        struct damon_marker m = {
                .index = b->index,
                .pid = b->running ? b->pid : -1,
                .created = b->created,
                .token = b->token,
        };
        int r;

        if (!b->runtime_dir)
                return;
        if (b->running && b->pid <= 0)
                return; /* started, pid not read yet: the marker stays "held off" until we know it */
        r = damon_marker_write(b->runtime_dir, &m);
        if (r < 0)
                log_repeat_errno(LOG_WARNING, "damon-marker", r,
                                 "Cannot write the DAMON marker %s/" DAMON_MARKER_NAME ": %m; after a crash tierd "
                                 "will not recognise kdamond %d as its own, ignoring", b->runtime_dir, b->index);
}

/* Removes the marker if it is still this instance's. */
static void marker_drop(struct damon_backend *b) {
        struct damon_marker m;
        int r;

        if (!b->runtime_dir)
                return;
        r = damon_marker_read(b->runtime_dir, &m);
        if (r < 0 || m.token != b->token)
                return;
        r = damon_marker_remove(b->runtime_dir);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot remove the DAMON marker %s/" DAMON_MARKER_NAME ": %m, ignoring",
                                  b->runtime_dir);
}

static void set_index(struct damon_backend *b, int index) {
        b->index = index;
        if (damon_kdamond_path(index, NULL, b->kd, sizeof(b->kd)) < 0)
                b->kd[0] = '\0'; /* cannot happen: index < INT_MAX fits */
}

static void forget_kdamond(struct damon_backend *b) {
        b->owned = false;
        b->running = false;
        b->pid = -1;
        b->slots = mfree(b->slots);
        b->n_slots = 0;
        b->slots_gen++;
}

/* Does a running kdamond's pid say it is the one we started? Learns the pid if we could not read it at start. */
static bool pid_is_ours(struct damon_backend *b, const struct damon_kdamond_status *k) {
        if (!b->running || !k->running)
                return false;
        if (b->pid == 0) {
                b->pid = k->pid;
                marker_update(b);
                return true;
        }
        return k->pid == b->pid;
}

/* Someone else has our kdamond now (it runs with a pid we did not start, or its directory was recreated): let
 * go without touching it. */
static int lose_kdamond(struct damon_backend *b, int error, const char *why) {
        int index = b->index;

        marker_drop(b);
        forget_kdamond(b);
        return log_error_errno(error, "DAMON kdamond %d is no longer tierd's (%s): leaving it alone; tierd tries to "
                               "acquire a kdamond again next round", index, why);
}

static int turn_off(struct damon_backend *b) {
        char path[PATH_MAX];
        int r;

        r = kd_state_path(b, path, sizeof(path));
        if (r < 0)
                return r;
        r = damon_write_retry(path, "off");
        /* EINVAL/EPERM: it had stopped already (no context, or no thread to stop). */
        if (r < 0 && r != -EINVAL && r != -EPERM)
                return log_error_errno(r, "Cannot turn off DAMON kdamond %d: %m", b->index);
        b->running = false;
        b->pid = -1;
        return 0;
}

static int check_operations(struct damon_backend *b) {
        _cleanup_free_ char *avail = NULL;
        char path[PATH_MAX];
        unsigned mask;
        int r;

        r = damon_kdamond_path(b->index, "contexts/0/avail_operations", path, sizeof(path));
        if (r < 0)
                return r;
        r = fsroot_read_file(path, 4096, &avail, NULL);
        if (r == -ENOENT)
                return 0; /* older kernels: "on" fails later if vaddr is missing */
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        r = damon_avail_operations_parse(avail, &mask);
        if (r < 0)
                return log_error_errno(r, "Cannot parse %s: %m", path);
        if (!(mask & DAMON_OPS_VADDR))
                return log_error_errno(EOPNOTSUPP,
                                       "DAMON has no vaddr operations (%s lists none; kernel built without "
                                       "CONFIG_DAMON_VADDR)", path);
        return 0;
}

/* Whether the kdamond we hold is still ours. Returns 1 (with *ret_status filled), 0 with *ret_why when it is not
 * (someone else runs it, or recreated the kdamonds directories), or a negative errno when it cannot be read.
 * check_context: also require the context tierd set up (nr_contexts = 1): a kdamond that is off cannot be told
 * apart otherwise from a fresh one someone created by writing nr_kdamonds. */
static int still_ours(struct damon_backend *b, bool check_context, struct damon_kdamond_status *ret_status,
                      const char **ret_why) {
        _cleanup_free_ char *nrc = NULL;
        char path[PATH_MAX];
        int r, nr, contexts;

        /* nr_kdamonds can only change while no kdamond runs, and every change recreates every directory. */
        r = damon_read_nr_kdamonds(&nr);
        if (r < 0)
                return r;
        if (nr != b->nr_kdamonds) {
                *ret_why = "nr_kdamonds was rewritten: every kdamond directory was recreated";
                return 0;
        }

        r = damon_read_kdamond(b->index, ret_status);
        if (r == -ENOENT) {
                *ret_why = "its directory vanished";
                return 0;
        }
        if (r < 0)
                return r;
        if (ret_status->unknown)
                return 1; /* busy: keep what we know */
        if (ret_status->running) {
                if (pid_is_ours(b, ret_status))
                        return 1;
                *ret_why = "it runs with a pid tierd did not start";
                return 0;
        }
        if (!check_context)
                return 1;
        r = damon_kdamond_path(b->index, "contexts/nr_contexts", path, sizeof(path));
        if (r < 0)
                return r;
        r = damon_read_line_retry(path, &nrc);
        if (r == -EBUSY)
                return 1;
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == -ENOENT || damon_int_parse(nrc, &contexts) < 0 || contexts != 1) {
                *ret_why = "its context is gone: someone else set it up afresh";
                return 0;
        }
        return 1;
}

/* Tidies the kdamond we hold: off, then nr_kdamonds 0 if we created it and it is the only one, else its context
 * removed. Only if it is still ours. */
static void release_kdamond(struct damon_backend *b, bool check_context) {
        struct damon_kdamond_status k = {};
        struct damon_marker m;
        const char *why = NULL;
        int r, nr;

        if (!b->owned)
                return;

        if (b->runtime_dir && damon_marker_read(b->runtime_dir, &m) >= 0 && m.token != b->token) {
                /* A newer instance (a reload may build the new backend before freeing the old) took it over. */
                log_debug("DAMON kdamond %d was taken over by a newer tierd instance, leaving it", b->index);
                forget_kdamond(b);
                return;
        }

        r = still_ours(b, check_context, &k, &why);
        if (r == 0) {
                log_warning("DAMON kdamond %d is no longer tierd's (%s): leaving it alone", b->index, why);
                marker_drop(b);
                forget_kdamond(b);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Cannot read the state of DAMON kdamond %d: %m; turning it off anyway",
                                  b->index);

        if (r < 0 || k.unknown || k.running) {
                r = turn_off(b);
                if (r < 0) {
                        /* Keep the marker: the next start recognises the kdamond by its pid and tidies it. */
                        forget_kdamond(b);
                        return;
                }
        }

        if (b->created && b->index == 0 && damon_read_nr_kdamonds(&nr) >= 0 && nr == 1) {
                r = damon_write_retry(DAMON_NR_KDAMONDS_PATH, "0");
                if (r < 0)
                        log_warning_errno(r, "Cannot remove DAMON kdamond 0 (writing 0 to %s): %m, ignoring",
                                          DAMON_NR_KDAMONDS_PATH);
                else
                        log_info("Removed DAMON kdamond 0, which tierd had created");
        } else {
                /* Not ours to remove (it existed before, or others exist now): leave an empty kdamond. */
                r = kd_write(b, "0", "contexts/nr_contexts");
                if (r >= 0)
                        log_info("Turned off DAMON kdamond %d and removed tierd's configuration from it", b->index);
        }

        marker_drop(b);
        forget_kdamond(b);
}

static int acquire_kdamond(struct damon_backend *b) {
        struct damon_ownership_input in;
        struct damon_ownership own;
        int r;

        r = damon_ownership_gather(b->runtime_dir, b->configured, &in);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", DAMON_NR_KDAMONDS_PATH);
        r = damon_ownership_decide(&in, &own);
        if (r < 0)
                return log_error_errno(r, "Cannot decide which DAMON kdamond to use: %m");

        if (own.marker_stale) {
                log_info("DAMON marker %s/" DAMON_MARKER_NAME " names kdamond %d with pid %d, which is not "
                         "running there: the marker is stale, removing it", b->runtime_dir, in.marker.index,
                         in.marker.pid);
                r = damon_marker_remove(b->runtime_dir);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Cannot remove the stale DAMON marker: %m, ignoring");
        }

        if (own.tidy_index >= 0) {
                char path[PATH_MAX];

                /* Ours by the marker (same pid), but the configuration now names another kdamond. */
                log_info("Turning off DAMON kdamond %d, left running by a previous tierd", own.tidy_index);
                if (damon_kdamond_path(own.tidy_index, "state", path, sizeof(path)) >= 0) {
                        r = damon_write_retry(path, "off");
                        if (r < 0)
                                log_warning_errno(r, "Cannot turn off DAMON kdamond %d: %m, ignoring",
                                                  own.tidy_index);
                }
                if (b->runtime_dir)
                        (void) damon_marker_remove(b->runtime_dir);
        }

        if (own.action == DAMON_OWN_REFUSE)
                /* open() and, after losing the kdamond, every round_begin() come here: say it once while it
                 * lasts. */
                return log_repeat_errno(LOG_ERR, "damon-unavailable", EBUSY, "DAMON unavailable: %s", own.reason);

        b->token = new_token();
        set_index(b, own.index);
        b->nr_kdamonds = own.action == DAMON_OWN_CREATE ? 1 : in.nr_kdamonds;
        b->created = own.created;
        b->running = false;
        b->pid = -1;

        if (!b->runtime_dir)
                log_warning("No runtime directory: after a crash tierd will not recognise DAMON kdamond %d as its "
                            "own, ignoring", b->index);

        switch (own.action) {
        case DAMON_OWN_CREATE:
                /* Marker first: if tierd dies right after the write, the next start knows the kdamond is its. */
                marker_update(b);
                r = damon_write_retry(DAMON_NR_KDAMONDS_PATH, "1");
                if (r < 0) {
                        marker_drop(b);
                        if (r == -EBUSY)
                                return log_error_errno(r, "Cannot create a DAMON kdamond: %s stays busy (%m): a "
                                                       "kdamond of someone else started meanwhile",
                                                       DAMON_NR_KDAMONDS_PATH);
                        return log_error_errno(r, "Cannot create a DAMON kdamond (writing 1 to %s): %m",
                                               DAMON_NR_KDAMONDS_PATH);
                }
                log_info("Created DAMON kdamond 0 (nr_kdamonds was 0)");
                break;

        case DAMON_OWN_REUSE:
                log_info("DAMON kdamond %d is tierd's own from a previous run (pid %d): %s", b->index,
                         in.marker.pid, own.turn_off ? "turning it off and reusing it" : "reusing it");
                if (own.turn_off) {
                        r = turn_off(b);
                        if (r < 0)
                                return r;
                }
                marker_update(b);
                break;

        case DAMON_OWN_CONFIGURED:
                log_info("Using DAMON kdamond %d (%s)", b->index, own.reason);
                marker_update(b);
                break;

        default:
                return -EINVAL;
        }

        b->owned = true;

        /* A fresh context: whatever was staged there before (by us or, for a configured index, anyone) goes. */
        r = kd_write(b, "1", "contexts/nr_contexts");
        if (r >= 0)
                r = check_operations(b);
        if (r >= 0)
                r = kd_write(b, "vaddr", "contexts/0/operations");
        if (r < 0) {
                release_kdamond(b, /* check_context= */ false);
                return r;
        }
        return 0;
}

static int write_scheme(struct damon_backend *b, size_t i, const struct damon_attrs *attrs) {
        char v[32];
        int r;

        if ((r = kd_write(b, "stat", "contexts/0/schemes/%zu/action", i)) < 0)
                return r;

        /* Every bound explicitly: the defaults are 0/0, which match nothing. */
        snprintf(v, sizeof(v), "%lu", ULONG_MAX);
        if ((r = kd_write(b, "0", "contexts/0/schemes/%zu/access_pattern/sz/min", i)) < 0 ||
            (r = kd_write(b, v, "contexts/0/schemes/%zu/access_pattern/sz/max", i)) < 0)
                return r;
        snprintf(v, sizeof(v), "%u", UINT_MAX); /* the kernel keeps nr_accesses and age as unsigned int */
        if ((r = kd_write(b, "0", "contexts/0/schemes/%zu/access_pattern/nr_accesses/min", i)) < 0 ||
            (r = kd_write(b, v, "contexts/0/schemes/%zu/access_pattern/nr_accesses/max", i)) < 0 ||
            (r = kd_write(b, "0", "contexts/0/schemes/%zu/access_pattern/age/min", i)) < 0 ||
            (r = kd_write(b, v, "contexts/0/schemes/%zu/access_pattern/age/max", i)) < 0)
                return r;

        /* One apply pass per aggregation window, at its boundary: the snapshot is the window's exact counts.
         * (0 means the same; the file exists since 6.7.) */
        if (kd_exists(b, "contexts/0/schemes/%zu/apply_interval_us", i)) {
                snprintf(v, sizeof(v), "%" PRIu64, attrs->aggr_us);
                if ((r = kd_write(b, v, "contexts/0/schemes/%zu/apply_interval_us", i)) < 0)
                        return r;
        }

        if (!kd_exists(b, "contexts/0/schemes/%zu/tried_regions", i) ||
            !kd_exists(b, "contexts/0/schemes/%zu/filters/nr_filters", i))
                return log_error_errno(EOPNOTSUPP,
                                       "DAMON schemes here have no tried_regions or filters (Linux %u.%u or later "
                                       "is needed)", DAMON_KERNEL_MIN_MAJOR, DAMON_KERNEL_MIN_MINOR);

        /* Only target i's regions: filter out (matching = N) the regions that are not target i's. With the
         * "allow" file of 6.14+, allow = N keeps the 6.12 meaning: a matching filter rejects. */
        if ((r = kd_write(b, "1", "contexts/0/schemes/%zu/filters/nr_filters", i)) < 0)
                return r;
        {
                char path[PATH_MAX];

                r = snprintf(path, sizeof(path), "%s/contexts/0/schemes/%zu/filters/0/type", b->kd, i);
                if (r < 0 || (size_t) r >= sizeof(path))
                        return -ENAMETOOLONG;
                r = damon_write_retry(path, "target");
                if (r == -EINVAL)
                        return log_error_errno(EOPNOTSUPP,
                                               "DAMON here has no \"target\" scheme filter (Linux %u.%u or later "
                                               "is needed to tell the regions of several targets apart)",
                                               DAMON_KERNEL_MIN_MAJOR, DAMON_KERNEL_MIN_MINOR);
                if (r < 0)
                        return log_error_errno(r, "Cannot write \"target\" to %s: %m", path);
        }
        snprintf(v, sizeof(v), "%zu", i);
        if ((r = kd_write(b, "N", "contexts/0/schemes/%zu/filters/0/matching", i)) < 0 ||
            (r = kd_write(b, v, "contexts/0/schemes/%zu/filters/0/damon_target_idx", i)) < 0)
                return r;
        if (kd_exists(b, "contexts/0/schemes/%zu/filters/0/allow", i) &&
            (r = kd_write(b, "N", "contexts/0/schemes/%zu/filters/0/allow", i)) < 0)
                return r;
        return 0;
}

/* Writes the whole input of the context (attributes, targets, schemes) to sysfs; the kernel takes it on "on" or
 * "commit". */
static int write_config(struct damon_backend *b, const struct damon_attrs *attrs, const pid_t *slots, size_t n) {
        char v[32];
        int r;

        snprintf(v, sizeof(v), "%" PRIu64, attrs->sample_us);
        if ((r = kd_write(b, v, "contexts/0/monitoring_attrs/intervals/sample_us")) < 0)
                return r;
        snprintf(v, sizeof(v), "%" PRIu64, attrs->aggr_us);
        if ((r = kd_write(b, v, "contexts/0/monitoring_attrs/intervals/aggr_us")) < 0)
                return r;
        snprintf(v, sizeof(v), "%" PRIu64, attrs->update_us);
        if ((r = kd_write(b, v, "contexts/0/monitoring_attrs/intervals/update_us")) < 0)
                return r;
        snprintf(v, sizeof(v), "%u", attrs->min_nr_regions);
        if ((r = kd_write(b, v, "contexts/0/monitoring_attrs/nr_regions/min")) < 0)
                return r;
        snprintf(v, sizeof(v), "%u", attrs->max_nr_regions);
        if ((r = kd_write(b, v, "contexts/0/monitoring_attrs/nr_regions/max")) < 0)
                return r;

        /* nr_targets and nr_schemes rebuild their directories with defaults (also while running: the running
         * context changes only on commit), so everything below them is written every time. */
        snprintf(v, sizeof(v), "%zu", n);
        if ((r = kd_write(b, v, "contexts/0/targets/nr_targets")) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                snprintf(v, sizeof(v), "%d", (int) slots[i]);
                if ((r = kd_write(b, v, "contexts/0/targets/%zu/pid_target", i)) < 0)
                        return r;
        }

        snprintf(v, sizeof(v), "%zu", n);
        if ((r = kd_write(b, v, "contexts/0/schemes/nr_schemes")) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if ((r = write_scheme(b, i, attrs)) < 0)
                        return r;
        return 0;
}

/* A copy of slots[0..n) in *ret (NULL for none). */
static int slots_copy(const pid_t *slots, size_t n, pid_t **ret) {
        *ret = NULL;
        if (n == 0)
                return 0;
        *ret = malloc(n * sizeof(pid_t));
        if (!*ret)
                return -ENOMEM;
        memcpy(*ret, slots, n * sizeof(pid_t));
        return 0;
}

static int adopt_slots(struct damon_backend *b, const pid_t *slots, size_t n) {
        pid_t *copy;

        if (slots_copy(slots, n, &copy) < 0)
                return -ENOMEM;
        free(b->slots);
        b->slots = copy;
        b->n_slots = n;
        b->slots_gen++;
        return 0;
}

/* The kdamond is ours and off: write the configuration and turn it on. Returns 0 also when it could not run
 * because the targets exited (the next round tries with fresh ones). */
static int start_kdamond(struct damon_backend *b, const struct damon_attrs *attrs, const pid_t *want, size_t n) {
        _cleanup_free_ pid_t *slots = NULL, *alive = NULL;
        struct damon_kdamond_status k;
        char path[PATH_MAX];
        size_t n_alive = n;
        int r;

        slots = malloc(MAX(n, 1U) * sizeof(pid_t));
        alive = malloc(MAX(n, 1U) * sizeof(pid_t));
        if (!slots || !alive)
                return log_oom();
        memcpy(alive, want, n * sizeof(pid_t));

        r = kd_state_path(b, path, sizeof(path));
        if (r < 0)
                return r;

        for (unsigned attempt = 0;; attempt++) {
                r = damon_slots_assign(b->slots, b->n_slots, alive, n_alive, slots);
                if (r < 0)
                        return log_error_errno(r, "Cannot lay out DAMON targets: %m");
                r = write_config(b, attrs, slots, n_alive);
                if (r < 0)
                        return r;

                r = damon_write_retry(path, "on");
                if (r >= 0)
                        break;
                if (r == -EBUSY) {
                        char modules[128];

                        damon_exclusive_modules_enabled(modules, sizeof(modules));
                        /* Once while it lasts: the next round tries again, and an exclusive module stays on for
                         * as long as its admin wants. */
                        return log_repeat_errno(LOG_ERR, "damon-on-busy", r,
                                               "Cannot turn on DAMON kdamond %d: %m, still after retries. DAMON "
                                               "refuses to start kdamonds while an exclusive DAMON module runs "
                                               "(DAMON_RECLAIM, DAMON_LRU_SORT, DAMON_STAT)%s%s; disable it (e.g. "
                                               "echo N > /sys/module/damon_reclaim/parameters/enabled) or choose "
                                               "another scan backend",
                                               b->index, modules[0] ? ": enabled here: " : "", modules);
                }
                if (r != -EINVAL || attempt > 0)
                        return log_error_errno(r, "Cannot turn on DAMON kdamond %d: %m", b->index);

                /* EINVAL: the kernel could not find a target's pid (it exited since the round's target scan), or
                 * rejected the attributes. Drop the dead and try once more. */
                size_t m = 0;
                for (size_t i = 0; i < n_alive; i++) {
                        char proc[32];

                        snprintf(proc, sizeof(proc), "/proc/%d", (int) alive[i]);
                        if (fsroot_access(proc, F_OK) >= 0)
                                alive[m++] = alive[i];
                }
                if (m == n_alive)
                        return log_error_errno(r, "DAMON kdamond %d rejected tierd's configuration: %m (sample %" PRIu64
                                               " us, aggregation %" PRIu64 " us, regions %u..%u)",
                                               b->index, attrs->sample_us, attrs->aggr_us, attrs->min_nr_regions,
                                               attrs->max_nr_regions);
                log_debug("%zu DAMON target(s) exited before the kdamond started, retrying without them",
                          n_alive - m);
                n_alive = m;
                if (n_alive == 0)
                        return adopt_slots(b, NULL, 0);
        }

        r = adopt_slots(b, slots, n_alive);
        if (r < 0)
                return log_oom();
        b->attrs = *attrs;

        r = damon_read_kdamond(b->index, &k);
        if (r < 0 || k.unknown) {
                /* It runs with our configuration; only its pid is unknown for now. The next check learns it (until
                 * then the marker keeps saying "held off": after a crash in between the kdamond is not claimed). */
                if (r < 0)
                        log_warning_errno(r, "Cannot read the pid of DAMON kdamond %d: %m, trying again next round",
                                          b->index);
                b->running = true;
                b->pid = 0;
                return 0;
        }
        b->running = k.running;
        b->pid = k.running ? k.pid : -1;
        if (!k.running)
                /* A vaddr kdamond stops by itself once all its targets are gone. */
                log_debug("DAMON kdamond %d stopped right after starting: its targets exited", b->index);
        else
                log_info("Started DAMON kdamond %d (pid %d) for %zu target(s): sample %" PRIu64 " us, aggregation %"
                         PRIu64 " us (one pass), regions %u..%u", b->index, b->pid, n_alive, attrs->sample_us,
                         attrs->aggr_us, attrs->min_nr_regions, attrs->max_nr_regions);
        marker_update(b);
        return 0;
}

/* How often a round_begin waiting for a commit looks whether the kernel has let go of it. */
#define DAMON_COMMIT_POLL_US (10 * USEC_PER_MSEC)

/* round_begin waits for the commit in flight without holding the event loop: returns 1, and damon_resume()
 * begins the round again after DAMON_COMMIT_POLL_US. */
static int commit_wait_later(struct damon_backend *b) {
        b->commit_waiting = true;
        b->resume_wait_us = DAMON_COMMIT_POLL_US;
        return 1;
}

/* The kdamond runs: write the new input and hand "commit" to a thread of its own, since the kernel holds the
 * writer until the end of the kdamond's aggregation window (commit_settle() takes the result). Returns 0 or a
 * negative errno. */
static int commit_start(struct damon_backend *b, const struct damon_attrs *attrs, const pid_t *slots, size_t n) {
        _cleanup_free_ pid_t *copy = NULL;
        char path[PATH_MAX];
        int r;

        if (b->commit)
                return -EBUSY;
        if (slots_copy(slots, n, &copy) < 0)
                return log_oom();
        r = write_config(b, attrs, slots, n);
        if (r < 0)
                return r;
        r = kd_state_path(b, path, sizeof(path));
        if (r < 0)
                return r;
        r = damon_state_cmd_start(path, "commit", &b->commit);
        if (r < 0)
                return log_error_errno(r, "Cannot start a thread to commit to DAMON kdamond %d: %m", b->index);
        b->commit_attrs = *attrs;
        free(b->commit_slots);
        b->commit_slots = TAKE_PTR(copy);
        b->commit_n = n;
        return 0;
}

/* What follows a commit whose write returned r. Returns 0 when done, 1 when the kdamond turned out to be stopped
 * (start it), or a negative errno. */
static int commit_finish(struct damon_backend *b, int r) {
        struct damon_kdamond_status k;
        uint64_t old_sample_us = b->attrs.sample_us;

        if (r == -EINVAL)
                return 1; /* not running any more */
        if (r < 0)
                /* b->slots still describes what the kernel runs, and the next round tries again. */
                return log_warning_errno(r, "Cannot commit new targets to DAMON kdamond %d: %m", b->index);

        r = damon_read_kdamond(b->index, &k);
        if (r == -ENOENT)
                return lose_kdamond(b, -ENODEV, "its directory vanished");
        if (r < 0)
                return log_error_errno(r, "Cannot read the state of DAMON kdamond %d: %m", b->index);
        if (!k.unknown && !k.running) {
                /* The kernel stops the kdamond when it rejects a commit: a target exited between our write and the
                 * commit, or all of them did. */
                log_debug("DAMON kdamond %d stopped during the commit (a target exited), restarting it", b->index);
                b->running = false;
                b->pid = -1;
                return 1;
        }
        if (!k.unknown && !pid_is_ours(b, &k))
                return lose_kdamond(b, -EBUSY, "it runs with a pid tierd did not start");

        r = adopt_slots(b, b->commit_slots, b->commit_n);
        if (r < 0)
                return log_oom();
        b->attrs = b->commit_attrs;
        log_debug("Committed %zu target(s) to DAMON kdamond %d", b->commit_n, b->index);
        if (b->attrs.sample_us != old_sample_us)
                log_debug("DAMON kdamond %d samples every %" PRIu64 " us", b->index, b->attrs.sample_us);
        return 0;
}

/* The commit in flight, if any. Returns 2 while the kernel still holds it (unless wait), else 0 when it is done or
 * there was none, 1 when the kdamond turned out to be stopped (start it), or a negative errno. */
static int commit_settle(struct damon_backend *b, bool wait) {
        int r;

        if (!b->commit)
                return 0;
        r = wait ? damon_state_cmd_wait(b->commit) : damon_state_cmd_poll(b->commit);
        if (r > 0)
                return 2;
        b->commit = damon_state_cmd_free(b->commit);
        if (!b->owned)
                return 0; /* let go of meanwhile: what it committed is no longer tierd's business */
        return commit_finish(b, r);
}

/* Checks that the kdamond is still ours and notes whether it still runs. */
static int verify_kdamond(struct damon_backend *b) {
        struct damon_kdamond_status k = {};
        const char *why = NULL;
        int r;

        r = still_ours(b, /* check_context= */ true, &k, &why);
        if (r < 0)
                return log_error_errno(r, "Cannot read the state of DAMON kdamond %d: %m", b->index);
        if (r == 0)
                return lose_kdamond(b, -EBUSY, why);
        if (!k.unknown && !k.running && b->running) {
                log_info("DAMON kdamond %d (pid %d) has stopped (its targets exited, or someone turned it off); "
                         "starting it again", b->index, b->pid);
                b->running = false;
                b->pid = -1;
                marker_update(b);
        }
        return 0;
}

static int round_without_targets(struct damon_backend *b) {
        int r;

        /* Nothing to monitor: a vaddr kdamond without targets would stop by itself anyway. */
        if (b->running) {
                r = turn_off(b);
                if (r < 0)
                        return r;
                log_debug("No targets: turned DAMON kdamond %d off", b->index);
                marker_update(b);
        }
        return adopt_slots(b, NULL, 0);
}

/* The region bound under the CPU budget's region scale: the regions the kdamond had unscaled, divided by the
 * scale, never below the lower bound. */
static unsigned scaled_max_regions(const struct damon_backend *b, unsigned region_scale) {
        uint64_t had;

        if (region_scale <= 1)
                return b->max_nr_regions;
        had = b->regions_unscaled > 0 ? MIN(b->regions_unscaled, (uint64_t) b->max_nr_regions) : b->max_nr_regions;
        return MAX((unsigned) (had / region_scale), b->min_nr_regions);
}

/* A pass was recorded: under the unscaled bound its region count is what a region scale divides. */
static void note_pass_regions(struct damon_backend *b) {
        if (b->pass_regions > 0 && b->attrs.max_nr_regions >= b->max_nr_regions)
                b->regions_unscaled = b->pass_regions;
}

static int damon_round_begin(void *state, const struct scan_context *ctx) {
        struct damon_backend *b = state;
        _cleanup_free_ pid_t *want = NULL, *slots = NULL;
        struct damon_attrs attrs;
        size_t n = ctx->targets ? ctx->targets->n_targets : 0, n_want = 0;
        int r;

        /* Nothing is written to the kdamond while the kernel holds a commit, and the round needs its outcome. */
        r = commit_settle(b, /* wait= */ false);
        if (r == 2)
                return commit_wait_later(b);
        b->commit_waiting = false;
        if (r < 0)
                return r;

        if (!b->owned) {
                r = acquire_kdamond(b);
                if (r < 0)
                        return r;
        }
        r = verify_kdamond(b);
        if (r < 0)
                return r;

        b->pass_interval_us = ctx->pass_interval_us;
        damon_attrs_for_pass(ctx->pass_interval_us, b->sample_us * MAX(ctx->sample_scale, 1U), b->min_nr_regions,
                             scaled_max_regions(b, ctx->region_scale), &attrs);

        if (n == 0)
                return round_without_targets(b);

        want = malloc(n * sizeof(pid_t));
        slots = malloc(n * sizeof(pid_t));
        if (!want || !slots)
                return log_oom();
        /* Only processes with memory the heat store tracks. This also leaves out zombies (no mappings): vaddr
         * gives a target without an mm no regions, and a scheme that never sees a region holds up every
         * tried-regions update until its two-apply-interval timeout. */
        for (size_t i = 0; i < n; i++) {
                const struct target *t = &ctx->targets->targets[i];

                for (size_t j = 0; j < t->n_vmas; j++)
                        if (heat_vma_trackable(&t->vmas[j])) {
                                want[n_want++] = t->pid;
                                break;
                        }
        }
        n = n_want;
        if (n == 0)
                return round_without_targets(b);

        if (b->running) {
                r = damon_slots_assign(b->slots, b->n_slots, want, n, slots);
                if (r < 0)
                        return log_error_errno(r, "Cannot lay out DAMON targets: %m");
                if (n == b->n_slots && memcmp(slots, b->slots, n * sizeof(pid_t)) == 0 &&
                    damon_attrs_equal(&attrs, &b->attrs))
                        return 0;
                r = commit_start(b, &attrs, slots, n);
                if (r < 0)
                        return r;
                return commit_wait_later(b);
        }
        return start_kdamond(b, &attrs, want, n);
}

/* ---- the tracepoint path ---- */

static int record_region(struct damon_backend *b, pid_t pid, const struct damon_region *reg,
                         const struct scan_context *ctx, bool *pid_tracked);

/* How late after its window's end a window's records may still come in: the kdamond is a kernel thread that can
 * be scheduled late, and the records of thousands of regions take a moment to go through the ring buffer. */
#define DAMON_TRACEPOINT_SLACK_NS (100 * UINT64_C(1000000))

static uint64_t now_ns(void) {
        struct timespec ts;

        /* The same clock as bpf_ktime_get_ns(), which stamps the records. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static int on_record(const struct bpf_damon_region *rec, void *userdata) {
        struct damon_backend *b = userdata;
        uint64_t gap_ns = b->attrs.aggr_us * 1000 / 4;

        /* The windows' real length, from the gaps between their records (also those thrown away): see
         * tracepoint_pass() for why the nominal one is not enough. */
        if (b->last_record_ns == 0 || rec->ktime_ns > b->last_record_ns + gap_ns) {
                if (b->window_start_ns > 0 && rec->ktime_ns > b->window_start_ns)
                        b->window_ns = rec->ktime_ns - b->window_start_ns;
                b->window_start_ns = rec->ktime_ns;
        }
        b->last_record_ns = rec->ktime_ns;

        if (b->bursts_discard)
                return 0;
        return damon_bursts_add(&b->bursts, rec->ktime_ns, rec->target_id, rec->nr_regions, &rec->region) < 0 ?
                -ENOMEM : 0;
}

/* Points the program at the kdamond's current thread (none while it does not run or its pid is unknown). */
static void listen_to_kdamond(struct damon_backend *b) {
        pid_t want = b->owned && b->running && b->pid > 0 ? b->pid : 0;
        int r;

        if (!b->bpf || want == b->bpf_pid)
                return;
        r = bpf_damon_set_kdamond(b->bpf, want);
        if (r < 0) {
                log_repeat_errno(LOG_WARNING, "damon-bpf-pid", r, "Cannot point the damon_aggregated program at "
                                 "kdamond pid %d: %m; tried regions serve the passes meanwhile", (int) want);
                return;
        }
        b->bpf_pid = want;
}

static void open_tracepoint(struct damon_backend *b, const struct scan_options *opts) {
        _cleanup_free_ char *reason = NULL;
        int r;

        if (opts->damon_results == DAMON_RESULTS_TRIED_REGIONS) {
                b->bpf_reason = strdup("[scan] damon_results = tried_regions");
                return;
        }
        b->tracepoint_wanted = opts->damon_results == DAMON_RESULTS_TRACEPOINT;
        if (!opts->bpf) {
                b->bpf_reason = strdup("BPF disabled by the configuration ([scan] bpf = no): DAMON results are read "
                                       "through tried regions");
                if (b->tracepoint_wanted)
                        log_warning("[scan] damon_results = tracepoint, but [scan] bpf = no: reading DAMON results "
                                    "through tried regions");
                return;
        }

        r = bpf_damon_new(on_record, b, &b->bpf, &reason);
        if (r < 0) {
                /* bpf_damon_new() logged the cause; an explicit request deserves a word on what happens instead. */
                if (asprintf(&b->bpf_reason, "%s: DAMON results are read through tried regions",
                             reason ?: strerror(-r)) < 0)
                        b->bpf_reason = NULL;
                if (b->tracepoint_wanted)
                        log_warning_errno(r, "[scan] damon_results = tracepoint, but the damon_aggregated program "
                                          "cannot run here (%s): reading DAMON results through tried regions",
                                          strna(reason));
                return;
        }
        log_info("DAMON results through damon:damon_aggregated (%s), tried regions when a window is incomplete",
                 bpf_damon_attach_mode(b->bpf));
}

/* Consumes waiting records; outside a pass they are thrown away. */
static int consume_records(struct damon_backend *b, bool discard) {
        int r;

        b->bursts_discard = discard;
        r = bpf_damon_consume(b->bpf);
        b->bursts_discard = false;
        if (r < 0)
                return log_repeat_errno(LOG_WARNING, "damon-bpf-consume", r,
                                        "Cannot read damon_aggregated records: %m; tried regions serve the passes");
        return 0;
}

static int damon_pass_begin(void *state, _unused_ const struct scan_context *ctx) {
        struct damon_backend *b = state;
        int r;

        /* DAMON samples all the time; a pass is the aggregation window pass_end() waits for. */
        if (!b->bpf)
                return 0;

        listen_to_kdamond(b);
        /* Windows that ended before this pass are not its data, and left in the ring buffer they would fill it
         * between rounds and make the kernel drop this pass's records. */
        (void) consume_records(b, /* discard= */ true);
        /* A quarter window apart: one window's records come within microseconds of each other. */
        r = damon_bursts_reset(&b->bursts, b->n_slots, b->attrs.aggr_us * 1000 / 4);
        if (r < 0)
                return log_oom();
        b->bursts_gen = b->slots_gen;
        b->dropped_at_begin = bpf_damon_dropped(b->bpf);
        b->pass_begin_ns = now_ns();
        return 0;
}

/* How often a pass that waits for its window's records looks for them: a window's records come within
 * microseconds of each other, so this is how late after its window a pass may end. */
#define DAMON_TRACEPOINT_POLL_US (10 * USEC_PER_MSEC)

/* Sets the wait for the first whole window that ended after pass_begin. Normally a window ended during the pass
 * (windows are a little longer than passes, see damon_attrs_for_pass()). But the kernel counts a window in
 * samples, not in time: a kdamond whose samples run late (a loaded machine, an emulated one) has longer windows.
 * So wait, as tried regions would, for the next window to end, up to one window from now, as long as the last one
 * actually took and a quarter more (windows vary with the load), or four nominal ones before one was measured;
 * never longer, since a measurement across lost records can span several. Beyond that the records are not
 * coming. Returns 0 when no whole window can come this pass (the caller falls back to tried regions), 1 to wait
 * (tracepoint_poll()). */
static int tracepoint_wait(struct damon_backend *b, const struct scan_context *ctx) {
        uint64_t aggr_ns = b->attrs.aggr_us * 1000;
        uint64_t wait_ns = b->window_ns > 0 ? b->window_ns + b->window_ns / 4 : 4 * aggr_ns;

        listen_to_kdamond(b);
        if (b->bpf_pid <= 0 || b->bursts_gen != b->slots_gen || b->bursts.n_targets != b->n_slots) {
                log_debug("DAMON pass %u: the kdamond's layout changed or its pid is unknown, no whole window",
                          ctx->pass);
                return 0;
        }
        b->tracepoint_deadline_ns = now_ns() + MIN(MAX(wait_ns, aggr_ns), 4 * aggr_ns) + DAMON_TRACEPOINT_SLACK_NS;
        return 1;
}

/* Looks for the window tracepoint_wait() set out to wait for, and records it. Returns 1 when recorded, 2 while it
 * has not come (look again after b->resume_wait_us: the loop is not held meanwhile), 0 when it will not come this
 * pass (records lost or the deadline passed: the caller falls back to tried regions), or a negative errno from the
 * heat store. */
static int tracepoint_poll(struct damon_backend *b, const struct scan_context *ctx) {
        const struct damon_burst *u;
        uint64_t now;
        int r;

        if (consume_records(b, /* discard= */ false) < 0)
                return 0;
        if (bpf_damon_dropped(b->bpf) != b->dropped_at_begin) {
                log_debug("DAMON pass %u: %" PRIu64 " damon_aggregated record(s) dropped (ring buffer full), this "
                          "pass's window may be partial",
                          ctx->pass, bpf_damon_dropped(b->bpf) - b->dropped_at_begin);
                return 0;
        }
        u = damon_bursts_take(&b->bursts, b->pass_begin_ns);
        if (!u) {
                now = now_ns();
                if (now >= b->tracepoint_deadline_ns) {
                        log_debug("DAMON pass %u: no whole aggregation window through the tracepoint (last window "
                                  "%" PRIu64 " ms long)", ctx->pass, b->window_ns / 1000000);
                        return 0;
                }
                b->resume_wait_us = MIN((b->tracepoint_deadline_ns - now) / 1000 + 1, DAMON_TRACEPOINT_POLL_US);
                return 2;
        }

        b->pass_regions = b->pass_accessed_regions = b->pass_accessed_bytes = 0;
        for (size_t i = 0; i < b->n_slots; i++) {
                bool pid_tracked = true;

                for (size_t j = 0; j < u->targets[i].n_regions; j++) {
                        r = record_region(b, b->slots[i], &u->targets[i].regions[j], ctx, &pid_tracked);
                        if (r < 0)
                                return r;
                }
        }
        log_debug("DAMON pass %u (tracepoint): %" PRIu64 " regions, %" PRIu64 " accessed (%" PRIu64 " bytes)",
                  ctx->pass, b->pass_regions, b->pass_accessed_regions, b->pass_accessed_bytes);
        note_pass_regions(b);
        b->passes_tracepoint++;
        b->last_path = "tracepoint";
        return 1;
}

static void damon_results_status(void *state, struct scan_damon_results *ret) {
        const struct damon_backend *b = state;

        *ret = (struct scan_damon_results) {
                .tracepoint = b->bpf,
                .attach_mode = b->bpf ? bpf_damon_attach_mode(b->bpf) : NULL,
                .reason = b->bpf ? NULL : b->bpf_reason,
                .last_path = b->last_path,
                .passes_tracepoint = b->passes_tracepoint,
                .passes_tried_regions = b->passes_tried_regions,
                .fallbacks = b->fallbacks,
                .dropped = b->bpf ? bpf_damon_dropped(b->bpf) : 0,
                .incomplete = b->bursts.incomplete,
        };
}

/* Reads a small sysfs attribute in one read(2) (they are generated whole on the first read). */
static int read_small(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = -1;
        ssize_t n;

        fd = fsroot_open(path, O_RDONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return 0;
}

/* dir/name/file (name may be NULL), read with read_small(). */
static int read_region_file(const char *dir, const char *name, const char *file, char *buf, size_t size) {
        char path[PATH_MAX];
        int n;

        if (name)
                n = snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
        else
                n = snprintf(path, sizeof(path), "%s/%s", dir, file);
        if (n < 0 || (size_t) n >= sizeof(path))
                return -ENAMETOOLONG;
        return read_small(path, buf, size);
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s))
                        return false;
        return true;
}

/* Counts one region of pid's and records it when accessed. Both paths go through here, so they give the heat
 * store the same counts for the same window. *pid_tracked goes false once the engine has dropped pid. */
static int record_region(struct damon_backend *b, pid_t pid, const struct damon_region *reg,
                         const struct scan_context *ctx, bool *pid_tracked) {
        int r;

        b->pass_regions++;
        if (!*pid_tracked)
                return 0;
        /* Every page of a region gets the region's result, accessed or not: the ledger must count the region
         * once. Without memory for it, units count as their own (the ledger is then less careful). */
        if (grain_map_add(ctx->grains, pid, reg->start) < 0)
                log_repeat_errno(LOG_WARNING, "damon-grains", -ENOMEM,
                                 "Cannot note DAMON region %" PRIx64 "-%" PRIx64 " of pid %d: %m, ignoring",
                                 reg->start, reg->end, (int) pid);
        if (!damon_region_accessed(reg))
                return 0;
        b->pass_accessed_regions++;
        b->pass_accessed_bytes += reg->end - reg->start;
        r = heat_store_record_accessed(ctx->heat, pid, reg->start, reg->end - reg->start);
        if (r == -ENOENT) {
                *pid_tracked = false; /* the engine dropped it (exited): count the rest, record nothing */
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Cannot record DAMON region %" PRIx64 "-%" PRIx64 " of pid %d: %m",
                                       reg->start, reg->end, (int) pid);
        return 0;
}

/* Records scheme i's tried regions (target i's regions) into the heat store for pid. */
static int record_scheme(struct damon_backend *b, size_t i, pid_t pid, const struct scan_context *ctx) {
        _cleanup_closedir_ DIR *d = NULL;
        char dir[PATH_MAX];
        uint64_t bytes = 0;
        bool pid_tracked = true;
        struct dirent *de;
        int r;

        r = snprintf(dir, sizeof(dir), "%s/contexts/0/schemes/%zu/tried_regions", b->kd, i);
        if (r < 0 || (size_t) r >= sizeof(dir))
                return -ENAMETOOLONG;
        d = fsroot_opendir(dir);
        if (!d) {
                r = negative_errno();
                if (r == -ENOENT)
                        /* Someone rewrote nr_schemes of our kdamond: the next round's commit restores it. */
                        return log_repeat_errno(LOG_WARNING, "damon-tried-regions", r,
                                                "%s is missing: no DAMON data for pid %d this pass", dir, (int) pid);
                return log_error_errno(r, "Cannot open %s: %m", dir);
        }

        /* Directory names are one counter over all schemes of the update, not 0.. per scheme: take what is there. */
        while ((errno = 0, de = readdir(d))) {
                char start[32], end[32], nr[32], age[32];
                struct damon_region reg;

                if (!all_digits(de->d_name))
                        continue;
                r = read_region_file(dir, de->d_name, "start", start, sizeof(start));
                if (r >= 0)
                        r = read_region_file(dir, de->d_name, "end", end, sizeof(end));
                if (r >= 0)
                        r = read_region_file(dir, de->d_name, "nr_accesses", nr, sizeof(nr));
                if (r >= 0)
                        r = read_region_file(dir, de->d_name, "age", age, sizeof(age));
                if (r >= 0)
                        r = damon_region_parse(start, end, nr, age, &reg);
                if (r < 0) {
                        log_repeat_errno(LOG_WARNING, "damon-region", r, "Cannot read DAMON region %s/%s: %m, ignoring",
                                         dir, de->d_name);
                        continue;
                }

                bytes += reg.end - reg.start;
                r = record_region(b, pid, &reg, ctx, &pid_tracked);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return log_error_errno(errno, "Cannot read %s: %m", dir);

        /* total_bytes (6.6+) is what the kernel added up while filling the list; a mismatch means regions were
         * lost (allocation failures in the kernel) or the list changed under us. Informational only. */
        {
                char tb[32];
                uint64_t total;

                if (read_region_file(dir, NULL, "total_bytes", tb, sizeof(tb)) >= 0 &&
                    sscanf(tb, "%" SCNu64, &total) == 1 && total != bytes)
                        log_debug("DAMON scheme %zu (pid %d): regions cover %" PRIu64 " bytes, total_bytes says %"
                                  PRIu64, i, (int) pid, bytes, total);
        }
        return 0;
}

static int damon_pass_snapshot(struct damon_backend *b, const char *path, const struct scan_context *ctx);

static int damon_pass_tried_regions(struct damon_backend *b, const struct scan_context *ctx);

/* A pass through the tracepoint: looks for the window now and, while it has not come, again after
 * resume_wait_us (damon_resume()). Returns 1 while waiting, 0 when the pass is done (recorded, or through tried
 * regions when the window will not come), or a negative errno. */
static int tracepoint_pass_step(struct damon_backend *b, const struct scan_context *ctx) {
        int r = tracepoint_poll(b, ctx);

        b->tracepoint_waiting = r == 2;
        if (r == 2)
                return 1;
        if (r != 0)
                return r < 0 ? r : 0;
        b->fallbacks++;
        return damon_pass_tried_regions(b, ctx);
}

static int damon_pass_end(void *state, const struct scan_context *ctx) {
        struct damon_backend *b = state;
        int r;

        b->tracepoint_waiting = false;
        if (!b->owned || !b->running || b->n_slots == 0)
                return 0;
        /* round_begin waited for any commit, and the engine asks for no new one within a round: this wait is only a
         * guard, since the tried-regions path below writes the state file. */
        r = commit_settle(b, /* wait= */ true);
        if (r != 0)
                return MIN(r, 0); /* stopped during the commit: the next round starts it */

        if (b->bpf) {
                if (tracepoint_wait(b, ctx) > 0)
                        return tracepoint_pass_step(b, ctx);
                b->fallbacks++;
        }
        return damon_pass_tried_regions(b, ctx);
}

static int damon_resume(void *state, const struct scan_context *ctx) {
        struct damon_backend *b = state;

        if (b->commit_waiting)
                return damon_round_begin(state, ctx);
        if (!b->tracepoint_waiting)
                return -EINVAL;
        return tracepoint_pass_step(b, ctx);
}

static uint64_t damon_resume_wait_us(void *state) {
        const struct damon_backend *b = state;

        return b->tracepoint_waiting || b->commit_waiting ? b->resume_wait_us : 0;
}

/* The pass's window through tried regions (the path when the tracepoint is not there or its window will not
 * come). Returns 0 or a negative errno. */
static int damon_pass_tried_regions(struct damon_backend *b, const struct scan_context *ctx) {
        char path[PATH_MAX];
        int r;

        r = kd_state_path(b, path, sizeof(path));
        if (r < 0)
                return r;

        /* Right after a commit (targets or intervals changed) DAMON rebuilds its regions, and the first
         * snapshot can hold none at all. Recording it would make this a pass in which every page looked idle,
         * breaking every hot streak; waiting for one more window gives the pass real data. */
        for (unsigned attempt = 0;; attempt++) {
                r = damon_pass_snapshot(b, path, ctx);
                if (r != 0 || b->pass_regions > 0 || attempt > 0) {
                        if (r == 0) {
                                b->passes_tried_regions++;
                                b->last_path = "tried_regions";
                        }
                        return r < 0 ? r : 0;
                }
                log_debug("DAMON kdamond %d reported no regions yet (just committed): waiting one more window",
                          b->index);
        }
}

/* One update_schemes_tried_regions and the recording of its regions. Returns 0, 1 when there is no data this
 * pass (kdamond stopped), or a negative errno. */
static int damon_pass_snapshot(struct damon_backend *b, const char *path, const struct scan_context *ctx) {
        struct damon_kdamond_status k;
        int r;

        /* Blocks until the kdamond's next apply pass, at the end of its current aggregation window (see
         * damon_attrs_for_pass(): normally well under the margin, up to a window after a pause). */
        r = damon_write_retry(path, "update_schemes_tried_regions");
        if (r == -EINVAL) {
                /* The kernel says the kdamond does not run: it stopped (targets exited). */
                log_debug("DAMON kdamond %d is not running: no data this pass", b->index);
                b->running = false;
                b->pid = -1;
                marker_update(b);
                return 1;
        }
        if (r == -ENOENT)
                return lose_kdamond(b, -ENODEV, "its directory vanished");
        if (r < 0)
                return log_repeat_errno(LOG_WARNING, "damon-update-regions", r,
                                        "Cannot get DAMON's regions from kdamond %d: %m (DAMON's sysfs stays busy "
                                        "while another kdamond's user reads its regions); no data this pass",
                                        b->index);

        r = damon_read_kdamond(b->index, &k);
        if (r == -ENOENT)
                return lose_kdamond(b, -ENODEV, "its directory vanished");
        if (r >= 0 && !k.unknown) {
                if (!k.running) {
                        /* It stopped while we waited: what the list holds may be partial. */
                        log_debug("DAMON kdamond %d stopped during the pass: no data this pass", b->index);
                        b->running = false;
                        b->pid = -1;
                        marker_update(b);
                        return 1;
                }
                if (!pid_is_ours(b, &k))
                        return lose_kdamond(b, -EBUSY, "it runs with a pid tierd did not start");
        }

        b->pass_regions = b->pass_accessed_regions = b->pass_accessed_bytes = 0;
        for (size_t i = 0; i < b->n_slots; i++) {
                r = record_scheme(b, i, b->slots[i], ctx);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
        }
        log_debug("DAMON pass %u: %" PRIu64 " regions, %" PRIu64 " accessed (%" PRIu64 " bytes)", ctx->pass,
                  b->pass_regions, b->pass_accessed_regions, b->pass_accessed_bytes);
        note_pass_regions(b);
        return 0;
}

static int damon_round_end(void *state, _unused_ const struct scan_context *ctx) {
        struct damon_backend *b = state;

        /* A round cut short while its pass waited for records, or while it waited for a commit (the next round_begin
         * takes that one's result). */
        b->tracepoint_waiting = false;
        b->commit_waiting = false;
        return 0;
}

static pid_t damon_kernel_thread(void *state) {
        const struct damon_backend *b = state;

        return b->running && b->pid > 0 ? b->pid : 0;
}

static int damon_set_sample_scale(void *state, unsigned sample_scale, unsigned region_scale) {
        struct damon_backend *b = state;
        struct damon_attrs attrs;
        int r;

        /* The next round_begin lays the attributes out with the scale anyway: this only gives the kernel the
         * round's gap to take them. A commit in flight is left to finish first. */
        if (!b->running || b->n_slots == 0 || b->pass_interval_us == 0 || b->commit)
                return 0;
        damon_attrs_for_pass(b->pass_interval_us, b->sample_us * MAX(sample_scale, 1U), b->min_nr_regions,
                             scaled_max_regions(b, region_scale), &attrs);
        if (damon_attrs_equal(&attrs, &b->attrs))
                return 0;
        /* Its outcome (also a kdamond that stopped meanwhile) is the next round_begin's. */
        r = commit_start(b, &attrs, b->slots, b->n_slots);
        if (r < 0)
                return r;
        return 0;
}

static int damon_probe(const struct scan_options *opts, char **ret_reason) {
        struct damon_ownership_input in;
        struct damon_ownership own;
        _cleanup_free_ char *osrelease = NULL;
        char *reason = NULL;
        unsigned major, minor;
        int r;

        *ret_reason = NULL;

        r = damon_ownership_gather(opts->runtime_dir, opts->damon_kdamond, &in);
        if (r == -ENOENT) {
                *ret_reason = strdup(DAMON_ADMIN_PATH " missing (kernel built without CONFIG_DAMON_SYSFS, or "
                                     "sysfs not mounted)");
                return *ret_reason ? 0 : -ENOMEM;
        }
        if (r == -EACCES || r == -EPERM) {
                *ret_reason = strdup("cannot read " DAMON_NR_KDAMONDS_PATH ": permission denied (DAMON needs root)");
                return *ret_reason ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;

        /* The kernel's version is the only way to learn without changing anything whether schemes have
         * tried_regions and target filters (their directories appear only inside a scheme). */
        if (fsroot_read_line("/proc/sys/kernel/osrelease", &osrelease) >= 0 &&
            damon_kernel_version_parse(osrelease, &major, &minor) >= 0 &&
            (major < DAMON_KERNEL_MIN_MAJOR || (major == DAMON_KERNEL_MIN_MAJOR && minor < DAMON_KERNEL_MIN_MINOR))) {
                if (asprintf(&reason, "Linux %u.%u: DAMON's sysfs lacks per-target scheme filters and tried regions "
                             "(Linux %u.%u or later needed)", major, minor, DAMON_KERNEL_MIN_MAJOR,
                             DAMON_KERNEL_MIN_MINOR) < 0)
                        return -ENOMEM;
                *ret_reason = reason;
                return 0;
        }

        r = damon_ownership_decide(&in, &own);
        if (r < 0)
                return r;
        if (own.action == DAMON_OWN_REFUSE) {
                *ret_reason = strdup(own.reason);
                return *ret_reason ? 0 : -ENOMEM;
        }

        /* avail_operations lives in a context directory: check it where one exists already. When tierd creates
         * the kdamond, open() checks it right after creating the context. */
        if (own.action != DAMON_OWN_CREATE) {
                _cleanup_free_ char *avail = NULL;
                char path[PATH_MAX];
                unsigned mask;

                if (damon_kdamond_path(own.index, "contexts/0/avail_operations", path, sizeof(path)) >= 0 &&
                    fsroot_read_file(path, 4096, &avail, NULL) >= 0 &&
                    damon_avail_operations_parse(avail, &mask) >= 0 && !(mask & DAMON_OPS_VADDR)) {
                        *ret_reason = strdup("DAMON has no vaddr operations (kernel built without CONFIG_DAMON_VADDR)");
                        return *ret_reason ? 0 : -ENOMEM;
                }
        }
        return 1;
}

static int damon_open(const struct scan_options *opts, void **ret_state) {
        struct damon_backend *b;
        int r;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->index = -1;
        b->pid = -1;
        b->configured = opts->damon_kdamond;
        b->sample_us = opts->damon_sample_interval_us;
        b->min_nr_regions = opts->damon_min_regions;
        b->max_nr_regions = opts->damon_max_regions;
        if (opts->runtime_dir) {
                b->runtime_dir = strdup(opts->runtime_dir);
                if (!b->runtime_dir) {
                        free(b);
                        return -ENOMEM;
                }
        }

        r = acquire_kdamond(b);
        if (r < 0) {
                free(b->runtime_dir);
                free(b);
                return r;
        }
        open_tracepoint(b, opts);
        *ret_state = b;
        return 0;
}

static void damon_close(void *state) {
        struct damon_backend *b = state;

        if (!b)
                return;
        /* Its outcome no longer matters, but the kdamond is not touched while the kernel holds it. */
        b->commit = damon_state_cmd_free(b->commit);
        free(b->commit_slots);
        release_kdamond(b, /* check_context= */ true);
        bpf_damon_free(b->bpf);
        damon_bursts_done(&b->bursts);
        free(b->bpf_reason);
        free(b->slots);
        free(b->runtime_dir);
        free(b);
}

const struct scan_backend_ops scan_backend_damon = {
        .name = "damon",
        .probe = damon_probe,
        .open = damon_open,
        .round_begin = damon_round_begin,
        .pass_begin = damon_pass_begin,
        .pass_end = damon_pass_end,
        .resume = damon_resume,
        .resume_wait_us = damon_resume_wait_us,
        .round_end = damon_round_end,
        .close = damon_close,
        .kernel_thread = damon_kernel_thread,
        .set_sample_scale = damon_set_sample_scale,
        .damon_results = damon_results_status,
};
