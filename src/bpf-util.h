/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What tierd's BPF loaders (kmigrate.c, bpf-damon.c, bpf-procs.c) share: whether BPF may be tried at all, how
 * to put a load or attach failure into words an admin can act on, and what the running kernel's BTF says about
 * a tracepoint's arguments (the raw-tracepoint programs are chosen from that). */

/* Why BPF programs cannot be used here, or NULL when they may be tried. In this order: tierd was built without
 * them; TIERD_TEST_BPF_FAIL=1 is set (the one switch tests use to simulate a failing load); the kernel has no
 * BTF at /sys/kernel/btf/vmlinux (looked up through fsroot, so a fixture tree without it disables BPF). */
const char *bpf_unavailable_reason(void);

/* True when TIERD_TEST_BPF_FAIL is set to a true value. */
bool bpf_test_fail_requested(void);

/* Routes libbpf's own messages to log_debug (verifier logs are long; the loaders log the outcome). Idempotent. */
void bpf_log_setup(void);

/* Words for a failed bpf() load or attach: "missing CAP_BPF/CAP_SYS_ADMIN" for EPERM, and so on. */
const char *bpf_error_hint(int error);

/* Whether tracefs has the event (so a classic tracepoint program can attach: libbpf reads the event id from
 * tracefs). Checks the real /sys/kernel/tracing and /sys/kernel/debug/tracing, as libbpf does. */
bool bpf_tracefs_event_exists(const char *category, const char *event);

/* The argument kinds of a tracepoint's TP_PROTO as the kernel's BTF describes it (the btf_trace_<name> typedef),
 * without the leading void *. */
#define BPF_TP_ARGS_MAX 12
enum bpf_arg_kind {
        BPF_ARG_INT,    /* an integer (size in .size) */
        BPF_ARG_ENUM,
        BPF_ARG_PTR,    /* a pointer; .struct_name names the struct it points to, "" if none */
        BPF_ARG_OTHER,
};
struct bpf_tp_arg {
        enum bpf_arg_kind kind;
        unsigned size;
        char struct_name[32];
};
struct bpf_tp_proto {
        unsigned n_args;
        struct bpf_tp_arg args[BPF_TP_ARGS_MAX];
};
/* Returns 0, -ENOENT when the kernel has no such tracepoint, -EOPNOTSUPP without kernel BTF, -E2BIG past
 * BPF_TP_ARGS_MAX arguments. */
int bpf_tp_proto_read(const char *tracepoint, struct bpf_tp_proto *ret);

/* Calls f for every enumerator of `enum enum_name` in the kernel's BTF. Returns 0, -ENOENT (no such enum),
 * -EOPNOTSUPP (no kernel BTF), or f's negative return. */
int bpf_btf_enum_foreach(const char *enum_name, int (*f)(const char *name, long long value, void *userdata),
                         void *userdata);

/* Loading and attaching: the loaders open their skeleton, call bpf_object_enable_only() with the programs
 * chosen for this kernel, load the skeleton (X_bpf__load(), which maps its global data), then attach the same
 * programs with bpf_object_attach_programs(). */
struct bpf_object;
struct bpf_link;

/* Only the named programs (NULL-terminated) are loaded. Returns 0 or -ENOENT when a name is not in obj. */
int bpf_object_enable_only(struct bpf_object *obj, const char *const *names);
/* Attaches the named programs; links[i] gets enable[i]'s link. On failure the links made so far are destroyed
 * and the negative errno returned, *ret_failed naming the program that failed. */
int bpf_object_attach_programs(struct bpf_object *obj, const char *const *names, struct bpf_link **links,
                               const char **ret_failed);
void bpf_links_destroy(struct bpf_link **links, size_t n);

/* "what: step failed: <strerror> (<hint>)", malloc'd; NULL on OOM. */
char *bpf_failure_reason(const char *what, const char *step, int error);
