/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>

#include "log.h"
#include "loop-turns.h"
#include "util.h"

static void turn_keep_longest(struct loop_turn *keep, const char *what, uint64_t us) {
        if (!keep->what || us > keep->us)
                *keep = (struct loop_turn) { .us = us, .what = what };
}

void loop_turns_note(struct loop_turns *t, const char *what, uint64_t us) {
        what = what ?: "other events";
        turn_keep_longest(&t->round, what, us);
        turn_keep_longest(&t->ever, what, us);
        t->turns++;
        if (us > LOOP_TURN_SLOW_US)
                t->slow_turns++;
}

void loop_turns_round_done(struct loop_turns *t) {
        t->last_round = t->round;
        t->round = (struct loop_turn) {};
}

int loop_turns_run(sd_event *e, struct loop_turns *t) {
        int r, code;

        /* sd_event_loop() is prepare, wait, dispatch until finished; spelled out here so that the dispatch alone
         * is timed. */
        while (sd_event_get_state(e) != SD_EVENT_FINISHED) {
                uint64_t start, us;

                r = sd_event_prepare(e);
                if (r == 0)
                        r = sd_event_wait(e, UINT64_MAX);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                t->doing = NULL;
                start = now_monotonic_us();
                r = sd_event_dispatch(e);
                if (r < 0)
                        return r;
                us = now_monotonic_us() - start;
                loop_turns_note(t, t->doing, us);
                /* Which work is what to split next. */
                if (us > LOOP_TURN_SLOW_US)
                        log_debug("Slow event loop turn: %" PRIu64 "ms (%s)", us / USEC_PER_MSEC,
                                  t->doing ?: "other events");
        }
        r = sd_event_get_exit_code(e, &code);
        return r < 0 ? r : code;
}
