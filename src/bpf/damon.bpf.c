// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Forwards damon:damon_aggregated of one kdamond to user space. The tracepoint fires in the kdamond thread, once
 * per region of every target at the end of each aggregation window, so the filter is the current thread's pid.
 *
 * Attach variants, one enabled by the loader (src/bpf-damon.c):
 *   tierd_damon_tp     the classic tracepoint (tracefs), fields through CO-RE.
 *   tierd_damon_raw3   raw tracepoint, TP_PROTO (target_id, region, nr_regions)        (6.17 and later)
 *   tierd_damon_raw4   raw tracepoint, TP_PROTO (target, target_id, region, nr_regions) (5.18 to 6.16)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "bpf-abi.h"

char LICENSE[] SEC("license") = "GPL";

/* The kdamond thread to listen to, set (and changed) at run time. 0 matches nothing. */
volatile __u32 kdamond_pid = 0;
/* Records that did not fit into the ring buffer. */
__u64 dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} records SEC(".maps");

static __always_inline bool from_kdamond(void)
{
	__u32 pid = kdamond_pid;

	return pid != 0 && (__u32)bpf_get_current_pid_tgid() == pid;
}

static __always_inline struct tierd_damon_record *reserve(void)
{
	struct tierd_damon_record *r;

	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&dropped, 1);
		return NULL;
	}
	r->ktime_ns = bpf_ktime_get_ns();
	return r;
}

SEC("tracepoint/damon/damon_aggregated")
int tierd_damon_tp(struct trace_event_raw_damon_aggregated *ctx)
{
	struct tierd_damon_record *r;

	if (!from_kdamond())
		return 0;
	r = reserve();
	if (!r)
		return 0;
	r->target_id = (__u32)ctx->target_id;
	r->nr_regions = ctx->nr_regions;
	r->start = ctx->start;
	r->end = ctx->end;
	r->nr_accesses = ctx->nr_accesses;
	r->age = bpf_core_field_exists(ctx->age) ? ctx->age : 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

static __always_inline void emit_region(__u64 target_id, struct damon_region *reg, __u64 nr_regions)
{
	struct tierd_damon_record *r;

	r = reserve();
	if (!r)
		return;
	r->target_id = (__u32)target_id;
	r->nr_regions = (__u32)nr_regions;
	r->start = BPF_CORE_READ(reg, ar.start);
	r->end = BPF_CORE_READ(reg, ar.end);
	r->nr_accesses = BPF_CORE_READ(reg, nr_accesses);
	r->age = bpf_core_field_exists(reg->age) ? BPF_CORE_READ(reg, age) : 0;
	bpf_ringbuf_submit(r, 0);
}

SEC("raw_tp/damon_aggregated")
int tierd_damon_raw3(struct bpf_raw_tracepoint_args *ctx)
{
	if (from_kdamond())
		emit_region(ctx->args[0], (struct damon_region *)ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("raw_tp/damon_aggregated")
int tierd_damon_raw4(struct bpf_raw_tracepoint_args *ctx)
{
	if (from_kdamond())
		emit_region(ctx->args[1], (struct damon_region *)ctx->args[2], ctx->args[3]);
	return 0;
}
