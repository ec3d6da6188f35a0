/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static struct topology topology;
static struct target_set targets;
static struct target target_array[2];
static struct topology_node nodes[2];
static struct census_node census_nodes[2];
static struct census census;

static struct tierd_status make_status(void) {
        nodes[0] = (struct topology_node) { .id = 0, .n_cpus = 2, .total_bytes = 1ULL << 30,
                                            .free_bytes = 512ULL << 20, .tier = 0 };
        nodes[1] = (struct topology_node) { .id = 1, .n_cpus = 0, .total_bytes = 2ULL << 30,
                                            .free_bytes = 2ULL << 30, .tier = 1 };
        topology = (struct topology) { .nodes = nodes, .n_nodes = 2, .n_tiers = 2,
                                       .tier_source = TIER_SOURCE_MEMORY_TIERING };
        topology.tiers[0] = (struct topology_tier) { .kernel_tier = 4, .total_bytes = 1ULL << 30,
                                                      .free_bytes = 512ULL << 20 };
        node_set_add(&topology.tiers[0].nodes, 0);
        topology.tiers[1] = (struct topology_tier) { .kernel_tier = 67, .total_bytes = 2ULL << 30,
                                                      .free_bytes = 2ULL << 30 };
        node_set_add(&topology.tiers[1].nodes, 1);
        target_array[0] = (struct target) { .pid = 100, .comm = "db", .rss_bytes = 100 };
        target_array[1] = (struct target) { .pid = 200, .comm = "cache", .rss_bytes = 23 };
        targets = (struct target_set) { .targets = target_array, .n_targets = 2 };
        census_nodes[0] = (struct census_node) { .node = 0 };
        census_nodes[0].class_bytes[HEAT_CLASS_HOT] = 3 << 20;
        census_nodes[1] = (struct census_node) { .node = 1 };
        census_nodes[1].class_bytes[HEAT_CLASS_COLD] = 5 << 20;
        census_nodes[1].class_bytes[HEAT_CLASS_HOT] = 1 << 20;
        census = (struct census) { .nodes = census_nodes, .n_nodes = 2, .sample_stride = 1 };

        static struct placement_stats placement;
        placement = (struct placement_stats) { .plans = 3 };
        placement.dir[POLICY_PROMOTE] = (struct placement_direction_stats) {
                .bytes = 4096, .pages = 1, .pingpongs = 2, .time_us = 1500001, .failed_pages = 3,
        };
        placement.dir[POLICY_PROMOTE].failures[EBUSY] = 3;
        placement.dir[POLICY_DEMOTE] = (struct placement_direction_stats) { .bytes = 8192, .pages = 2 };
        placement.dir[POLICY_DEMOTE].failures[ENOMEM] = 1;
        placement.skipped_units[POLICY_SKIP_RESIDENCY] = 5;

        struct observer_snapshot kernel = {
                .source = "bpf",
                .total = { .available = (1U << _KMIGRATE_CLASS_MAX) - 1 },
                .mode = KERNEL_FIGHT_THROTTLE,
        };
        kernel.total.pages[KMIGRATE_DEMOTION] = 5;
        kernel.total.pages[KMIGRATE_TIERD] = 3;
        kernel.fight[OBSERVER_FIGHT_DEMOTION] = (struct observer_fight_status) {
                .fighting = true, .fights = 1, .rounds = 4, .permille = 125,
        };
        kernel.fight[OBSERVER_FIGHT_PROMOTION] = (struct observer_fight_status) { .permille = 1000 };

        return (struct tierd_status) {
                .kernel = kernel,
                .bpf = { { .name = "migrations", .active = true, .attach_mode = "tracepoint" },
                         { .name = "process_events", .reason = "BPF disabled" } },
                .n_bpf = 2,
                .proc_events = { .exec = 9, .exit = 4, .targets_added = 1 },
                .have_damon_results = true,
                .damon_results = { .tracepoint = true, .passes_tracepoint = 11, .passes_tried_regions = 2,
                                   .fallbacks = 1 },
                .version = "0.1.0",
                .state = "running",
                .backend = "none",
                .uptime_us = 1500000,
                .round = 7,
                .round_duration_us = 1234,
                .round_interval_us = 3000000,
                .topology = &topology,
                .targets = &targets,
                .census = &census,
                .heat = { .tracked_bytes = 9 << 20, .memory_bytes = 4608, .observed_pages = 300, .parked_units = 700 },
                .settled_units = 2000,
                .promoted_bytes = 4096,
                .demoted_bytes = 8192,
                .placement = &placement,
                .pass_interval_us = 250000,
        };
}

static char *line_of(const char *text, const char *prefix) {
        for (const char *p = text; p && *p;) {
                const char *eol = strchr(p, '\n');
                size_t len = eol ? (size_t) (eol - p) : strlen(p);

                if (strncmp(p, prefix, strlen(prefix)) == 0)
                        return strndup(p, len);
                p = eol ? eol + 1 : NULL;
        }
        return NULL;
}

static void expect_line(const char *text, const char *line) {
        char *found = line_of(text, line);

        if (!found || strcmp(found, line) != 0)
                fail_msg("missing metric line \"%s\" (found \"%s\")", line, found ? found : "nothing");
        free(found);
}

static void test_values(void **state) {
        struct tierd_status s = make_status();
        char *text;

        assert_int_equal(metrics_format(&s, &text), 0);
        expect_line(text, "tierd_rounds_total 7");
        expect_line(text, "tierd_round_duration_seconds 0.001234");
        expect_line(text, "tierd_uptime_seconds 1.500000");
        expect_line(text, "tierd_targets 2");
        expect_line(text, "tierd_targets_resident_bytes 123");
        expect_line(text, "tierd_tier_total_bytes{tier=\"0\"} 1073741824");
        expect_line(text, "tierd_tier_free_bytes{tier=\"1\"} 2147483648");
        expect_line(text, "tierd_node_free_bytes{node=\"0\",tier=\"0\"} 536870912");
        expect_line(text, "tierd_promoted_bytes_total 4096");
        expect_line(text, "tierd_demoted_bytes_total 8192");
        expect_line(text, "tierd_state{state=\"running\"} 1");
        expect_line(text, "tierd_state{state=\"paused\"} 0");
        expect_line(text, "tierd_info{version=\"0.1.0\",backend=\"none\"} 1");
        expect_line(text, "tierd_tracked_bytes 9437184");
        expect_line(text, "tierd_settled_units 2000");
        expect_line(text, "tierd_observed_pages 300");
        expect_line(text, "tierd_parked_units 700");
        expect_line(text, "tierd_tier_class_bytes{tier=\"0\",class=\"hot\"} 3145728");
        expect_line(text, "tierd_tier_class_bytes{tier=\"1\",class=\"hot\"} 1048576");
        expect_line(text, "tierd_tier_class_bytes{tier=\"1\",class=\"cold\"} 5242880");
        expect_line(text, "tierd_tier_class_bytes{tier=\"0\",class=\"cold\"} 0");
        expect_line(text, "tierd_moved_bytes_total{direction=\"promote\"} 4096");
        expect_line(text, "tierd_moved_bytes_total{direction=\"demote\"} 8192");
        expect_line(text, "tierd_moved_pages_total{direction=\"demote\"} 2");
        expect_line(text, "tierd_pingpongs_total{direction=\"promote\"} 2");
        expect_line(text, "tierd_move_seconds_total{direction=\"promote\"} 1.500001");
        expect_line(text, "tierd_move_failures_total{direction=\"promote\",errno=\"EBUSY\"} 3");
        expect_line(text, "tierd_move_failures_total{direction=\"demote\",errno=\"ENOMEM\"} 1");
        expect_line(text, "tierd_placement_skipped_units_total{reason=\"residency\"} 5");
        expect_line(text, "tierd_placement_plans_total 3");
        expect_line(text, "tierd_pass_interval_seconds 0.250000");
        expect_line(text, "tierd_dry_run 0");
        expect_line(text, "tierd_kernel_migrated_pages_total{class=\"demotion\"} 5");
        expect_line(text, "tierd_kernel_migrated_pages_total{class=\"tierd\"} 3");
        expect_line(text, "tierd_kernel_migrated_pages_total{class=\"promotion\"} 0");
        expect_line(text, "tierd_kernel_migration_source{source=\"bpf\"} 1");
        expect_line(text, "tierd_kernel_migration_source{source=\"vmstat\"} 0");
        expect_line(text, "tierd_kernel_fights_total{kind=\"demotion\"} 1");
        expect_line(text, "tierd_kernel_fighting{kind=\"demotion\"} 1");
        expect_line(text, "tierd_kernel_fight_rounds_total{kind=\"demotion\"} 4");
        expect_line(text, "tierd_kernel_fight_limit_ratio{kind=\"demotion\"} 0.125");
        expect_line(text, "tierd_kernel_fight_limit_ratio{kind=\"promotion\"} 1.000");
        expect_line(text, "tierd_bpf_feature_active{feature=\"migrations\"} 1");
        expect_line(text, "tierd_bpf_feature_active{feature=\"process_events\"} 0");
        expect_line(text, "tierd_process_events_total{type=\"exec\"} 9");
        expect_line(text, "tierd_process_event_targets_added_total 1");
        expect_line(text, "tierd_damon_result_passes_total{source=\"tracepoint\"} 11");
        expect_line(text, "tierd_damon_result_passes_total{source=\"tried_regions\"} 2");
        expect_line(text, "tierd_damon_result_fallbacks_total 1");
        free(text);
}

/* Every line is a HELP, a TYPE or a sample of the family declared just before; counters end in _total;
 * sample names carry the tierd_ prefix; no series appears twice; labels are from the low-cardinality set. */
static void test_format_rules(void **state) {
        struct tierd_status s = make_status();
        regex_t sample_re;
        char *text, *copy, *save = NULL, family[128] = "", type[16] = "";
        char seen[256][160];
        size_t n_seen = 0;

        assert_int_equal(regcomp(&sample_re,
                                 "^(tierd_[a-z_]+)(\\{((tier|node|state|version|backend|class|direction|errno|reason|source|kind|feature|type)=\"[^\"]*\",?)+\\})? "
                                 "[0-9]+(\\.[0-9]+)?$",
                                 REG_EXTENDED),
                         0);
        assert_int_equal(metrics_format(&s, &text), 0);
        copy = strdup(text);

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "# HELP ", 7) == 0) {
                        assert_int_equal(sscanf(line, "# HELP %127s", family), 1);
                        assert_true(strncmp(family, "tierd_", 6) == 0);
                        continue;
                }
                if (strncmp(line, "# TYPE ", 7) == 0) {
                        char name[128];

                        assert_int_equal(sscanf(line, "# TYPE %127s %15s", name, type), 2);
                        assert_string_equal(name, family);
                        assert_true(strcmp(type, "gauge") == 0 || strcmp(type, "counter") == 0);
                        if (strcmp(type, "counter") == 0)
                                assert_non_null(strstr(name, "_total"));
                        continue;
                }
                regmatch_t m[2];
                if (regexec(&sample_re, line, 2, m, 0) != 0)
                        fail_msg("not a valid sample line: \"%s\"", line);
                assert_int_equal((size_t) (m[1].rm_eo - m[1].rm_so), strlen(family));
                assert_memory_equal(line + m[1].rm_so, family, strlen(family));

                char *space = strrchr(line, ' ');
                size_t key_len = (size_t) (space - line);
                for (size_t i = 0; i < n_seen; i++)
                        if (strlen(seen[i]) == key_len && strncmp(seen[i], line, key_len) == 0)
                                fail_msg("series appears twice: %s", seen[i]);
                assert_true(n_seen < 256);
                snprintf(seen[n_seen++], sizeof(seen[0]), "%.*s", (int) key_len, line);
        }
        assert_true(n_seen > 10);

        regfree(&sample_re);
        free(copy);
        free(text);
}

static void test_no_topology(void **state) {
        struct tierd_status s = { .state = "starting", .backend = "none" };
        char *text;

        assert_int_equal(metrics_format(&s, &text), 0);
        expect_line(text, "tierd_targets 0");
        assert_null(strstr(text, "tierd_tier_total_bytes{"));
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_format_rules),
                cmocka_unit_test(test_no_topology),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
