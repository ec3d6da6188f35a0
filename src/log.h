/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <syslog.h>

#include "macro.h"

/* Logging to stderr. Under systemd (JOURNAL_STREAM set) each line carries a "<N>" priority prefix that
 * journald turns into the entry's priority; on a terminal the line is printed plain. */

void log_set_max_level(int level);
/* Where log lines go (default stderr). Tests point it at an open_memstream() to check messages. */
void log_set_stream(FILE *f);
int log_get_max_level(void);
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Returns -abs(error) (or 0 when error is 0) so call sites can write "return log_error_errno(r, ...)". errno is set
 * to error while formatting so %m works. */
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_full(level, ...) ((void) log_internal((level), 0, __VA_ARGS__))

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* Conditions that persist (a pid whose maps cannot be read, a sysfs file that keeps failing) would otherwise
 * be logged every round. log_repeat_errno() logs a given key the first time it is seen and only counts it while
 * it keeps recurring; log_repeat_round_end() forgets keys that were not hit during the round, so a condition
 * that clears and comes back is logged again. */
int log_repeat_internal(int level, const char *key, int error, const char *fmt, ...) _printf_(4, 5);
#define log_repeat_errno(level, key, error, ...) log_repeat_internal((level), (key), (error), __VA_ARGS__)
void log_repeat_round_end(void);
uint64_t log_repeat_suppressed_total(void);
void log_repeat_reset(void);
