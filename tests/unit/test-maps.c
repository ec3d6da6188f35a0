/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"
#include "numa-maps.h"

static const char sample[] =
        "55d0c8a00000-55d0c8a28000 r--p 00000000 fd:01 1835023                    /usr/bin/bash\n"
        "55d0ca1e3000-55d0ca36c000 rw-p 00000000 00:00 0                          [heap]\n"
        "7f3b2c000000-7f3b3c000000 rw-p 00000000 00:00 0 \n"
        "7f3b3c000000-7f3b3c001000 rw-s 00002000 00:05 42                         /memfd:cache (deleted)\n"
        "7ffd4a9e4000-7ffd4aa05000 rw-p 00000000 00:00 0                          [stack]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void test_parse_sample(void **state) {
        struct vma *v;
        size_t n;

        assert_int_equal(maps_parse(sample, strlen(sample), &v, &n), 0);
        assert_int_equal(n, 6);

        assert_int_equal(v[0].start, 0x55d0c8a00000ULL);
        assert_int_equal(v[0].end, 0x55d0c8a28000ULL);
        assert_string_equal(v[0].perms, "r--p");
        assert_int_equal(v[0].dev_major, 0xfd);
        assert_int_equal(v[0].dev_minor, 1);
        assert_int_equal(v[0].inode, 1835023);
        assert_string_equal(v[0].path, "/usr/bin/bash");

        assert_string_equal(v[1].path, "[heap]");
        /* An anonymous mapping: no path at all, even with trailing blanks. */
        assert_null(v[2].path);
        assert_int_equal(vma_size(&v[2]), 0x10000000ULL);
        /* Paths with spaces are kept whole. */
        assert_string_equal(v[3].path, "/memfd:cache (deleted)");
        assert_int_equal(v[3].offset, 0x2000);
        assert_string_equal(v[3].perms, "rw-s");
        assert_int_equal(v[5].end, 0xffffffffff601000ULL);
        vmas_free(v, n);
}

static void test_parse_empty_and_no_trailing_newline(void **state) {
        struct vma *v = NULL;
        size_t n = 99;

        assert_int_equal(maps_parse("", 0, &v, &n), 0);
        assert_int_equal(n, 0);
        vmas_free(v, n);

        const char *one = "1000-2000 r-xp 00000000 00:00 0";
        assert_int_equal(maps_parse(one, strlen(one), &v, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(v[0].start, 0x1000);
        vmas_free(v, n);
}

static void test_parse_garbage(void **state) {
        static const char *const bad[] = {
                "zzzz-2000 r-xp 00000000 00:00 0\n",
                "1000 r-xp 00000000 00:00 0\n",
                "2000-1000 r-xp 00000000 00:00 0\n",
                "1000-2000 r-xp\n",
                "1000-2000 r-xp 00000000 00:00\n",
                "1000-2000 r-xp 00000000 0000 0\n",
                "1000-2000 r-xp 00000000 00:00 x\n",
                "11111111111111111-2000 r-xp 00000000 00:00 0\n",
                /* A truncated second line (a process that exited mid-read) fails the whole parse. */
                "1000-2000 r-xp 00000000 00:00 0\n3000-40",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct vma *v = NULL;
                size_t n = 0;

                assert_true(maps_parse(bad[i], strlen(bad[i]), &v, &n) < 0);
        }
}

static void test_numa_maps(void **state) {
        static const char text[] =
                "55d0c8a00000 default file=/usr/bin/bash mapped=40 N0=40 kernelpagesize_kB=4\n"
                "7f3b2c000000 default anon=65536 dirty=65536 active=0 N0=16384 N1=49152 kernelpagesize_kB=4\n"
                "7f3c00000000 bind:1 anon=2 dirty=2 N1=2 kernelpagesize_kB=2048\n"
                "7ffd4a9e4000 default stack anon=3 dirty=3 N0=3 kernelpagesize_kB=4\n"
                "7ffd4aaaa000 default\n";
        struct numa_maps_entry *e;
        size_t n;

        assert_int_equal(numa_maps_parse(text, strlen(text), &e, &n), 0);
        assert_int_equal(n, 5);
        assert_int_equal(e[1].start, 0x7f3b2c000000ULL);
        assert_int_equal(e[1].n_nodes, 2);
        assert_int_equal(numa_maps_bytes_on(e, n, 0x7f3b2c000000ULL, 0), 16384ULL * 4096);
        assert_int_equal(numa_maps_bytes_on(e, n, 0x7f3b2c000000ULL, 1), 49152ULL * 4096);
        /* Huge pages count in their own size. */
        assert_int_equal(numa_maps_bytes_on(e, n, 0x7f3c00000000ULL, 1), 2ULL * 2 * 1024 * 1024);
        assert_int_equal(numa_maps_bytes_on(e, n, 0x7f3c00000000ULL, 0), 0);
        assert_int_equal(e[4].n_nodes, 0);
        assert_int_equal(numa_maps_bytes_on(e, n, 0x1234, 0), 0);
        free(e);

        static const char *const bad[] = {
                "zzzz default N0=1\n",
                "1000 default N0=x\n",
                "1000 default N0\n",
                "1000 default kernelpagesize_kB=0\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_true(numa_maps_parse(bad[i], strlen(bad[i]), &e, &n) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_sample),
                cmocka_unit_test(test_parse_empty_and_no_trailing_newline),
                cmocka_unit_test(test_parse_garbage),
                cmocka_unit_test(test_numa_maps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
