// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Counts page migrations by reason: migrate:mm_migrate_pages fires once at the end of every migrate_pages()
 * call (NUMA-balancing promotion, reclaim demotion, DAMON schemes, compaction, move_pages(2), ...).
 *
 * Two ways to attach, one program each; the loader (src/kmigrate.c) enables exactly one:
 *   tierd_migrate_tp       the classic tracepoint (needs tracefs for the event id). Fields are read from
 *                          struct trace_event_raw_mm_migrate_pages through CO-RE, so their layout may change.
 *   tierd_migrate_rawN     a raw tracepoint (no tracefs needed) for a TP_PROTO of N arguments, read from the
 *                          kernel's BTF: the first N - 2 arguments are the page counts in the order succeeded,
 *                          failed, thp_succeeded, thp_failed, thp_split[, large_folio_split], then mode, then
 *                          reason.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "bpf-abi.h"

char LICENSE[] SEC("license") = "GPL";

/* tierd's tgid: its own move_pages(2) calls are counted in the upper half of the map. 0: none. */
const volatile __u32 self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TIERD_MIGRATE_KEYS);
	__type(key, __u32);
	__type(value, struct tierd_migrate_count);
} counts SEC(".maps");

static __always_inline void record(__u64 reason, __u64 succeeded, __u64 failed, __u64 thp_succeeded,
				   __u64 thp_failed, __u64 thp_split)
{
	struct tierd_migrate_count *c;
	__u32 key;

	key = reason < TIERD_MIGRATE_REASON_SLOTS - 1 ? (__u32)reason : TIERD_MIGRATE_REASON_SLOTS - 1;
	if (self_tgid != 0 && (__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid)
		key += TIERD_MIGRATE_REASON_SLOTS;

	c = bpf_map_lookup_elem(&counts, &key);
	if (!c)
		return;
	/* Per-CPU slot: plain adds. A tracepoint program does not nest with itself on one CPU. */
	c->events++;
	c->succeeded += succeeded;
	c->failed += failed;
	c->thp_succeeded += thp_succeeded;
	c->thp_failed += thp_failed;
	c->thp_split += thp_split;
}

SEC("tracepoint/migrate/mm_migrate_pages")
int tierd_migrate_tp(struct trace_event_raw_mm_migrate_pages *ctx)
{
	__u64 thp_succeeded = 0, thp_failed = 0, thp_split = 0;

	if (bpf_core_field_exists(ctx->thp_succeeded))
		thp_succeeded = ctx->thp_succeeded;
	if (bpf_core_field_exists(ctx->thp_failed))
		thp_failed = ctx->thp_failed;
	if (bpf_core_field_exists(ctx->thp_split))
		thp_split = ctx->thp_split;

	record(ctx->reason, ctx->succeeded, ctx->failed, thp_succeeded, thp_failed, thp_split);
	return 0;
}

/* (succeeded, failed, mode, reason): kernels before THP counts were added. */
SEC("raw_tp/mm_migrate_pages")
int tierd_migrate_raw4(struct bpf_raw_tracepoint_args *ctx)
{
	record(ctx->args[3], ctx->args[0], ctx->args[1], 0, 0, 0);
	return 0;
}

/* (succeeded, failed, thp_succeeded, thp_failed, thp_split, mode, reason): 5.x to 6.x. */
SEC("raw_tp/mm_migrate_pages")
int tierd_migrate_raw7(struct bpf_raw_tracepoint_args *ctx)
{
	record(ctx->args[6], ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4]);
	return 0;
}

/* (succeeded, failed, thp_succeeded, thp_failed, thp_split, large_folio_split, mode, reason): 6.16 and later. */
SEC("raw_tp/mm_migrate_pages")
int tierd_migrate_raw8(struct bpf_raw_tracepoint_args *ctx)
{
	record(ctx->args[7], ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4]);
	return 0;
}
