/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "loop-turns.h"
#include "macro.h"

static void test_note(void **state _unused_) {
        struct loop_turns t = {};

        loop_turns_note(&t, "pass", 1000);
        loop_turns_note(&t, "round end", 80 * 1000);
        loop_turns_note(&t, NULL, 2000);
        assert_int_equal(t.turns, 3);
        assert_int_equal(t.slow_turns, 1);
        assert_int_equal(t.round.us, 80 * 1000);
        assert_string_equal(t.round.what, "round end");
        assert_null(t.last_round.what);

        /* A round ends: its longest turn is the last round's, the next round starts from nothing. */
        loop_turns_round_done(&t);
        assert_int_equal(t.last_round.us, 80 * 1000);
        assert_string_equal(t.last_round.what, "round end");
        assert_null(t.round.what);
        loop_turns_note(&t, NULL, 500);
        assert_string_equal(t.round.what, "other events");
        assert_int_equal(t.round.us, 500);

        /* What is slow is over the limit, not at it; the longest ever stays. */
        loop_turns_note(&t, "control", LOOP_TURN_SLOW_US);
        assert_int_equal(t.slow_turns, 1);
        loop_turns_round_done(&t);
        assert_string_equal(t.last_round.what, "control");
        assert_int_equal(t.ever.us, 80 * 1000);
        assert_string_equal(t.ever.what, "round end");
}

struct run_state {
        struct loop_turns *turns;
        unsigned calls;
};

static int on_defer(sd_event_source *s, void *userdata) {
        struct run_state *st = userdata;

        st->turns->doing = st->calls == 0 ? "first" : "second";
        if (++st->calls == 2)
                return sd_event_exit(sd_event_source_get_event(s), 7);
        return 0;
}

/* The loop runs like sd_event_loop(): until sd_event_exit(), whose code it returns, with each turn counted under
 * the name its handler gave. */
static void test_run(void **state _unused_) {
        struct loop_turns t = {};
        struct run_state st = { .turns = &t };
        sd_event *e = NULL;
        sd_event_source *s = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(sd_event_add_defer(e, &s, on_defer, &st), 0);
        assert_int_equal(sd_event_source_set_enabled(s, SD_EVENT_ON), 0);
        assert_int_equal(loop_turns_run(e, &t), 7);
        assert_int_equal(st.calls, 2);
        assert_true(t.turns >= 2);
        assert_non_null(t.ever.what);
        assert_true(streq(t.ever.what, "first") || streq(t.ever.what, "second"));
        sd_event_source_unref(s);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_note),
                cmocka_unit_test(test_run),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
