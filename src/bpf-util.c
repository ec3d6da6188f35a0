/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bpf-util.h"
#include "fsroot.h"
#include "log.h"
#include "macro.h"
#include "tierd-bpf.h"
#include "util.h"

#define BTF_VMLINUX_PATH "/sys/kernel/btf/vmlinux"

bool bpf_test_fail_requested(void) {
        const char *e = getenv("TIERD_TEST_BPF_FAIL");
        bool b;

        return e && parse_bool(e, &b) >= 0 && b;
}

const char *bpf_unavailable_reason(void) {
        if (!HAVE_BPF_PROGRAMS)
                return "tierd was built without its BPF programs (clang, bpftool or build-time BTF missing)";
        if (bpf_test_fail_requested())
                return "BPF load failure simulated (TIERD_TEST_BPF_FAIL=1)";
        if (fsroot_access(BTF_VMLINUX_PATH, R_OK) < 0)
                return "no kernel BTF at " BTF_VMLINUX_PATH " (kernel built without CONFIG_DEBUG_INFO_BTF)";
        return NULL;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) _printf_(2, 0);
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
        _cleanup_free_ char *s = NULL;
        size_t n;

        if (log_get_max_level() < LOG_DEBUG)
                return 0;
        if (vasprintf(&s, fmt, ap) < 0)
                return 0;
        n = strlen(s);
        while (n > 0 && s[n - 1] == '\n')
                s[--n] = '\0';
        log_debug("libbpf: %s", s);
        return 0;
}

void bpf_log_setup(void) {
        static bool done = false;

        if (done)
                return;
        libbpf_set_print(libbpf_print);
        done = true;
}

const char *bpf_error_hint(int error) {
        switch (abs(error)) {
        case EPERM:
                return "bpf() not permitted: CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) missing, or "
                       "kernel.unprivileged_bpf_disabled";
        case EACCES:
                return "rejected by the BPF verifier";
        case ENOENT:
                return "the kernel lacks the tracepoint or a type the program needs";
        case ENOMEM:
                return "out of memory (locked-memory limit?)";
        case EINVAL:
        case ENOTSUP:
        case ENOSYS:
                return "the kernel does not support what the program needs";
        case ESRCH:
                return "a kernel type the program needs is missing from BTF";
        default:
                return "BPF error";
        }
}

bool bpf_tracefs_event_exists(const char *category, const char *event) {
        static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
        char p[256];

        for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
                snprintf(p, sizeof(p), "%s/events/%s/%s/id", roots[i], category, event);
                if (access(p, R_OK) >= 0)
                        return true;
        }
        return false;
}

static void btf_freep(struct btf **b) {
        btf__free(*b);
}

static int load_vmlinux_btf(struct btf **ret) {
        struct btf *b;

        if (fsroot_access(BTF_VMLINUX_PATH, R_OK) < 0)
                return -EOPNOTSUPP;
        b = btf__load_vmlinux_btf();
        if (!b)
                return negative_errno();
        *ret = b;
        return 0;
}

static void arg_describe(const struct btf *b, __u32 type_id, struct bpf_tp_arg *ret) {
        const struct btf_type *t;

        int id;

        *ret = (struct bpf_tp_arg) { .kind = BPF_ARG_OTHER };
        id = btf__resolve_type(b, type_id); /* through typedefs and qualifiers */
        t = id >= 0 ? btf__type_by_id(b, (__u32) id) : NULL;
        if (!t)
                return;
        if (btf_is_int(t)) {
                ret->kind = BPF_ARG_INT;
                ret->size = t->size;
        } else if (btf_is_enum(t) || btf_is_enum64(t)) {
                ret->kind = BPF_ARG_ENUM;
                ret->size = t->size;
        } else if (btf_is_ptr(t)) {
                const struct btf_type *target;

                ret->kind = BPF_ARG_PTR;
                ret->size = 8;
                id = btf__resolve_type(b, t->type);
                target = id >= 0 ? btf__type_by_id(b, (__u32) id) : NULL;
                if (target && btf_is_struct(target))
                        snprintf(ret->struct_name, sizeof(ret->struct_name), "%s",
                                 btf__name_by_offset(b, target->name_off));
        }
}

int bpf_tp_proto_read(const char *tracepoint, struct bpf_tp_proto *ret) {
        _cleanup_(btf_freep) struct btf *b = NULL;
        const struct btf_type *t;
        const struct btf_param *p;
        char name[128];
        unsigned vlen;
        int r, id;

        r = load_vmlinux_btf(&b);
        if (r < 0)
                return r;

        snprintf(name, sizeof(name), "btf_trace_%s", tracepoint);
        id = btf__find_by_name_kind(b, name, BTF_KIND_TYPEDEF);
        if (id < 0)
                return -ENOENT;
        t = btf__type_by_id(b, (__u32) id);
        t = t ? btf__type_by_id(b, t->type) : NULL; /* the pointer */
        t = t && btf_is_ptr(t) ? btf__type_by_id(b, t->type) : NULL; /* the function prototype */
        if (!t || !btf_is_func_proto(t))
                return -ENOENT;

        vlen = btf_vlen(t);
        if (vlen < 1)
                return -ENOENT;
        if (vlen - 1 > BPF_TP_ARGS_MAX)
                return -E2BIG;

        *ret = (struct bpf_tp_proto) { .n_args = vlen - 1 };
        p = btf_params(t);
        for (unsigned i = 1; i < vlen; i++) /* params[0] is the tracepoint's void *data */
                arg_describe(b, p[i].type, &ret->args[i - 1]);
        return 0;
}

int bpf_btf_enum_foreach(const char *enum_name, int (*f)(const char *name, long long value, void *userdata),
                         void *userdata) {
        _cleanup_(btf_freep) struct btf *b = NULL;
        const struct btf_type *t;
        int r, id;

        r = load_vmlinux_btf(&b);
        if (r < 0)
                return r;
        id = btf__find_by_name_kind(b, enum_name, BTF_KIND_ENUM);
        if (id < 0)
                return -ENOENT;
        t = btf__type_by_id(b, (__u32) id);
        if (!t)
                return -ENOENT;

        const struct btf_enum *e = btf_enum(t);
        for (unsigned i = 0; i < btf_vlen(t); i++) {
                r = f(btf__name_by_offset(b, e[i].name_off), e[i].val, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bpf_object_enable_only(struct bpf_object *obj, const char *const *names) {
        struct bpf_program *prog;
        size_t n_names = 0, n_enabled = 0;

        for (const char *const *name = names; *name; name++)
                n_names++;

        bpf_object__for_each_program(prog, obj) {
                bool on = false;

                for (const char *const *name = names; *name && !on; name++)
                        on = streq(bpf_program__name(prog), *name);
                (void) bpf_program__set_autoload(prog, on);
                n_enabled += on;
        }
        return n_enabled == n_names ? 0 : -ENOENT;
}

void bpf_links_destroy(struct bpf_link **links, size_t n) {
        for (size_t i = 0; i < n; i++) {
                bpf_link__destroy(links[i]);
                links[i] = NULL;
        }
}

int bpf_object_attach_programs(struct bpf_object *obj, const char *const *names, struct bpf_link **links,
                               const char **ret_failed) {
        size_t i;

        for (i = 0; names[i]; i++) {
                struct bpf_program *prog = bpf_object__find_program_by_name(obj, names[i]);
                int r = -ENOENT;

                if (prog) {
                        links[i] = bpf_program__attach(prog);
                        if (links[i])
                                continue;
                        r = negative_errno();
                }
                bpf_links_destroy(links, i);
                if (ret_failed)
                        *ret_failed = names[i];
                return r;
        }
        return 0;
}

char *bpf_failure_reason(const char *what, const char *step, int error) {
        char *s;

        if (asprintf(&s, "%s: %s failed: %s (%s)", what, step, strerror(abs(error)), bpf_error_hint(error)) < 0)
                return NULL;
        return s;
}
