/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "grains.h"
#include "macro.h"

/* Grains as a DAMON pass reports them: any order, all of a target's at once; a lookup finds the grain holding an
 * address. */
static void test_find(void **state _unused_) {
        struct grain_map *m;

        assert_int_equal(grain_map_new(&m), 0);
        /* No grains: every address is its own. */
        assert_int_equal(grain_map_find(m, 5, 0x1234000), 0x1234000);
        assert_int_equal(grain_map_find(NULL, 5, 0x1234000), 0x1234000);
        grain_map_begin_pass(m);
        for (uint64_t k = 5; k > 0; k--) /* 0x9000, 0x7000, ... 0x1000 */
                assert_int_equal(grain_map_add(m, 5, 0x1000 + (k - 1) * 0x2000), 0);
        assert_int_equal(grain_map_add(m, 6, 0x100000), 0);
        assert_int_equal(grain_map_find(m, 5, 0x1000), 0x1000);
        assert_int_equal(grain_map_find(m, 5, 0x2fff), 0x1000);
        assert_int_equal(grain_map_find(m, 5, 0x3000), 0x3000);
        assert_int_equal(grain_map_find(m, 5, 0x7abc), 0x7000);
        assert_int_equal(grain_map_find(m, 5, 0xfffff), 0x9000);
        assert_int_equal(grain_map_find(m, 5, 0x800), 0x800); /* below the first grain */
        assert_int_equal(grain_map_find(m, 6, 0x180000), 0x100000);
        assert_int_equal(grain_map_find(m, 7, 0x180000), 0x180000);
        grain_map_drop(m, 6);
        assert_int_equal(grain_map_find(m, 6, 0x180000), 0x180000);
        grain_map_free(m);
}

/* A pass's grains replace the last pass's; a target's grains outlive a pass without data, not two. */
static void test_passes(void **state _unused_) {
        struct grain_map *m;

        assert_int_equal(grain_map_new(&m), 0);
        grain_map_begin_pass(m);
        assert_int_equal(grain_map_add(m, 5, 0x1000), 0);
        assert_int_equal(grain_map_add(m, 5, 0x5000), 0);
        grain_map_begin_pass(m);
        assert_int_equal(grain_map_find(m, 5, 0x6000), 0x5000); /* the pass reported nothing yet */
        assert_int_equal(grain_map_add(m, 5, 0x1000), 0);
        assert_int_equal(grain_map_add(m, 5, 0x3000), 0);
        assert_int_equal(grain_map_find(m, 5, 0x6000), 0x3000); /* 0x5000 merged into 0x3000's region */
        grain_map_begin_pass(m);
        grain_map_begin_pass(m);
        assert_int_equal(grain_map_find(m, 5, 0x6000), 0x3000);
        grain_map_begin_pass(m);
        assert_int_equal(grain_map_find(m, 5, 0x6000), 0x6000);
        grain_map_free(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find),
                cmocka_unit_test(test_passes),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
