/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf-damon.h"
#include "bpf/bpf-abi.h"
#include "log.h"
#include "tierd-bpf.h"

#if HAVE_BPF_PROGRAMS
#include "bpf/damon.skel.h"
#endif

#define DAMON_TP "damon:damon_aggregated"

struct bpf_damon {
        bpf_damon_func_t f;
        void *userdata;
#if HAVE_BPF_PROGRAMS
        struct damon_bpf *skel;
#endif
        struct bpf_link *links[2];
        struct ring_buffer *rb;
        const char *attach_mode;
        uint64_t invalid; /* records with start >= end, skipped */
};

static bool is_int(const struct bpf_tp_arg *a, unsigned size) {
        return a->kind == BPF_ARG_INT && a->size == size;
}

static bool is_ptr_to(const struct bpf_tp_arg *a, const char *name) {
        return a->kind == BPF_ARG_PTR && streq(a->struct_name, name);
}

int bpf_damon_raw_variant(const struct bpf_tp_proto *p) {
        if (!p)
                return -EPROTONOSUPPORT;
        if (p->n_args == 3 && is_int(&p->args[0], 4) && is_ptr_to(&p->args[1], "damon_region") &&
            is_int(&p->args[2], 4))
                return 3;
        if (p->n_args == 4 && is_ptr_to(&p->args[0], "damon_target") && is_int(&p->args[1], 4) &&
            is_ptr_to(&p->args[2], "damon_region") && is_int(&p->args[3], 4))
                return 4;
        return -EPROTONOSUPPORT;
}

#if HAVE_BPF_PROGRAMS
static int on_record(void *ctx, void *data, size_t size) {
        const struct tierd_damon_record *rec = data;
        struct bpf_damon *d = ctx;
        struct bpf_damon_region r;

        if (size < sizeof(*rec))
                return 0;
        if (rec->start >= rec->end) {
                d->invalid++;
                return 0;
        }
        r = (struct bpf_damon_region) {
                .ktime_ns = rec->ktime_ns,
                .target_id = rec->target_id,
                .nr_regions = rec->nr_regions,
                .region = {
                        .start = rec->start,
                        .end = rec->end,
                        .nr_accesses = rec->nr_accesses,
                        .age = rec->age,
                },
        };
        return d->f(&r, d->userdata);
}

static int damon_open(struct bpf_damon *d, char **reason) {
        const char *progs[2] = {}, *failed = NULL;
        struct bpf_tp_proto proto;
        char prog_raw[32];
        int r, variant;
        bool tp;

        bpf_log_setup();

        r = bpf_tp_proto_read("damon_aggregated", &proto);
        if (r == -ENOENT) {
                *reason = strdup("the kernel has no " DAMON_TP " tracepoint (CONFIG_DAMON off)");
                return -EOPNOTSUPP;
        }
        if (r < 0) {
                *reason = bpf_failure_reason(DAMON_TP, "reading its arguments from BTF", r);
                return r;
        }
        variant = bpf_damon_raw_variant(&proto);

        tp = bpf_tracefs_event_exists("damon", "damon_aggregated");
        if (tp)
                progs[0] = "tierd_damon_tp";
        else if (variant > 0) {
                snprintf(prog_raw, sizeof(prog_raw), "tierd_damon_raw%d", variant);
                progs[0] = prog_raw;
        } else {
                if (asprintf(reason, "tracefs is not mounted and " DAMON_TP " has %u arguments in a layout tierd "
                             "does not know", proto.n_args) < 0)
                        *reason = NULL;
                return -EPROTONOSUPPORT;
        }

        d->skel = damon_bpf__open();
        if (!d->skel) {
                r = negative_errno();
                *reason = bpf_failure_reason(DAMON_TP, "opening the BPF object", r);
                return r;
        }
        r = bpf_object_enable_only(d->skel->obj, progs);
        if (r < 0) {
                *reason = bpf_failure_reason(DAMON_TP, "choosing the program", r);
                return r;
        }
        r = damon_bpf__load(d->skel);
        if (r < 0) {
                *reason = bpf_failure_reason(DAMON_TP, "loading the BPF program", r);
                return r;
        }
        d->skel->bss->kdamond_pid = 0;
        r = bpf_object_attach_programs(d->skel->obj, progs, d->links, &failed);
        if (r < 0) {
                *reason = bpf_failure_reason(DAMON_TP, tp ? "attaching the tracepoint" :
                                             "attaching the raw tracepoint", r);
                return r;
        }
        d->rb = ring_buffer__new(bpf_map__fd(d->skel->maps.records), on_record, d, NULL);
        if (!d->rb) {
                r = negative_errno();
                *reason = bpf_failure_reason(DAMON_TP, "setting up the ring buffer", r);
                return r;
        }
        d->attach_mode = tp ? "tracepoint" : "raw_tracepoint";
        return 0;
}
#endif

int bpf_damon_new(bpf_damon_func_t f, void *userdata, struct bpf_damon **ret, char **ret_reason) {
        static bool logged = false;
        _cleanup_bpf_damon_ struct bpf_damon *d = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *why;
        int r = -EOPNOTSUPP;

        if (!f || !ret)
                return -EINVAL;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->f = f;
        d->userdata = userdata;

        why = bpf_unavailable_reason();
        if (why)
                reason = strdup(why);
#if HAVE_BPF_PROGRAMS
        else {
                r = damon_open(d, &reason);
                if (r >= 0) {
                        log_debug("DAMON regions come through BPF (%s).", d->attach_mode);
                        *ret = TAKE_PTR(d);
                        return 0;
                }
        }
#endif
        if (!reason)
                return -ENOMEM;
        if (!logged) {
                log_info("DAMON regions through BPF: %s; using update_schemes_tried_regions.", reason);
                logged = true;
        }
        if (ret_reason)
                *ret_reason = TAKE_PTR(reason);
        return r;
}

struct bpf_damon *bpf_damon_free(struct bpf_damon *d) {
        if (!d)
                return NULL;
        ring_buffer__free(d->rb);
        bpf_links_destroy(d->links, ELEMENTSOF(d->links));
#if HAVE_BPF_PROGRAMS
        damon_bpf__destroy(d->skel);
#endif
        return mfree(d);
}

int bpf_damon_set_kdamond(struct bpf_damon *d, pid_t pid) {
        if (!d)
                return -EINVAL;
#if HAVE_BPF_PROGRAMS
        d->skel->bss->kdamond_pid = pid > 0 ? (__u32) pid : 0;
        return 0;
#else
        return -EOPNOTSUPP;
#endif
}

int bpf_damon_fd(const struct bpf_damon *d) {
        return d && d->rb ? ring_buffer__epoll_fd(d->rb) : -EBADF;
}

int bpf_damon_consume(struct bpf_damon *d) {
        if (!d || !d->rb)
                return -EINVAL;
        return ring_buffer__consume(d->rb);
}

uint64_t bpf_damon_dropped(const struct bpf_damon *d) {
#if HAVE_BPF_PROGRAMS
        if (d && d->skel)
                return d->skel->bss->dropped;
#endif
        return 0;
}

const char *bpf_damon_attach_mode(const struct bpf_damon *d) {
        return d ? d->attach_mode : NULL;
}
