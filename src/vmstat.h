/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The migration counters of /proc/vmstat: the fallback kernel-migration observer when BPF is not available
 * (kmigrate.c), and what it works out per-interval deltas from. Counters a kernel does not have are simply
 * absent (pgpromote_* and pgdemote_* appeared with memory tiering in 5.18/6.1, pgdemote_proactive in 6.11;
 * numa_pages_migrated needs CONFIG_NUMA_BALANCING). */

enum vmstat_field {
        VMSTAT_PGPROMOTE_SUCCESS,
        VMSTAT_PGPROMOTE_CANDIDATE,
        VMSTAT_PGDEMOTE_KSWAPD,
        VMSTAT_PGDEMOTE_DIRECT,
        VMSTAT_PGDEMOTE_KHUGEPAGED,
        VMSTAT_PGDEMOTE_PROACTIVE,
        VMSTAT_PGMIGRATE_SUCCESS,
        VMSTAT_PGMIGRATE_FAIL,
        VMSTAT_NUMA_PAGES_MIGRATED,
        VMSTAT_THP_MIGRATION_SUCCESS,
        VMSTAT_THP_MIGRATION_FAIL,
        VMSTAT_THP_MIGRATION_SPLIT,
        _VMSTAT_FIELD_MAX,
};

struct vmstat_migration {
        uint64_t value[_VMSTAT_FIELD_MAX];
        uint32_t present; /* bit (1 << field) set: the kernel has the counter */
};

/* The name as /proc/vmstat spells it ("pgpromote_success"). */
const char *vmstat_field_to_string(enum vmstat_field f);

static inline bool vmstat_has(const struct vmstat_migration *v, enum vmstat_field f) {
        return v->present & (UINT32_C(1) << f);
}

/* Parses /proc/vmstat text ("name value" lines; other counters are ignored). Returns 0, -EINVAL for NULL
 * arguments, -EBADMSG for a known counter whose value is not a number or that appears twice. */
int vmstat_parse(const char *text, struct vmstat_migration *ret);

/* Reads /proc/vmstat through fsroot and parses it. */
int vmstat_read(struct vmstat_migration *ret);

/* Pages demoted by reclaim (sum of the pgdemote_* counters). */
uint64_t vmstat_demoted(const struct vmstat_migration *v);

/* now - then for every counter present in both (a counter that went backwards gives 0); ret->present is the
 * intersection. */
void vmstat_delta(const struct vmstat_migration *now, const struct vmstat_migration *then,
                  struct vmstat_migration *ret);
