/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "bpf-damon.h"
#include "kmigrate.h"
#include "tp-format.h"

/* migrate/mm_migrate_pages/format as Linux 6.18 prints it (fields abridged; print fmt verbatim). */
static const char format_6_18[] =
        "name: mm_migrate_pages\n"
        "ID: 512\n"
        "format:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
        "\n"
        "\tfield:unsigned long succeeded;\toffset:8;\tsize:8;\tsigned:0;\n"
        "\tfield:unsigned long large_folio_split;\toffset:48;\tsize:8;\tsigned:0;\n"
        "\tfield:enum migrate_mode mode;\toffset:56;\tsize:4;\tsigned:0;\n"
        "\tfield:int reason;\toffset:60;\tsize:4;\tsigned:1;\n"
        "\n"
        "print fmt: \"nr_succeeded=%lu nr_failed=%lu nr_thp_succeeded=%lu nr_thp_failed=%lu nr_thp_split=%lu "
        "nr_split=%lu mode=%s reason=%s\", REC->succeeded, REC->failed, REC->thp_succeeded, REC->thp_failed, "
        "REC->thp_split, REC->large_folio_split, __print_symbolic(REC->mode, {0, \"MIGRATE_ASYNC\"}, "
        "{1, \"MIGRATE_SYNC_LIGHT\"}, {2, \"MIGRATE_SYNC\"}), __print_symbolic(REC->reason, {0, \"compaction\"}, "
        "{1, \"memory_failure\"}, {2, \"memory_hotplug\"}, {3, \"syscall_or_cpuset\"}, {4, \"mempolicy_mbind\"}, "
        "{5, \"numa_misplaced\"}, {6, \"contig_range\"}, {7, \"longterm_pin\"}, {8, \"demotion\"}, "
        "{9, \"damon\"})\n";

/* The same table with spaces inside the braces, as some kernels' TP_printk() tables print. */
static const char format_spaced[] =
        "print fmt: \"reason=%s\", __print_symbolic(REC->reason, { 0, \"compaction\" }, { 5, \"numa_misplaced\" }, "
        "{ 8, \"demotion\" })\n";

static void test_format_reason_table(void **state) {
        struct tp_symbol_table t;

        assert_int_equal(tp_format_parse_symbolic(format_6_18, "reason", &t), 0);
        assert_int_equal(t.n, 10);
        assert_int_equal(t.unresolved, 0);
        assert_string_equal(tp_symbol_table_lookup(&t, 0), "compaction");
        assert_string_equal(tp_symbol_table_lookup(&t, 3), "syscall_or_cpuset");
        assert_string_equal(tp_symbol_table_lookup(&t, 5), "numa_misplaced");
        assert_string_equal(tp_symbol_table_lookup(&t, 8), "demotion");
        assert_string_equal(tp_symbol_table_lookup(&t, 9), "damon");
        assert_null(tp_symbol_table_lookup(&t, 10));

        assert_int_equal(tp_format_parse_symbolic(format_spaced, "reason", &t), 0);
        assert_int_equal(t.n, 3);
        assert_string_equal(tp_symbol_table_lookup(&t, 5), "numa_misplaced");

        /* The mode table is a different one. */
        assert_int_equal(tp_format_parse_symbolic(format_6_18, "mode", &t), 0);
        assert_int_equal(t.n, 3);
        assert_string_equal(tp_symbol_table_lookup(&t, 2), "MIGRATE_SYNC");

        /* A field without a table, a field whose name is a prefix of another's. */
        assert_int_equal(tp_format_parse_symbolic(format_6_18, "succeeded", &t), -ENOENT);
        assert_int_equal(tp_format_parse_symbolic(format_6_18, "reaso", &t), -ENOENT);
        assert_int_equal(tp_format_parse_symbolic(format_6_18, "mod", &t), -ENOENT);
}

static void test_format_variants(void **state) {
        struct tp_symbol_table t;

        /* An older kernel with a different numbering, no spaces, hex and parenthesised field. */
        assert_int_equal(tp_format_parse_symbolic(
                "print fmt: \"reason=%s\", __print_symbolic((REC->reason),{0x0,\"compaction\"},{0x4,\"numa_misplaced\"},"
                "{ -1 , \"weird\" })", "reason", &t), 0);
        assert_int_equal(t.n, 3);
        assert_string_equal(tp_symbol_table_lookup(&t, 4), "numa_misplaced");
        assert_string_equal(tp_symbol_table_lookup(&t, -1), "weird");

        /* Enumerators the kernel did not resolve are skipped and counted. */
        assert_int_equal(tp_format_parse_symbolic(
                "__print_symbolic(REC->reason, { MR_COMPACTION, \"compaction\" }, { 8, \"demotion\" })", "reason",
                &t), 0);
        assert_int_equal(t.n, 1);
        assert_int_equal(t.unresolved, 1);
        assert_string_equal(tp_symbol_table_lookup(&t, 8), "demotion");

        /* Escapes in names, and a long name truncated. */
        assert_int_equal(tp_format_parse_symbolic(
                "__print_symbolic(REC->x, { 1, \"a\\\"b\" }, { 2, \"0123456789012345678901234567890123456789"
                "0123456789\" })", "x", &t), 0);
        assert_string_equal(tp_symbol_table_lookup(&t, 1), "a\"b");
        assert_int_equal(strlen(tp_symbol_table_lookup(&t, 2)), TP_SYMBOL_NAME_MAX - 1);
}

static void test_format_bad(void **state) {
        struct tp_symbol_table t;

        assert_int_equal(tp_format_parse_symbolic(NULL, "reason", &t), -EINVAL);
        assert_int_equal(tp_format_parse_symbolic("x", NULL, &t), -EINVAL);
        assert_int_equal(tp_format_parse_symbolic("x", "", &t), -EINVAL);
        assert_int_equal(tp_format_parse_symbolic("x", "reason", NULL), -EINVAL);
        assert_int_equal(tp_format_parse_symbolic("", "reason", &t), -ENOENT);
        assert_int_equal(tp_format_parse_symbolic("__print_symbolic(REC->reason, { 0, \"a\" }", "reason", &t),
                         -EBADMSG);
        assert_int_equal(tp_format_parse_symbolic("__print_symbolic(REC->reason, { 0 \"a\" })", "reason", &t),
                         -EBADMSG);
        assert_int_equal(tp_format_parse_symbolic("__print_symbolic(REC->reason, { 0, \"a })", "reason", &t),
                         -EBADMSG);
        assert_int_equal(tp_format_parse_symbolic("__print_symbolic(REC->reason, { 0, a })", "reason", &t),
                         -EBADMSG);
        assert_int_equal(tp_format_parse_symbolic("__print_symbolic(REC->reason, 0, \"a\")", "reason", &t),
                         -EBADMSG);
}

static void test_reason_classes(void **state) {
        char buf[TP_SYMBOL_NAME_MAX];

        assert_int_equal(kmigrate_class_from_reason("numa_misplaced"), KMIGRATE_PROMOTION);
        assert_int_equal(kmigrate_class_from_reason("demotion"), KMIGRATE_DEMOTION);
        assert_int_equal(kmigrate_class_from_reason("damon"), KMIGRATE_DAMON);
        assert_int_equal(kmigrate_class_from_reason("compaction"), KMIGRATE_COMPACTION);
        assert_int_equal(kmigrate_class_from_reason("contig_range"), KMIGRATE_COMPACTION);
        assert_int_equal(kmigrate_class_from_reason("syscall_or_cpuset"), KMIGRATE_SYSCALL);
        assert_int_equal(kmigrate_class_from_reason("mempolicy_mbind"), KMIGRATE_SYSCALL);
        assert_int_equal(kmigrate_class_from_reason("longterm_pin"), KMIGRATE_OTHER);
        assert_int_equal(kmigrate_class_from_reason("something_new"), KMIGRATE_OTHER);
        assert_int_equal(kmigrate_class_from_reason(NULL), KMIGRATE_OTHER);

        assert_string_equal(kmigrate_reason_from_enumerator("MR_SYSCALL", buf, sizeof(buf)), "syscall_or_cpuset");
        assert_string_equal(kmigrate_reason_from_enumerator("MR_NUMA_MISPLACED", buf, sizeof(buf)),
                            "numa_misplaced");
        assert_string_equal(kmigrate_reason_from_enumerator("MR_DAMON", buf, sizeof(buf)), "damon");
        assert_string_equal(kmigrate_reason_from_enumerator("MR_SOMETHING_NEW", buf, sizeof(buf)),
                            "something_new");
        assert_null(kmigrate_reason_from_enumerator("MR_TYPES", buf, sizeof(buf)));
        assert_null(kmigrate_reason_from_enumerator("MIGRATE_SYNC", buf, sizeof(buf)));
        assert_null(kmigrate_reason_from_enumerator("MR_", buf, sizeof(buf)));

        for (unsigned c = 0; c < _KMIGRATE_CLASS_MAX; c++)
                assert_non_null(kmigrate_class_to_string(c));
        assert_string_equal(kmigrate_class_to_string(KMIGRATE_TIERD), "tierd");
        assert_string_equal(kmigrate_source_to_string(KMIGRATE_SOURCE_VMSTAT), "vmstat");
        assert_string_equal(kmigrate_source_to_string(KMIGRATE_SOURCE_BPF), "bpf");
}

static struct bpf_tp_arg ulong_arg(void) {
        return (struct bpf_tp_arg) { .kind = BPF_ARG_INT, .size = 8 };
}

static struct bpf_tp_proto migrate_proto(unsigned n_counts) {
        struct bpf_tp_proto p = { .n_args = n_counts + 2 };

        for (unsigned i = 0; i < n_counts; i++)
                p.args[i] = ulong_arg();
        p.args[n_counts] = (struct bpf_tp_arg) { .kind = BPF_ARG_ENUM, .size = 4 };
        p.args[n_counts + 1] = (struct bpf_tp_arg) { .kind = BPF_ARG_INT, .size = 4 };
        return p;
}

static void test_raw_variants(void **state) {
        struct bpf_tp_proto p;

        p = migrate_proto(6);
        assert_int_equal(kmigrate_raw_variant(&p), 8); /* 6.16+ */
        p = migrate_proto(5);
        assert_int_equal(kmigrate_raw_variant(&p), 7);
        p = migrate_proto(2);
        assert_int_equal(kmigrate_raw_variant(&p), 4);
        p = migrate_proto(3);
        assert_int_equal(kmigrate_raw_variant(&p), -EPROTONOSUPPORT);
        p = migrate_proto(5);
        p.args[6].size = 8; /* reason not an int */
        assert_int_equal(kmigrate_raw_variant(&p), -EPROTONOSUPPORT);
        p = migrate_proto(5);
        p.args[0] = (struct bpf_tp_arg) { .kind = BPF_ARG_PTR, .size = 8, .struct_name = "migrate_pages_stats" };
        assert_int_equal(kmigrate_raw_variant(&p), -EPROTONOSUPPORT);
        assert_int_equal(kmigrate_raw_variant(NULL), -EPROTONOSUPPORT);

        /* damon_aggregated */
        struct bpf_tp_arg u32 = { .kind = BPF_ARG_INT, .size = 4 };
        struct bpf_tp_arg region = { .kind = BPF_ARG_PTR, .size = 8, .struct_name = "damon_region" };
        struct bpf_tp_arg target = { .kind = BPF_ARG_PTR, .size = 8, .struct_name = "damon_target" };

        p = (struct bpf_tp_proto) { .n_args = 3, .args = { u32, region, u32 } };
        assert_int_equal(bpf_damon_raw_variant(&p), 3);
        p = (struct bpf_tp_proto) { .n_args = 4, .args = { target, u32, region, u32 } };
        assert_int_equal(bpf_damon_raw_variant(&p), 4);
        p = (struct bpf_tp_proto) { .n_args = 3, .args = { target, region, u32 } }; /* 5.15 */
        assert_int_equal(bpf_damon_raw_variant(&p), -EPROTONOSUPPORT);
        p = (struct bpf_tp_proto) { .n_args = 6, .args = { target, u32, region, u32, ulong_arg(), ulong_arg() } };
        assert_int_equal(bpf_damon_raw_variant(&p), -EPROTONOSUPPORT);
}

static void test_counts_from_bpf(void **state) {
        struct tierd_migrate_count totals[TIERD_MIGRATE_KEYS] = {};
        uint8_t classes[TIERD_MIGRATE_REASON_SLOTS];
        struct kmigrate_counts c;

        for (unsigned i = 0; i < TIERD_MIGRATE_REASON_SLOTS; i++)
                classes[i] = KMIGRATE_OTHER;
        classes[5] = KMIGRATE_PROMOTION;
        classes[8] = KMIGRATE_DEMOTION;
        classes[3] = KMIGRATE_SYSCALL;

        totals[5] = (struct tierd_migrate_count) { .events = 2, .succeeded = 1000, .failed = 3, .thp_succeeded = 1 };
        totals[8] = (struct tierd_migrate_count) { .events = 1, .succeeded = 512 };
        totals[3] = (struct tierd_migrate_count) { .events = 4, .succeeded = 40 };
        totals[TIERD_MIGRATE_REASON_SLOTS + 3] = (struct tierd_migrate_count) { .events = 7, .succeeded = 700 };
        totals[TIERD_MIGRATE_REASON_SLOTS - 1] = (struct tierd_migrate_count) { .events = 1, .succeeded = 9 };

        kmigrate_counts_from_bpf(totals, classes, &c);
        assert_int_equal(c.pages[KMIGRATE_PROMOTION], 1000);
        assert_int_equal(c.pages_failed[KMIGRATE_PROMOTION], 3);
        assert_int_equal(c.thp[KMIGRATE_PROMOTION], 1);
        assert_int_equal(c.events[KMIGRATE_PROMOTION], 2);
        assert_int_equal(c.pages[KMIGRATE_DEMOTION], 512);
        assert_int_equal(c.pages[KMIGRATE_SYSCALL], 40); /* others' move_pages only */
        assert_int_equal(c.pages[KMIGRATE_TIERD], 700);
        assert_int_equal(c.events[KMIGRATE_TIERD], 7);
        assert_int_equal(c.pages[KMIGRATE_OTHER], 9);
        assert_int_equal(c.reason_pages[3], 740); /* by reason: tierd's included */
        assert_int_equal(c.reason_pages[5], 1000);
        for (unsigned k = 0; k < _KMIGRATE_CLASS_MAX; k++)
                assert_true(kmigrate_counts_has(&c, k));
}

static void test_counts_from_vmstat(void **state) {
        struct vmstat_migration d;
        struct kmigrate_counts c;

        assert_int_equal(vmstat_parse("pgpromote_success 100\nnuma_pages_migrated 150\npgdemote_kswapd 40\n"
                                      "pgdemote_direct 2\npgmigrate_success 500\npgmigrate_fail 5\n", &d), 0);
        kmigrate_counts_from_vmstat(&d, &c);
        assert_true(kmigrate_counts_has(&c, KMIGRATE_PROMOTION));
        assert_true(kmigrate_counts_has(&c, KMIGRATE_DEMOTION));
        assert_true(kmigrate_counts_has(&c, KMIGRATE_OTHER));
        assert_false(kmigrate_counts_has(&c, KMIGRATE_TIERD));
        assert_false(kmigrate_counts_has(&c, KMIGRATE_DAMON));
        assert_int_equal(c.pages[KMIGRATE_PROMOTION], 100);
        assert_int_equal(c.pages[KMIGRATE_DEMOTION], 42);
        assert_int_equal(c.pages[KMIGRATE_OTHER], 500 - 150 - 42);
        assert_int_equal(c.pages_failed[KMIGRATE_OTHER], 5);

        /* Without tiering counters: NUMA balancing stands in for promotions, nothing for demotions. */
        assert_int_equal(vmstat_parse("numa_pages_migrated 30\npgmigrate_success 20\n", &d), 0);
        kmigrate_counts_from_vmstat(&d, &c);
        assert_int_equal(c.pages[KMIGRATE_PROMOTION], 30);
        assert_false(kmigrate_counts_has(&c, KMIGRATE_DEMOTION));
        assert_int_equal(c.pages[KMIGRATE_OTHER], 0); /* never negative */
}

static void test_counts_delta(void **state) {
        struct kmigrate_counts a = { .available = 0x7 }, b = { .available = 0x5 }, d;

        a.pages[KMIGRATE_DEMOTION] = 10;
        b.pages[KMIGRATE_DEMOTION] = 25;
        b.pages[KMIGRATE_PROMOTION] = 3;
        a.reason_pages[8] = 1;
        b.reason_pages[8] = 4;
        kmigrate_counts_delta(&b, &a, &d);
        assert_int_equal(d.pages[KMIGRATE_DEMOTION], 15);
        assert_int_equal(d.pages[KMIGRATE_PROMOTION], 3);
        assert_int_equal(d.reason_pages[8], 3);
        assert_int_equal(d.available, 0x5);
        kmigrate_counts_delta(&a, &b, &d);
        assert_int_equal(d.pages[KMIGRATE_DEMOTION], 0);
}

static void test_fight_detector(void **state) {
        struct fight_detector d;

        fight_detector_init(&d, 100, 3);
        assert_int_equal(d.promotion_permille, FIGHT_PERMILLE_MAX);

        /* Both over the threshold, but not in the same windows: no fight. */
        for (int i = 0; i < 10; i++) {
                assert_int_equal(fight_detector_feed(&d, 1000, 0), FIGHT_NONE);
                assert_int_equal(fight_detector_feed(&d, 0, 1000), FIGHT_NONE);
        }
        /* At the threshold is not over it. */
        for (int i = 0; i < 5; i++)
                assert_int_equal(fight_detector_feed(&d, 100, 100), FIGHT_NONE);
        assert_int_equal(d.n_fights, 0);
        assert_int_equal(d.promotion_permille, FIGHT_PERMILLE_MAX);

        /* Once in three windows, twice: not three of the last six. */
        for (int i = 0; i < 2; i++) {
                assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_NONE);
                assert_int_equal(fight_detector_feed(&d, 500, 0), FIGHT_NONE);
                assert_int_equal(fight_detector_feed(&d, 0, 0), FIGHT_NONE);
        }
        for (int i = 0; i < 6; i++)
                assert_int_equal(fight_detector_feed(&d, 0, 0), FIGHT_NONE);
        /* Bursts with gaps, as reclaim makes them: three of the last six windows. */
        assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_NONE);
        assert_int_equal(fight_detector_feed(&d, 0, 500), FIGHT_NONE);
        assert_int_equal(fight_detector_feed(&d, 0, 500), FIGHT_NONE);
        assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_NONE);
        assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_STARTED);
        assert_true(d.fighting);
        assert_int_equal(d.n_fights, 1);
        assert_int_equal(d.promotion_permille, 500);

        /* Throttling halves per fighting window down to the floor. */
        for (int i = 0; i < 10; i++)
                assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_CONTINUES);
        assert_int_equal(d.promotion_permille, FIGHT_PERMILLE_MIN);

        /* One or two calm windows do not end it; three do; the rate grows back by steps. */
        assert_int_equal(fight_detector_feed(&d, 0, 500), FIGHT_CONTINUES);
        assert_int_equal(d.promotion_permille, FIGHT_PERMILLE_MIN + FIGHT_PERMILLE_STEP);
        assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_CONTINUES); /* calm streak broken */
        assert_int_equal(fight_detector_feed(&d, 0, 500), FIGHT_CONTINUES);
        assert_int_equal(fight_detector_feed(&d, 0, 0), FIGHT_CONTINUES);
        assert_int_equal(fight_detector_feed(&d, 0, 0), FIGHT_ENDED);
        assert_false(d.fighting);
        for (int i = 0; i < 10; i++)
                assert_int_equal(fight_detector_feed(&d, 0, 0), FIGHT_NONE);
        assert_int_equal(d.promotion_permille, FIGHT_PERMILLE_MAX);

        /* A second fight is counted as such. */
        for (int i = 0; i < 2; i++)
                assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_NONE);
        assert_int_equal(fight_detector_feed(&d, 500, 500), FIGHT_STARTED);
        assert_int_equal(d.n_fights, 2);

        /* windows = 0 behaves as 1. */
        fight_detector_init(&d, 0, 0);
        assert_int_equal(fight_detector_feed(&d, 1, 1), FIGHT_STARTED);
        assert_int_equal(fight_detector_feed(&d, 0, 1), FIGHT_ENDED);
        assert_string_equal(fight_event_to_string(FIGHT_ENDED), "ended");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_reason_table),
                cmocka_unit_test(test_format_variants),
                cmocka_unit_test(test_format_bad),
                cmocka_unit_test(test_reason_classes),
                cmocka_unit_test(test_raw_variants),
                cmocka_unit_test(test_counts_from_bpf),
                cmocka_unit_test(test_counts_from_vmstat),
                cmocka_unit_test(test_counts_delta),
                cmocka_unit_test(test_fight_detector),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
