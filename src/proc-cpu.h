/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* CPU time of a task: tierd's own (clock_gettime) and that of a kernel thread it runs (DAMON's kdamond), read from
 * /proc/PID/stat through fsroot so fixture trees can stand in for it. */

/* Parses utime + stime (fields 14 and 15, in clock ticks) from one /proc/PID/stat line. */
int proc_stat_cpu_parse(const char *buf, uint64_t *ret_ticks);

/* The CPU time /proc/PID/stat reports for pid, in microseconds. -ENOENT (or -ESRCH) once the task is gone. */
int proc_cpu_read_us(pid_t pid, uint64_t *ret_us);

/* This process's CPU time (all its threads), in microseconds. */
uint64_t proc_self_cpu_us(void);
