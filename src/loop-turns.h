/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

/* How long the event loop's turns take. Everything tierd does runs on one sd-event loop: a turn that works for a
 * second delays by a second the control socket's answers (tierctl status), the watchdog's ping and signal
 * handling. So the loop measures each turn (the handler's work, not the wait for an event) and remembers the
 * longest with what it was doing; a slow turn is one over LOOP_TURN_SLOW_US, the latency an interactive
 * `tierctl status` may add to. Pure but for loop_turns_run(). */

#define LOOP_TURN_SLOW_US (50 * 1000)

struct loop_turn {
        uint64_t us;
        const char *what; /* a static string naming the work; NULL: none yet */
};

struct loop_turns {
        struct loop_turn round;      /* the round in progress */
        struct loop_turn last_round; /* the last completed round */
        struct loop_turn ever;       /* since the daemon started */
        uint64_t turns;
        uint64_t slow_turns;         /* over LOOP_TURN_SLOW_US */
        const char *doing;           /* set by handlers as they start work; a turn's label */
};

/* A turn of us microseconds spent on what (NULL: "other events"). */
void loop_turns_note(struct loop_turns *t, const char *what, uint64_t us);
/* A round ended: its longest turn becomes the last round's. */
void loop_turns_round_done(struct loop_turns *t);

/* Runs the loop until sd_event_exit(), timing each dispatch; handlers name their work in t->doing. Returns the
 * exit code given to sd_event_exit(), or a negative errno. */
int loop_turns_run(sd_event *e, struct loop_turns *t);
