/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "heat.h"
#include "migrate.h"
#include "util.h"

/* The census against a fake move_pages(): a page's node is its page number's parity (0 even, 1 odd), pid 30
 * has exited (ESRCH), and page 7 of each process is not present. */

#define PG HEAT_PAGE_SIZE
#define BASE UINT64_C(0x7f0000000000)

static const struct heat_class_params params = { .promote_rounds = 2, .cold_rounds = 3 };

static struct {
        unsigned calls;
        unsigned long largest;
} fake;

static long fake_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status, int flags) {
        assert_null(nodes);
        fake.calls++;
        fake.largest = MAX(fake.largest, count);
        if (pid == 30) {
                errno = ESRCH;
                return -1;
        }
        for (unsigned long i = 0; i < count; i++) {
                uint64_t page = ((uint64_t) (uintptr_t) pages[i] - BASE) / PG;

                status[i] = page == 7 ? -ENOENT : (int) (page % 2);
        }
        return 0;
}

static struct topology_node topo_nodes[2] = { { .id = 0, .tier = 0 }, { .id = 1, .tier = 1 } };
static const struct topology topo = { .nodes = topo_nodes, .n_nodes = 2, .n_tiers = 2 };

static struct heat_store *store_new(uint64_t pages_per_pid) {
        struct heat_store *s = NULL;

        assert_int_equal(heat_store_new(&s), 0);
        for (pid_t pid = 10; pid <= 40; pid += 10) {
                struct vma v = { .start = BASE, .end = BASE + pages_per_pid * PG, .perms = "rw-p" };

                assert_int_equal(heat_store_sync_target(s, pid, &v, 1), 0);
        }
        /* One round: every third page of pid 10 accessed in its only pass, the rest idle. */
        assert_int_equal(heat_store_begin_round(s, 1, 0), 0);
        assert_int_equal(heat_store_begin_pass(s), 1);
        for (uint64_t i = 0; i < pages_per_pid; i += 3)
                assert_int_equal(heat_store_record_accessed(s, 10, BASE + i * PG, PG), 0);
        heat_store_end_round(s);
        return s;
}

static void census_equal(const struct census *a, const struct census *b) {
        assert_int_equal(a->n_nodes, b->n_nodes);
        assert_int_equal(a->unplaced_bytes, b->unplaced_bytes);
        assert_int_equal(a->units_queried, b->units_queried);
        assert_int_equal(a->sample_stride, b->sample_stride);
        assert_int_equal(a->round, b->round);
        for (size_t i = 0; i < a->n_nodes; i++) {
                assert_int_equal(a->nodes[i].node, b->nodes[i].node);
                for (int k = 0; k < _HEAT_CLASS_MAX; k++)
                        assert_int_equal(a->nodes[i].class_bytes[k], b->nodes[i].class_bytes[k]);
        }
}

/* A census in steps is the census in one go, and no step locates more than it was given. */
static void test_census_steps(void **state _unused_) {
        const uint64_t pages[] = { 100, 3000, CENSUS_UNITS_MAX / 2 + 5 }; /* the last is sampled: 4 pids */
        const uint64_t units_max[] = { 1, 5, 1000, CENSUS_BATCH, UINT64_MAX };

        migrate_set_move_pages(fake_move_pages);
        for (size_t k = 0; k < ELEMENTSOF(pages); k++) {
                struct heat_store *s = store_new(pages[k]);
                struct census whole;
                uint64_t total = 0;

                assert_int_equal(census_take(s, &params, &topo, &whole), 0);
                /* pid 30 is not counted at all; page 7 of the others is unplaced. */
                for (size_t i = 0; i < whole.n_nodes; i++)
                        for (int c = 0; c < _HEAT_CLASS_MAX; c++)
                                total += whole.nodes[i].class_bytes[c];
                if (whole.sample_stride == 1) {
                        assert_int_equal(whole.units_queried, 4 * pages[k]);
                        assert_int_equal(whole.unplaced_bytes, 3 * PG);
                        assert_int_equal(total, 3 * (pages[k] - 1) * PG);
                        assert_int_equal(whole.nodes[1].class_bytes[HEAT_CLASS_HOT] +
                                                 whole.nodes[0].class_bytes[HEAT_CLASS_HOT],
                                         0); /* one round: nothing is hot yet */
                } else {
                        assert_true(whole.units_queried <= CENSUS_UNITS_MAX + 4);
                        assert_true(total >= 3 * (pages[k] - whole.sample_stride) * PG);
                        assert_true(total <= 3 * (pages[k] + whole.sample_stride) * PG);
                }

                for (size_t m = 0; m < ELEMENTSOF(units_max); m++) {
                        _cleanup_(census_taker_freep) struct census_taker *t = NULL;
                        struct census stepped = {};
                        unsigned steps = 0;
                        int r;

                        assert_int_equal(census_taker_new(s, &params, &topo, &t), 0);
                        fake = (typeof(fake)) {};
                        do {
                                r = census_taker_step(t, units_max[m], &stepped);
                                assert_true(r >= 0);
                                steps++;
                        } while (r > 0);
                        assert_true(fake.largest <= MIN(units_max[m], (uint64_t) CENSUS_BATCH));
                        if (units_max[m] < whole.units_queried)
                                assert_true(steps >= whole.units_queried / units_max[m]);
                        census_equal(&stepped, &whole);
                        census_done(&stepped);
                }
                census_done(&whole);
                heat_store_free(s);
        }
        migrate_set_move_pages(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_census_steps),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
