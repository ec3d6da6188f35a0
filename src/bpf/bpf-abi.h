/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What tierd's BPF programs (the .bpf.c files in src/bpf) and their loaders (src/kmigrate.c, src/bpf-damon.c,
 * src/bpf-procs.c) share: map layouts and ring buffer records. Included from both sides: BPF programs get the
 * __u* types from vmlinux.h, user space from <linux/types.h>. Fields are only ever added at the end. */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* migrate.bpf.c: per-CPU counters of migrate:mm_migrate_pages, indexed by the event's reason (enum
 * migrate_reason, whose values are read at run time). Reasons >= TIERD_MIGRATE_REASON_SLOTS - 1 share the last
 * slot. Events of tierd's own process (self_tgid) are counted at TIERD_MIGRATE_REASON_SLOTS + reason instead. */
#define TIERD_MIGRATE_REASON_SLOTS 32
#define TIERD_MIGRATE_KEYS (2 * TIERD_MIGRATE_REASON_SLOTS)

struct tierd_migrate_count {
        __u64 events;        /* mm_migrate_pages events (one per migrate_pages() call) */
        __u64 succeeded;     /* base pages migrated */
        __u64 failed;        /* base pages that failed */
        __u64 thp_succeeded; /* THPs migrated (0 where the kernel does not report them) */
        __u64 thp_failed;
        __u64 thp_split;
};

/* damon.bpf.c: one record per region of damon:damon_aggregated, only from the kdamond whose pid is set. */
struct tierd_damon_record {
        __u64 ktime_ns; /* bpf_ktime_get_ns() when the aggregation was reported */
        __u64 start;
        __u64 end;
        __u32 target_id; /* the target's index in the kdamond's context */
        __u32 nr_regions;
        __u32 nr_accesses;
        __u32 age; /* 0 where the kernel does not report it */
};

/* proc.bpf.c: one record per exec and per process exit. */
enum {
        TIERD_PROC_EXEC = 1, /* a process called execve(); pid is its tgid */
        TIERD_PROC_EXIT = 2, /* the last thread of a process exited */
};

struct tierd_proc_event {
        __u64 ktime_ns;
        __u32 pid; /* tgid */
        __u32 event;
};
