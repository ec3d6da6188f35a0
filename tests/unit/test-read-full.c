/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "read-full.h"

static void write_temp(char *path, const char *text, size_t len) {
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, len), (ssize_t) len);
        close(fd);
}

static void test_regular_file(void **state) {
        char path[] = "/tmp/test-read-full-XXXXXX";
        char *buf = NULL;
        size_t size = 0;

        write_temp(path, "0123456789", 10);
        /* Exactly at the limit: read whole, NUL-terminated. */
        assert_int_equal(read_full_file(path, 10, &buf, &size), 0);
        assert_int_equal(size, 10);
        assert_string_equal(buf, "0123456789");
        buf = mfree(buf);
        /* One byte over: refused, nothing returned. */
        assert_int_equal(read_full_file(path, 9, &buf, &size), -EFBIG);
        assert_null(buf);
        unlink(path);

        assert_int_equal(read_full_file("/nonexistent/tierd", 10, &buf, NULL), -ENOENT);
        assert_int_equal(read_full_file(NULL, 10, &buf, NULL), -EINVAL);
        assert_int_equal(read_full_fd(-1, 10, -1, &buf, NULL), -EINVAL);
}

static void test_larger_than_first_buffer(void **state) {
        char path[] = "/tmp/test-read-full-XXXXXX";
        size_t len = 100000;
        char *text = malloc(len), *buf = NULL;
        size_t size = 0;

        assert_non_null(text);
        for (size_t i = 0; i < len; i++)
                text[i] = (char) ('a' + i % 26);
        write_temp(path, text, len);
        assert_int_equal(read_full_file(path, len, &buf, &size), 0);
        assert_int_equal(size, len);
        assert_memory_equal(buf, text, len);
        free(buf);
        unlink(path);
        free(text);
}

/* A file without an end: the limit, not memory, stops it. */
static void test_endless(void **state) {
        char *buf = NULL;

        assert_int_equal(read_full_file("/dev/zero", 1 << 20, &buf, NULL), -EFBIG);
        assert_null(buf);
}

/* A pipe whose writer is silent: the timeout ends the wait; once it writes and closes, the data comes. */
static void test_pipe_timeout(void **state) {
        int p[2];
        char *buf = NULL;
        size_t size;

        assert_int_equal(pipe(p), 0);
        assert_int_equal(read_full_fd(p[0], 100, 10, &buf, &size), -ETIMEDOUT);
        assert_null(buf);
        assert_int_equal(write(p[1], "abc", 3), 3);
        close(p[1]);
        assert_int_equal(read_full_fd(p[0], 100, 10, &buf, &size), 0);
        assert_int_equal(size, 3);
        assert_string_equal(buf, "abc");
        free(buf);
        close(p[0]);
}

/* tierd --check-config -c /dev/zero: a clear refusal, not a read until ENOMEM. */
static void test_config_endless(void **state) {
        struct tierd_config *c = NULL;

        assert_int_equal(config_load("/dev/zero", &c), -EFBIG);
        assert_null(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_regular_file), cmocka_unit_test(test_larger_than_first_buffer),
                cmocka_unit_test(test_endless),      cmocka_unit_test(test_pipe_timeout),
                cmocka_unit_test(test_config_endless),
        };
        log_set_max_level(LOG_CRIT);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
