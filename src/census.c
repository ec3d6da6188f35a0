/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "log.h"
#include "migrate.h"

struct census_walk {
        struct census *census;
        uint64_t stride;
        pid_t pid;
        size_t n;
        void *addrs[CENSUS_BATCH];
        uint64_t sizes[CENSUS_BATCH];
        enum heat_class classes[CENSUS_BATCH];
        int status[CENSUS_BATCH];
};

static struct census_node *census_node(struct census *c, int node) {
        for (size_t i = 0; i < c->n_nodes; i++)
                if (c->nodes[i].node == node)
                        return &c->nodes[i];
        return NULL;
}

static int flush(struct census_walk *w) {
        struct census *c = w->census;
        int r;

        if (w->n == 0)
                return 0;
        r = migrate_query_nodes(w->pid, w->addrs, w->n, w->status);
        if (r == -ESRCH || r == -ENOENT)
                r = 0; /* exited since the round: its units simply are not counted */
        else if (r < 0)
                return r;
        else
                for (size_t i = 0; i < w->n; i++) {
                        struct census_node *n = w->status[i] >= 0 ? census_node(c, w->status[i]) : NULL;
                        uint64_t bytes = w->sizes[i] * w->stride;

                        if (n)
                                n->class_bytes[w->classes[i]] += bytes;
                        else
                                c->unplaced_bytes += bytes;
                }
        c->units_queried += w->n;
        w->n = 0;
        return r;
}

static int on_unit(const struct heat_unit *u, void *userdata) {
        struct census_walk *w = userdata;
        int r;

        if (u->pid != w->pid || w->n == CENSUS_BATCH) {
                r = flush(w);
                if (r < 0)
                        return r;
                w->pid = u->pid;
        }
        w->addrs[w->n] = (void *) (uintptr_t) u->addr;
        w->sizes[w->n] = u->size_bytes;
        w->classes[w->n] = u->class;
        w->n++;
        return 0;
}

int census_take(const struct heat_store *heat, const struct heat_class_params *p, const struct topology *topo,
                struct census *ret) {
        _cleanup_free_ struct census_walk *w = NULL;
        struct heat_store_stats stats;
        struct census c = {};
        int r;

        heat_store_get_stats(heat, &stats);
        c.nodes = calloc(topo->n_nodes ?: 1, sizeof(struct census_node));
        w = calloc(1, sizeof(*w));
        if (!c.nodes || !w) {
                free(c.nodes);
                return -ENOMEM;
        }
        c.n_nodes = topo->n_nodes;
        for (size_t i = 0; i < topo->n_nodes; i++)
                c.nodes[i].node = topo->nodes[i].id;
        c.sample_stride = stats.units > CENSUS_UNITS_MAX ? (stats.units + CENSUS_UNITS_MAX - 1) / CENSUS_UNITS_MAX : 1;
        c.round = stats.round;

        w->census = &c;
        w->stride = c.sample_stride;
        r = heat_store_sample_units(heat, p, c.sample_stride, on_unit, w);
        if (r >= 0)
                r = flush(w);
        if (r < 0) {
                census_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

void census_done(struct census *c) {
        if (!c)
                return;
        free(c->nodes);
        *c = (struct census) {};
}

void census_tier_class_bytes(const struct census *c, const struct topology *topo, size_t tier,
                             uint64_t ret_bytes[_HEAT_CLASS_MAX]) {
        memset(ret_bytes, 0, sizeof(uint64_t) * _HEAT_CLASS_MAX);
        if (tier >= topo->n_tiers)
                return;
        for (size_t i = 0; i < c->n_nodes; i++) {
                if (!node_set_test(&topo->tiers[tier].nodes, (unsigned) c->nodes[i].node))
                        continue;
                for (int k = 0; k < _HEAT_CLASS_MAX; k++)
                        ret_bytes[k] += c->nodes[i].class_bytes[k];
        }
}
