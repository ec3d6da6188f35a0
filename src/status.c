/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>

#include "status.h"

static json_object *json_u64(uint64_t v) {
        /* json-c stores uint64 natively; sizes above INT64_MAX cannot occur but would still print unsigned. */
        return json_object_new_uint64(v);
}

static json_object *node_set_to_json(const struct node_set *set) {
        json_object *a = json_object_new_array();

        NODE_SET_FOREACH(n, set)
                json_object_array_add(a, json_object_new_int(n));
        return a;
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

json_object *status_to_json(const struct tierd_status *s) {
        json_object *o = json_object_new_object(), *tiers = json_object_new_array(),
                    *nodes = json_object_new_array();
        const struct topology *t = s->topology;

        json_object_object_add(o, "version", str_or_null(s->version));
        json_object_object_add(o, "pid", json_object_new_int(s->pid));
        json_object_object_add(o, "state", str_or_null(s->state));
        json_object_object_add(o, "state_reason", str_or_null(s->state_reason));
        json_object_object_add(o, "uptime_us", json_u64(s->uptime_us));
        json_object_object_add(o, "config", str_or_null(s->config_path));
        json_object_object_add(o, "config_reloads", json_u64(s->config_reloads));
        json_object_object_add(o, "config_reload_failures", json_u64(s->config_reload_failures));
        json_object_object_add(o, "backend", str_or_null(s->backend));
        json_object_object_add(o, "backend_reason", str_or_null(s->backend_reason));
        json_object_object_add(o, "policy", str_or_null(s->policy));
        json_object_object_add(o, "passes", json_object_new_int((int) s->passes));
        json_object_object_add(o, "pass_interval_us", json_u64(s->pass_interval_us));
        json_object_object_add(o, "round", json_u64(s->round));
        json_object_object_add(o, "round_duration_us", json_u64(s->round_duration_us));
        json_object_object_add(o, "round_interval_us", json_u64(s->round_interval_us));

        if (t) {
                json_object_object_add(o, "tier_source",
                                       json_object_new_string(tier_source_to_string(t->tier_source)));
                for (size_t i = 0; i < t->n_tiers; i++) {
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "tier", json_object_new_int((int) i));
                        json_object_object_add(e, "kernel_tier",
                                               t->tiers[i].kernel_tier >= 0 ?
                                                       json_object_new_int(t->tiers[i].kernel_tier) :
                                                       NULL);
                        json_object_object_add(e, "nodes", node_set_to_json(&t->tiers[i].nodes));
                        json_object_object_add(e, "total_bytes", json_u64(t->tiers[i].total_bytes));
                        json_object_object_add(e, "free_bytes", json_u64(t->tiers[i].free_bytes));
                        json_object_array_add(tiers, e);
                }
                for (size_t i = 0; i < t->n_nodes; i++) {
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "node", json_object_new_int(t->nodes[i].id));
                        json_object_object_add(e, "tier",
                                               t->nodes[i].tier >= 0 ? json_object_new_int(t->nodes[i].tier) :
                                                                       NULL);
                        json_object_object_add(e, "cpus", json_object_new_int((int) t->nodes[i].n_cpus));
                        json_object_object_add(e, "total_bytes", json_u64(t->nodes[i].total_bytes));
                        json_object_object_add(e, "free_bytes", json_u64(t->nodes[i].free_bytes));
                        json_object_array_add(nodes, e);
                }
        }
        json_object_object_add(o, "tiers", tiers);
        json_object_object_add(o, "nodes", nodes);

        uint64_t rss = 0;
        size_t n_targets = s->targets ? s->targets->n_targets : 0;
        for (size_t i = 0; i < n_targets; i++)
                rss += s->targets->targets[i].rss_bytes;
        json_object_object_add(o, "targets", json_object_new_int64((int64_t) n_targets));
        json_object_object_add(o, "targets_rss_bytes", json_u64(rss));

        json_object_object_add(o, "promoted_bytes", json_u64(s->promoted_bytes));
        json_object_object_add(o, "demoted_bytes", json_u64(s->demoted_bytes));
        json_object_object_add(o, "promoted_pages", json_u64(s->promoted_pages));
        json_object_object_add(o, "demoted_pages", json_u64(s->demoted_pages));
        json_object_object_add(o, "log_suppressed", json_u64(s->log_suppressed));
        return o;
}

json_object *targets_to_json(const struct target_set *set) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; set && i < set->n_targets; i++) {
                const struct target *t = &set->targets[i];
                json_object *e = json_object_new_object();

                json_object_object_add(e, "pid", json_object_new_int(t->pid));
                json_object_object_add(e, "comm", json_object_new_string(t->comm));
                json_object_object_add(e, "exe", str_or_null(t->exe));
                json_object_object_add(e, "cgroup", str_or_null(t->cgroup));
                json_object_object_add(e, "matched_by",
                                       json_object_new_string(target_match_to_string(t->matched_by)));
                json_object_object_add(e, "rss_bytes", json_u64(t->rss_bytes));
                json_object_object_add(e, "vmas", json_object_new_int64((int64_t) t->n_vmas));
                json_object_object_add(e, "mapped_bytes", json_u64(t->mapped_bytes));
                json_object_array_add(a, e);
        }
        return a;
}
