/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf-util.h"
#include "bpf/bpf-abi.h"
#include "macro.h"
#include "vmstat.h"

/* The kernel migration observer: how many pages the kernel itself moves, and why (NUMA-balancing promotion,
 * reclaim demotion, DAMON schemes, compaction, other processes' move_pages/mbind), beside tierd's own moves.
 *
 * Two sources, chosen once by kmigrate_new():
 *   bpf     migrate.bpf.c on migrate:mm_migrate_pages, per reason, with tierd's own calls counted apart (by its
 *           tgid). Attached as a classic tracepoint when tracefs has the event, else as a raw tracepoint whose
 *           argument layout is read from the kernel's BTF. Reason numbers are named from the tracepoint's format
 *           file (tracefs), else from the kernel's BTF (enum migrate_reason), else from a built-in table.
 *   vmstat  deltas of /proc/vmstat: promotions (pgpromote_success, or numa_pages_migrated on kernels without
 *           memory tiering), demotions (pgdemote_*), and everything else unattributed (pgmigrate_success minus
 *           those two) -- tierd's own moves included there, since vmstat cannot tell processes apart.
 * When BPF cannot be used (not built, TIERD_TEST_BPF_FAIL=1, no BTF, bpf() refused, load or attach failed) the
 * reason is logged once and kept for status (kmigrate_bpf_reason()). */

enum kmigrate_source {
        KMIGRATE_SOURCE_NONE, /* neither BPF nor /proc/vmstat: nothing is observed */
        KMIGRATE_SOURCE_BPF,
        KMIGRATE_SOURCE_VMSTAT,
        _KMIGRATE_SOURCE_MAX,
};
const char *kmigrate_source_to_string(enum kmigrate_source s); /* "none", "bpf", "vmstat" */

enum kmigrate_class {
        KMIGRATE_PROMOTION,  /* NUMA balancing (reason numa_misplaced): promotions when tiering mode is on */
        KMIGRATE_DEMOTION,   /* reclaim demotion (reason demotion) */
        KMIGRATE_DAMON,      /* DAMOS migrate_hot/migrate_cold of any kdamond (reason damon) */
        KMIGRATE_COMPACTION, /* compaction, contig_range (alloc_contig_range, CMA) */
        KMIGRATE_SYSCALL,    /* other processes' move_pages/migrate_pages/mbind, cpuset moves */
        KMIGRATE_OTHER,      /* memory_failure, memory_hotplug, longterm_pin, unknown reasons; vmstat: unattributed */
        KMIGRATE_TIERD,      /* tierd's own move_pages(2) calls (BPF only) */
        _KMIGRATE_CLASS_MAX,
};
/* "promotion", "demotion", "damon", "compaction", "syscall", "other", "tierd": stable, used in status/metrics. */
const char *kmigrate_class_to_string(enum kmigrate_class c);

/* Cumulative since kmigrate_new(). */
struct kmigrate_counts {
        uint64_t pages[_KMIGRATE_CLASS_MAX];        /* base pages migrated successfully */
        uint64_t pages_failed[_KMIGRATE_CLASS_MAX]; /* base pages that failed to migrate (BPF only) */
        uint64_t events[_KMIGRATE_CLASS_MAX];       /* migrate_pages() calls (BPF only) */
        uint64_t thp[_KMIGRATE_CLASS_MAX];          /* THPs migrated (BPF, kernels that report them) */
        uint32_t available; /* bit (1 << class): this source counts the class (pages[]); others read 0 */
        /* BPF: pages by the kernel's reason value (tierd's own included), named by kmigrate_reason_name() */
        uint64_t reason_pages[TIERD_MIGRATE_REASON_SLOTS];
};

static inline bool kmigrate_counts_has(const struct kmigrate_counts *c, enum kmigrate_class k) {
        return c->available & (UINT32_C(1) << k);
}

/* now - then, counter by counter (0 where a counter went backwards); available is the intersection. */
void kmigrate_counts_delta(const struct kmigrate_counts *now, const struct kmigrate_counts *then,
                           struct kmigrate_counts *ret);

struct kmigrate_options {
        pid_t self;   /* tierd's tgid, whose calls count as KMIGRATE_TIERD; 0: getpid() */
        bool use_bpf; /* false: /proc/vmstat only (the configuration said so) */
};

struct kmigrate;

/* Never fails for lack of BPF or vmstat (it falls back, down to KMIGRATE_SOURCE_NONE): only -EINVAL, -ENOMEM. */
int kmigrate_new(const struct kmigrate_options *o, struct kmigrate **ret);
struct kmigrate *kmigrate_free(struct kmigrate *k);
static inline void kmigrate_freep(struct kmigrate **k) {
        kmigrate_free(*k);
}
#define _cleanup_kmigrate_ _cleanup_(kmigrate_freep)

enum kmigrate_source kmigrate_source(const struct kmigrate *k);
/* Why BPF is not in use (for status), NULL when it is. */
const char *kmigrate_bpf_reason(const struct kmigrate *k);
/* BPF: "tracepoint" or "raw_tracepoint"; NULL otherwise. */
const char *kmigrate_attach_mode(const struct kmigrate *k);
/* BPF: where the reason names came from: "tracefs", "btf" or "builtin"; NULL otherwise. */
const char *kmigrate_reason_names_source(const struct kmigrate *k);
/* The kernel's name for a reason value ("numa_misplaced"), NULL when unknown. */
const char *kmigrate_reason_name(const struct kmigrate *k, unsigned reason);

/* Cumulative counts since kmigrate_new(). Returns 0, or a negative errno when the source could not be read
 * (ret then holds zeros with available = 0). */
int kmigrate_sample(struct kmigrate *k, struct kmigrate_counts *ret);

/* Pure parts, exposed for tests. */

/* The class of a reason as the kernel names it (tracepoint format / TP_printk names). */
enum kmigrate_class kmigrate_class_from_reason(const char *name);
/* enum migrate_reason enumerator -> the tracepoint's name for it: "MR_SYSCALL" -> "syscall_or_cpuset",
 * "MR_NUMA_MISPLACED" -> "numa_misplaced"; an unknown MR_FOO -> "foo". NULL for MR_TYPES and non-MR_ names.
 * buf must hold TP_SYMBOL_NAME_MAX bytes. */
const char *kmigrate_reason_from_enumerator(const char *enumerator, char *buf, size_t size);
/* The raw-tracepoint program for mm_migrate_pages' TP_PROTO: 4, 7 or 8 (arguments), or -EPROTONOSUPPORT when the
 * layout is not one tierd knows (counts as unsigned longs, then enum mode, then int reason). */
int kmigrate_raw_variant(const struct bpf_tp_proto *p);
/* Counts from BPF map totals (one per key, TIERD_MIGRATE_KEYS) and the class of each reason slot. */
void kmigrate_counts_from_bpf(const struct tierd_migrate_count *totals, const uint8_t *reason_class,
                              struct kmigrate_counts *ret);
/* Counts from a /proc/vmstat delta. */
void kmigrate_counts_from_vmstat(const struct vmstat_migration *delta, struct kmigrate_counts *ret);

/* The fight detector. A fight: the kernel demotes in the same windows in which tierd promotes (or, with the
 * arguments the other way round, promotes what tierd demotes), window after window, so pages cross the tiers
 * twice for nothing. Feed one window at a time (e.g. one round) with the pages each side moved in it; a fight
 * starts once both moved more than min_pages in `windows` of the last 2 x `windows` windows, and ends after
 * `windows` consecutive windows in which they did not. Not `windows` in a row: tierd promotes into the room that
 * reclaim demotion makes, and reclaim runs in bursts, so a real fight has gaps (seen in the guest: tierd
 * promoting in rounds 57, 61, 64 and 65 while kswapd demoted the same pages back).
 *
 * Throttling (for the config choice "let tierd throttle its promotions"): promotion_permille is the share of its
 * promotion budget tierd should use. It halves for every window of a fight (down to 1/16) and grows back by 1/8
 * for every window without one: multiplicative decrease, additive increase, so a persistent fight settles at a
 * low rate while a quiet system recovers the full rate within eight windows. */
enum fight_event {
        FIGHT_NONE,      /* no fight, none ended */
        FIGHT_STARTED,   /* this window made it a fight */
        FIGHT_CONTINUES, /* still fighting */
        FIGHT_ENDED,     /* this window ended one */
};
const char *fight_event_to_string(enum fight_event e);

#define FIGHT_PERMILLE_MAX 1000U
#define FIGHT_PERMILLE_MIN (FIGHT_PERMILLE_MAX / 16)
#define FIGHT_PERMILLE_STEP (FIGHT_PERMILLE_MAX / 8)
#define FIGHT_WINDOWS_MAX 16U /* 2 x windows bits of history in a uint32_t */

struct fight_detector {
        uint64_t min_pages; /* a side "moves" in a window when it moves more than this */
        unsigned windows;   /* windows with both moving (of the last 2 x windows) to start a fight, consecutive
                             * calm ones to end it; 1 ..  FIGHT_WINDOWS_MAX */
        uint32_t recent;    /* bit i: both sides moved i windows ago */
        unsigned calm;      /* consecutive windows without, while fighting */
        bool fighting;
        uint64_t n_fights;  /* fights started so far (the first one is the one to explain) */
        unsigned promotion_permille;
};

void fight_detector_init(struct fight_detector *d, uint64_t min_pages, unsigned windows);
enum fight_event fight_detector_feed(struct fight_detector *d, uint64_t tierd_pages, uint64_t kernel_pages);
