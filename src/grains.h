/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Observation grains: the address ranges a backend sees as one. DAMON samples one page of a region and gives the
 * whole region its result, so every page of a region has the same heat: a sample of 64 units from two regions is
 * two observations, not 64. Backends that look at every page (page_idle, idle_pages) record no grains, and each
 * unit is its own.
 *
 * Per target, the map keeps the starts of the grains the backend reported in the last pass that reported any for
 * it (a backend reports all of a target's grains in a pass, accessed or not). Memory: 8 bytes a grain (DAMON:
 * at most max_nr_regions a target). */

struct grain_map;

int grain_map_new(struct grain_map **ret);
struct grain_map *grain_map_free(struct grain_map *m);
static inline void grain_map_freep(struct grain_map **m) {
        grain_map_free(*m);
}

/* A new pass: the next grain added for a target replaces the ones it had. Targets with no grain added for two whole
 * passes since are forgotten (they exited or the backend changed). */
void grain_map_begin_pass(struct grain_map *m);

/* Grain [start, next grain's start or the end of the mapping) of pid in this pass. Returns 0 or -ENOMEM (the
 * target then has no grains: each unit counts as its own, as before the map knew of it). */
int grain_map_add(struct grain_map *m, pid_t pid, uint64_t start);

void grain_map_drop(struct grain_map *m, pid_t pid);

/* The start of pid's grain holding addr: the last grain start <= addr; addr itself where pid has none (m NULL,
 * a backend without grains, an address below the first grain). */
uint64_t grain_map_find(struct grain_map *m, pid_t pid, uint64_t addr);
