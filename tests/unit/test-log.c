/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static char *buf;
static size_t buf_size;
static FILE *stream;

static int setup(void **state) {
        stream = open_memstream(&buf, &buf_size);
        assert_non_null(stream);
        log_set_stream(stream);
        log_set_max_level(LOG_INFO);
        log_repeat_reset();
        return 0;
}

static int teardown(void **state) {
        log_set_stream(NULL);
        fclose(stream);
        free(buf);
        buf = NULL;
        return 0;
}

static size_t count(const char *needle) {
        size_t n = 0;

        fflush(stream);
        for (const char *p = buf; p && (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static void test_errno_and_level(void **state) {
        assert_int_equal(log_error_errno(ENOENT, "open %s: %m", "x"), -ENOENT);
        assert_int_equal(log_error_errno(-EACCES, "neg: %m"), -EACCES);
        assert_int_equal(count("open x: No such file or directory"), 1);
        assert_int_equal(count("neg: Permission denied"), 1);

        log_debug("hidden debug line");
        assert_int_equal(count("hidden debug line"), 0);
        log_set_max_level(LOG_DEBUG);
        log_debug("shown debug line");
        assert_int_equal(count("shown debug line"), 1);
}

static void test_level_names(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("err"), LOG_ERR);
        assert_int_equal(log_level_from_string("error"), LOG_ERR);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_string_equal(log_level_to_string(LOG_WARNING), "warning");
        assert_null(log_level_to_string(42));
}

static void test_repeat_logged_once_then_counted(void **state) {
        for (int round = 0; round < 5; round++) {
                log_repeat_errno(LOG_WARNING, "maps:42", EACCES, "cannot read maps of 42: %m, ignoring");
                log_repeat_round_end();
        }
        assert_int_equal(count("cannot read maps of 42"), 1);
        assert_int_equal(log_repeat_suppressed_total(), 4);

        /* A different key or a different errno is a different condition. */
        log_repeat_errno(LOG_WARNING, "maps:43", EACCES, "cannot read maps of 43: %m, ignoring");
        log_repeat_errno(LOG_WARNING, "maps:42", EIO, "maps of 42 failed: %m, ignoring");
        assert_int_equal(count("cannot read maps of 43"), 1);
        assert_int_equal(count("maps of 42 failed"), 1);
}

static void test_repeat_logged_again_after_clearing(void **state) {
        log_repeat_errno(LOG_WARNING, "k", EIO, "flapping condition");
        log_repeat_round_end();
        log_repeat_round_end(); /* a round without the condition: it cleared */
        log_repeat_errno(LOG_WARNING, "k", EIO, "flapping condition");
        assert_int_equal(count("flapping condition"), 2);
        assert_int_equal(log_repeat_suppressed_total(), 0);
}

static void test_repeat_table_full_never_swallows(void **state) {
        char key[32];

        /* More distinct keys than the table holds: every first occurrence must still be printed. */
        for (int i = 0; i < 3000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                log_repeat_errno(LOG_WARNING, key, EIO, "distinct-%d-end", i);
        }
        assert_int_equal(count("-end"), 3000);
        assert_int_equal(log_repeat_suppressed_total(), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_errno_and_level, setup, teardown),
                cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repeat_logged_once_then_counted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repeat_logged_again_after_clearing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_repeat_table_full_never_swallows, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
