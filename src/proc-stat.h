/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/stat: pure parsers for what tierd needs of it (the comm and whether the task is a kernel thread, for
 * target selection; utime + stime, for the CPU budget) and a thin reader through fsroot, so fixture trees can
 * stand in for it. Also tierd's own CPU time, from the process clock. */

/* Reads /proc/PID/stat (one short line). -ENOENT (or -ESRCH) once the task is gone. */
int proc_stat_read(pid_t pid, char **ret);

/* The comm (field 2) and whether PF_KTHREAD is among the flags (field 9). */
int proc_stat_parse(const char *buf, char comm[static 17], bool *ret_kthread);

/* utime + stime (fields 14 and 15), in clock ticks. */
int proc_stat_cpu_parse(const char *buf, uint64_t *ret_ticks);

/* The CPU time /proc/PID/stat reports for pid, in microseconds. */
int proc_cpu_read_us(pid_t pid, uint64_t *ret_us);

/* This process's CPU time (all its threads), in microseconds. */
uint64_t proc_self_cpu_us(void);
