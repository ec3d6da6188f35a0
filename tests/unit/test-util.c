/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static void test_parse_size(void **state) {
        uint64_t v;

        assert_int_equal(parse_size("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(parse_size("4K", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(parse_size("256M", &v), 0);
        assert_int_equal(v, 256ULL << 20);
        assert_int_equal(parse_size("1G", &v), 0);
        assert_int_equal(v, 1ULL << 30);
        assert_int_equal(parse_size("2GiB", &v), 0);
        assert_int_equal(v, 2ULL << 30);
        assert_int_equal(parse_size("3T", &v), 0);
        assert_int_equal(v, 3ULL << 40);
        assert_int_equal(parse_size("0", &v), 0);
        assert_int_equal(v, 0);

        assert_int_equal(parse_size("", &v), -EINVAL);
        assert_int_equal(parse_size("M", &v), -EINVAL);
        assert_int_equal(parse_size("-1", &v), -EINVAL);
        assert_int_equal(parse_size(" 1G", &v), -EINVAL);
        assert_int_equal(parse_size("1X", &v), -EINVAL);
        assert_int_equal(parse_size("1.5G", &v), -EINVAL);
        assert_int_equal(parse_size("99999999999T", &v), -ERANGE);
        assert_int_equal(parse_size("99999999999999999999999", &v), -ERANGE);
}

static void test_parse_duration(void **state) {
        uint64_t v;

        assert_int_equal(parse_duration("500ms", &v), 0);
        assert_int_equal(v, 500000);
        assert_int_equal(parse_duration("2s", &v), 0);
        assert_int_equal(v, 2000000);
        assert_int_equal(parse_duration("2", &v), 0);
        assert_int_equal(v, 2000000);
        assert_int_equal(parse_duration("100us", &v), 0);
        assert_int_equal(v, 100);
        assert_int_equal(parse_duration("1min", &v), 0);
        assert_int_equal(v, 60000000);
        assert_int_equal(parse_duration("1h", &v), 0);
        assert_int_equal(v, 3600000000ULL);

        assert_int_equal(parse_duration("fast", &v), -EINVAL);
        assert_int_equal(parse_duration("1 s", &v), -EINVAL);
        assert_int_equal(parse_duration("1d", &v), -EINVAL);
        assert_int_equal(parse_duration("-1s", &v), -EINVAL);
        assert_int_equal(parse_duration("99999999999999999h", &v), -ERANGE);
}

static void test_parse_percent(void **state) {
        unsigned bp;
        struct size_or_percent sp;

        assert_int_equal(parse_percent("10%", &bp), 0);
        assert_int_equal(bp, 1000);
        assert_int_equal(parse_percent("0.5%", &bp), 0);
        assert_int_equal(bp, 50);
        assert_int_equal(parse_percent("12.25%", &bp), 0);
        assert_int_equal(bp, 1225);
        assert_int_equal(parse_percent("100%", &bp), 0);
        assert_int_equal(bp, 10000);
        assert_int_equal(parse_percent("101%", &bp), -ERANGE);
        assert_int_equal(parse_percent("100.5%", &bp), -ERANGE);
        assert_int_equal(parse_percent("10", &bp), -EINVAL);
        assert_int_equal(parse_percent("1.234%", &bp), -EINVAL);
        assert_int_equal(parse_percent("%", &bp), -EINVAL);

        assert_int_equal(parse_size_or_percent("10%", &sp), 0);
        assert_true(sp.is_percent);
        assert_int_equal(size_or_percent_resolve(&sp, 1ULL << 30), (1ULL << 30) / 10);
        assert_int_equal(parse_size_or_percent("256M", &sp), 0);
        assert_false(sp.is_percent);
        assert_int_equal(size_or_percent_resolve(&sp, 1ULL << 30), 256ULL << 20);
        /* No overflow for a multi-terabyte total. */
        assert_int_equal(parse_size_or_percent("50%", &sp), 0);
        assert_int_equal(size_or_percent_resolve(&sp, 1ULL << 50), 1ULL << 49);
}

static void test_parse_u64_field(void **state) {
        uint64_t v = 0;

        assert_int_equal(parse_u64_field("1234 56", &v), 0);
        assert_int_equal(v, 1234);
        assert_int_equal(parse_u64_field("7\n", &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(parse_u64_field("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_u64_field("18446744073709551615 ", &v), 0);
        assert_true(v == UINT64_MAX);
        assert_int_equal(parse_u64_field("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_u64_field("-5 ", &v), -EINVAL);
        assert_int_equal(parse_u64_field("12z", &v), -EINVAL);
        assert_int_equal(parse_u64_field(" 12", &v), -EINVAL);
        assert_int_equal(parse_u64_field("", &v), -EINVAL);
        assert_int_equal(parse_u64_field(NULL, &v), -EINVAL);
}

static void test_parse_bool_uint_pid(void **state) {
        bool b;
        unsigned u;
        int pid;

        assert_int_equal(parse_bool("yes", &b), 0);
        assert_true(b);
        assert_int_equal(parse_bool("Off", &b), 0);
        assert_false(b);
        assert_int_equal(parse_bool("maybe", &b), -EINVAL);
        assert_int_equal(parse_uint("42", &u), 0);
        assert_int_equal(u, 42);
        assert_int_equal(parse_uint("42x", &u), -EINVAL);
        assert_int_equal(parse_uint("4294967296", &u), -ERANGE);
        assert_int_equal(parse_pid("1", &pid), 0);
        assert_int_equal(pid, 1);
        assert_int_equal(parse_pid("0", &pid), -ERANGE);
        assert_int_equal(parse_pid("-5", &pid), -EINVAL);
}

static void test_node_set(void **state) {
        struct node_set s;
        char *f;
        unsigned n;

        assert_int_equal(node_set_parse("0-2,5,7-8\n", &s), 0);
        assert_int_equal(node_set_count(&s), 6);
        assert_true(node_set_test(&s, 0));
        assert_true(node_set_test(&s, 2));
        assert_false(node_set_test(&s, 3));
        assert_true(node_set_test(&s, 8));
        f = node_set_format(&s);
        assert_string_equal(f, "0-2,5,7-8");
        free(f);

        int seen = 0, last = -1;
        NODE_SET_FOREACH(node, &s) {
                assert_true(node > last);
                last = node;
                seen++;
        }
        assert_int_equal(seen, 6);

        assert_int_equal(node_set_parse("", &s), 0);
        assert_true(node_set_is_empty(&s));
        assert_int_equal(node_set_parse("\n", &s), 0);
        assert_true(node_set_is_empty(&s));
        assert_int_equal(node_set_parse("1023", &s), 0);
        assert_int_equal(node_set_next(&s, 0), 1023);
        assert_int_equal(node_set_parse("1024", &s), -ERANGE);
        assert_int_equal(node_set_parse("3-1", &s), -ERANGE);
        assert_int_equal(node_set_parse("1,,2", &s), -EINVAL);
        assert_int_equal(node_set_parse("a", &s), -EINVAL);
        assert_int_equal(node_set_parse("1-", &s), -EINVAL);

        struct node_set a, b;
        assert_int_equal(node_set_parse("0,2", &a), 0);
        assert_int_equal(node_set_parse("1,2", &b), 0);
        assert_true(node_set_intersects(&a, &b));
        assert_int_equal(node_set_parse("1,3", &b), 0);
        assert_false(node_set_intersects(&a, &b));

        assert_int_equal(range_list_count("0-3,8-11", &n), 0);
        assert_int_equal(n, 8);
        assert_int_equal(range_list_count("\n", &n), 0);
        assert_int_equal(n, 0);
}

static void test_strv(void **state) {
        char **l = NULL;

        assert_int_equal(strv_split_ws("  a\tbb  c ", &l), 0);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[1], "bb");
        assert_true(strv_contains(l, "c"));
        assert_false(strv_contains(l, "d"));
        assert_int_equal(strv_push(&l, "post*"), 0);
        assert_true(strv_fnmatch(l, "postgres"));
        assert_false(strv_fnmatch(l, "mysqld"));
        char **c = strv_copy(l);
        assert_int_equal(strv_length(c), 4);
        strv_free(c);
        strv_free(l);
        strv_free(NULL);

        assert_int_equal(strv_split_ws("", &l), 0);
        assert_non_null(l);
        assert_int_equal(strv_length(l), 0);
        strv_free(l);
}

static void test_format(void **state) {
        char b[FORMAT_BYTES_MAX], d[FORMAT_DURATION_MAX];

        assert_string_equal(format_bytes(b, sizeof(b), 512), "512B");
        assert_string_equal(format_bytes(b, sizeof(b), 1536), "1.5K");
        assert_string_equal(format_bytes(b, sizeof(b), 1ULL << 30), "1.0G");
        assert_string_equal(format_duration(d, sizeof(d), 999), "999us");
        assert_string_equal(format_duration(d, sizeof(d), 2500), "2.5ms");
        assert_string_equal(format_duration(d, sizeof(d), 3 * USEC_PER_SEC), "3.000s");
        assert_string_equal(format_duration(d, sizeof(d), 125 * USEC_PER_SEC), "2min 5s");
}

static void test_mkdir_p(void **state) {
        char top[] = "/tmp/test-mkdir-p-XXXXXX", path[256], file[256];
        struct stat st;

        assert_non_null(mkdtemp(top));
        snprintf(path, sizeof(path), "%s/a/b/c", top);
        assert_int_equal(mkdir_p(path, 0755), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        /* Already there: fine, also with a trailing slash. */
        assert_int_equal(mkdir_p(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/a/b/c/", top);
        assert_int_equal(mkdir_p(path, 0755), 0);
        /* A file in the way. */
        snprintf(file, sizeof(file), "%s/f", top);
        close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
        assert_int_equal(mkdir_p(file, 0755), -ENOTDIR);
        snprintf(path, sizeof(path), "%s/f/x", top);
        assert_int_equal(mkdir_p(path, 0755), -ENOTDIR);
        assert_int_equal(mkdir_p("", 0755), -EINVAL);
        unlink(file);
        snprintf(path, sizeof(path), "rm -rf '%s'", top);
        assert_int_equal(system(path), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size),         cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_parse_u64_field),
                cmocka_unit_test(test_parse_percent),      cmocka_unit_test(test_parse_bool_uint_pid),
                cmocka_unit_test(test_node_set),           cmocka_unit_test(test_strv),
                cmocka_unit_test(test_format),             cmocka_unit_test(test_mkdir_p),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
