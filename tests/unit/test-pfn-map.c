/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>

#include "pfn-map.h"

/* Three nodes: 0 (DRAM, fastest tier), 2 (CXL, slowest), 1 (a middle tier), listed out of PFN order. */
static struct topology three_tiers(struct topology_node nodes[static 3]) {
        nodes[0] = (struct topology_node) { .id = 0, .span_start_pfn = 1, .span_end_pfn = 0x40000, .tier = 0 };
        nodes[1] = (struct topology_node) { .id = 1, .span_start_pfn = 0x80000, .span_end_pfn = 0xc0000, .tier = 1 };
        nodes[2] = (struct topology_node) { .id = 2, .span_start_pfn = 0x40000, .span_end_pfn = 0x80000, .tier = 2 };
        return (struct topology) { .nodes = nodes, .n_nodes = 3, .n_tiers = 3 };
}

static void test_lookup(void **state) {
        struct topology_node nodes[3];
        struct topology t = three_tiers(nodes);
        struct pfn_map m;
        size_t hint = 12345;

        assert_int_equal(pfn_map_build(&t, &m), 0);
        assert_int_equal(m.n, 3);
        assert_int_equal(pfn_map_lookup(&m, 0, &hint), PFN_PLACE_NONE);
        assert_int_equal(pfn_map_lookup(&m, 1, &hint), PFN_PLACE_FASTEST);
        assert_int_equal(hint, 0);
        assert_int_equal(pfn_map_lookup(&m, 0x3ffff, &hint), PFN_PLACE_FASTEST);
        assert_int_equal(pfn_map_lookup(&m, 0x40000, &hint), PFN_PLACE_SLOWEST);
        assert_int_equal(hint, 1);
        assert_int_equal(pfn_map_lookup(&m, 0x7ffff, NULL), PFN_PLACE_SLOWEST);
        /* The middle tier is neither. */
        assert_int_equal(pfn_map_lookup(&m, 0x80000, &hint), PFN_PLACE_NONE);
        assert_int_equal(pfn_map_lookup(&m, 0xc0000, &hint), PFN_PLACE_NONE);
        assert_int_equal(pfn_map_lookup(&m, UINT64_MAX, &hint), PFN_PLACE_NONE);
        /* A stale hint is only a hint. */
        hint = 2;
        assert_int_equal(pfn_map_lookup(&m, 5, &hint), PFN_PLACE_FASTEST);
        pfn_map_done(&m);
        pfn_map_done(&m);
        pfn_map_done(NULL);
        assert_int_equal(pfn_map_lookup(&m, 5, &hint), PFN_PLACE_NONE);
        assert_int_equal(pfn_map_lookup(NULL, 5, &hint), PFN_PLACE_NONE);
}

static void test_unusable(void **state) {
        struct topology_node nodes[3];
        struct topology t = three_tiers(nodes);
        struct pfn_map m;

        /* Interleaved memory: spans overlap, a PFN no longer names its node. */
        nodes[2].span_start_pfn = 0x3f000;
        assert_int_equal(pfn_map_build(&t, &m), -ENOTUNIQ);
        assert_null(m.ranges);
        /* A node whose span zoneinfo did not give. */
        t = three_tiers(nodes);
        nodes[1].span_start_pfn = nodes[1].span_end_pfn = 0;
        assert_int_equal(pfn_map_build(&t, &m), -ENODATA);
        /* One tier: nothing is fastest or slowest. */
        t = three_tiers(nodes);
        t.n_tiers = 1;
        nodes[1].tier = nodes[2].tier = 0;
        assert_int_equal(pfn_map_build(&t, &m), 0);
        assert_int_equal(pfn_map_lookup(&m, 1, NULL), PFN_PLACE_NONE);
        pfn_map_done(&m);
        /* A node in no tier is neither. */
        t = three_tiers(nodes);
        t.n_tiers = 2;
        nodes[1].tier = -1;
        nodes[2].tier = 1;
        assert_int_equal(pfn_map_build(&t, &m), 0);
        assert_int_equal(pfn_map_lookup(&m, 0x80000, NULL), PFN_PLACE_NONE);
        assert_int_equal(pfn_map_lookup(&m, 0x40000, NULL), PFN_PLACE_SLOWEST);
        pfn_map_done(&m);
        assert_int_equal(pfn_map_build(NULL, &m), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lookup),
                cmocka_unit_test(test_unusable),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
