/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zoneinfo.h"

#define PG 4096

/* Two nodes as a 6.12 guest shows them (per-node and per-zone counters trimmed): node 0 with DMA, DMA32 and an
 * empty Movable zone, node 1 (CPU-less) with one Normal zone. */
static const char zoneinfo_two_nodes[] =
        "Node 0, zone      DMA\n"
        "  per-node stats\n"
        "      nr_inactive_anon 12\n"
        "      nr_free_pages 99999\n"
        "  pages free     3840\n"
        "        boost    0\n"
        "        min      49\n"
        "        low      61\n"
        "        high     73\n"
        "        promo    85\n"
        "        spanned  4095\n"
        "        present  3998\n"
        "        managed  3840\n"
        "        cma      0\n"
        "        protection: (0, 3018, 5066, 5066, 5066)\n"
        "      nr_free_pages 3840\n"
        "  pagesets\n"
        "    cpu: 0\n"
        "              count: 0\n"
        "              high:  0\n"
        "  node_unreclaimable:  0\n"
        "  start_pfn:           1\n"
        "Node 0, zone    DMA32\n"
        "  pages free     20000\n"
        "        boost    100\n"
        "        min      300\n"
        "        low      400\n"
        "        high     500\n"
        "        spanned  258048\n"
        "        protection: (0, 0, 0, 0, 0)\n"
        "  start_pfn:           4096\n"
        "Node 0, zone  Movable\n"
        "  pages free     0\n"
        "        boost    0\n"
        "        min      32\n"
        "        low      32\n"
        "        high     32\n"
        "        spanned  0\n"
        "        protection: (0, 0, 0, 0, 0)\n"
        "  start_pfn:           0\n"
        "Node 1, zone   Normal\n"
        "  pages free     262000\n"
        "        boost    0\n"
        "        min      1000\n"
        "        low      1250\n"
        "        high     1500\n"
        "        spanned  786432\n"
        "        protection: (0, 0, 0, 0, 0)\n"
        "  start_pfn:           262144";

static void test_two_nodes(void **state) {
        struct zoneinfo *z = malloc(sizeof(*z));

        assert_non_null(z);
        assert_int_equal(zoneinfo_parse(zoneinfo_two_nodes, PG, z), 0);
        assert_true(zoneinfo_has_node(z, 0));
        assert_true(zoneinfo_has_node(z, 1));
        assert_false(zoneinfo_has_node(z, 2));
        assert_false(zoneinfo_has_node(z, -1));
        /* DMA: all of its 3840 free pages are behind the reserve (73 + 5066); DMA32: high + boost = 600 (not the
         * per-node nr_free_pages, nor the pageset's "high:"); Movable: nothing free, nothing kept. */
        assert_int_equal(z->kept_bytes[0], (uint64_t) (3840 + 600) * PG);
        assert_int_equal(z->free_bytes[0], (uint64_t) (3840 + 20000) * PG);
        assert_int_equal(z->kept_bytes[1], (uint64_t) 1500 * PG);
        assert_int_equal(z->free_bytes[1], (uint64_t) 262000 * PG);
        /* Spans: DMA's and DMA32's joined, the empty Movable zone left out. */
        assert_int_equal(z->span_start_pfn[0], 1);
        assert_int_equal(z->span_end_pfn[0], 4096 + 258048);
        assert_int_equal(z->span_start_pfn[1], 262144);
        assert_int_equal(z->span_end_pfn[1], 262144 + 786432);
        free(z);
}

static void test_malformed(void **state) {
        struct zoneinfo *z = malloc(sizeof(*z));

        assert_non_null(z);
        assert_int_equal(zoneinfo_parse("Node x, zone DMA\n", PG, z), -EBADMSG);
        assert_int_equal(zoneinfo_parse("Node 0, zone DMA\n  pages free  12a\n", PG, z), -EBADMSG);
        assert_int_equal(zoneinfo_parse("Node 0, zone DMA\n        high\n", PG, z), -EBADMSG);
        assert_int_equal(zoneinfo_parse("Node 0, zone DMA\n        protection: (0, 1\n", PG, z), -EBADMSG);
        assert_int_equal(zoneinfo_parse("Node 0, zone DMA\n        protection: ()\n", PG, z), -EBADMSG);
        assert_int_equal(zoneinfo_parse(NULL, PG, z), -EINVAL);
        assert_int_equal(zoneinfo_parse("", 0, z), -EINVAL);
        /* Empty text: no node. A zone without watermarks keeps nothing. */
        assert_int_equal(zoneinfo_parse("", PG, z), 0);
        assert_false(zoneinfo_has_node(z, 0));
        assert_int_equal(zoneinfo_parse("Node 3, zone Normal\n  pages free 10\n", PG, z), 0);
        assert_true(zoneinfo_has_node(z, 3));
        assert_int_equal(z->kept_bytes[3], 0);
        assert_int_equal(z->free_bytes[3], 10 * PG);
        assert_int_equal(z->span_end_pfn[3], 0);
        assert_int_equal(zoneinfo_parse("Node 0, zone DMA\n        spanned 1x\n", PG, z), -EBADMSG);
        /* A node id past the table is ignored, not an error. */
        assert_int_equal(zoneinfo_parse("Node 5000, zone Normal\n  pages free 10\n        high 5\n", PG, z), 0);
        assert_false(zoneinfo_has_node(z, 5000));
        free(z);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_nodes),
                cmocka_unit_test(test_malformed),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
