/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "control.h"

static int parse(const char *s, struct control_request *req, const char **err) {
        return control_request_parse(s, strlen(s), req, err);
}

static void test_parse_valid(void **state) {
        struct control_request req;
        const char *err;

        assert_int_equal(parse("{\"command\":\"status\"}\n", &req, &err), 0);
        assert_int_equal(req.command, CONTROL_STATUS);
        assert_null(err);
        assert_int_equal(parse("  { \"command\" : \"reload\", \"extra\": 1 }  ", &req, &err), 0);
        assert_int_equal(req.command, CONTROL_RELOAD);
        assert_int_equal(parse("{\"command\":\"pages\",\"pid\":42}", &req, &err), 0);
        assert_int_equal(req.command, CONTROL_PAGES);
        assert_int_equal(req.pid, 42);
        assert_int_equal(req.range_end, 0);
        assert_int_equal(parse("{\"command\":\"pages\",\"pid\":42,\"start\":4096,\"end\":8192}", &req, &err), 0);
        assert_int_equal(req.range_start, 4096);
        assert_int_equal(req.range_end, 8192);
        assert_int_equal(parse("{\"command\":\"status\"}", &req, &err), 0);
        assert_int_equal(req.pid, 0);

        for (int c = 0; c < _CONTROL_COMMAND_MAX; c++) {
                char buf[64];

                snprintf(buf, sizeof(buf), "{\"command\":\"%s\",\"pid\":1}", control_command_to_string(c));
                assert_int_equal(parse(buf, &req, &err), 0);
                assert_int_equal(req.command, c);
        }
}

static void test_parse_invalid(void **state) {
        static const char *const bad[] = {
                "",
                "status",
                "{",
                "[\"status\"]",
                "{\"cmd\":\"status\"}",
                "{\"command\":5}",
                "{\"command\":\"shutdown\"}",
                "{\"command\":\"status\"}{\"command\":\"reload\"}",
                "{\"command\":\"status\"} x",
                "{\"command\":\"pages\"}",
                "{\"command\":\"pages\",\"pid\":\"1\"}",
                "{\"command\":\"pages\",\"pid\":0}",
                "{\"command\":\"pages\",\"pid\":-3}",
                "{\"command\":\"pages\",\"pid\":99999999999}",
                "{\"command\":\"pages\",\"pid\":1,\"start\":4096}",
                "{\"command\":\"pages\",\"pid\":1,\"start\":8192,\"end\":4096}",
                "{\"command\":\"pages\",\"pid\":1,\"start\":\"0x1000\",\"end\":8192}",
        };
        struct control_request req;
        const char *err;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err = NULL;
                assert_int_equal(parse(bad[i], &req, &err), -EINVAL);
                assert_non_null(err);
        }

        char big[CONTROL_REQUEST_MAX_BYTES + 2];
        memset(big, ' ', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(parse(big, &req, &err), -EMSGSIZE);
}

static void test_authorize(void **state) {
        /* Reading is for anyone who could connect; changing is for root alone. */
        assert_int_equal(control_authorize(CONTROL_STATUS, 1000), 0);
        assert_int_equal(control_authorize(CONTROL_TARGETS, 65534), 0);
        assert_int_equal(control_authorize(CONTROL_METRICS, 1000), 0);
        assert_int_equal(control_authorize(CONTROL_PAGES, 1000), 0);
        assert_int_equal(control_authorize(CONTROL_PAUSE, 1000), -EPERM);
        assert_int_equal(control_authorize(CONTROL_RESUME, 1), -EPERM);
        assert_int_equal(control_authorize(CONTROL_RELOAD, 65534), -EPERM);
        assert_int_equal(control_authorize(CONTROL_PAUSE, 0), 0);
        assert_int_equal(control_authorize(CONTROL_RESUME, 0), 0);
        assert_int_equal(control_authorize(CONTROL_RELOAD, 0), 0);
        assert_int_equal(control_authorize(_CONTROL_COMMAND_MAX, 0), -EINVAL);
}

static void test_responses(void **state) {
        json_object *o = control_response_error(-EPERM, "permission denied: \"pause\" requires root"), *v;

        assert_true(json_object_object_get_ex(o, "ok", &v));
        assert_false(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "errno", &v));
        assert_string_equal(json_object_get_string(v), "EPERM");
        assert_true(json_object_object_get_ex(o, "error", &v));
        assert_non_null(strstr(json_object_get_string(v), "requires root"));
        json_object_put(o);

        o = control_response_ok(json_object_new_int(7));
        assert_true(json_object_object_get_ex(o, "ok", &v));
        assert_true(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "data", &v));
        assert_int_equal(json_object_get_int(v), 7);
        json_object_put(o);
}

/* Root is served whatever other users hold; one user cannot take every slot of the others. */
static void test_admit(void **state) {
        /* Every slot of other users taken: root still gets in, up to its own slots. */
        assert_int_equal(control_admit(0, 0, CONTROL_MAX_CLIENTS, 0), 0);
        assert_int_equal(control_admit(0, CONTROL_MAX_ROOT_CLIENTS - 1, CONTROL_MAX_CLIENTS, 0), 0);
        assert_int_equal(control_admit(0, CONTROL_MAX_ROOT_CLIENTS, 0, 0), -EBUSY);
        /* One user: capped at its own share, whatever is free. */
        assert_int_equal(control_admit(65534, 0, CONTROL_MAX_CLIENTS_PER_UID - 1, CONTROL_MAX_CLIENTS_PER_UID - 1),
                         0);
        assert_int_equal(control_admit(65534, 0, CONTROL_MAX_CLIENTS_PER_UID, CONTROL_MAX_CLIENTS_PER_UID), -EBUSY);
        /* Another user still gets in while the first is at its cap. */
        assert_int_equal(control_admit(1000, 0, CONTROL_MAX_CLIENTS_PER_UID, 0), 0);
        /* All users together: the total cap; root's clients do not count against it. */
        assert_int_equal(control_admit(1000, CONTROL_MAX_ROOT_CLIENTS, CONTROL_MAX_CLIENTS - 1, 0), 0);
        assert_int_equal(control_admit(1000, 0, CONTROL_MAX_CLIENTS, 0), -EBUSY);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_valid),
                cmocka_unit_test(test_parse_invalid),
                cmocka_unit_test(test_authorize),
                cmocka_unit_test(test_admit),
                cmocka_unit_test(test_responses),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
