/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-util.h"
#include "fsroot.h"
#include "kmigrate.h"
#include "log.h"
#include "macro.h"
#include "tierd-bpf.h"
#include "tp-format.h"
#include "util.h"

#if HAVE_BPF_PROGRAMS
#include "bpf/migrate.skel.h"
#endif

#define MIGRATE_TP_CATEGORY "migrate"
#define MIGRATE_TP_NAME "mm_migrate_pages"
#define MIGRATE_TP MIGRATE_TP_CATEGORY ":" MIGRATE_TP_NAME
#define FORMAT_MAX_BYTES (64 * 1024)

struct kmigrate {
        pid_t self;
        enum kmigrate_source source;
        char *bpf_reason;
        const char *attach_mode;
        const char *names_source;

#if HAVE_BPF_PROGRAMS
        struct migrate_bpf *skel;
#endif
        struct bpf_link *links[2];
        int map_fd;
        unsigned n_cpus;
        struct tierd_migrate_count *percpu; /* n_cpus values, for one lookup */

        char reason_names[TIERD_MIGRATE_REASON_SLOTS][TP_SYMBOL_NAME_MAX];
        uint8_t reason_class[TIERD_MIGRATE_REASON_SLOTS];

        struct vmstat_migration vmstat_base;
};

static const char *const source_table[_KMIGRATE_SOURCE_MAX] = {
        [KMIGRATE_SOURCE_NONE] = "none",
        [KMIGRATE_SOURCE_BPF] = "bpf",
        [KMIGRATE_SOURCE_VMSTAT] = "vmstat",
};

const char *kmigrate_source_to_string(enum kmigrate_source s) {
        return s < _KMIGRATE_SOURCE_MAX ? source_table[s] : NULL;
}

static const char *const class_table[_KMIGRATE_CLASS_MAX] = {
        [KMIGRATE_PROMOTION] = "promotion",
        [KMIGRATE_DEMOTION] = "demotion",
        [KMIGRATE_DAMON] = "damon",
        [KMIGRATE_COMPACTION] = "compaction",
        [KMIGRATE_SYSCALL] = "syscall",
        [KMIGRATE_OTHER] = "other",
        [KMIGRATE_TIERD] = "tierd",
};

const char *kmigrate_class_to_string(enum kmigrate_class c) {
        return c < _KMIGRATE_CLASS_MAX ? class_table[c] : NULL;
}

/* The reasons as TP_printk() names them (include/trace/events/migrate.h, MIGRATE_REASON), with the enumerator
 * each stands for. */
static const struct {
        const char *enumerator;
        const char *name;
        enum kmigrate_class class;
} reason_table[] = {
        { "MR_COMPACTION", "compaction", KMIGRATE_COMPACTION },
        { "MR_MEMORY_FAILURE", "memory_failure", KMIGRATE_OTHER },
        { "MR_MEMORY_HOTPLUG", "memory_hotplug", KMIGRATE_OTHER },
        { "MR_SYSCALL", "syscall_or_cpuset", KMIGRATE_SYSCALL },
        { "MR_MEMPOLICY_MBIND", "mempolicy_mbind", KMIGRATE_SYSCALL },
        { "MR_NUMA_MISPLACED", "numa_misplaced", KMIGRATE_PROMOTION },
        { "MR_CONTIG_RANGE", "contig_range", KMIGRATE_COMPACTION },
        { "MR_LONGTERM_PIN", "longterm_pin", KMIGRATE_OTHER },
        { "MR_DEMOTION", "demotion", KMIGRATE_DEMOTION },
        { "MR_DAMON", "damon", KMIGRATE_DAMON },
};

enum kmigrate_class kmigrate_class_from_reason(const char *name) {
        if (!name)
                return KMIGRATE_OTHER;
        for (size_t i = 0; i < ELEMENTSOF(reason_table); i++)
                if (streq(reason_table[i].name, name))
                        return reason_table[i].class;
        return KMIGRATE_OTHER;
}

const char *kmigrate_reason_from_enumerator(const char *enumerator, char *buf, size_t size) {
        size_t n = 0;

        if (!enumerator || !buf || size == 0 || !startswith(enumerator, "MR_") || streq(enumerator, "MR_TYPES"))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(reason_table); i++)
                if (streq(reason_table[i].enumerator, enumerator)) {
                        snprintf(buf, size, "%s", reason_table[i].name);
                        return buf;
                }
        /* A reason newer than this table: the kernel's own names are the enumerator in lower case. */
        for (const char *p = enumerator + strlen("MR_"); *p && n < size - 1; p++)
                buf[n++] = (char) tolower((unsigned char) *p);
        buf[n] = '\0';
        return n > 0 ? buf : NULL;
}

int kmigrate_raw_variant(const struct bpf_tp_proto *p) {
        unsigned n_counts;

        if (!p || p->n_args < 4)
                return -EPROTONOSUPPORT;
        n_counts = p->n_args - 2;
        for (unsigned i = 0; i < n_counts; i++)
                if (p->args[i].kind != BPF_ARG_INT || p->args[i].size != 8)
                        return -EPROTONOSUPPORT;
        if (p->args[n_counts].kind != BPF_ARG_ENUM ||
            p->args[n_counts + 1].kind != BPF_ARG_INT || p->args[n_counts + 1].size != 4)
                return -EPROTONOSUPPORT;
        /* 2 counts: (succeeded, failed); 5: + thp_succeeded, thp_failed, thp_split; 6: + large_folio_split. */
        if (n_counts != 2 && n_counts != 5 && n_counts != 6)
                return -EPROTONOSUPPORT;
        return (int) p->n_args;
}

void kmigrate_counts_from_bpf(const struct tierd_migrate_count *totals, const uint8_t *reason_class,
                              struct kmigrate_counts *ret) {
        struct kmigrate_counts c = {};

        for (unsigned key = 0; key < TIERD_MIGRATE_KEYS; key++) {
                const struct tierd_migrate_count *t = totals + key;
                unsigned reason = key % TIERD_MIGRATE_REASON_SLOTS;
                enum kmigrate_class k = key >= TIERD_MIGRATE_REASON_SLOTS ? KMIGRATE_TIERD :
                                        reason_class[reason] < _KMIGRATE_CLASS_MAX ? reason_class[reason] :
                                                                                     KMIGRATE_OTHER;

                c.pages[k] += t->succeeded;
                c.pages_failed[k] += t->failed;
                c.events[k] += t->events;
                c.thp[k] += t->thp_succeeded;
                c.reason_pages[reason] += t->succeeded;
        }
        for (unsigned k = 0; k < _KMIGRATE_CLASS_MAX; k++)
                c.available |= UINT32_C(1) << k;
        *ret = c;
}

void kmigrate_counts_from_vmstat(const struct vmstat_migration *delta, struct kmigrate_counts *ret) {
        struct kmigrate_counts c = {};
        uint64_t numa = 0, demoted, total;

        /* pgpromote_success counts exactly the promotions between tiers; without memory tiering the NUMA-balancing
         * migrations are the closest thing (and what the BPF source's numa_misplaced counts). */
        if (vmstat_has(delta, VMSTAT_PGPROMOTE_SUCCESS)) {
                c.pages[KMIGRATE_PROMOTION] = delta->value[VMSTAT_PGPROMOTE_SUCCESS];
                c.available |= UINT32_C(1) << KMIGRATE_PROMOTION;
        } else if (vmstat_has(delta, VMSTAT_NUMA_PAGES_MIGRATED)) {
                c.pages[KMIGRATE_PROMOTION] = delta->value[VMSTAT_NUMA_PAGES_MIGRATED];
                c.available |= UINT32_C(1) << KMIGRATE_PROMOTION;
        }
        if (vmstat_has(delta, VMSTAT_NUMA_PAGES_MIGRATED))
                numa = delta->value[VMSTAT_NUMA_PAGES_MIGRATED];
        else
                numa = c.pages[KMIGRATE_PROMOTION];

        demoted = vmstat_demoted(delta);
        if (delta->present & (UINT32_C(1) << VMSTAT_PGDEMOTE_KSWAPD | UINT32_C(1) << VMSTAT_PGDEMOTE_DIRECT)) {
                c.pages[KMIGRATE_DEMOTION] = demoted;
                c.available |= UINT32_C(1) << KMIGRATE_DEMOTION;
        }

        /* pgmigrate_success counts every migrate_pages() success, promotions and demotions included. */
        if (vmstat_has(delta, VMSTAT_PGMIGRATE_SUCCESS)) {
                total = delta->value[VMSTAT_PGMIGRATE_SUCCESS];
                c.pages[KMIGRATE_OTHER] = total > numa + demoted ? total - numa - demoted : 0;
                c.available |= UINT32_C(1) << KMIGRATE_OTHER;
        }
        if (vmstat_has(delta, VMSTAT_PGMIGRATE_FAIL))
                c.pages_failed[KMIGRATE_OTHER] = delta->value[VMSTAT_PGMIGRATE_FAIL];
        if (vmstat_has(delta, VMSTAT_THP_MIGRATION_SUCCESS))
                c.thp[KMIGRATE_OTHER] = delta->value[VMSTAT_THP_MIGRATION_SUCCESS];
        *ret = c;
}

static uint64_t sub0(uint64_t a, uint64_t b) {
        return a >= b ? a - b : 0;
}

void kmigrate_counts_delta(const struct kmigrate_counts *now, const struct kmigrate_counts *then,
                           struct kmigrate_counts *ret) {
        struct kmigrate_counts d = { .available = now->available & then->available };

        for (unsigned k = 0; k < _KMIGRATE_CLASS_MAX; k++) {
                d.pages[k] = sub0(now->pages[k], then->pages[k]);
                d.pages_failed[k] = sub0(now->pages_failed[k], then->pages_failed[k]);
                d.events[k] = sub0(now->events[k], then->events[k]);
                d.thp[k] = sub0(now->thp[k], then->thp[k]);
        }
        for (unsigned r = 0; r < TIERD_MIGRATE_REASON_SLOTS; r++)
                d.reason_pages[r] = sub0(now->reason_pages[r], then->reason_pages[r]);
        *ret = d;
}

#if HAVE_BPF_PROGRAMS
/* Reason names. */

static void set_reason(struct kmigrate *k, long long value, const char *name) {
        if (value < 0 || value >= TIERD_MIGRATE_REASON_SLOTS - 1 || !name)
                return; /* the last slot collects out-of-range values: it has no single name */
        snprintf(k->reason_names[value], sizeof(k->reason_names[value]), "%s", name);
        k->reason_class[value] = (uint8_t) kmigrate_class_from_reason(name);
}

static int names_from_tracefs(struct kmigrate *k) {
        static const char *const paths[] = {
                "/sys/kernel/tracing/events/" MIGRATE_TP_CATEGORY "/" MIGRATE_TP_NAME "/format",
                "/sys/kernel/debug/tracing/events/" MIGRATE_TP_CATEGORY "/" MIGRATE_TP_NAME "/format",
        };
        struct tp_symbol_table t;
        int r = -ENOENT;

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ char *text = NULL;

                r = fsroot_read_file(paths[i], FORMAT_MAX_BYTES, &text, NULL);
                if (r < 0)
                        continue;
                r = tp_format_parse_symbolic(text, "reason", &t);
                if (r < 0) {
                        log_debug_errno(r, "Cannot parse the reason table of %s: %m, ignoring", paths[i]);
                        continue;
                }
                if (t.n == 0) {
                        r = -ENODATA;
                        continue;
                }
                for (size_t j = 0; j < t.n; j++)
                        set_reason(k, t.entries[j].value, t.entries[j].name);
                return 0;
        }
        return r;
}

static int enumerator_cb(const char *name, long long value, void *userdata) {
        char buf[TP_SYMBOL_NAME_MAX];

        set_reason(userdata, value, kmigrate_reason_from_enumerator(name, buf, sizeof(buf)));
        return 0;
}

static void name_reasons(struct kmigrate *k) {
        int r;

        for (unsigned i = 0; i < TIERD_MIGRATE_REASON_SLOTS; i++)
                k->reason_class[i] = KMIGRATE_OTHER;

        r = names_from_tracefs(k);
        if (r >= 0) {
                k->names_source = "tracefs";
                return;
        }
        r = bpf_btf_enum_foreach("migrate_reason", enumerator_cb, k);
        if (r >= 0) {
                k->names_source = "btf";
                return;
        }
        log_debug_errno(r, "No reason names for " MIGRATE_TP " in tracefs or BTF (%m): using tierd's own table "
                        "(the numbering of Linux 6.11 to 6.18)");
        for (size_t i = 0; i < ELEMENTSOF(reason_table); i++)
                set_reason(k, (long long) i, reason_table[i].name);
        k->names_source = "builtin";
}

/* BPF. */

static int bpf_open(struct kmigrate *k) {
        const char *progs[2] = {}, *failed = NULL;
        struct bpf_tp_proto proto;
        char prog_raw[32];
        int r, variant = -EPROTONOSUPPORT;
        bool tp;

        bpf_log_setup();

        r = bpf_tp_proto_read(MIGRATE_TP_NAME, &proto);
        if (r == -ENOENT) {
                k->bpf_reason = strdup("the kernel has no " MIGRATE_TP " tracepoint");
                return -EOPNOTSUPP;
        }
        if (r < 0) {
                k->bpf_reason = bpf_failure_reason(MIGRATE_TP, "reading its arguments from BTF", r);
                return r;
        }
        variant = kmigrate_raw_variant(&proto);

        tp = bpf_tracefs_event_exists(MIGRATE_TP_CATEGORY, MIGRATE_TP_NAME);
        if (tp)
                progs[0] = "tierd_migrate_tp";
        else if (variant > 0) {
                snprintf(prog_raw, sizeof(prog_raw), "tierd_migrate_raw%d", variant);
                progs[0] = prog_raw;
        } else {
                r = asprintf(&k->bpf_reason, "tracefs is not mounted and " MIGRATE_TP " has %u arguments in a "
                             "layout tierd does not know", proto.n_args);
                if (r < 0)
                        k->bpf_reason = NULL;
                return -EPROTONOSUPPORT;
        }

        k->skel = migrate_bpf__open();
        if (!k->skel) {
                r = negative_errno();
                k->bpf_reason = bpf_failure_reason(MIGRATE_TP, "opening the BPF object", r);
                return r;
        }
        k->skel->rodata->self_tgid = (__u32) k->self;

        r = bpf_object_enable_only(k->skel->obj, progs);
        if (r < 0) {
                k->bpf_reason = bpf_failure_reason(MIGRATE_TP, "choosing the program", r);
                return r;
        }
        r = migrate_bpf__load(k->skel);
        if (r < 0) {
                k->bpf_reason = bpf_failure_reason(MIGRATE_TP, "loading the BPF program", r);
                return r;
        }
        r = bpf_object_attach_programs(k->skel->obj, progs, k->links, &failed);
        if (r < 0) {
                k->bpf_reason = bpf_failure_reason(MIGRATE_TP, tp ? "attaching the tracepoint" :
                                                   "attaching the raw tracepoint", r);
                return r;
        }

        r = libbpf_num_possible_cpus();
        if (r <= 0) {
                r = r < 0 ? r : -EIO;
                k->bpf_reason = bpf_failure_reason(MIGRATE_TP, "counting possible CPUs", r);
                return r;
        }
        k->n_cpus = (unsigned) r;
        k->percpu = calloc(k->n_cpus, sizeof(struct tierd_migrate_count));
        if (!k->percpu)
                return -ENOMEM;
        k->map_fd = bpf_map__fd(k->skel->maps.counts);
        k->attach_mode = tp ? "tracepoint" : "raw_tracepoint";
        return 0;
}
#endif

static void bpf_close(struct kmigrate *k) {
        bpf_links_destroy(k->links, ELEMENTSOF(k->links));
#if HAVE_BPF_PROGRAMS
        migrate_bpf__destroy(k->skel);
        k->skel = NULL;
#endif
        k->percpu = mfree(k->percpu);
        k->map_fd = -1;
        k->attach_mode = NULL;
}

static int bpf_sample(struct kmigrate *k, struct kmigrate_counts *ret) {
        struct tierd_migrate_count totals[TIERD_MIGRATE_KEYS] = {};

        for (__u32 key = 0; key < TIERD_MIGRATE_KEYS; key++) {
                if (bpf_map_lookup_elem(k->map_fd, &key, k->percpu) < 0)
                        return negative_errno();
                for (unsigned cpu = 0; cpu < k->n_cpus; cpu++) {
                        const struct tierd_migrate_count *v = k->percpu + cpu;

                        totals[key].events += v->events;
                        totals[key].succeeded += v->succeeded;
                        totals[key].failed += v->failed;
                        totals[key].thp_succeeded += v->thp_succeeded;
                        totals[key].thp_failed += v->thp_failed;
                        totals[key].thp_split += v->thp_split;
                }
        }
        kmigrate_counts_from_bpf(totals, k->reason_class, ret);
        return 0;
}

int kmigrate_new(const struct kmigrate_options *o, struct kmigrate **ret) {
        static bool logged_fallback = false, logged_none = false;
        _cleanup_kmigrate_ struct kmigrate *k = NULL;
        const char *why;
        int r;

        if (!o || !ret)
                return -EINVAL;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->self = o->self > 0 ? o->self : getpid();
        k->map_fd = -1;

        why = o->use_bpf ? bpf_unavailable_reason() : "BPF disabled by the configuration";
        if (!why) {
#if HAVE_BPF_PROGRAMS
                name_reasons(k);
                r = bpf_open(k);
                if (r >= 0) {
                        k->source = KMIGRATE_SOURCE_BPF;
                        log_debug("Kernel migrations observed through BPF (%s, reason names from %s).",
                                  k->attach_mode, k->names_source);
                        *ret = TAKE_PTR(k);
                        return 0;
                }
                bpf_close(k);
#endif
                if (!k->bpf_reason)
                        return -ENOMEM; /* the only way a failure has no words */
        } else {
                k->bpf_reason = strdup(why);
                if (!k->bpf_reason)
                        return -ENOMEM;
        }

        r = vmstat_read(&k->vmstat_base);
        if (r >= 0) {
                k->source = KMIGRATE_SOURCE_VMSTAT;
                if (!logged_fallback) {
                        log_full(o->use_bpf ? LOG_NOTICE : LOG_INFO,
                                 "Kernel migration observer: %s; using /proc/vmstat deltas instead (promotions and "
                                 "demotions only, tierd's own moves not told apart).", k->bpf_reason);
                        logged_fallback = true;
                }
        } else {
                k->source = KMIGRATE_SOURCE_NONE;
                if (!logged_none) {
                        log_warning_errno(r, "Kernel migration observer: %s, and /proc/vmstat cannot be read: %m; "
                                          "kernel migrations will not be observed.", k->bpf_reason);
                        logged_none = true;
                }
        }
        *ret = TAKE_PTR(k);
        return 0;
}

struct kmigrate *kmigrate_free(struct kmigrate *k) {
        if (!k)
                return NULL;
        bpf_close(k);
        free(k->bpf_reason);
        return mfree(k);
}

enum kmigrate_source kmigrate_source(const struct kmigrate *k) {
        return k ? k->source : KMIGRATE_SOURCE_NONE;
}

const char *kmigrate_bpf_reason(const struct kmigrate *k) {
        return k && k->source != KMIGRATE_SOURCE_BPF ? k->bpf_reason : NULL;
}

const char *kmigrate_attach_mode(const struct kmigrate *k) {
        return k && k->source == KMIGRATE_SOURCE_BPF ? k->attach_mode : NULL;
}

const char *kmigrate_reason_names_source(const struct kmigrate *k) {
        return k && k->source == KMIGRATE_SOURCE_BPF ? k->names_source : NULL;
}

const char *kmigrate_reason_name(const struct kmigrate *k, unsigned reason) {
        if (!k || reason >= TIERD_MIGRATE_REASON_SLOTS || k->reason_names[reason][0] == '\0')
                return NULL;
        return k->reason_names[reason];
}

int kmigrate_sample(struct kmigrate *k, struct kmigrate_counts *ret) {
        struct vmstat_migration now, delta;
        int r;

        if (!k || !ret)
                return -EINVAL;
        *ret = (struct kmigrate_counts) {};

        switch (k->source) {
        case KMIGRATE_SOURCE_BPF:
                r = bpf_sample(k, ret);
                if (r < 0)
                        *ret = (struct kmigrate_counts) {};
                return r;
        case KMIGRATE_SOURCE_VMSTAT:
                r = vmstat_read(&now);
                if (r < 0)
                        return r;
                vmstat_delta(&now, &k->vmstat_base, &delta);
                kmigrate_counts_from_vmstat(&delta, ret);
                return 0;
        default:
                return -ENODATA;
        }
}

/* The fight detector. */

static const char *const fight_event_table[] = {
        [FIGHT_NONE] = "none",
        [FIGHT_STARTED] = "started",
        [FIGHT_CONTINUES] = "continues",
        [FIGHT_ENDED] = "ended",
};

const char *fight_event_to_string(enum fight_event e) {
        return e < ELEMENTSOF(fight_event_table) ? fight_event_table[e] : NULL;
}

void fight_detector_init(struct fight_detector *d, uint64_t min_pages, unsigned windows) {
        *d = (struct fight_detector) {
                .min_pages = min_pages,
                .windows = MIN(MAX(windows, 1U), FIGHT_WINDOWS_MAX),
                .promotion_permille = FIGHT_PERMILLE_MAX,
        };
}

enum fight_event fight_detector_feed(struct fight_detector *d, uint64_t tierd_pages, uint64_t kernel_pages) {
        bool both = tierd_pages > d->min_pages && kernel_pages > d->min_pages;
        uint32_t history_mask = (uint32_t) ((UINT64_C(1) << (2 * d->windows)) - 1);

        d->recent = ((d->recent << 1) | (both ? 1U : 0U)) & history_mask;
        if (both)
                d->calm = 0;
        else
                d->calm = MIN(d->calm + 1, d->windows);

        if (!d->fighting) {
                d->promotion_permille = MIN(d->promotion_permille + FIGHT_PERMILLE_STEP, FIGHT_PERMILLE_MAX);
                if ((unsigned) __builtin_popcount(d->recent) < d->windows)
                        return FIGHT_NONE;
                d->fighting = true;
                d->n_fights++;
                d->promotion_permille = MAX(d->promotion_permille / 2, FIGHT_PERMILLE_MIN);
                return FIGHT_STARTED;
        }

        if (both) {
                d->promotion_permille = MAX(d->promotion_permille / 2, FIGHT_PERMILLE_MIN);
                return FIGHT_CONTINUES;
        }
        d->promotion_permille = MIN(d->promotion_permille + FIGHT_PERMILLE_STEP, FIGHT_PERMILLE_MAX);
        if (d->calm < d->windows)
                return FIGHT_CONTINUES;
        d->fighting = false;
        return FIGHT_ENDED;
}
