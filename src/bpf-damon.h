/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "bpf-util.h"
#include "damon.h"
#include "macro.h"

/* DAMON results through the damon:damon_aggregated tracepoint (damon.bpf.c), an alternative to
 * update_schemes_tried_regions: every region of every target of tierd's kdamond, at the end of every aggregation
 * window, without a sysfs write per pass. The program listens to one kdamond thread (its pid from
 * kdamonds/N/pid); records arrive on a BPF ring buffer whose epoll fd plugs into sd-event.
 *
 * A record's target_id is the target's index in the kdamond's context, i.e. the scan-damon slot index (the pid
 * of slots[target_id]). Its region is in the same terms as a tried region (struct damon_region from damon.h):
 * feed it through damon_region_accessed() and heat_store_record_accessed() exactly as tried regions are, and
 * both paths give the heat store the same counts. One aggregation window comes as a burst of records with
 * (nearly) the same ktime_ns, nr_regions records per target. */

struct bpf_damon_region {
        uint64_t ktime_ns; /* CLOCK_MONOTONIC, ns: when the kdamond reported the region */
        unsigned target_id;
        unsigned nr_regions; /* regions of that target in this aggregation */
        struct damon_region region;
};

/* Called for each record from bpf_damon_consume(); a negative return stops consuming and is passed back. */
typedef int (*bpf_damon_func_t)(const struct bpf_damon_region *r, void *userdata);

struct bpf_damon;

/* Loads and attaches the program (listening to no kdamond yet). When BPF cannot be used returns a negative
 * errno (-EOPNOTSUPP when it is simply unavailable here) and, if ret_reason is non-NULL, a malloc'd reason
 * for status; the first such failure is logged (once per process). */
int bpf_damon_new(bpf_damon_func_t f, void *userdata, struct bpf_damon **ret, char **ret_reason);
struct bpf_damon *bpf_damon_free(struct bpf_damon *d);
static inline void bpf_damon_freep(struct bpf_damon **d) {
        bpf_damon_free(*d);
}
#define _cleanup_bpf_damon_ _cleanup_(bpf_damon_freep)

/* The kdamond thread to listen to (kdamonds/N/pid); 0 or -1: none. Takes effect at once. */
int bpf_damon_set_kdamond(struct bpf_damon *d, pid_t pid);
/* An fd that polls readable (EPOLLIN) when records are waiting: add it to sd-event, call bpf_damon_consume(). */
int bpf_damon_fd(const struct bpf_damon *d);
/* Hands every waiting record to the callback. Returns the number of records, or a negative errno. */
int bpf_damon_consume(struct bpf_damon *d);
/* Records the kernel side dropped because the ring buffer was full (a pass with drops is incomplete). */
uint64_t bpf_damon_dropped(const struct bpf_damon *d);
/* "tracepoint" or "raw_tracepoint". */
const char *bpf_damon_attach_mode(const struct bpf_damon *d);

/* Pure, for tests: the raw-tracepoint program for damon_aggregated's TP_PROTO, 3 for (target_id, region,
 * nr_regions) or 4 for (target, target_id, region, nr_regions); -EPROTONOSUPPORT otherwise. */
int bpf_damon_raw_variant(const struct bpf_tp_proto *p);
