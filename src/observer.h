/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kmigrate.h"
#include "macro.h"

/* The daemon's side of the kernel migration observer (kmigrate.c): once per round it samples what the kernel
 * moved, keeps the totals and the last round's delta for status and metrics, and watches for fights between the
 * kernel and tierd.
 *
 * Two fights are told apart, because their remedies differ:
 *   demotion   the kernel demotes (reclaim with demotion_enabled, or NUMA balancing's tiering mode making room)
 *              in the rounds in which tierd promotes;
 *   promotion  the kernel promotes (NUMA balancing in tiering mode) in the rounds in which tierd demotes.
 * The first round of the first fight of each kind is logged with the remedies; later fights only at debug level.
 * With kernel_fight = throttle, tierd also scales its own moves in the fighting direction (promotions against a
 * demoting kernel, demotions against a promoting one) by the detector's permille: halved per fighting round,
 * down to 1/16, and back by 1/8 per calm round (see fight_detector in kmigrate.h). */

enum observer_fight {
        OBSERVER_FIGHT_DEMOTION,  /* kernel demotes, tierd promotes */
        OBSERVER_FIGHT_PROMOTION, /* kernel promotes, tierd demotes */
        _OBSERVER_FIGHT_MAX,
};
const char *observer_fight_to_string(enum observer_fight f); /* "demotion", "promotion" */

/* A side "moves" in a round when it moves more than this many pages (1 MiB): a few pages either way are noise
 * (compaction, a page that just turned). */
#define OBSERVER_FIGHT_MIN_PAGES 256
/* Consecutive rounds with both sides moving before it counts as a fight (and without, before it ends). */
#define OBSERVER_FIGHT_ROUNDS 3

struct observer_fight_status {
        bool fighting;
        uint64_t fights;         /* started since tierd started */
        uint64_t rounds;         /* rounds spent fighting */
        unsigned permille;       /* share of its budget tierd uses in this direction (1000 without throttle) */
        uint64_t kernel_pages;   /* in the fight's last round: pages the kernel moved the other way */
        uint64_t tierd_pages;    /* and tierd's pages in its direction */
};

/* Everything status and metrics show about the kernel's migrations. Pointers are into the observer. */
struct observer_snapshot {
        const char *source;       /* "bpf", "vmstat", "none" */
        const char *bpf_reason;   /* why not BPF; NULL when BPF is in use */
        const char *attach_mode;  /* BPF: "tracepoint" or "raw_tracepoint" */
        const char *names_source; /* BPF: where reason names came from */
        struct kmigrate_counts total;      /* since tierd started */
        struct kmigrate_counts last_round; /* the last round */
        const char *reason_names[TIERD_MIGRATE_REASON_SLOTS]; /* BPF: named reasons (NULL: no such reason) */
        uint64_t rounds;                   /* rounds sampled */
        enum kernel_fight_mode mode;
        struct observer_fight_status fight[_OBSERVER_FIGHT_MAX];
};

struct observer;

/* use_bpf: false when the configuration says no. Never fails for want of BPF or vmstat; only -ENOMEM. */
int observer_new(bool use_bpf, enum kernel_fight_mode mode, struct observer **ret);
struct observer *observer_free(struct observer *o);
static inline void observer_freep(struct observer **o) {
        observer_free(*o);
}
#define _cleanup_observer_ _cleanup_(observer_freep)

void observer_set_mode(struct observer *o, enum kernel_fight_mode mode);
/* Whether the source must be opened again: BPF wanted or not changed. */
bool observer_uses_bpf_setting(const struct observer *o, bool use_bpf);

/* Ends a round: samples the kernel's counters and feeds the fight detectors with tierd's cumulative promoted and
 * demoted pages (placement stats). Logs the first fight of each kind with its remedy. */
void observer_round(struct observer *o, uint64_t tierd_promoted_pages, uint64_t tierd_demoted_pages);

/* With throttle: the share of its limits tierd may use in a direction, in permille (1000 otherwise). */
unsigned observer_promote_permille(const struct observer *o);
unsigned observer_demote_permille(const struct observer *o);

void observer_snapshot(const struct observer *o, struct observer_snapshot *ret);

/* The remedy text for a fight, for logs and tests. */
const char *observer_fight_remedy(enum observer_fight f);
