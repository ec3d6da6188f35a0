/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsroot.h"
#include "log.h"
#include "macro.h"
#include "topology.h"
#include "util.h"
#include "zoneinfo.h"

/* libnuma is deliberately not used for topology: numa_parse_nodestring(), numa_num_configured_nodes() and
 * friends read and validate against the live system behind our back (they open /sys themselves, once, at
 * library load), bypassing the fsroot door. The fixture tests point this code at fake trees, which libnuma
 * would silently ignore. The few sysfs files involved are simple enough to read directly. */

#define NODE_DIR "/sys/devices/system/node"
#define MEMORY_TIERING_DIR "/sys/devices/virtual/memory_tiering"

/* Node lists, cpulists and per-node meminfo are a few kB at most; the cap only guards against a broken tree. */
#define SYSFS_FILE_MAX (64U * 1024)

static const char *const tier_source_table[] = {
        [TIER_SOURCE_CONFIG] = "config",
        [TIER_SOURCE_MEMORY_TIERING] = "memory_tiering",
        [TIER_SOURCE_CPUS] = "cpus",
};

const char *tier_source_to_string(enum tier_source s) {
        if ((unsigned) s >= ELEMENTSOF(tier_source_table))
                return NULL;
        return tier_source_table[s];
}

/* The daemon rebuilds the topology every round, and what goes wrong here (a configured node without memory, an
 * unreadable sysfs file) persists until the configuration or the hardware changes: each condition is logged
 * when it appears, not every round (see log_repeat_errno()). The key names the condition. */
#define log_topology_warning(key, ...) ((void) log_repeat_errno(LOG_WARNING, (key), 0, __VA_ARGS__))

static int log_file_errno(int level, int error, const char *verb, const char *path, const char *suffix) {
        char key[2 * PATH_MAX]; /* a truncated key would only merge two conditions */

        snprintf(key, sizeof(key), "topology-%s:%s", verb, path);
        return log_repeat_errno(level, key, error, "Failed to %s %s: %m%s", verb, path, suffix);
}

/* Parses the value part of a meminfo line, [p, end): "      16384 kB". */
static int meminfo_value(const char *p, const char *end, uint64_t *ret_bytes) {
        uint64_t v = 0;
        const char *q;

        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        for (q = p; q < end && isdigit((unsigned char) *q); q++)
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t) (*q - '0'), &v))
                        return -ERANGE;
        if (q == p)
                return -EINVAL;
        p = q;
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        /* The kernel prints every byte-sized field of a node's meminfo in kB; anything else is not what we
         * think it is. */
        if (end - p < 2 || p[0] != 'k' || p[1] != 'B')
                return -EINVAL;
        p += 2;
        while (p < end && isspace((unsigned char) *p))
                p++;
        if (p != end)
                return -EINVAL;
        if (__builtin_mul_overflow(v, 1024, &v))
                return -ERANGE;
        *ret_bytes = v;
        return 0;
}

int topology_parse_meminfo(const char *buf, uint64_t *ret_total_bytes, uint64_t *ret_free_bytes) {
        bool have_total = false, have_free = false;
        uint64_t total = 0, free_bytes = 0;

        for (const char *p = buf; *p;) {
                const char *eol = strchrnul(p, '\n'), *q = p, *key, *colon;
                size_t key_len;
                int r;

                /* "Node 0 MemTotal:       16384 kB"; the "Node N" prefix is optional so that the parser also
                 * takes /proc/meminfo-style lines. */
                while (q < eol && (*q == ' ' || *q == '\t'))
                        q++;
                if (eol - q > 5 && strncmp(q, "Node ", 5) == 0) {
                        q += 5;
                        while (q < eol && *q == ' ')
                                q++;
                        if (q >= eol || !isdigit((unsigned char) *q))
                                return -EINVAL;
                        while (q < eol && isdigit((unsigned char) *q))
                                q++;
                        while (q < eol && *q == ' ')
                                q++;
                }

                key = q;
                colon = memchr(key, ':', (size_t) (eol - key));
                if (colon) {
                        key_len = (size_t) (colon - key);
                        if (key_len == strlen("MemTotal") && strncmp(key, "MemTotal", key_len) == 0) {
                                r = meminfo_value(colon + 1, eol, &total);
                                if (r < 0)
                                        return r;
                                have_total = true;
                        } else if (key_len == strlen("MemFree") && strncmp(key, "MemFree", key_len) == 0) {
                                r = meminfo_value(colon + 1, eol, &free_bytes);
                                if (r < 0)
                                        return r;
                                have_free = true;
                        }
                }

                p = *eol ? eol + 1 : eol;
        }

        if (!have_total || !have_free)
                return -EINVAL;

        *ret_total_bytes = total;
        *ret_free_bytes = free_bytes;
        return 0;
}

static int node_load(int id, struct topology_node *ret) {
        _cleanup_free_ char *cpulist = NULL, *meminfo = NULL;
        uint64_t total, free_bytes;
        char path[PATH_MAX];
        unsigned n_cpus;
        int r;

        snprintf(path, sizeof(path), NODE_DIR "/node%d/cpulist", id);
        r = fsroot_read_file(path, SYSFS_FILE_MAX, &cpulist, NULL);
        if (r < 0)
                return log_file_errno(LOG_ERR, r, "read", path, "");
        /* A CPU-less node has an empty cpulist (just "\n"), which counts as zero CPUs. */
        r = range_list_count(cpulist, &n_cpus);
        if (r < 0)
                return log_file_errno(LOG_ERR, r, "parse", path, "");

        snprintf(path, sizeof(path), NODE_DIR "/node%d/meminfo", id);
        r = fsroot_read_file(path, SYSFS_FILE_MAX, &meminfo, NULL);
        if (r < 0)
                return log_file_errno(LOG_ERR, r, "read", path, "");
        r = topology_parse_meminfo(meminfo, &total, &free_bytes);
        if (r < 0)
                return log_file_errno(LOG_ERR, r, "parse MemTotal and MemFree in", path, "");

        *ret = (struct topology_node) {
                .id = id,
                .n_cpus = n_cpus,
                .total_bytes = total,
                .free_bytes = free_bytes,
                .tier = -1,
        };
        return 0;
}

/* The nodes with memory (N_MEMORY). */
static int memory_nodes_load(struct node_set *ret) {
        _cleanup_free_ char *buf = NULL;
        struct node_set set;
        int r;

        r = fsroot_read_file(NODE_DIR "/has_memory", SYSFS_FILE_MAX, &buf, NULL);
        if (r == -ENOENT) {
                /* Older or odd kernels without the N_MEMORY mask: a machine with one node. */
                r = fsroot_access(NODE_DIR "/node0", F_OK);
                if (r < 0)
                        return log_repeat_errno(LOG_ERR, "topology-no-nodes", r,
                                                "Cannot determine the memory nodes: neither %s nor %s is "
                                                "available (kernel without NUMA support?): %m",
                                                NODE_DIR "/has_memory", NODE_DIR "/node0");
                (void) log_repeat_errno(LOG_INFO, "topology-no-has-memory", 0,
                                        "%s does not exist, assuming node 0 is the only memory node.",
                                        NODE_DIR "/has_memory");
                set = (struct node_set) {};
                node_set_add(&set, 0);
                *ret = set;
                return 0;
        }
        if (r < 0)
                return log_file_errno(LOG_ERR, r, "read", NODE_DIR "/has_memory", "");

        r = node_set_parse(buf, &set);
        if (r < 0)
                return log_file_errno(LOG_ERR, r, "parse", NODE_DIR "/has_memory", "");
        if (node_set_is_empty(&set))
                return log_repeat_errno(LOG_ERR, "topology-has-memory-empty", -ENXIO,
                                        "%s lists no node, cannot manage memory tiers.", NODE_DIR "/has_memory");
        *ret = set;
        return 0;
}

static struct topology_node *find_node(struct topology *t, int id) {
        return (struct topology_node *) topology_find_node(t, id);
}

static int tiers_from_config(const struct tierd_config *config, const struct node_set *mem, struct topology *t) {
        struct node_set assigned = {};
        unsigned n = MIN(config->n_tiers, (unsigned) TIERD_MAX_TIERS);
        char key[128];

        for (unsigned i = 0; i < n; i++) {
                struct node_set s = {};

                NODE_SET_FOREACH(node, &config->tiers[i]) {
                        if (!node_set_test(mem, (unsigned) node)) {
                                snprintf(key, sizeof(key), "topology-config-no-memory:%u:%d", i, node);
                                log_topology_warning(key,
                                                     "Configured tier %u names node %d, which has no memory, "
                                                     "ignoring.", i, node);
                                continue;
                        }
                        if (node_set_test(&assigned, (unsigned) node)) {
                                /* The configuration parser should refuse this; keep the faster tier. */
                                snprintf(key, sizeof(key), "topology-config-dup:%u:%d", i, node);
                                log_topology_warning(key,
                                                     "Configured tier %u names node %d, which is already in a "
                                                     "faster tier, ignoring.", i, node);
                                continue;
                        }
                        node_set_add(&s, (unsigned) node);
                        node_set_add(&assigned, (unsigned) node);
                }

                if (node_set_is_empty(&s)) {
                        snprintf(key, sizeof(key), "topology-config-empty:%u", i);
                        log_topology_warning(key, "Configured tier %u contains no node with memory, ignoring.", i);
                        continue;
                }

                t->tiers[t->n_tiers++] = (struct topology_tier) {
                        .kernel_tier = -1,
                        .nodes = s,
                };
        }

        if (t->n_tiers == 0)
                return log_repeat_errno(LOG_ERR, "topology-config-no-tier", -EINVAL,
                                        "None of the configured tiers contains a node with memory.");

        t->tier_source = TIER_SOURCE_CONFIG;
        return 0;
}

struct kernel_tier {
        unsigned id;
        struct node_set nodes;
};

static int kernel_tier_compare(const void *a, const void *b) {
        const struct kernel_tier *x = a, *y = b;

        return x->id < y->id ? -1 : x->id > y->id;
}

/* Returns 1 if the kernel's memory tiers were used, 0 if they do not apply (the caller falls back to the CPU
 * rule), negative errno on a fatal error. */
static int tiers_from_memory_tiering(const struct node_set *mem, struct topology *t) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ struct kernel_tier *kt = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        char key[128];

        d = fsroot_opendir(MEMORY_TIERING_DIR);
        if (!d) {
                if (errno == ENOENT) {
                        log_debug("%s does not exist (kernel before 6.1 or without memory tiers).",
                                  MEMORY_TIERING_DIR);
                        return 0;
                }
                (void) log_file_errno(LOG_WARNING, errno, "open", MEMORY_TIERING_DIR,
                                      ", ignoring the kernel's memory tiers.");
                return 0;
        }

        for (;;) {
                _cleanup_free_ char *buf = NULL;
                char path[PATH_MAX];
                struct node_set s;
                unsigned id;
                int r;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                (void) log_file_errno(LOG_WARNING, errno, "read", MEMORY_TIERING_DIR,
                                                      ", ignoring the kernel's memory tiers.");
                                return 0;
                        }
                        break;
                }

                if (!startswith(de->d_name, "memory_tier") ||
                    parse_uint(de->d_name + strlen("memory_tier"), &id) < 0)
                        continue;

                snprintf(path, sizeof(path), MEMORY_TIERING_DIR "/%s/nodelist", de->d_name);
                r = fsroot_read_file(path, SYSFS_FILE_MAX, &buf, NULL);
                if (r == -ENOENT) {
                        /* The tier went away under us (its last node was offlined): it has no memory. */
                        log_debug_errno(r, "%s vanished, ignoring.", path);
                        continue;
                }
                if (r < 0) {
                        (void) log_file_errno(LOG_WARNING, r, "read", path, ", ignoring the kernel's memory tiers.");
                        return 0;
                }
                r = node_set_parse(buf, &s);
                if (r < 0) {
                        (void) log_file_errno(LOG_WARNING, r, "parse", path, ", ignoring the kernel's memory tiers.");
                        return 0;
                }

                /* Only nodes with memory matter; a tier without any is no tier for us. */
                for (size_t i = 0; i < ELEMENTSOF(s.bits); i++)
                        s.bits[i] &= mem->bits[i];
                if (node_set_is_empty(&s)) {
                        log_debug("%s has no node with memory, ignoring.", path);
                        continue;
                }

                if (n == allocated) {
                        size_t na = allocated ? allocated * 2 : 8;
                        struct kernel_tier *p = realloc(kt, na * sizeof(*kt));

                        if (!p)
                                return log_error_errno(-ENOMEM, "Failed to allocate memory: %m");
                        kt = p;
                        allocated = na;
                }
                kt[n++] = (struct kernel_tier) { .id = id, .nodes = s };
        }

        if (n < 2) {
                log_debug("The kernel reports %zu memory tier(s) with memory, using the CPU rule instead.", n);
                return 0;
        }

        /* readdir() order is arbitrary; a smaller K is a faster tier. */
        qsort(kt, n, sizeof(*kt), kernel_tier_compare);

        if (n > TIERD_MAX_TIERS) {
                struct kernel_tier *last = &kt[TIERD_MAX_TIERS - 1];

                snprintf(key, sizeof(key), "topology-kernel-tiers-merged:%zu", n);
                log_topology_warning(key,
                                     "The kernel reports %zu memory tiers, more than the %d supported; merging "
                                     "memory_tier%u to memory_tier%u into memory_tier%u.",
                                     n, TIERD_MAX_TIERS, last->id, kt[n - 1].id, last->id);
                for (size_t i = TIERD_MAX_TIERS; i < n; i++)
                        for (size_t j = 0; j < ELEMENTSOF(last->nodes.bits); j++)
                                last->nodes.bits[j] |= kt[i].nodes.bits[j];
                n = TIERD_MAX_TIERS;
        }

        for (size_t i = 0; i < n; i++)
                t->tiers[i] = (struct topology_tier) {
                        .kernel_tier = (int) kt[i].id,
                        .nodes = kt[i].nodes,
                };
        t->n_tiers = n;
        t->tier_source = TIER_SOURCE_MEMORY_TIERING;
        return 1;
}

static void tiers_from_cpus(struct topology *t) {
        struct node_set with_cpus = {}, cpuless = {};

        for (size_t i = 0; i < t->n_nodes; i++)
                node_set_add(t->nodes[i].n_cpus > 0 ? &with_cpus : &cpuless, (unsigned) t->nodes[i].id);

        if (!node_set_is_empty(&with_cpus) && !node_set_is_empty(&cpuless)) {
                t->tiers[0] = (struct topology_tier) { .kernel_tier = -1, .nodes = with_cpus };
                t->tiers[1] = (struct topology_tier) { .kernel_tier = -1, .nodes = cpuless };
                t->n_tiers = 2;
        } else {
                /* All nodes alike: nothing to tier, one tier holding everything. */
                t->tiers[0] = (struct topology_tier) {
                        .kernel_tier = -1,
                        .nodes = node_set_is_empty(&with_cpus) ? cpuless : with_cpus,
                };
                t->n_tiers = 1;
        }
        t->tier_source = TIER_SOURCE_CPUS;
}

/* Points each node at its tier and sums the tiers' memory. */
static void tiers_finish(struct topology *t) {
        char key[64];

        for (size_t i = 0; i < t->n_tiers; i++) {
                struct topology_tier *tier = &t->tiers[i];

                tier->total_bytes = tier->free_bytes = tier->kept_bytes = 0;
                NODE_SET_FOREACH(id, &tier->nodes) {
                        struct topology_node *node = find_node(t, id);

                        if (!node) /* cannot happen: every tier source was masked with the memory nodes */
                                continue;
                        node->tier = (int) i;
                        tier->total_bytes += node->total_bytes;
                        tier->free_bytes += node->free_bytes;
                        tier->kept_bytes += node->kept_bytes;
                }
        }

        for (size_t i = 0; i < t->n_nodes; i++) {
                if (t->nodes[i].tier >= 0)
                        continue;
                snprintf(key, sizeof(key), "topology-node-untiered:%s:%d", tier_source_to_string(t->tier_source),
                         t->nodes[i].id);
                if (t->tier_source == TIER_SOURCE_CONFIG)
                        log_topology_warning(key, "Node %d has memory but is in no configured tier, not managing it.",
                                             t->nodes[i].id);
                else
                        log_topology_warning(key, "Node %d has memory but is in no kernel memory tier, not managing it.",
                                             t->nodes[i].id);
        }
}

/* What each node's free memory keeps back from movable allocations, and the PFNs it spans. Without
 * /proc/zoneinfo tierd plans with MemFree: promotions into the kept part then fail with ENOMEM, which
 * placement.c also copes with; and page_idle locates pages through move_pages(2) (pfn-map.h). */
static void nodes_zoneinfo_load(struct topology *t) {
        _cleanup_free_ struct zoneinfo *z = NULL;
        int r;

        r = zoneinfo_read(&z);
        if (r < 0) {
                log_repeat_errno(LOG_NOTICE, "topology-zoneinfo", r,
                                 "Cannot read /proc/zoneinfo: %m; planning with all of MemFree, ignoring");
                return;
        }
        for (size_t i = 0; i < t->n_nodes; i++) {
                struct topology_node *n = &t->nodes[i];

                /* meminfo and zoneinfo are read a moment apart: never keep more than is free. */
                if (!zoneinfo_has_node(z, n->id))
                        continue;
                n->kept_bytes = MIN(z->kept_bytes[n->id], n->free_bytes);
                n->span_start_pfn = z->span_start_pfn[n->id];
                n->span_end_pfn = z->span_end_pfn[n->id];
        }
}

int topology_load(const struct tierd_config *config, struct topology *ret) {
        _cleanup_(topology_done) struct topology t = {};
        struct node_set mem;
        size_t i = 0;
        int r;

        r = memory_nodes_load(&mem);
        if (r < 0)
                return r;

        t.n_nodes = node_set_count(&mem);
        t.nodes = calloc(t.n_nodes, sizeof(*t.nodes));
        if (!t.nodes)
                return log_error_errno(-ENOMEM, "Failed to allocate memory: %m");
        NODE_SET_FOREACH(id, &mem) {
                r = node_load(id, &t.nodes[i++]);
                if (r < 0)
                        return r;
        }

        nodes_zoneinfo_load(&t);

        if (config && config->n_tiers > 0)
                r = tiers_from_config(config, &mem, &t);
        else {
                r = tiers_from_memory_tiering(&mem, &t);
                if (r == 0)
                        tiers_from_cpus(&t);
        }
        if (r < 0)
                return r;

        tiers_finish(&t);

        *ret = t;
        t = (struct topology) {};
        return 0;
}

bool topology_same_tiers(const struct topology *a, const struct topology *b) {
        if (a->n_tiers != b->n_tiers)
                return false;
        for (size_t t = 0; t < a->n_tiers; t++)
                if (memcmp(&a->tiers[t].nodes, &b->tiers[t].nodes, sizeof(struct node_set)) != 0)
                        return false;
        return true;
}

void topology_done(struct topology *t) {
        if (!t)
                return;
        free(t->nodes);
        *t = (struct topology) {};
}

const struct topology_node *topology_find_node(const struct topology *t, int id) {
        size_t lo = 0, hi;

        if (!t || !t->nodes)
                return NULL;

        /* nodes[] is sorted by id. */
        hi = t->n_nodes;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (t->nodes[mid].id == id)
                        return &t->nodes[mid];
                if (t->nodes[mid].id < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}
