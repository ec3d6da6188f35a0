/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "log.h"
#include "migrate.h"

/* One unit of the sample, to be located. */
struct census_sample {
        uint64_t addr;
        uint64_t size_bytes;
        pid_t pid;
        enum heat_class class;
};

struct census_taker {
        struct census census;
        struct census_sample *samples;
        size_t n_samples, n_allocated;
        size_t next; /* the first sample not located yet */
        void *addrs[CENSUS_BATCH];
        int status[CENSUS_BATCH];
};

static struct census_node *census_node(struct census *c, int node) {
        for (size_t i = 0; i < c->n_nodes; i++)
                if (c->nodes[i].node == node)
                        return &c->nodes[i];
        return NULL;
}

static int on_unit(const struct heat_unit *u, void *userdata) {
        struct census_taker *t = userdata;

        if (t->n_samples == t->n_allocated) {
                size_t a = MAX(t->n_allocated * 2, (size_t) 1024);
                struct census_sample *v = reallocarray(t->samples, a, sizeof(struct census_sample));

                if (!v)
                        return -ENOMEM;
                t->samples = v;
                t->n_allocated = a;
        }
        t->samples[t->n_samples++] = (struct census_sample) {
                .addr = u->addr,
                .size_bytes = u->size_bytes,
                .pid = u->pid,
                .class = u->class,
        };
        return 0;
}

int census_taker_new(const struct heat_store *heat, const struct heat_class_params *p, const struct topology *topo,
                     struct census_taker **ret) {
        _cleanup_(census_taker_freep) struct census_taker *t = NULL;
        struct heat_store_stats stats;
        int r;

        if (!heat || !p || !topo || !ret)
                return -EINVAL;
        heat_store_get_stats(heat, &stats);
        t = calloc(1, sizeof(struct census_taker));
        if (!t)
                return -ENOMEM;
        t->census.nodes = calloc(topo->n_nodes ?: 1, sizeof(struct census_node));
        if (!t->census.nodes)
                return -ENOMEM;
        t->census.n_nodes = topo->n_nodes;
        for (size_t i = 0; i < topo->n_nodes; i++)
                t->census.nodes[i].node = topo->nodes[i].id;
        t->census.sample_stride = stats.units > CENSUS_UNITS_MAX ?
                (stats.units + CENSUS_UNITS_MAX - 1) / CENSUS_UNITS_MAX : 1;
        t->census.round = stats.round;

        /* The sample is taken now, from the store as the round left it; locating it is what takes time. */
        r = heat_store_sample_units(heat, p, t->census.sample_stride, on_unit, t);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

/* Locates samples [from, to), all of one process. */
static int locate(struct census_taker *t, size_t from, size_t to) {
        struct census *c = &t->census;
        int r;

        for (size_t i = from; i < to; i++)
                t->addrs[i - from] = (void *) (uintptr_t) t->samples[i].addr;
        r = migrate_query_nodes(t->samples[from].pid, t->addrs, to - from, t->status);
        if (r == -ESRCH || r == -ENOENT)
                r = 0; /* exited since the round: its units simply are not counted */
        else if (r < 0)
                return r;
        else
                for (size_t i = from; i < to; i++) {
                        int node = t->status[i - from];
                        struct census_node *n = node >= 0 ? census_node(c, node) : NULL;
                        uint64_t bytes = t->samples[i].size_bytes * c->sample_stride;

                        if (n)
                                n->class_bytes[t->samples[i].class] += bytes;
                        else
                                c->unplaced_bytes += bytes;
                }
        c->units_queried += to - from;
        return 0;
}

int census_taker_step(struct census_taker *t, uint64_t units_max, struct census *ret) {
        uint64_t located = 0;
        int r;

        if (!t || !ret || units_max == 0 || !t->census.nodes)
                return -EINVAL;
        while (t->next < t->n_samples) {
                size_t end = t->next;

                if (located >= units_max)
                        return 1;
                /* A batch: one process, at most CENSUS_BATCH units and no more than the step has left. */
                while (end < t->n_samples && end - t->next < MIN((uint64_t) CENSUS_BATCH, units_max - located) &&
                       t->samples[end].pid == t->samples[t->next].pid)
                        end++;
                r = locate(t, t->next, end);
                if (r < 0)
                        return r;
                located += end - t->next;
                t->next = end;
        }
        *ret = t->census;
        t->census = (struct census) {};
        return 0;
}

uint64_t census_taker_located(const struct census_taker *t) {
        return t ? t->next : 0;
}

struct census_taker *census_taker_free(struct census_taker *t) {
        if (!t)
                return NULL;
        census_done(&t->census);
        free(t->samples);
        free(t);
        return NULL;
}

int census_take(const struct heat_store *heat, const struct heat_class_params *p, const struct topology *topo,
                struct census *ret) {
        _cleanup_(census_taker_freep) struct census_taker *t = NULL;
        int r;

        r = census_taker_new(heat, p, topo, &t);
        if (r < 0)
                return r;
        r = census_taker_step(t, UINT64_MAX, ret);
        /* Never paused: nothing samples UINT64_MAX units. */
        return MIN(r, 0);
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
