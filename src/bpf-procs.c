/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf-procs.h"
#include "bpf-util.h"
#include "bpf/bpf-abi.h"
#include "log.h"
#include "tierd-bpf.h"

#if HAVE_BPF_PROGRAMS
#include "bpf/proc.skel.h"
#endif

#define PROCS_WHAT "sched:sched_process_exec/exit"

struct bpf_procs {
        bpf_procs_func_t f;
        void *userdata;
#if HAVE_BPF_PROGRAMS
        struct proc_bpf *skel;
#endif
        struct bpf_link *links[3];
        struct ring_buffer *rb;
        const char *attach_mode;
};

#if HAVE_BPF_PROGRAMS
static int on_event(void *ctx, void *data, size_t size) {
        const struct tierd_proc_event *ev = data;
        struct bpf_procs *p = ctx;
        struct bpf_procs_event e;

        if (size < sizeof(*ev) || ev->pid == 0)
                return 0;
        if (ev->event != TIERD_PROC_EXEC && ev->event != TIERD_PROC_EXIT)
                return 0;
        e = (struct bpf_procs_event) {
                .ktime_ns = ev->ktime_ns,
                .pid = (pid_t) ev->pid,
                .type = ev->event == TIERD_PROC_EXEC ? BPF_PROCS_EXEC : BPF_PROCS_EXIT,
        };
        return p->f(&e, p->userdata);
}

static int procs_open(struct bpf_procs *p, char **reason) {
        static const char *const progs_tp[] = { "tierd_exec_tp", "tierd_exit_tp", NULL };
        static const char *const progs_raw[] = { "tierd_exec_raw", "tierd_exit_raw", NULL };
        const char *const *progs;
        const char *failed = NULL;
        bool tp;
        int r;

        bpf_log_setup();

        tp = bpf_tracefs_event_exists("sched", "sched_process_exec") &&
             bpf_tracefs_event_exists("sched", "sched_process_exit");
        progs = tp ? progs_tp : progs_raw;

        p->skel = proc_bpf__open();
        if (!p->skel) {
                r = negative_errno();
                *reason = bpf_failure_reason(PROCS_WHAT, "opening the BPF object", r);
                return r;
        }
        r = bpf_object_enable_only(p->skel->obj, progs);
        if (r < 0) {
                *reason = bpf_failure_reason(PROCS_WHAT, "choosing the programs", r);
                return r;
        }
        r = proc_bpf__load(p->skel);
        if (r < 0) {
                *reason = bpf_failure_reason(PROCS_WHAT, "loading the BPF programs", r);
                return r;
        }
        r = bpf_object_attach_programs(p->skel->obj, progs, p->links, &failed);
        if (r < 0) {
                *reason = bpf_failure_reason(failed, tp ? "attaching the tracepoint" :
                                             "attaching the raw tracepoint", r);
                return r;
        }
        p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_event, p, NULL);
        if (!p->rb) {
                r = negative_errno();
                *reason = bpf_failure_reason(PROCS_WHAT, "setting up the ring buffer", r);
                return r;
        }
        p->attach_mode = tp ? "tracepoint" : "raw_tracepoint";
        return 0;
}
#endif

int bpf_procs_new(bpf_procs_func_t f, void *userdata, struct bpf_procs **ret, char **ret_reason) {
        static bool logged = false;
        _cleanup_bpf_procs_ struct bpf_procs *p = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *why;
        int r = -EOPNOTSUPP;

        if (!f || !ret)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->f = f;
        p->userdata = userdata;

        why = bpf_unavailable_reason();
        if (why)
                reason = strdup(why);
#if HAVE_BPF_PROGRAMS
        else {
                r = procs_open(p, &reason);
                if (r >= 0) {
                        log_debug("Process exec/exit events come through BPF (%s).", p->attach_mode);
                        *ret = TAKE_PTR(p);
                        return 0;
                }
        }
#endif
        if (!reason)
                return -ENOMEM;
        if (!logged) {
                log_info("Process events through BPF: %s; new and exited processes are noticed at the next "
                         "round's rescan.", reason);
                logged = true;
        }
        if (ret_reason)
                *ret_reason = TAKE_PTR(reason);
        return r;
}

struct bpf_procs *bpf_procs_free(struct bpf_procs *p) {
        if (!p)
                return NULL;
        ring_buffer__free(p->rb);
        bpf_links_destroy(p->links, ELEMENTSOF(p->links));
#if HAVE_BPF_PROGRAMS
        proc_bpf__destroy(p->skel);
#endif
        return mfree(p);
}

int bpf_procs_fd(const struct bpf_procs *p) {
        return p && p->rb ? ring_buffer__epoll_fd(p->rb) : -EBADF;
}

int bpf_procs_consume(struct bpf_procs *p) {
        if (!p || !p->rb)
                return -EINVAL;
        return ring_buffer__consume(p->rb);
}

uint64_t bpf_procs_dropped(const struct bpf_procs *p) {
#if HAVE_BPF_PROGRAMS
        if (p && p->skel)
                return p->skel->bss->dropped;
#endif
        return 0;
}

const char *bpf_procs_attach_mode(const struct bpf_procs *p) {
        return p ? p->attach_mode : NULL;
}
