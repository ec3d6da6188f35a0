/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "heat.h"
#include "log.h"
#include "util.h"

#define NAME "test.conf"

/* Every test captures the log: errors are the interface under test as much as the return value. */
static char *log_buf;
static size_t log_size;
static FILE *log_stream;

static int setup(void **state) {
        log_stream = open_memstream(&log_buf, &log_size);
        assert_non_null(log_stream);
        log_set_stream(log_stream);
        log_set_max_level(LOG_INFO);
        return 0;
}

static int teardown(void **state) {
        log_set_stream(NULL);
        fclose(log_stream);
        log_stream = NULL;
        free(log_buf);
        log_buf = NULL;
        log_size = 0;
        return 0;
}

static const char *log_text(void) {
        fflush(log_stream);
        return log_buf ?: "";
}

static void log_clear(void) {
        teardown(NULL);
        setup(NULL);
}

static unsigned log_lines(void) {
        unsigned n = 0;

        for (const char *s = log_text(); *s; s++)
                n += *s == '\n';
        return n;
}

/* Fails (with the whole log) unless some logged line starts with NAME:line: (after an optional journald
 * "<N>" prefix) and contains every given fragment. */
static void assert_logged(unsigned line, const char *fragment, ...) {
        char prefix[64];
        const char *text = log_text();
        bool found = false;

        snprintf(prefix, sizeof(prefix), NAME ":%u: ", line);
        for (const char *l = text; *l && !found;) {
                const char *eol = strchrnul(l, '\n');
                _cleanup_free_ char *s = strndup(l, (size_t) (eol - l));
                char *p = s;
                va_list ap;

                assert_non_null(s);
                if (p[0] == '<' && strchr(p, '>'))
                        p = strchr(p, '>') + 1;
                if (startswith(p, prefix)) {
                        found = true;
                        va_start(ap, fragment);
                        for (const char *f = fragment; f; f = va_arg(ap, const char *))
                                if (!strstr(p, f))
                                        found = false;
                        va_end(ap);
                }
                l = *eol ? eol + 1 : eol;
        }
        if (!found)
                fail_msg("no log line \"%s...\" containing \"%s\" (and the other fragments) in:\n%s", prefix,
                         fragment, text);
}
#define assert_logged(line, ...) assert_logged((line), __VA_ARGS__, NULL)

static struct tierd_config *load_ok(const char *text) {
        struct tierd_config *c = NULL;
        int r = config_load_string(NAME, text, &c);

        if (r < 0)
                fail_msg("config_load_string() failed (%d) for:\n%s\nlog:\n%s", r, text, log_text());
        assert_non_null(c);
        assert_string_equal(log_text(), "");
        return c;
}

static void load_fail(const char *text) {
        struct tierd_config *c = NULL;

        assert_int_equal(config_load_string(NAME, text, &c), -EINVAL);
        assert_null(c);
}

static void assert_defaults(const struct tierd_config *c) {
        assert_int_equal(c->log_level, LOG_INFO);
        assert_string_equal(c->control_socket, "/run/tierd/control");
        assert_null(c->control_group);
        assert_int_equal(c->control_gid, (gid_t) -1);
        assert_int_equal(c->passes, 3);
        assert_int_equal(c->pass_interval_us, USEC_PER_SEC);
        assert_int_equal(c->n_tiers, 0);
        assert_int_equal(strv_length(c->cgroups), 0);
        assert_int_equal(strv_length(c->comms), 0);
        assert_int_equal(strv_length(c->exes), 0);
        assert_int_equal(c->n_pids, 0);
        assert_int_equal(c->min_rss_bytes, 0);
        assert_int_equal(strv_length(c->exclude_cgroups), 0);
        assert_int_equal(strv_length(c->exclude_comms), 0);
        assert_int_equal(strv_length(c->exclude_exes), 0);
        assert_int_equal(c->n_exclude_pids, 0);
}

static void assert_strv(char *const *l, ...) {
        va_list ap;
        size_t i = 0;

        va_start(ap, l);
        for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *), i++) {
                if (i >= strv_length(l))
                        fail_msg("list has %zu entries, expected more (next \"%s\")", strv_length(l), s);
                assert_string_equal(l[i], s);
        }
        va_end(ap);
        assert_int_equal(strv_length(l), i);
}
#define assert_strv(l, ...) assert_strv((l), __VA_ARGS__, NULL)

static const char full_file[] =
        "# a complete file\n"
        "[daemon]\n"
        "log_level = debug\n"
        "control_socket = /run/tierd/ctl.sock\n"
        "control_group = 0\n"
        "\n"
        "[scan]\n"
        "passes = 7\n"
        "pass_interval = 250ms\n"
        "\n"
        "[tiers]\n"
        "tier0 = 0-1\n"
        "tier1 = 2,4\n"
        "tier2 = 3\n"
        "\n"
        "[targets]\n"
        "cgroup = /sys/fs/cgroup/db.slice/ system.slice/pg.service\n"
        "comm = postgres java*\n"
        "exe = /usr/bin/redis-server */java\n"
        "pid = 100 200\n"
        "min_rss = 64M\n"
        "exclude_cgroup = /db.slice/backup.scope\n"
        "exclude_comm = pg_dump\n"
        "exclude_exe = /usr/lib/jvm/*/jshell\n"
        "exclude_pid = 150\n";

static void test_defaults(void **state) {
        _cleanup_config_free_ struct tierd_config *c = NULL;

        assert_int_equal(config_new_defaults(&c), 0);
        assert_defaults(c);
        assert_null(c->path);
}

static void test_empty_file_is_defaults(void **state) {
        static const char *const texts[] = {
                "",
                "\n\n",
                "# only comments\n; and these\n   \t\n",
                "[daemon]\n[scan]\n[tiers]\n[targets]\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
                _cleanup_config_free_ struct tierd_config *c = load_ok(texts[i]);
                _cleanup_config_free_ struct tierd_config *d = NULL;

                assert_defaults(c);
                assert_int_equal(config_new_defaults(&d), 0);
                assert_true(config_equal(c, d));
                assert_null(c->path); /* no file was read */
        }
}

static void test_full_file(void **state) {
        _cleanup_config_free_ struct tierd_config *c = load_ok(full_file);
        struct node_set s;

        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_string_equal(c->control_socket, "/run/tierd/ctl.sock");
        assert_string_equal(c->control_group, "0");
        assert_int_equal(c->control_gid, 0);
        assert_int_equal(c->passes, 7);
        assert_int_equal(c->pass_interval_us, 250 * USEC_PER_MSEC);

        assert_int_equal(c->n_tiers, 3);
        assert_int_equal(node_set_parse("0,1", &s), 0);
        assert_memory_equal(&c->tiers[0], &s, sizeof(s));
        assert_int_equal(node_set_parse("2,4", &s), 0);
        assert_memory_equal(&c->tiers[1], &s, sizeof(s));
        assert_int_equal(node_set_parse("3", &s), 0);
        assert_memory_equal(&c->tiers[2], &s, sizeof(s));

        assert_strv(c->cgroups, "/db.slice", "/system.slice/pg.service");
        assert_strv(c->comms, "postgres", "java*");
        assert_strv(c->exes, "/usr/bin/redis-server", "*/java");
        assert_int_equal(c->n_pids, 2);
        assert_int_equal(c->pids[0], 100);
        assert_int_equal(c->pids[1], 200);
        assert_int_equal(c->min_rss_bytes, 64 * 1024 * 1024);
        assert_strv(c->exclude_cgroups, "/db.slice/backup.scope");
        assert_strv(c->exclude_comms, "pg_dump");
        assert_strv(c->exclude_exes, "/usr/lib/jvm/*/jshell");
        assert_int_equal(c->n_exclude_pids, 1);
        assert_int_equal(c->exclude_pids[0], 150);
}

static void test_missing_sections_keep_defaults(void **state) {
        _cleanup_config_free_ struct tierd_config *c = load_ok("[targets]\nmin_rss = 1G\n");
        _cleanup_config_free_ struct tierd_config *d = load_ok("[scan]\npasses = 5\n");

        assert_int_equal(c->min_rss_bytes, UINT64_C(1) << 30);
        c->min_rss_bytes = 0;
        assert_defaults(c);

        assert_int_equal(d->passes, 5);
        assert_int_equal(d->pass_interval_us, USEC_PER_SEC); /* the rest of [scan] keeps its default too */
        assert_int_equal(d->log_level, LOG_INFO);
        assert_string_equal(d->control_socket, "/run/tierd/control");
}

static uint64_t min_rss_of(const char *value) {
        _cleanup_free_ char *text = NULL;
        _cleanup_config_free_ struct tierd_config *c = NULL;

        assert_true(asprintf(&text, "[targets]\nmin_rss = %s\n", value) > 0);
        c = load_ok(text);
        return c->min_rss_bytes;
}

static uint64_t pass_interval_of(const char *value) {
        _cleanup_free_ char *text = NULL;
        _cleanup_config_free_ struct tierd_config *c = NULL;

        /* Outside [pass_interval_min, pass_interval_max] only without the tuner. */
        assert_true(asprintf(&text, "[scan]\npass_interval = %s\n[policy]\npass_interval_auto = no\n", value) > 0);
        c = load_ok(text);
        return c->pass_interval_us;
}

static void test_units(void **state) {
        assert_int_equal(min_rss_of("0"), 0);
        assert_int_equal(min_rss_of("4096"), 4096);
        assert_int_equal(min_rss_of("4K"), 4096);
        assert_int_equal(min_rss_of("64M"), 64 << 20);
        assert_int_equal(min_rss_of("64MiB"), 64 << 20);
        assert_int_equal(min_rss_of("1G"), UINT64_C(1) << 30);
        assert_int_equal(min_rss_of("2T"), UINT64_C(2) << 40);

        assert_int_equal(pass_interval_of("10ms"), 10 * USEC_PER_MSEC); /* lower bound */
        assert_int_equal(pass_interval_of("500ms"), 500 * USEC_PER_MSEC);
        assert_int_equal(pass_interval_of("2s"), 2 * USEC_PER_SEC);
        assert_int_equal(pass_interval_of("2"), 2 * USEC_PER_SEC); /* bare number: seconds */
        assert_int_equal(pass_interval_of("100000us"), 100 * USEC_PER_MSEC);
        assert_int_equal(pass_interval_of("1min"), 60 * USEC_PER_SEC);
        assert_int_equal(pass_interval_of("10min"), 600 * USEC_PER_SEC); /* upper bound */
}

/* c's dump holds line, and loading the dump gives the same configuration. */
static void assert_dump_reads_back(const struct tierd_config *c, const char *line) {
        _cleanup_free_ char *text = NULL;
        _cleanup_config_free_ struct tierd_config *e = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        assert_non_null(f);
        assert_int_equal(config_dump(c, f), 0);
        fclose(f);
        if (!strstr(text, line))
                fail_msg("no \"%s\" in the dump:\n%s", line, text);
        e = load_ok(text);
        assert_true(config_equal(c, e));
}

static void test_cpu_budget(void **state) {
        _cleanup_config_free_ struct tierd_config *d = load_ok("");
        _cleanup_config_free_ struct tierd_config *c = NULL;

        assert_int_equal(d->cpu_budget_bp, CPU_BUDGET_DEFAULT_BP);
        assert_dump_reads_back(d, "cpu_budget = 5%\n");

        c = load_ok("[scan]\ncpu_budget = 2.5%\n");
        assert_int_equal(c->cpu_budget_bp, 250);
        assert_false(config_equal(c, d));
        assert_dump_reads_back(c, "cpu_budget = 2.50%\n");
        config_free(c);

        c = load_ok("[scan]\ncpu_budget = off\n");
        assert_int_equal(c->cpu_budget_bp, 0);
        assert_dump_reads_back(c, "cpu_budget = off\n");
        config_free(c);

        c = load_ok("[scan]\ncpu_budget = 0.1%\n");
        assert_int_equal(c->cpu_budget_bp, CPU_BUDGET_MIN_BP);
        config_free(c);
        c = load_ok("[scan]\ncpu_budget = 100%\n");
        assert_int_equal(c->cpu_budget_bp, 10000);

        load_fail("[scan]\ncpu_budget = 0.05%\n");
        assert_logged(2, "value \"0.05%\" for cpu_budget is out of range", "0.1% to 100%");
        log_clear();
        load_fail("[scan]\ncpu_budget = 150%\n");
        assert_logged(2, "value \"150%\" for cpu_budget is out of range");
        log_clear();
        load_fail("[scan]\n\ncpu_budget = 5\n");
        assert_logged(3, "invalid value \"5\" for cpu_budget", "or off");
        log_clear();
}

static void test_scan_and_policy_keys(void **state) {
        _cleanup_config_free_ struct tierd_config *d = load_ok("");
        _cleanup_config_free_ struct tierd_config *c = NULL;

        assert_int_equal(d->backend, SCAN_BACKEND_AUTO);
        assert_int_equal(d->damon_kdamond, -1);
        assert_int_equal(d->hot_threshold, HEAT_HOT_THRESHOLD_ALL_PASSES);
        assert_int_equal(d->promote_rounds, 2);
        assert_int_equal(d->cold_rounds, 3);

        c = load_ok("[scan]\nbackend = damon\ndamon_kdamond = 2\ndamon_sample_interval = 1ms\n"
                    "damon_min_regions = 20\ndamon_max_regions = 20\npasses = 4\n"
                    "[policy]\nhot_threshold = 3\npromote_rounds = 1\ncold_rounds = 2\n");
        assert_int_equal(c->backend, SCAN_BACKEND_DAMON);
        assert_int_equal(c->damon_kdamond, 2);
        assert_int_equal(c->damon_sample_interval_us, 1000);
        assert_int_equal(c->damon_min_regions, 20);
        assert_int_equal(c->hot_threshold, 3);
        assert_int_equal(c->promote_rounds, 1);
        assert_int_equal(c->cold_rounds, 2);
        config_free(c);

        c = load_ok("[scan]\nbackend = page_idle\ndamon_kdamond =\n[policy]\nhot_threshold = all\n");
        assert_int_equal(c->backend, SCAN_BACKEND_PAGE_IDLE);
        assert_int_equal(c->damon_kdamond, -1);
        assert_int_equal(c->hot_threshold, HEAT_HOT_THRESHOLD_ALL_PASSES);
        config_free(c);

        /* BPF and the kernel-fight choice: defaults, both values, and a dump that reads back the same. */
        assert_true(d->bpf);
        assert_int_equal(d->kernel_fight, KERNEL_FIGHT_WARN);
        c = load_ok("[scan]\nbpf = no\n[policy]\nkernel_fight = throttle\n");
        assert_false(c->bpf);
        assert_int_equal(c->kernel_fight, KERNEL_FIGHT_THROTTLE);
        assert_false(config_equal(c, d));
        assert_dump_reads_back(c, "bpf = no\n");
        assert_dump_reads_back(c, "kernel_fight = throttle\n");
        config_free(c);
        /* The payoff ledger's feedback (off by default) and fill (on): each turned the other way by its key, a
         * dump that reads back, and each alone a change of the configuration. */
        assert_false(d->exchange_feedback);
        assert_true(d->fill_free);
        c = load_ok("[policy]\nexchange_feedback = yes\nfill_free = no\n");
        assert_true(c->exchange_feedback);
        assert_false(c->fill_free);
        assert_dump_reads_back(c, "exchange_feedback = yes\n");
        assert_dump_reads_back(c, "fill_free = no\n");
        c->fill_free = true;
        assert_false(config_equal(c, d));
        c->exchange_feedback = false;
        c->fill_free = false;
        assert_false(config_equal(c, d));
        c->fill_free = true;
        assert_true(config_equal(c, d));
        config_free(c);
        c = load_ok("[scan]\nbpf = auto\n");
        assert_true(c->bpf);
        load_fail("[scan]\nbpf = yes\n");
        assert_logged(2, "invalid value \"yes\" for bpf", "auto");
        log_clear();

        /* How DAMON's results are read: auto by default, each value, a dump that reads back, a bad value. */
        assert_int_equal(d->damon_results, DAMON_RESULTS_AUTO);
        config_free(c);
        c = load_ok("[scan]\ndamon_results = tracepoint\n");
        assert_int_equal(c->damon_results, DAMON_RESULTS_TRACEPOINT);
        assert_false(config_equal(c, d));
        assert_dump_reads_back(c, "damon_results = tracepoint\n");
        config_free(c);
        c = load_ok("[scan]\ndamon_results = tried_regions\n");
        assert_int_equal(c->damon_results, DAMON_RESULTS_TRIED_REGIONS);
        load_fail("[scan]\ndamon_results = bpf\n");
        assert_logged(2, "invalid value \"bpf\" for damon_results", "auto, tried_regions, tracepoint");
        log_clear();
        load_fail("[policy]\nkernel_fight = ignore\n");
        assert_logged(2, "invalid value \"ignore\" for kernel_fight", "warn or throttle");
}

static void test_error_relations(void **state) {
        load_fail("[scan]\nbackend = kstaled\n");
        assert_logged(2, "invalid value \"kstaled\" for backend", "auto, idle_pages, page_idle, damon");

        /* Unreachable threshold: blamed on whichever of the two keys came last. */
        load_fail("[policy]\nhot_threshold = 5\n[scan]\npasses = 3\n");
        assert_logged(4, "hot_threshold = 5 can never be reached with passes = 3");
        load_fail("[policy]\nhot_threshold = 4\n");
        assert_logged(2, "hot_threshold = 4 can never be reached with passes = 3");

        /* No gap between hot and cold. */
        load_fail("[policy]\npromote_rounds = 1\ncold_rounds = 1\n");
        assert_logged(3, "leave no gap between hot and cold");

        load_fail("[scan]\ndamon_min_regions = 50\ndamon_max_regions = 40\n");
        assert_logged(3, "damon_min_regions = 50 is larger than damon_max_regions = 40");

        load_fail("[scan]\ndamon_min_regions = 2\n[policy]\ncold_rounds = 32\npromote_rounds = 8\n");
        assert_logged(2, "damon_min_regions");
        assert_logged(4, "cold_rounds");
        assert_logged(5, "promote_rounds");
}

static void test_placement_keys(void **state) {
        _cleanup_config_free_ struct tierd_config *d = NULL, *c = NULL;

        /* Defaults. */
        assert_int_equal(config_new_defaults(&d), 0);
        assert_true(d->fast_free_min.is_percent);
        assert_int_equal(d->fast_free_min.basis_points, 200);
        assert_int_equal(d->fast_free_target.basis_points, 500);
        assert_int_equal(d->hot_target.basis_points, 5000);
        assert_true(d->pass_interval_auto);
        assert_int_equal(d->pass_interval_min_us, 100 * USEC_PER_MSEC);
        assert_int_equal(d->pass_interval_max_us, 10 * USEC_PER_SEC);
        assert_int_equal(d->min_residency_rounds, 2);
        assert_int_equal(d->pingpong_window_rounds, 8);
        assert_int_equal(d->max_backoff_rounds, 64);
        assert_int_equal(d->promote_rate_bytes, 256 << 20);
        assert_int_equal(d->demote_rate_bytes, 256 << 20);
        assert_int_equal(d->promote_round_max_bytes, 1 << 30);
        assert_int_equal(d->demote_round_max_bytes, 1 << 30);
        assert_int_equal(d->batch_bytes, 4 << 20);
        assert_false(d->move_shared);
        assert_false(d->tier_skip);
        assert_false(d->dry_run);

        c = load_ok("[scan]\npass_interval = 2s\npass_interval_min = 1s\npass_interval_max = 1min\n"
                    "[policy]\nfast_free_min = 512M\nfast_free_target = 1G\nhot_target = 12.5%\n"
                    "pass_interval_auto = no\nmin_residency_rounds = 0\npingpong_window_rounds = 16\n"
                    "max_backoff_rounds = 128\n"
                    "[migrate]\npromote_rate = 1G/s\ndemote_rate = 0\npromote_round_max = 0\n"
                    "demote_round_max = 2G\nbatch_size = 64M\nmove_shared = yes\ntier_skip = on\ndry_run = true\n");
        assert_int_equal(c->pass_interval_min_us, USEC_PER_SEC);
        assert_int_equal(c->pass_interval_max_us, 60 * USEC_PER_SEC);
        assert_false(c->fast_free_min.is_percent);
        assert_int_equal(c->fast_free_min.bytes, 512 << 20);
        assert_int_equal(c->fast_free_target.bytes, 1 << 30);
        assert_true(c->hot_target.is_percent);
        assert_int_equal(c->hot_target.basis_points, 1250);
        assert_false(c->pass_interval_auto);
        assert_int_equal(c->min_residency_rounds, 0);
        assert_int_equal(c->pingpong_window_rounds, 16);
        assert_int_equal(c->max_backoff_rounds, 128);
        assert_int_equal(c->promote_rate_bytes, 1 << 30);
        assert_int_equal(c->demote_rate_bytes, 0);
        assert_int_equal(c->promote_round_max_bytes, 0);
        assert_int_equal(c->demote_round_max_bytes, UINT64_C(2) << 30);
        assert_int_equal(c->batch_bytes, 64 << 20);
        assert_true(c->move_shared);
        assert_true(c->tier_skip);
        assert_true(c->dry_run);
        assert_false(config_equal(c, d));

        /* Mixed kinds are not compared: 1% of a tier may be more or less than 64M. */
        config_free(TAKE_PTR(c));
        c = load_ok("[policy]\nfast_free_min = 1%\nfast_free_target = 64M\n");
        assert_int_equal(c->fast_free_target.bytes, 64 << 20);
}

static void test_placement_errors(void **state) {
        load_fail("[policy]\nfast_free_min = 10%\nfast_free_target = 5%\n");
        assert_logged(3, "fast_free_target is smaller than fast_free_min");
        log_clear();
        load_fail("[policy]\nfast_free_target = 1G\nfast_free_min = 2G\n");
        assert_logged(3, "fast_free_target is smaller than fast_free_min");
        log_clear();
        load_fail("[policy]\nfast_free_min = 101%\n");
        assert_logged(2, "out of range", "fast_free_min");
        log_clear();
        load_fail("[policy]\nhot_target = 0\n");
        assert_logged(2, "out of range", "hot_target");
        log_clear();
        load_fail("[policy]\npass_interval_auto = maybe\n");
        assert_logged(2, "invalid value \"maybe\" for pass_interval_auto", "boolean");
        log_clear();

        /* pass_interval within the tuner's bounds, but only while the tuner is on. */
        load_fail("[scan]\npass_interval = 20s\n");
        assert_logged(2, "pass_interval = ", "is outside [pass_interval_min, pass_interval_max]");
        log_clear();
        load_fail("[scan]\npass_interval = 1s\npass_interval_min = 2s\n");
        assert_logged(3, "is outside");
        log_clear();
        load_fail("[scan]\npass_interval_min = 5s\npass_interval_max = 1s\n");
        assert_logged(3, "pass_interval_min is longer than pass_interval_max");
        log_clear();
        config_free(load_ok("[scan]\npass_interval = 20s\n[policy]\npass_interval_auto = no\n"));

        load_fail("[policy]\nmin_residency_rounds = 10\nmax_backoff_rounds = 5\n");
        assert_logged(3, "max_backoff_rounds = 5 is smaller than min_residency_rounds = 10");
        log_clear();
        load_fail("[policy]\npingpong_window_rounds = 1048577\n");
        assert_logged(2, "out of range");
        log_clear();

        load_fail("[migrate]\nbatch_size = 2K\n");
        assert_logged(2, "out of range", "batch_size");
        log_clear();
        load_fail("[migrate]\nbatch_size = 128M\n");
        assert_logged(2, "out of range", "batch_size");
        log_clear();
        load_fail("[migrate]\nbatch_size = 6000\n");
        assert_logged(2, "batch_size must be a whole number of 4K pages");
        log_clear();
        load_fail("[migrate]\npromote_rate = fast\n");
        assert_logged(2, "invalid value \"fast\" for promote_rate");
        log_clear();
        load_fail("[migrate]\ndemote_rate = 1G/min\n");
        assert_logged(2, "demote_rate");
        log_clear();
        load_fail("[migrate]\ndry_run =\n");
        assert_logged(2, "missing value for dry_run");
}

static void test_log_levels(void **state) {
        for (int level = LOG_EMERG; level <= LOG_DEBUG; level++) {
                _cleanup_free_ char *text = NULL;
                _cleanup_config_free_ struct tierd_config *c = NULL;

                assert_true(asprintf(&text, "[daemon]\nlog_level = %s\n", log_level_to_string(level)) > 0);
                c = load_ok(text);
                assert_int_equal(c->log_level, level);
        }
}

static void test_control_group(void **state) {
        _cleanup_config_free_ struct tierd_config *a = load_ok("[daemon]\ncontrol_group = root\n");
        _cleanup_config_free_ struct tierd_config *b = load_ok("[daemon]\ncontrol_group = 4242\n");
        _cleanup_config_free_ struct tierd_config *c = load_ok("[daemon]\ncontrol_group =\n");

        assert_string_equal(a->control_group, "root");
        assert_int_equal(a->control_gid, 0);
        assert_string_equal(b->control_group, "4242"); /* a numeric GID need not exist in /etc/group */
        assert_int_equal(b->control_gid, 4242);
        assert_null(c->control_group); /* empty: root only */
        assert_int_equal(c->control_gid, (gid_t) -1);
}

static void test_cgroup_normalisation(void **state) {
        _cleanup_config_free_ struct tierd_config *c =
                load_ok("[targets]\n"
                        "cgroup = /sys/fs/cgroup/foo.slice /foo.slice foo.slice foo.slice/ /sys/fs/cgroup\n"
                        "cgroup = //a//b/./c/// /sys/fs/cgroupx / /sys/fs/cgroup/\n");

        assert_strv(c->cgroups, "/foo.slice", "/foo.slice", "/foo.slice", "/foo.slice", "/", "/a/b/c",
                    "/sys/fs/cgroupx", "/", "/");
}

static void test_globs(void **state) {
        _cleanup_config_free_ struct tierd_config *c =
                load_ok("[targets]\n"
                        "comm = exactly15charss a*b? [[:alpha:]][[:digit:]]* kworker/*\n"
                        "comm = averyverylongna* a\\*\n"
                        "exe = /opt/* *java ?usr/bin/x [/]bin/sh \\/bin/true\n");

        assert_strv(c->comms, "exactly15charss", "a*b?", "[[:alpha:]][[:digit:]]*", "kworker/*",
                    "averyverylongna*", "a\\*");
        assert_strv(c->exes, "/opt/*", "*java", "?usr/bin/x", "[/]bin/sh", "\\/bin/true");
}

static void test_list_accumulation(void **state) {
        _cleanup_config_free_ struct tierd_config *c =
                load_ok("[targets]\n"
                        "comm = a b\n"
                        "pid = 1\n"
                        "[scan]\n"
                        "passes = 2\n"
                        "[targets]\n" /* a section may be reopened */
                        "comm = c\n"
                        "comm =   d\t e  \n"
                        "pid = 2 3\n"
                        "exclude_pid = 9\n"
                        "exclude_pid = 10\n"
                        "exe = /x\n"
                        "exe =\n" /* empty: reset, as in systemd unit files */
                        "exe = /y\n"
                        "cgroup = a\n"
                        "cgroup =\n");

        assert_strv(c->comms, "a", "b", "c", "d", "e");
        assert_int_equal(c->n_pids, 3);
        assert_int_equal(c->pids[0], 1);
        assert_int_equal(c->pids[1], 2);
        assert_int_equal(c->pids[2], 3);
        assert_int_equal(c->n_exclude_pids, 2);
        assert_int_equal(c->exclude_pids[1], 10);
        assert_strv(c->exes, "/y");
        assert_int_equal(strv_length(c->cgroups), 0);
        assert_int_equal(c->passes, 2);
}

static void test_syntax_variants(void **state) {
        _cleanup_config_free_ struct tierd_config *c =
                load_ok("\xEF\xBB\xBF[daemon] ; a comment after the header\r\n"
                        "   log_level=warning   ; inline comment\r\n"
                        "\tcontrol_socket =\t/run/x;y\r\n" /* ';' without a space before it is data */
                        "# comment\n"
                        "; comment\n"
                        "[scan]\n"
                        "  passes = 4\n" /* indentation is not a continuation line */
                        "  pass_interval = 2s\n"
                        "[tiers]\n"
                        "tier0 = 0-1,3   \n"
                        "tier1 = 2\n"
                        "[targets]\n"
                        "comm = a;b ;c\n"
                        "min_rss = 1M"); /* no final newline */

        assert_int_equal(c->log_level, LOG_WARNING);
        assert_string_equal(c->control_socket, "/run/x;y");
        assert_int_equal(c->passes, 4);
        assert_int_equal(c->pass_interval_us, 2 * USEC_PER_SEC);
        assert_int_equal(c->n_tiers, 2);
        assert_true(node_set_test(&c->tiers[0], 3));
        assert_false(node_set_test(&c->tiers[0], 2));
        assert_strv(c->comms, "a;b");
        assert_int_equal(c->min_rss_bytes, 1 << 20);
}

static void test_error_unknown_section(void **state) {
        load_fail("[daemon]\n"
                  "log_level = info\n"
                  "[scna]\n"
                  "passes = 3\n"
                  "[bogus]\n"
                  "[tiers]\n"
                  "[empty]\n");
        assert_logged(3, "unknown section [scna]", "did you mean [scan]");
        assert_logged(5, "unknown section [bogus]", "[daemon], [scan], [tiers], [targets]");
        assert_logged(7, "unknown section [empty]"); /* even without keys, even at the end */
        assert_int_equal(log_lines(), 3); /* keys of an unknown section are not reported one by one */
}

static void test_error_unknown_key(void **state) {
        load_fail("[scan]\n"
                  "passs = 3\n"
                  "Passes = 3\n"
                  "log_level = info\n"
                  "whatever = 1\n"
                  "pass interval = 1s\n");
        assert_logged(2, "unknown key \"passs\" in section [scan]", "did you mean \"passes\"");
        assert_logged(3, "unknown key \"Passes\"", "did you mean \"passes\"");
        assert_logged(4, "\"log_level\" belongs in section [daemon]");
        assert_logged(5, "unknown key \"whatever\" in section [scan]", "passes, pass_interval");
        assert_logged(6, "unknown key \"pass interval\"", "did you mean \"pass_interval\"");
        assert_int_equal(log_lines(), 5);
}

static void test_error_bad_values(void **state) {
        static const struct {
                const char *section, *key, *value, *fragment;
        } cases[] = {
                { "daemon", "log_level", "loud", "expected one of emerg, alert" },
                { "daemon", "control_socket", "run/tierd/control", "expected an absolute path" },
                { "daemon", "control_socket", "/run/tierd/", "expected an absolute path" },
                { "daemon", "control_group", "no-such-group-tierd-test", "unknown group" },
                { "scan", "passes", "three", "expected an integer from 1 to 15" },
                { "scan", "passes", "-1", "expected an integer from 1 to 15" },
                { "scan", "pass_interval", "fast", "expected a duration" },
                { "scan", "pass_interval", "1 s", "expected a duration" },
                { "tiers", "tier0", "zero", "expected a node list" },
                { "tiers", "tier0", "0-", "expected a node list" },
                { "targets", "cgroup", "a/../b", "\"..\" is not allowed" },
                { "targets", "exclude_cgroup", "..", "\"..\" is not allowed" },
                { "targets", "comm", "averyverylongname", "can never match" },
                { "targets", "exclude_comm", "averyverylongn?me", "can never match" },
                { "targets", "exe", "java", "executable paths are absolute" },
                { "targets", "exclude_exe", "bin/*", "executable paths are absolute" },
                { "targets", "pid", "abc", "expected a positive integer" },
                { "targets", "exclude_pid", "12x", "expected a positive integer" },
                { "targets", "min_rss", "lots", "expected a size such as" },
                { "targets", "min_rss", "1.5G", "expected a size such as" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = NULL, *quoted = NULL;

                log_clear();
                assert_true(asprintf(&text, "# case %zu\n[%s]\n%s = %s\n", i, cases[i].section, cases[i].key,
                                     cases[i].value) > 0);
                assert_true(asprintf(&quoted, "\"%s\"", cases[i].value) > 0);
                load_fail(text);
                assert_logged(3, quoted, cases[i].key, cases[i].fragment);
                assert_int_equal(log_lines(), 1);
        }
}

static void test_error_out_of_range(void **state) {
        char longpath[200];

        load_fail("[scan]\n"
                  "passes = 0\n"
                  "[scan]\n"
                  "pass_interval = 9ms\n"
                  "[daemon]\n"
                  "control_group = 4294967295\n"
                  "[targets]\n"
                  "pid = 0 2147483648\n"
                  "min_rss = 99999999999T\n"
                  "[tiers]\n"
                  "tier0 = 1024\n"
                  "tier1 = 3-1\n");
        assert_logged(2, "\"0\" for passes is out of range", "1 to 15");
        assert_logged(4, "\"9ms\" for pass_interval is out of range", "from 10ms to 10min");
        assert_logged(6, "\"4294967295\" for control_group is out of range");
        assert_logged(8, "invalid PID \"0\"");
        assert_logged(8, "invalid PID \"2147483648\"");
        assert_logged(9, "\"99999999999T\" for min_rss is out of range");
        assert_logged(11, "tier0", "below 1024");
        assert_logged(12, "tier1", "ascending");
        assert_int_equal(log_lines(), 8);

        log_clear();
        load_fail("[scan]\npasses = 16\npass_interval = 11min\n");
        assert_logged(2, "\"16\" for passes is out of range");
        assert_logged(3, "\"11min\" for pass_interval is out of range");

        /* sun_path holds 107 characters and the terminating NUL. */
        for (size_t len = 107; len <= 108; len++) {
                _cleanup_free_ char *text = NULL;

                memset(longpath, 'x', sizeof(longpath));
                longpath[0] = '/';
                longpath[len] = '\0';
                assert_true(asprintf(&text, "[daemon]\ncontrol_socket = %s\n", longpath) > 0);
                log_clear();
                if (len == 107)
                        config_free(load_ok(text));
                else {
                        load_fail(text);
                        assert_logged(2, "108 bytes long", "at most 107");
                }
        }
}

static void test_error_duplicate_scalar(void **state) {
        load_fail("[daemon]\n"
                  "log_level = info\n"
                  "[scan]\n"
                  "passes = 3\n"
                  "[daemon]\n"
                  "log_level = debug\n"
                  "[scan]\n"
                  "passes = 3\n" /* even with the same value */
                  "[tiers]\n"
                  "tier0 = 0\n"
                  "tier1 = 1\n"
                  "tier0 = 0\n"
                  "[daemon]\n"
                  "control_group =\n"
                  "control_group = root\n");
        assert_logged(6, "duplicate key \"log_level\"", "first set on line 2");
        assert_logged(8, "duplicate key \"passes\"", "first set on line 4");
        assert_logged(12, "duplicate key \"tier0\"", "first set on line 10");
        assert_logged(15, "duplicate key \"control_group\"", "first set on line 14");
        assert_int_equal(log_lines(), 4);
}

static void test_error_empty_scalar(void **state) {
        load_fail("[daemon]\nlog_level =\ncontrol_socket=\n[scan]\npasses = ; nothing\n[tiers]\ntier0 =\n"
                  "[targets]\nmin_rss =\n");
        assert_logged(2, "missing value for log_level", "expected one of");
        assert_logged(3, "missing value for control_socket");
        assert_logged(5, "missing value for passes");
        assert_logged(7, "missing value for tier0");
        assert_logged(9, "missing value for min_rss");
        assert_int_equal(log_lines(), 5);
}

static void test_error_syntax(void **state) {
        load_fail("passes = 3\n"
                  "[scan]\n"
                  "passes 3\n"
                  "passes: 3\n"
                  "[scan\n"
                  "pass_interval = 1s\n" /* in a broken section: not reported again */
                  "[daemon] log_level = info\n"
                  "= info\n"
                  "[daemon ; comment]\n"
                  "[targets]\n"
                  "min_rss = 1G\n");
        assert_logged(1, "appears before any section header");
        assert_logged(3, "syntax error", "key = value");
        assert_logged(4, "syntax error", "key = value");
        assert_logged(5, "syntax error", "missing the closing \"]\"");
        assert_logged(7, "syntax error", "unexpected text after section header [daemon]");
        assert_logged(8, "missing key name");
        assert_logged(9, "syntax error", "missing the closing \"]\"");
        assert_int_equal(log_lines(), 7);
}

static void test_error_long_line(void **state) {
        enum { max = 8192 };
        static char text[3 * max];
        _cleanup_free_ char *ok = NULL;
        char *p;

        /* A line of max characters is fine, one more is an error naming the line, and parsing goes on. */
        p = stpcpy(text, "[targets]\ncomm = ");
        memset(p, ' ', max - strlen("comm = ") - 1);
        p += max - strlen("comm = ") - 1;
        p = stpcpy(p, "a\n");
        ok = strdup(text);
        assert_non_null(ok);
        config_free(load_ok(ok));

        p = stpcpy(p, "exe = ");
        memset(p, ' ', max - strlen("exe = "));
        p += max - strlen("exe = ");
        p = stpcpy(p, "/x\n");                /* truncation would leave a valid-looking remainder... */
        p = stpcpy(p, "passes = 3\n");        /* ...and this must still be checked on its own line */
        load_fail(text);
        assert_logged(3, "line is too long (8194 characters)", "at most 8192");
        assert_logged(4, "\"passes\" belongs in section [scan]");
        assert_int_equal(log_lines(), 2);

        /* inih's process-wide options are put back for other users. */
        assert_int_equal(ini_max_line, 200);
        assert_true(ini_allow_multiline);
}

static void test_error_tiers(void **state) {
        load_fail("[tiers]\ntier0 = 0\ntier1 = 1\ntier3 = 3\ntier5 = 5\n");
        assert_logged(4, "tier3 is set but tier2 is missing");
        assert_int_equal(log_lines(), 1);

        log_clear();
        load_fail("[tiers]\ntier1 = 1\n");
        assert_logged(2, "tier1 is set but tier0 is missing");

        /* An invalid or empty tier is reported as such, not again as a gap. */
        log_clear();
        load_fail("[tiers]\ntier0 = 0\ntier1 = x\ntier2 =\ntier3 = 3\n");
        assert_logged(3, "invalid value \"x\" for tier1");
        assert_logged(4, "missing value for tier2");
        assert_int_equal(log_lines(), 2);

        log_clear();
        load_fail("[tiers]\ntier0 = 0-2\ntier1 = 4\ntier2 = 2-3\ntier3 = 4\n");
        assert_logged(4, "node 2 is in both tier0 (line 2) and tier2");
        assert_logged(5, "node 4 is in both tier1 (line 3) and tier3");
        assert_int_equal(log_lines(), 2);

        /* A single tier is valid: tierd then idles with "only one memory tier", as on a one-tier machine. */
        log_clear();
        struct tierd_config *c = load_ok("[tiers]\ntier0 = 0-3\n");
        assert_int_equal(c->n_tiers, 1);
        config_free(c);
}

static void test_error_unknown_group(void **state) {
        load_fail("[daemon]\n\ncontrol_group = tierd-no-such-group\n");
        assert_logged(3, "unknown group \"tierd-no-such-group\" for control_group",
                      "expected a group name or numeric GID");
}

static void test_error_bad_cgroup(void **state) {
        load_fail("[targets]\ncgroup = ok.slice ../escape\nexclude_cgroup = /sys/fs/cgroup/a/../b\n");
        assert_logged(2, "invalid cgroup path \"../escape\" for cgroup");
        assert_logged(3, "invalid cgroup path \"/sys/fs/cgroup/a/../b\" for exclude_cgroup");
        assert_int_equal(log_lines(), 2);
}

static void test_error_many(void **state) {
        load_fail("[daemon]\n"            /* 1 */
                  "log_level = chatty\n"  /* 2 */
                  "[scan]\n"              /* 3 */
                  "passes = 99\n"         /* 4 */
                  "oops\n"                /* 5 */
                  "[nope]\n"              /* 6 */
                  "[targets]\n"           /* 7 */
                  "pid = -3\n"            /* 8 */
                  "comm = x\n"            /* 9 */
                  "min_rss = 1Q\n");      /* 10 */
        assert_logged(2, "log_level");
        assert_logged(4, "passes");
        assert_logged(5, "syntax error");
        assert_logged(6, "[nope]");
        assert_logged(8, "\"-3\"");
        assert_logged(10, "\"1Q\"");
        assert_int_equal(log_lines(), 6);
}

static void test_error_nul_byte(void **state) {
        char path[] = "/tmp/test-config-XXXXXX";
        static const char data[] = "[scan]\npasses = 3\x00junk\npass_interval = 2s\n";
        struct tierd_config *c = NULL;
        int fd;

        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, sizeof(data) - 1), (ssize_t) sizeof(data) - 1);
        close(fd);
        assert_int_equal(config_load(path, &c), -EINVAL);
        assert_null(c);
        unlink(path);
        assert_non_null(strstr(log_text(), ":2: line contains a NUL byte"));
        assert_non_null(strstr(log_text(), path));
}

static void test_load_file(void **state) {
        char path[] = "/tmp/test-config-XXXXXX";
        _cleanup_config_free_ struct tierd_config *c = NULL;
        _cleanup_free_ char *expected = NULL;
        FILE *f;
        int fd;

        fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fputs("[scan]\npasses = 2\n[daemon]\nlog_level = bogus\n", f);
        fclose(f);

        assert_int_equal(config_load(path, &c), -EINVAL);
        assert_true(asprintf(&expected, "%s:4: invalid value \"bogus\" for log_level", path) > 0);
        assert_non_null(strstr(log_text(), expected));

        f = fopen(path, "w");
        assert_non_null(f);
        fputs("[scan]\npasses = 2\n", f);
        fclose(f);
        assert_int_equal(config_load(path, &c), 0);
        assert_non_null(c);
        assert_string_equal(c->path, path);
        assert_int_equal(c->passes, 2);
        unlink(path);

        log_clear();
        config_free(c);
        c = NULL;
        assert_int_equal(config_load(path, &c), -ENOENT);
        assert_null(c);
        assert_non_null(strstr(log_text(), path));
        assert_non_null(strstr(log_text(), strerror(ENOENT)));
}

static struct tierd_config *round_trip(const struct tierd_config *c, char **ret_text) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        struct tierd_config *d = NULL;
        int r;

        assert_non_null(f);
        assert_int_equal(config_dump(c, f), 0);
        fclose(f);
        r = config_load_string("dump", text, &d);
        if (r < 0)
                fail_msg("dump does not load back (%d):\n%s\nlog:\n%s", r, text, log_text());
        *ret_text = text;
        return d;
}

static void test_workloads(void **state) {
        _cleanup_config_free_ struct tierd_config *c = load_ok(
                "[targets]\n"
                "comm = other\n"
                "[target.db]\n"
                "comm = postgres\n"
                "cgroup = system.slice/pg.service\n"
                "fast_max = 8G\n"
                "[target.cache-2]\n"
                "pid = 7 8\n"
                "fast_max = 25%\n"
                "[target.batch]\n"
                "exe = /usr/bin/batch\n");
        _cleanup_config_free_ struct tierd_config *d = NULL;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(c->n_workloads, 3);
        assert_string_equal(c->workloads[0].name, "db");
        assert_int_equal(c->workloads[0].line, 3);
        assert_strv(c->workloads[0].comms, "postgres");
        assert_strv(c->workloads[0].cgroups, "/system.slice/pg.service");
        assert_true(c->workloads[0].has_fast_max);
        assert_int_equal(config_workload_fast_max_bytes(&c->workloads[0], UINT64_C(64) << 30), UINT64_C(8) << 30);
        assert_string_equal(c->workloads[1].name, "cache-2");
        assert_int_equal(c->workloads[1].n_pids, 2);
        assert_int_equal(c->workloads[1].pids[1], 8);
        /* A percentage is of the fast tier's memory. */
        assert_int_equal(config_workload_fast_max_bytes(&c->workloads[1], UINT64_C(64) << 30), UINT64_C(16) << 30);
        assert_false(c->workloads[2].has_fast_max);
        assert_int_equal(config_workload_fast_max_bytes(&c->workloads[2], UINT64_C(64) << 30), UINT64_MAX);
        /* [targets] keeps its own selectors. */
        assert_strv(c->comms, "other");

        d = round_trip(c, &text);
        if (!config_equal(c, d))
                fail_msg("round trip changed the workloads:\n%s", text);
        assert_non_null(strstr(text, "\n[target.db]\ncgroup = /system.slice/pg.service\ncomm = postgres\n"));
        assert_non_null(strstr(text, "\n[target.cache-2]\n"));
        assert_non_null(strstr(text, "fast_max = 25%\n"));
        assert_non_null(strstr(text, "\n[target.batch]\n"));

        /* Equality sees budgets and names. */
        d->workloads[0].fast_max.bytes++;
        assert_false(config_equal(c, d));
        d->workloads[0].fast_max.bytes--;
        assert_true(config_equal(c, d));
        d->workloads[2].name[0] = 'B';
        assert_false(config_equal(c, d));
}

static void test_error_workloads(void **state) {
        load_fail("[target.db]\n"
                  "comm = pg\n"
                  "fast_max = 8G\n"
                  "fast_max = 4G\n"
                  "min_rss = 1G\n"
                  "fasst_max = 1\n"
                  "[target.db]\n"
                  "comm = x\n"
                  "[targets.web]\n"
                  "[target.]\n"
                  "[target.a b]\n"
                  "[policy]\n"
                  "fast_max = 3G\n"
                  "[target.empty]\n"
                  "fast_max =\n"
                  "[target.pct]\n"
                  "comm = y\n"
                  "fast_max = 120%\n"
                  "[target.NAME]\n");
        assert_logged(4, "duplicate key \"fast_max\" in section [target.db]", "line 3");
        assert_logged(5, "\"min_rss\" belongs in section [targets], not [target.db]");
        assert_logged(6, "unknown key \"fasst_max\" in section [target.db]; did you mean \"fast_max\"?");
        assert_logged(7, "duplicate section [target.db], first given on line 1");
        assert_logged(9, "unknown section [targets.web]; did you mean [target.web]?");
        assert_logged(10, "invalid workload name in section [target.]");
        assert_logged(11, "invalid workload name in section [target.a b]");
        assert_logged(13, "\"fast_max\" belongs in section [target.NAME], not [policy]");
        assert_logged(14, "section [target.empty] selects no process", "cgroup, comm, exe or pid");
        assert_logged(18, "fast_max");
        assert_logged(19, "section [target.NAME] selects no process");
}

static void test_dump_round_trip(void **state) {
        static const char *const inputs[] = {
                "",
                full_file,
                "[daemon]\ncontrol_group = root\n[scan]\npass_interval = 1500ms\n[targets]\nmin_rss = 1536\n"
                "pid = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33\n",
                "[scan]\npass_interval = 90s\npass_interval_max = 2min\n[targets]\nmin_rss = 3G\n[tiers]\ntier0=0,2,4,6\ntier1=1,3\n",
                "[policy]\nfast_free_min = 1.5%\nfast_free_target = 3G\nhot_target = 100M\npass_interval_auto = no\n"
                "max_backoff_rounds = 9\n[migrate]\npromote_rate = 100M/s\ndemote_rate = 0\nbatch_size = 8K\n"
                "dry_run = yes\ntier_skip = yes\nmove_shared = yes\ndemote_round_max = 0\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_config_free_ struct tierd_config *c = load_ok(inputs[i]);
                _cleanup_config_free_ struct tierd_config *d = NULL;
                _cleanup_free_ char *text = NULL;

                d = round_trip(c, &text);
                if (!config_equal(c, d))
                        fail_msg("round trip of input %zu changed the configuration:\n%s", i, text);

                /* Every key is written, defaults included. */
                static const char *const keys[] = {
                        "\n[daemon]\n", "\nlog_level = ", "\ncontrol_socket = ", "\ncontrol_group =",
                        "\n[scan]\n", "\npasses = ", "\npass_interval = ", "\n[tiers]\n", "\n[targets]\n",
                        "\ncgroup =", "\ncomm =", "\nexe =", "\npid =", "\nmin_rss = ", "\nexclude_cgroup =",
                        "\nexclude_comm =", "\nexclude_exe =", "\nexclude_pid =", "\npass_interval_min = ",
                        "\nfast_free_min = ", "\nhot_target = ", "\npass_interval_auto = ", "\n[migrate]\n",
                        "\npromote_rate = ", "\nbatch_size = ", "\ndry_run = ",
                };
                _cleanup_free_ char *nl = NULL;
                assert_true(asprintf(&nl, "\n%s", text) > 0);
                for (size_t k = 0; k < ELEMENTSOF(keys); k++)
                        if (!strstr(nl, keys[k]))
                                fail_msg("dump lacks \"%s\":\n%s", keys[k], text);

                if (i == 0) {
                        assert_non_null(strstr(text, "pass_interval = 1s\n"));
                        assert_non_null(strstr(text, "min_rss = 0\n"));
                        assert_non_null(strstr(text, "log_level = info\n"));
                } else if (i == 1) {
                        assert_non_null(strstr(text, "pass_interval = 250ms\n"));
                        assert_non_null(strstr(text, "min_rss = 64M\n"));
                        assert_non_null(strstr(text, "tier1 = 2,4\n"));
                        assert_non_null(strstr(text, "cgroup = /db.slice /system.slice/pg.service\n"));
                } else if (i == 2) {
                        assert_non_null(strstr(text, "pass_interval = 1500ms\n"));
                        assert_non_null(strstr(text, "min_rss = 1536\n"));
                        assert_non_null(strstr(text, "control_group = root\n"));
                } else if (i == 3) {
                        assert_non_null(strstr(text, "pass_interval = 90s\n"));
                        assert_non_null(strstr(text, "min_rss = 3G\n"));
                } else {
                        assert_non_null(strstr(text, "fast_free_min = 1.50%\n"));
                        assert_non_null(strstr(text, "fast_free_target = 3G\n"));
                        assert_non_null(strstr(text, "promote_rate = 100M\n"));
                        assert_non_null(strstr(text, "batch_size = 8K\n"));
                        assert_non_null(strstr(text, "dry_run = yes\n"));
                }
        }
}

static void test_dump_round_trip_long_values(void **state) {
        /* Values near the line limit must still fit when written back with " = " around them. */
        enum { max = 8192 };
        static char text[max + 64];
        _cleanup_free_ char *dumped = NULL;
        _cleanup_config_free_ struct tierd_config *c = NULL, *d = NULL;
        char *p;

        /* Brackets keep the pattern able to match a path shorter than PATH_MAX. */
        p = stpcpy(text, "[targets]\n");
        p = stpcpy(p, "exclude_exe=/");
        while (p - text + 4 <= (ptrdiff_t) (strlen("[targets]\n") + max))
                p = stpcpy(p, "[xy]");
        while (p - text < (ptrdiff_t) (strlen("[targets]\n") + max))
                *p++ = '*';
        strcpy(p, "\n");
        c = load_ok(text);
        d = round_trip(c, &dumped);
        assert_true(config_equal(c, d));
}

static void test_equal(void **state) {
        _cleanup_config_free_ struct tierd_config *a = load_ok(full_file);
        _cleanup_config_free_ struct tierd_config *b = load_ok(full_file);

        assert_true(config_equal(a, b));
        b->exclude_pids[0]++;
        assert_false(config_equal(a, b));
        b->exclude_pids[0]--;
        node_set_add(&b->tiers[2], 9);
        assert_false(config_equal(a, b));
        b->tiers[2] = a->tiers[2];
        free(b->comms[1]);
        b->comms[1] = strdup("java");
        assert_false(config_equal(a, b));
        assert_false(config_equal(a, NULL));
}

static void test_shipped_file_parses(void **state) {
        /* tests/unit/test-config.c -> conf/tierd.conf, whether meson passed an absolute or relative path. */
        _cleanup_free_ char *dir = strdup(__FILE__), *path = NULL;
        _cleanup_config_free_ struct tierd_config *c = NULL, *d = NULL;
        char *slash;

        assert_non_null(dir);
        slash = strrchr(dir, '/');
        assert_non_null(slash);
        *slash = '\0';
        assert_true(asprintf(&path, "%s/../../conf/tierd.conf", dir) > 0);
        if (access(path, R_OK) < 0)
                fail_msg("cannot find the shipped configuration as %s (cwd-relative to the build dir)", path);

        assert_int_equal(config_load(path, &c), 0);
        assert_int_equal(config_new_defaults(&d), 0);
        assert_true(config_equal(c, d)); /* every key is commented out at its default */
        assert_string_equal(log_text(), "");
}

static void test_free_null(void **state) {
        struct tierd_config *c = NULL;

        assert_null(config_free(NULL));
        assert_int_equal(config_new_defaults(&c), 0);
        assert_null(config_free(c));
        assert_true(config_equal(NULL, NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_file_is_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_sections_keep_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_units, setup, teardown),
                cmocka_unit_test_setup_teardown(test_scan_and_policy_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cpu_budget, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_relations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log_levels, setup, teardown),
                cmocka_unit_test_setup_teardown(test_control_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cgroup_normalisation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_globs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_list_accumulation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_syntax_variants, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_unknown_section, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_unknown_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_bad_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_out_of_range, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_duplicate_scalar, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_empty_scalar, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_syntax, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_long_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_tiers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_unknown_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_bad_cgroup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_many, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_nul_byte, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_placement_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_placement_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dump_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dump_round_trip_long_values, setup, teardown),
                cmocka_unit_test_setup_teardown(test_equal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_workloads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_error_workloads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shipped_file_parses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_null, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
