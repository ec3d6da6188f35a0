/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* DAMON's sysfs interface (/sys/kernel/mm/damon/admin) as Linux 6.12 implements it (mm/damon/sysfs.c,
 * sysfs-schemes.c, core.c): pure parsers and decisions (buffers in, values out; unit-testable without a kernel)
 * and thin I/O helpers around them. The backend that uses them is scan-damon.c.
 *
 * What the kernel does, and what tierd therefore must do
 * ======================================================
 *
 * kdamonds/nr_kdamonds  Writing it destroys every kdamonds/N directory, other users' staged configuration
 *                       included, and fails with EBUSY while any kdamond runs. There is no "append". tierd
 *                       writes it only when it reads 0; otherwise it needs an index from [scan] damon_kdamond.
 * kdamonds/N/state      "on"/"off" when read. Commands: on, off, commit, update_schemes_tried_regions, ...
 *                       Writes of state and of the nr_* files, and reads of state and pid, take
 *                       damon_sysfs_lock with mutex_trylock(): EBUSY whenever another writer, or a kdamond in
 *                       the middle of a tried-regions update (it holds the lock for up to two apply
 *                       intervals), has it.
 *                       Hence the bounded back-off of damon_write_retry()/damon_read_line_retry().
 *                       "on" also fails with EBUSY while an exclusive DAMON module (DAMON_RECLAIM,
 *                       DAMON_LRU_SORT, and DAMON_STAT since 6.17) runs: damon_start(exclusive) marks the
 *                       whole of DAMON busy.
 *                       "commit" and "update_schemes_tried_regions" are handed to the kdamond thread: the
 *                       writer sleeps in steps of 100 ms until a kdamond callback has handled it. commit is
 *                       handled only after an aggregation; tried regions are filled by the next scheme apply
 *                       pass. The error of a failed commit is not returned to the writer: the kdamond
 *                       terminates instead (after_aggregation() returning non-zero stops it).
 * kdamonds/N/pid        the kdamond thread's pid while it runs, -1 otherwise. A vaddr kdamond stops by itself
 *                       once none of its targets' processes exists (kdamond_need_stop()).
 * contexts/nr_contexts  0 or 1 (6.12 supports one context per kdamond). Writing it rebuilds the context
 *                       directory with defaults: tierd writes 1 on a kdamond it has just acquired, which gives
 *                       it a clean context whatever was staged there.
 * contexts/0/avail_operations   the registered operation sets, one a line ("vaddr", "fvaddr", "paddr").
 * targets/nr_targets    may be written while the kdamond runs (it only rebuilds sysfs directories); the
 *                       running context changes on "commit", which matches targets by index: target i of the
 *                       new input replaces target i of the running context, keeping its regions when the input
 *                       has none (vaddr re-fits them to the new process at the next ops update).
 * schemes/S/tried_regions/K/{start,end,nr_accesses,age}, tried_regions/total_bytes
 *                       K is one counter over all schemes of the update (not 0.. per scheme): read the
 *                       directory, never assume 0..n-1. Regions carry no target: the kernel walks
 *                       (target, region, scheme) and adds a region to the scheme's list, so the regions of all
 *                       targets of a context end up in one list, and addresses of different processes overlap.
 *                       tierd therefore runs one "stat" scheme per target with a "target" filter
 *                       (damon_target_idx = i, matching = N: regions of every other target are filtered out
 *                       before before_damos_apply() sees them): scheme i lists exactly target i's regions.
 *                       "target" filters exist since Linux 6.6, tried_regions since 6.2.
 * access_pattern/{sz,nr_accesses,age}/{min,max}  default 0/0, which matches nothing: set every max.
 * nr_accesses of a tried region is nr_accesses_bp / 10000; at the aggregation boundary where an apply pass with
 * apply_interval_us = aggr_us runs it is the number of samples (0..aggr_us / sample_us) of the window that just
 * ended that found the region accessed. */

#define DAMON_ADMIN_PATH "/sys/kernel/mm/damon/admin"
#define DAMON_NR_KDAMONDS_PATH DAMON_ADMIN_PATH "/kdamonds/nr_kdamonds"
/* The marker file in the runtime directory: which kdamond tierd holds (see struct damon_marker). */
#define DAMON_MARKER_NAME "damon-kdamond"

/* Pure parsers. All return 0, -EINVAL for NULL arguments, or -EBADMSG for malformed content. Kernel values end
 * in "\n"; trailing whitespace is accepted. */

/* One tried region, from the contents of its four files. start < end is required. */
struct damon_region {
        uint64_t start, end; /* [start, end) */
        unsigned nr_accesses; /* samples of the aggregation window that found the region accessed */
        unsigned age;         /* aggregation windows its access frequency has stayed similar */
};
int damon_region_parse(const char *start, const char *end, const char *nr_accesses, const char *age,
                       struct damon_region *ret);

/* Operation sets named in avail_operations; unknown names are ignored (newer kernels may add some). */
enum {
        DAMON_OPS_VADDR = 1U << 0,
        DAMON_OPS_FVADDR = 1U << 1,
        DAMON_OPS_PADDR = 1U << 2,
};
int damon_avail_operations_parse(const char *buf, unsigned *ret_mask);

/* kdamonds/N/state: "on" or "off". */
int damon_state_parse(const char *buf, bool *ret_on);
/* A decimal int such as nr_kdamonds or pid ("-1" allowed). */
int damon_int_parse(const char *buf, int *ret);
/* /proc/sys/kernel/osrelease ("6.12.38+deb12-amd64") -> 6, 12. */
int damon_kernel_version_parse(const char *osrelease, unsigned *ret_major, unsigned *ret_minor);
/* The oldest kernel whose sysfs has everything the backend uses (tried_regions 6.2, "target" filters 6.6). */
#define DAMON_KERNEL_MIN_MAJOR 6U
#define DAMON_KERNEL_MIN_MINOR 6U

/* The marker: tierd holds kdamond `index`. pid is the kdamond thread's pid while tierd has it running, -1 while
 * tierd holds it turned off (acquired but not started yet, or no targets). created: tierd wrote nr_kdamonds to
 * create it, so tidying may write nr_kdamonds back to 0. token: random, new for every open(): a backend that
 * finds someone else's token in the marker (a newer instance took the kdamond over, e.g. across a reload) leaves
 * the kdamond alone when it closes.
 *
 * File format, one key=value a line (unknown keys are ignored, "#" starts a comment):
 *     kdamond=0
 *     pid=1234
 *     created=1
 *     token=0123456789abcdef */
struct damon_marker {
        int index;
        int pid;
        bool created;
        uint64_t token;
};
int damon_marker_parse(const char *buf, struct damon_marker *ret);
/* Returns the length written, -ENOBUFS if size is too small. */
int damon_marker_format(const struct damon_marker *m, char *buf, size_t size);

/* What is known about one kdamond: its state and pid files. unknown: they could not be read (EBUSY). */
struct damon_kdamond_status {
        bool running;
        int pid;
        bool unknown;
};

/* Ownership: which kdamond tierd may use, decided from nr_kdamonds, the marker, the configured index and the
 * states of the kdamonds they name. The rules:
 *   1. The marker's kdamond is tierd's if it runs with the marker's pid, or if it is off and the marker says
 *      tierd held it off (pid -1). A marker whose pid does not match is stale (the kdamond tierd ran has
 *      stopped since, and its directory may have been reused): never ours, and the marker is removed.
 *   2. Ours and no other index configured: REUSE it (turned off first when running: the previous tierd died).
 *   3. nr_kdamonds == 0: CREATE kdamond 0 (nothing can be destroyed by writing 1).
 *   4. A configured index that exists and is off: CONFIGURED (the admin gave it to tierd). Running and not
 *      ours: REFUSE. Out of range: REFUSE.
 *   5. Otherwise REFUSE: kdamonds exist and writing nr_kdamonds would destroy them.
 * A kdamond of ours that the configuration moved away from is reported in tidy_index (to be turned off). */
enum damon_ownership_action {
        DAMON_OWN_CREATE,
        DAMON_OWN_REUSE,
        DAMON_OWN_CONFIGURED,
        DAMON_OWN_REFUSE,
};

struct damon_ownership_input {
        int nr_kdamonds;
        int configured; /* [scan] damon_kdamond; -1: not set */
        struct damon_kdamond_status configured_kdamond; /* read when 0 <= configured < nr_kdamonds */
        bool has_marker;
        struct damon_marker marker;
        struct damon_kdamond_status marker_kdamond; /* read when has_marker and marker.index < nr_kdamonds */
};

struct damon_ownership {
        enum damon_ownership_action action;
        int index;         /* the kdamond to use; -1 with REFUSE */
        bool turn_off;     /* REUSE of a running kdamond: turn it off before configuring it */
        bool created;      /* tierd created the kdamonds directory (CREATE, or REUSE of one it created) */
        bool marker_stale; /* the marker names nothing of ours: remove it */
        int tidy_index;    /* a running kdamond of ours other than index: turn it off; -1: none */
        char reason[384];  /* REFUSE: why, in words an admin can act on; otherwise what was decided */
};

const char *damon_ownership_action_to_string(enum damon_ownership_action a);
int damon_ownership_decide(const struct damon_ownership_input *in, struct damon_ownership *ret);

/* Monitoring attributes for a pass interval.
 *
 * One aggregation window is one pass. The kernel answers update_schemes_tried_regions at the first apply pass
 * after the write, and the writer notices only at its next 100 ms poll; so pass_end() returns up to ~100 ms
 * after a window boundary, the engine's next pass_end() comes one pass interval later, and with
 * aggr_us == pass interval that is just after the next boundary: every pass_end() would wait almost a whole
 * window. The window is therefore longer than the pass interval by DAMON_AGGR_MARGIN_US + 2 samples (the
 * writer's poll step, the request's pickup at the next sample, the callback's own time): every pass_end() then
 * arrives shortly before the boundary it waits for, and after the first pass of a run of passes the waits stay
 * within the margin. The margin also covers reading the regions after the write returns.
 *
 * update_us (how often vaddr re-fits regions to the targets' mappings) is min(aggr_us, 1 s): a target added by a
 * commit has no regions until then, and until it has some its scheme holds up every tried-regions update for
 * two apply intervals. */
#define DAMON_AGGR_MARGIN_US (150 * UINT64_C(1000))
#define DAMON_UPDATE_MAX_US (1000 * UINT64_C(1000))

struct damon_attrs {
        uint64_t sample_us, aggr_us, update_us;
        unsigned min_nr_regions, max_nr_regions; /* over all targets of the context */
};
void damon_attrs_for_pass(uint64_t pass_interval_us, uint64_t sample_us, unsigned min_nr_regions,
                          unsigned max_nr_regions, struct damon_attrs *ret);
static inline unsigned damon_attrs_max_nr_accesses(const struct damon_attrs *a) {
        return (unsigned) (a->aggr_us / (a->sample_us ?: 1));
}
bool damon_attrs_equal(const struct damon_attrs *a, const struct damon_attrs *b);

/* The region -> heat mapping. A pass is one aggregation window; a region counts as accessed in the pass when at
 * least one of the window's samples found it accessed, and then every page it covers is recorded once for the
 * pass (heat_store_record_accessed()). So, as with the other backends, hits = the number of passes of the round
 * in which the page was seen accessed, and "hot" (hits >= threshold, default every pass) means "accessed in
 * every window of the round". One sample is the analogue of the accessed bit the other backends read: a higher
 * cut-off would make DAMON's "hot" stricter than theirs, and the frequency the policy wants is already measured
 * across the passes and rounds. age is not mapped: the store keeps its own per-page history (streak, idle age),
 * and DAMON's per-region age is reset by merges, splits and access changes, so adding it would count the same
 * history twice at a coarser grain. */
#define DAMON_ACCESSED_MIN_NR_ACCESSES 1U
static inline bool damon_region_accessed(const struct damon_region *r) {
        return r->nr_accesses >= DAMON_ACCESSED_MIN_NR_ACCESSES;
}

/* Target slots: the pid for each kdamond target index, kept stable across changes so that a commit replaces as
 * few targets as possible (a replaced index keeps its old regions until the next ops update). Pids of cur that
 * are still wanted keep their index; new pids fill the holes left by pids that are gone, lowest first, then are
 * appended; holes left over are filled by moving the last slots down. want must hold distinct pids. ret gets
 * n_want entries. Returns 0, -EINVAL, -ENOMEM. */
int damon_slots_assign(const pid_t *cur, size_t n_cur, const pid_t *want, size_t n_want, pid_t *ret);

/* I/O. Every sysfs path goes through fsroot; writes go through a seam that tests replace. */

typedef int (*damon_write_func_t)(const char *path, const char *value, void *userdata);
/* NULL restores fsroot_write_string(). */
void damon_set_write_func(damon_write_func_t f, void *userdata);

/* One write through the seam. */
int damon_write(const char *path, const char *value);
/* The same, retried on EBUSY after 1, 2, 4 and 8 ms (15 ms at most): returns -EBUSY if still busy. */
int damon_write_retry(const char *path, const char *value);
int damon_write_u64_retry(const char *path, uint64_t value);
/* fsroot_read_line(), retried on EBUSY the same way. */
int damon_read_line_retry(const char *path, char **ret);

/* A state command written from a thread of its own. The kernel holds the writer of "commit" (and of
 * "update_schemes_tried_regions") until the kdamond has handled it at the end of its aggregation window, which
 * takes up to a window plus 100 ms and under TCG two seconds; a daemon's event loop must not wait that long.
 * damon_write_retry(path, cmd) runs in the thread; its result is read with damon_state_cmd_poll() (non-blocking)
 * or damon_state_cmd_wait(). Nothing else may write the kdamond's files until it is done: the kernel takes the
 * input as it is when the kdamond gets to the command. */
struct damon_state_cmd;
/* Returns 0, -ENOMEM, or the errno of pthread_create(). */
int damon_state_cmd_start(const char *path, const char *cmd, struct damon_state_cmd **ret);
/* 1 while the write is still held, else the write's result (0 or a negative errno). */
int damon_state_cmd_poll(const struct damon_state_cmd *c);
/* Waits for the write and returns its result. */
int damon_state_cmd_wait(struct damon_state_cmd *c);
/* Waits for the write if need be. NULL-safe. */
struct damon_state_cmd *damon_state_cmd_free(struct damon_state_cmd *c);

/* The kdamonds directory of index (no trailing slash) into buf. */
int damon_kdamond_path(int index, const char *suffix, char *buf, size_t size);
int damon_read_nr_kdamonds(int *ret);
/* Reads kdamonds/N/{state,pid}. A state or pid that stays busy gives unknown = true and returns 0; -ENOENT when
 * the kdamond does not exist. */
int damon_read_kdamond(int index, struct damon_kdamond_status *ret);

/* The marker lives in a regular directory (not /sys): plain file I/O. damon_marker_read() returns -ENOENT when
 * there is none, -EBADMSG when it is unreadable as a marker. damon_marker_write() replaces it atomically. */
int damon_marker_read(const char *runtime_dir, struct damon_marker *ret);
int damon_marker_write(const char *runtime_dir, const struct damon_marker *m);
int damon_marker_remove(const char *runtime_dir);

/* Reads what damon_ownership_decide() needs (nr_kdamonds, the marker, the two kdamonds' states). Changes
 * nothing. Returns 0 or the errno of reading nr_kdamonds (-ENOENT: no DAMON sysfs, -EACCES: not root). A marker
 * that cannot be parsed is logged and treated as absent. */
int damon_ownership_gather(const char *runtime_dir, int configured, struct damon_ownership_input *ret);

/* Names the exclusive DAMON modules that are enabled, from /sys/module/{damon_reclaim,damon_lru_sort,damon_stat}/
 * parameters/enabled, as ", "-separated text into buf ("" when none is known to be enabled). */
void damon_exclusive_modules_enabled(char *buf, size_t size);
