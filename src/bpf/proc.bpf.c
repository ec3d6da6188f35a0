// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Process events for target selection: sched:sched_process_exec (a process may now match by comm or exe) and
 * sched:sched_process_exit of a thread group's last thread (the process is gone). Both fire in the context of the
 * task concerned, so the current task is the one to report.
 *
 * Attach variants, one pair enabled by the loader (src/bpf-procs.c): tierd_exec_tp/tierd_exit_tp (classic
 * tracepoints, tracefs) or tierd_exec_raw/tierd_exit_raw (raw tracepoints; no argument is read).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "bpf-abi.h"

char LICENSE[] SEC("license") = "GPL";

__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void emit(__u32 tgid, __u32 event)
{
	struct tierd_proc_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return;
	}
	e->ktime_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->event = event;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void on_exec(void)
{
	/* After de_thread() the exec'ing thread leads its group: pid == tgid. */
	emit((__u32)(bpf_get_current_pid_tgid() >> 32), TIERD_PROC_EXEC);
}

static __always_inline void on_exit(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();

	/* do_exit() drops signal->live before this tracepoint: 0 means the whole group is dead now, whichever
	 * thread exits last (the leader may have called pthread_exit() long before). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return;
	emit((__u32)(id >> 32), TIERD_PROC_EXIT);
}

SEC("tracepoint/sched/sched_process_exec")
int tierd_exec_tp(void *ctx)
{
	on_exec();
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tierd_exit_tp(void *ctx)
{
	on_exit();
	return 0;
}

SEC("raw_tp/sched_process_exec")
int tierd_exec_raw(void *ctx)
{
	on_exec();
	return 0;
}

SEC("raw_tp/sched_process_exit")
int tierd_exit_raw(void *ctx)
{
	on_exit();
	return 0;
}
