/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Process events through BPF (proc.bpf.c on sched:sched_process_exec and sched:sched_process_exit): a process
 * that execs may now match the target selection (comm, exe), and one whose last thread exits is gone. With them
 * the daemon picks up a new target and drops a dead one at once instead of at the next round's rescan (which
 * stays: it is the fallback, and it catches what an event cannot, e.g. a cgroup move).
 *
 * Events cover every process on the system; selection is the daemon's (targets.c). An exit may be reported twice
 * when threads of one process exit at the same moment: dropping a pid twice must be harmless. */

enum bpf_procs_event_type {
        BPF_PROCS_EXEC = 1,
        BPF_PROCS_EXIT = 2,
};

struct bpf_procs_event {
        uint64_t ktime_ns; /* CLOCK_MONOTONIC, ns */
        pid_t pid;         /* the process (tgid) */
        enum bpf_procs_event_type type;
};

/* Called for each event from bpf_procs_consume(); a negative return stops consuming and is passed back. */
typedef int (*bpf_procs_func_t)(const struct bpf_procs_event *e, void *userdata);

struct bpf_procs;

/* Loads and attaches the programs. When BPF cannot be used returns a negative errno (-EOPNOTSUPP when it is
 * simply unavailable here) and, if ret_reason is non-NULL, a malloc'd reason for status; the first such failure
 * is logged (once per process). */
int bpf_procs_new(bpf_procs_func_t f, void *userdata, struct bpf_procs **ret, char **ret_reason);
struct bpf_procs *bpf_procs_free(struct bpf_procs *p);
static inline void bpf_procs_freep(struct bpf_procs **p) {
        bpf_procs_free(*p);
}
#define _cleanup_bpf_procs_ _cleanup_(bpf_procs_freep)

/* An fd that polls readable (EPOLLIN) when events are waiting: add it to sd-event, call bpf_procs_consume(). */
int bpf_procs_fd(const struct bpf_procs *p);
/* Hands every waiting event to the callback. Returns the number of events, or a negative errno. */
int bpf_procs_consume(struct bpf_procs *p);
/* Events dropped because the ring buffer was full: when it grows, rescan rather than trust the events. */
uint64_t bpf_procs_dropped(const struct bpf_procs *p);
/* "tracepoint" or "raw_tracepoint". */
const char *bpf_procs_attach_mode(const struct bpf_procs *p);
