/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "vmstat.h"

/* An excerpt of a 6.12 /proc/vmstat, with counters around the ones tierd reads. */
static const char vmstat_6_12[] =
        "nr_free_pages 1960455\n"
        "nr_zone_inactive_anon 1024\n"
        "pgpromote_success 1200\n"
        "pgpromote_candidate 5000\n"
        "pgdemote_kswapd 300\n"
        "pgdemote_direct 20\n"
        "pgdemote_khugepaged 1\n"
        "pgdemote_proactive 4\n"
        "pgmigrate_success 9000\n"
        "pgmigrate_fail 17\n"
        "numa_pages_migrated 1500\n"
        "numa_pte_updates 0\n"
        "thp_migration_success 3\n"
        "thp_migration_fail 1\n"
        "thp_migration_split 2\n"
        "pgmigrate_success_total 5\n"
        "swap_ra 0\n";

static void test_parse_full(void **state) {
        struct vmstat_migration v;

        assert_int_equal(vmstat_parse(vmstat_6_12, &v), 0);
        for (unsigned f = 0; f < _VMSTAT_FIELD_MAX; f++)
                assert_true(vmstat_has(&v, f));
        assert_int_equal(v.value[VMSTAT_PGPROMOTE_SUCCESS], 1200);
        assert_int_equal(v.value[VMSTAT_PGPROMOTE_CANDIDATE], 5000);
        assert_int_equal(v.value[VMSTAT_PGDEMOTE_KSWAPD], 300);
        assert_int_equal(v.value[VMSTAT_PGDEMOTE_DIRECT], 20);
        assert_int_equal(v.value[VMSTAT_PGDEMOTE_KHUGEPAGED], 1);
        assert_int_equal(v.value[VMSTAT_PGDEMOTE_PROACTIVE], 4);
        assert_int_equal(v.value[VMSTAT_PGMIGRATE_SUCCESS], 9000); /* not pgmigrate_success_total */
        assert_int_equal(v.value[VMSTAT_PGMIGRATE_FAIL], 17);
        assert_int_equal(v.value[VMSTAT_NUMA_PAGES_MIGRATED], 1500);
        assert_int_equal(v.value[VMSTAT_THP_MIGRATION_SUCCESS], 3);
        assert_int_equal(v.value[VMSTAT_THP_MIGRATION_FAIL], 1);
        assert_int_equal(v.value[VMSTAT_THP_MIGRATION_SPLIT], 2);
        assert_int_equal(vmstat_demoted(&v), 325);
}

static void test_parse_old_kernel(void **state) {
        /* 5.10: no tiering counters, no trailing newline, a 64-bit value. */
        struct vmstat_migration v;

        assert_int_equal(vmstat_parse("pgmigrate_success 18446744073709551615\nnuma_pages_migrated 7", &v), 0);
        assert_false(vmstat_has(&v, VMSTAT_PGPROMOTE_SUCCESS));
        assert_false(vmstat_has(&v, VMSTAT_PGDEMOTE_KSWAPD));
        assert_true(vmstat_has(&v, VMSTAT_PGMIGRATE_SUCCESS));
        assert_true(v.value[VMSTAT_PGMIGRATE_SUCCESS] == UINT64_MAX);
        assert_int_equal(v.value[VMSTAT_NUMA_PAGES_MIGRATED], 7);
        assert_int_equal(vmstat_demoted(&v), 0);

        assert_int_equal(vmstat_parse("", &v), 0);
        assert_int_equal(v.present, 0);
}

static void test_parse_bad(void **state) {
        struct vmstat_migration v = { .present = 0xdead };

        assert_int_equal(vmstat_parse(NULL, &v), -EINVAL);
        assert_int_equal(vmstat_parse("x 1\n", NULL), -EINVAL);
        assert_int_equal(vmstat_parse("pgpromote_success abc\n", &v), -EBADMSG);
        assert_int_equal(vmstat_parse("pgpromote_success\n", &v), -EBADMSG);
        assert_int_equal(vmstat_parse("pgpromote_success 1 2\n", &v), -EBADMSG);
        assert_int_equal(vmstat_parse("pgpromote_success -1\n", &v), -EBADMSG);
        assert_int_equal(vmstat_parse("pgpromote_success 99999999999999999999999\n", &v), -EBADMSG);
        assert_int_equal(vmstat_parse("pgpromote_success 1\npgpromote_success 2\n", &v), -EBADMSG);
        /* ret untouched on failure */
        assert_int_equal(v.present, 0xdead);
        /* unknown counters may hold anything */
        assert_int_equal(vmstat_parse("nr_weird what ever\npgmigrate_fail 3 \n", &v), 0);
        assert_int_equal(v.value[VMSTAT_PGMIGRATE_FAIL], 3);
}

static void test_delta(void **state) {
        struct vmstat_migration a, b, d;

        assert_int_equal(vmstat_parse("pgpromote_success 10\npgdemote_kswapd 5\npgmigrate_success 100\n", &a), 0);
        assert_int_equal(vmstat_parse("pgpromote_success 25\npgdemote_kswapd 4\npgmigrate_success 130\n"
                                      "numa_pages_migrated 9\n", &b), 0);
        vmstat_delta(&b, &a, &d);
        assert_int_equal(d.value[VMSTAT_PGPROMOTE_SUCCESS], 15);
        assert_int_equal(d.value[VMSTAT_PGDEMOTE_KSWAPD], 0); /* went backwards */
        assert_int_equal(d.value[VMSTAT_PGMIGRATE_SUCCESS], 30);
        assert_false(vmstat_has(&d, VMSTAT_NUMA_PAGES_MIGRATED)); /* only in one */
        assert_true(vmstat_has(&d, VMSTAT_PGDEMOTE_KSWAPD));
}

static void test_names(void **state) {
        assert_string_equal(vmstat_field_to_string(VMSTAT_PGPROMOTE_SUCCESS), "pgpromote_success");
        assert_string_equal(vmstat_field_to_string(VMSTAT_PGDEMOTE_PROACTIVE), "pgdemote_proactive");
        assert_null(vmstat_field_to_string(_VMSTAT_FIELD_MAX));
        for (unsigned f = 0; f < _VMSTAT_FIELD_MAX; f++)
                assert_non_null(vmstat_field_to_string(f));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_full),
                cmocka_unit_test(test_parse_old_kernel),
                cmocka_unit_test(test_parse_bad),
                cmocka_unit_test(test_delta),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
