/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "macro.h"
#include "pfn-map.h"

static int range_cmp(const void *a, const void *b) {
        const struct pfn_range *x = a, *y = b;

        return x->start < y->start ? -1 : x->start > y->start;
}

int pfn_map_build(const struct topology *t, struct pfn_map *ret) {
        _cleanup_free_ struct pfn_range *r = NULL;
        size_t n = 0;

        if (!t || !ret)
                return -EINVAL;
        *ret = (struct pfn_map) {};
        if (t->n_nodes == 0)
                return 0;
        r = calloc(t->n_nodes, sizeof(*r));
        if (!r)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_nodes; i++) {
                const struct topology_node *node = &t->nodes[i];
                enum pfn_place place = PFN_PLACE_NONE;

                if (node->span_end_pfn <= node->span_start_pfn)
                        return -ENODATA;
                if (t->n_tiers >= 2 && node->tier == 0)
                        place = PFN_PLACE_FASTEST;
                else if (t->n_tiers >= 2 && node->tier >= 0 && (size_t) node->tier + 1 == t->n_tiers)
                        place = PFN_PLACE_SLOWEST;
                r[n++] = (struct pfn_range) { node->span_start_pfn, node->span_end_pfn, place };
        }
        qsort(r, n, sizeof(*r), range_cmp);
        for (size_t i = 1; i < n; i++)
                if (r[i].start < r[i - 1].end)
                        return -ENOTUNIQ;
        ret->ranges = TAKE_PTR(r);
        ret->n = n;
        return 0;
}

void pfn_map_done(struct pfn_map *m) {
        if (!m)
                return;
        free(m->ranges);
        *m = (struct pfn_map) {};
}

enum pfn_place pfn_map_lookup(const struct pfn_map *m, uint64_t pfn, size_t *hint) {
        size_t lo = 0, hi;

        if (!m || m->n == 0)
                return PFN_PLACE_NONE;
        if (hint && *hint < m->n && pfn >= m->ranges[*hint].start && pfn < m->ranges[*hint].end)
                return m->ranges[*hint].place;
        /* The last range starting at or below pfn. */
        hi = m->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (m->ranges[mid].start <= pfn)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0 || pfn >= m->ranges[lo - 1].end)
                return PFN_PLACE_NONE;
        if (hint)
                *hint = lo - 1;
        return m->ranges[lo - 1].place;
}
