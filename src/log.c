/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int log_max_level = LOG_INFO;
static int log_prefix = -1; /* -1: not decided yet */
static FILE *log_stream;

static const char *const log_level_names[] = {
        [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",  [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void log_set_stream(FILE *f) {
        log_stream = f;
}

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_level_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(log_level_names); i++)
                if (streq(s, log_level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(log_level_names))
                return NULL;
        return log_level_names[level];
}

static bool log_use_prefix(void) {
        if (log_prefix < 0)
                log_prefix = getenv("JOURNAL_STREAM") != NULL;
        return log_prefix;
}

static void log_write(int level, int error, const char *fmt, va_list ap) {
        char buf[2048];

        errno = error;
        vsnprintf(buf, sizeof(buf), fmt, ap);
        FILE *f = log_stream ?: stderr;

        if (log_use_prefix())
                fprintf(f, "<%d>%s\n", level, buf);
        else
                fprintf(f, "%s\n", buf);
        fflush(f);
}

int log_internal(int level, int error, const char *fmt, ...) {
        va_list ap;

        if (error < 0)
                error = -error;

        if (level <= log_max_level) {
                int saved_errno = errno;
                va_start(ap, fmt);
                log_write(level, error, fmt, ap);
                va_end(ap);
                errno = saved_errno;
        }
        return -error;
}

/* A small open-addressing table keyed by a hash of (key, error). It is bounded: when full, new keys are logged
 * normally rather than being remembered, so a flood of distinct errors is never silently swallowed. */
#define LOG_REPEAT_SLOTS 1024

struct log_repeat_slot {
        uint64_t hash; /* 0: empty */
        bool hit_this_round;
};

static struct log_repeat_slot log_repeat_table[LOG_REPEAT_SLOTS];
static size_t log_repeat_used;
static uint64_t log_repeat_suppressed;

static uint64_t log_repeat_hash(const char *key, int error) {
        uint64_t h = UINT64_C(1469598103934665603);

        for (const unsigned char *p = (const unsigned char *) key; *p; p++)
                h = (h ^ *p) * UINT64_C(1099511628211);
        h = (h ^ (uint64_t) (unsigned) error) * UINT64_C(1099511628211);
        return h ?: 1;
}

/* Returns true if the key was already present (and marks it hit), false if it was inserted or could not be. */
static bool log_repeat_seen(uint64_t hash) {
        size_t i = hash % LOG_REPEAT_SLOTS;

        for (size_t n = 0; n < LOG_REPEAT_SLOTS; n++, i = (i + 1) % LOG_REPEAT_SLOTS) {
                struct log_repeat_slot *s = &log_repeat_table[i];

                if (s->hash == hash) {
                        s->hit_this_round = true;
                        return true;
                }
                if (s->hash == 0) {
                        if (log_repeat_used * 4 >= LOG_REPEAT_SLOTS * 3)
                                return false;
                        s->hash = hash;
                        s->hit_this_round = true;
                        log_repeat_used++;
                        return false;
                }
        }
        return false;
}

int log_repeat_internal(int level, const char *key, int error, const char *fmt, ...) {
        va_list ap;

        if (error < 0)
                error = -error;

        if (log_repeat_seen(log_repeat_hash(key, error))) {
                log_repeat_suppressed++;
                return -error;
        }

        if (level <= log_max_level) {
                int saved_errno = errno;
                va_start(ap, fmt);
                log_write(level, error, fmt, ap);
                va_end(ap);
                errno = saved_errno;
        }
        return -error;
}

void log_repeat_round_end(void) {
        struct log_repeat_slot kept[LOG_REPEAT_SLOTS];
        size_t n_kept = 0;

        /* Rebuild instead of deleting in place: open addressing cannot simply punch holes. */
        for (size_t i = 0; i < LOG_REPEAT_SLOTS; i++)
                if (log_repeat_table[i].hash != 0 && log_repeat_table[i].hit_this_round)
                        kept[n_kept++] = log_repeat_table[i];

        memset(log_repeat_table, 0, sizeof(log_repeat_table));
        log_repeat_used = 0;
        for (size_t i = 0; i < n_kept; i++) {
                (void) log_repeat_seen(kept[i].hash);
                /* Starts the next round unhit; a key must recur to survive another round_end. */
                for (size_t j = kept[i].hash % LOG_REPEAT_SLOTS;; j = (j + 1) % LOG_REPEAT_SLOTS)
                        if (log_repeat_table[j].hash == kept[i].hash) {
                                log_repeat_table[j].hit_this_round = false;
                                break;
                        }
        }
}

uint64_t log_repeat_suppressed_total(void) {
        return log_repeat_suppressed;
}

void log_repeat_reset(void) {
        memset(log_repeat_table, 0, sizeof(log_repeat_table));
        log_repeat_used = 0;
        log_repeat_suppressed = 0;
}
