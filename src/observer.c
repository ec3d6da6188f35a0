/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "observer.h"
#include "util.h"

struct observer {
        struct kmigrate *km;
        bool use_bpf;
        enum kernel_fight_mode mode;

        bool have_base, have_tierd;
        struct kmigrate_counts base;       /* first sample: totals count from here */
        struct kmigrate_counts last;       /* previous sample */
        struct kmigrate_counts last_round; /* last - the sample before */
        uint64_t rounds;

        uint64_t tierd_last[_OBSERVER_FIGHT_MAX]; /* tierd's cumulative pages at the previous sample */
        struct fight_detector det[_OBSERVER_FIGHT_MAX];
        struct observer_fight_status fight[_OBSERVER_FIGHT_MAX];
};

static const char *const fight_table[_OBSERVER_FIGHT_MAX] = {
        [OBSERVER_FIGHT_DEMOTION] = "demotion",
        [OBSERVER_FIGHT_PROMOTION] = "promotion",
};

const char *observer_fight_to_string(enum observer_fight f) {
        return f < _OBSERVER_FIGHT_MAX ? fight_table[f] : NULL;
}

const char *observer_fight_remedy(enum observer_fight f) {
        switch (f) {
        case OBSERVER_FIGHT_DEMOTION:
                return "turn off reclaim demotion (echo 0 > /sys/kernel/mm/numa/demotion_enabled), or take NUMA "
                       "balancing out of its tiering mode (sysctl kernel.numa_balancing=0, or 1 for balancing "
                       "without tiering), or leave more of the fast tier free (fast_free_min, fast_free_target), or "
                       "let tierd back off its promotions ([policy] kernel_fight = throttle)";
        case OBSERVER_FIGHT_PROMOTION:
                return "take NUMA balancing out of its tiering mode (sysctl kernel.numa_balancing=0, or 1 for "
                       "balancing without tiering), or let tierd back off its demotions ([policy] kernel_fight = "
                       "throttle)";
        default:
                return NULL;
        }
}

int observer_new(bool use_bpf, enum kernel_fight_mode mode, struct observer **ret) {
        struct observer *o;
        int r;

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->use_bpf = use_bpf;
        o->mode = mode;
        r = kmigrate_new(&(struct kmigrate_options) { .self = getpid(), .use_bpf = use_bpf }, &o->km);
        if (r < 0) {
                free(o);
                return r;
        }
        /* The zero line: what the kernel moved before is not news. A source that cannot be read now gets its
         * zero line at the first round instead. */
        if (kmigrate_sample(o->km, &o->base) >= 0) {
                o->last = o->base;
                o->have_base = true;
        }
        for (int f = 0; f < _OBSERVER_FIGHT_MAX; f++) {
                fight_detector_init(&o->det[f], OBSERVER_FIGHT_MIN_PAGES, OBSERVER_FIGHT_ROUNDS);
                o->fight[f].permille = FIGHT_PERMILLE_MAX;
        }
        *ret = o;
        return 0;
}

struct observer *observer_free(struct observer *o) {
        if (!o)
                return NULL;
        kmigrate_free(o->km);
        return mfree(o);
}

void observer_set_mode(struct observer *o, enum kernel_fight_mode mode) {
        if (o)
                o->mode = mode;
}

bool observer_uses_bpf_setting(const struct observer *o, bool use_bpf) {
        return o && o->use_bpf == use_bpf;
}

static void observer_feed(struct observer *o, enum observer_fight f, uint64_t tierd_now, uint64_t kernel_pages) {
        struct observer_fight_status *s = &o->fight[f];
        uint64_t tierd_pages = tierd_now >= o->tierd_last[f] ? tierd_now - o->tierd_last[f] : 0;
        enum fight_event e;
        char b1[FORMAT_BYTES_MAX], b2[FORMAT_BYTES_MAX];

        o->tierd_last[f] = tierd_now;
        e = fight_detector_feed(&o->det[f], tierd_pages, kernel_pages);
        s->fighting = o->det[f].fighting;
        s->fights = o->det[f].n_fights;
        s->permille = o->det[f].promotion_permille;
        if (s->fighting) {
                s->rounds++;
                s->kernel_pages = kernel_pages;
                s->tierd_pages = tierd_pages;
        }

        format_bytes(b1, sizeof(b1), kernel_pages * 4096);
        format_bytes(b2, sizeof(b2), tierd_pages * 4096);
        switch (e) {
        case FIGHT_STARTED:
                if (s->fights == 1)
                        /* Once, with the remedy: an admin must act on it, and repeating it helps nobody. */
                        log_warning("The kernel %s pages while tierd %s them: both sides moved pages in %u of "
                                    "the last %u rounds (in the last one %s by the kernel, %s by tierd), so pages "
                                    "cross the tiers twice for nothing. Remedies: %s.%s",
                                    f == OBSERVER_FIGHT_DEMOTION ? "demotes" : "promotes",
                                    f == OBSERVER_FIGHT_DEMOTION ? "promotes" : "demotes", OBSERVER_FIGHT_ROUNDS,
                                    2 * OBSERVER_FIGHT_ROUNDS, b1, b2, observer_fight_remedy(f),
                                    o->mode == KERNEL_FIGHT_THROTTLE ? " Throttling tierd's side of it now." : "");
                else
                        log_debug("Kernel %s fight %" PRIu64 " started (%s kernel, %s tierd in the last round)",
                                  observer_fight_to_string(f), s->fights, b1, b2);
                break;
        case FIGHT_ENDED:
                log_debug("Kernel %s fight %" PRIu64 " ended", observer_fight_to_string(f), s->fights);
                break;
        default:
                break;
        }
}

void observer_round(struct observer *o, uint64_t tierd_promoted_pages, uint64_t tierd_demoted_pages) {
        struct kmigrate_counts now;
        int r;

        if (!o || kmigrate_source(o->km) == KMIGRATE_SOURCE_NONE)
                return;
        r = kmigrate_sample(o->km, &now);
        if (r < 0) {
                log_repeat_errno(LOG_WARNING, "observer-sample", r,
                                 "Cannot read the kernel's migration counters (%s): %m, ignoring this round",
                                 kmigrate_source_to_string(kmigrate_source(o->km)));
                return;
        }
        if (!o->have_tierd) {
                /* tierd's counters run from the daemon's start, which may be before this observer's (reload). */
                o->tierd_last[OBSERVER_FIGHT_DEMOTION] = tierd_promoted_pages;
                o->tierd_last[OBSERVER_FIGHT_PROMOTION] = tierd_demoted_pages;
                o->have_tierd = true;
        }
        if (!o->have_base) {
                o->base = o->last = now;
                o->have_base = true;
                return;
        }
        kmigrate_counts_delta(&now, &o->last, &o->last_round);
        o->last = now;
        o->rounds++;

        if (kmigrate_counts_has(&o->last_round, KMIGRATE_DEMOTION))
                observer_feed(o, OBSERVER_FIGHT_DEMOTION, tierd_promoted_pages,
                              o->last_round.pages[KMIGRATE_DEMOTION]);
        if (kmigrate_counts_has(&o->last_round, KMIGRATE_PROMOTION))
                observer_feed(o, OBSERVER_FIGHT_PROMOTION, tierd_demoted_pages,
                              o->last_round.pages[KMIGRATE_PROMOTION]);
}

unsigned observer_promote_permille(const struct observer *o) {
        if (!o || o->mode != KERNEL_FIGHT_THROTTLE)
                return FIGHT_PERMILLE_MAX;
        return o->fight[OBSERVER_FIGHT_DEMOTION].permille;
}

unsigned observer_demote_permille(const struct observer *o) {
        if (!o || o->mode != KERNEL_FIGHT_THROTTLE)
                return FIGHT_PERMILLE_MAX;
        return o->fight[OBSERVER_FIGHT_PROMOTION].permille;
}

void observer_snapshot(const struct observer *o, struct observer_snapshot *ret) {
        *ret = (struct observer_snapshot) { .source = "none" };
        if (!o)
                return;
        ret->source = kmigrate_source_to_string(kmigrate_source(o->km));
        ret->bpf_reason = kmigrate_bpf_reason(o->km);
        ret->attach_mode = kmigrate_attach_mode(o->km);
        ret->names_source = kmigrate_reason_names_source(o->km);
        if (o->have_base)
                kmigrate_counts_delta(&o->last, &o->base, &ret->total);
        else
                ret->total.available = o->last.available;
        ret->last_round = o->last_round;
        for (unsigned i = 0; i < TIERD_MIGRATE_REASON_SLOTS; i++)
                ret->reason_names[i] = kmigrate_reason_name(o->km, i);
        ret->rounds = o->rounds;
        ret->mode = o->mode;
        for (int f = 0; f < _OBSERVER_FIGHT_MAX; f++) {
                ret->fight[f] = o->fight[f];
                if (o->mode != KERNEL_FIGHT_THROTTLE)
                        ret->fight[f].permille = FIGHT_PERMILLE_MAX;
        }
}
