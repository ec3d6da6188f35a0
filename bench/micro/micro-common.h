/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Small helpers shared by the micro benchmarks (header only: each benchmark is one executable). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

static inline uint64_t micro_clock_ns(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static inline uint64_t micro_cpu_ns(void) {
        return micro_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static inline uint64_t micro_mono_ns(void) {
        return micro_clock_ns(CLOCK_MONOTONIC);
}

/* User and system CPU of this process, in microseconds (tick-sampled split of the exact total). */
static inline void micro_rusage_us(uint64_t *ret_user_us, uint64_t *ret_sys_us) {
        struct rusage ru = {};

        (void) getrusage(RUSAGE_SELF, &ru);
        *ret_user_us = (uint64_t) ru.ru_utime.tv_sec * 1000000 + (uint64_t) ru.ru_utime.tv_usec;
        *ret_sys_us = (uint64_t) ru.ru_stime.tv_sec * 1000000 + (uint64_t) ru.ru_stime.tv_usec;
}

static inline void micro_sleep_us(uint64_t us) {
        struct timespec ts = { .tv_sec = (time_t) (us / 1000000), .tv_nsec = (long) (us % 1000000) * 1000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static inline int micro_pin_cpu(int cpu) {
        cpu_set_t set;

        if (cpu < 0)
                return 0;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

static inline int micro_parse_u64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int micro_cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double micro_median(double *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(double), micro_cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The target process: maps mib MiB of private anonymous memory (base pages only, or THPs allowed), writes every
 * page, reports readiness by writing the buffer's address (8 bytes, native endian) to ready_fd, then every touch_interval_us writes one byte in each
 * page of the first hot_pct percent (0: never), until killed. The sleeps keep its vCPU idle most of the time: under
 * QEMU TCG (one host thread for all vCPUs) a busy vCPU would steal time that the guest still charges to the
 * benchmark's process. Never returns. */
static inline _Noreturn void micro_target_run(uint64_t mib, bool thp, unsigned hot_pct, uint64_t touch_interval_us,
                                              int ready_fd, int cpu) {
        size_t bytes = (size_t) mib << 20, page = 4096, align = (size_t) 2 << 20, hot;
        uint8_t *map, *buf;
        uint64_t addr;

        (void) micro_pin_cpu(cpu);
        /* 2 MiB more than asked for, so that a 2 MiB-aligned buffer fits inside: THPs only form there. */
        map = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED)
                _exit(EXIT_FAILURE);
        /* The whole mapping, so that it stays one VMA. */
        (void) madvise(map, bytes + align, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        buf = (uint8_t *) (((uintptr_t) map + align - 1) & ~(uintptr_t) (align - 1));
        for (size_t i = 0; i < bytes; i += page)
                buf[i] = (uint8_t) (i >> 12) | 1;
        addr = (uint64_t) (uintptr_t) buf;
        if (write(ready_fd, &addr, sizeof(addr)) != (ssize_t) sizeof(addr))
                _exit(EXIT_FAILURE);
        close(ready_fd);

        hot = bytes / 100 * hot_pct;
        for (;;) {
                for (size_t i = 0; i < hot; i += page)
                        buf[i]++;
                micro_sleep_us(touch_interval_us);
        }
}

/* Starts the target as a fresh process: fork, then exec of this same executable with the target arguments, so
 * that it shares no memory with the benchmark (a forked copy would share pages copy-on-write, which tierd skips as
 * shared). argv_target ends with NULL; the caller puts "--ready-fd" and "%d" placeholders in it: the "%d" is
 * replaced by the pipe's write end. Returns the pid, or a negative errno; waits until the target is ready and
 * stores the address of its buffer in *ret_addr. */
static inline pid_t micro_target_spawn(char **argv_target, uint64_t *ret_addr) {
        int p[2];
        char fd_buf[16];
        pid_t pid;

        if (pipe(p) < 0)
                return -errno;
        snprintf(fd_buf, sizeof(fd_buf), "%d", p[1]);
        for (char **a = argv_target; *a; a++)
                if (streq(*a, "%d"))
                        *a = fd_buf;

        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[0]);
                execv("/proc/self/exe", argv_target);
                _exit(127);
        }
        close(p[1]);
        if (read(p[0], ret_addr, sizeof(*ret_addr)) != (ssize_t) sizeof(*ret_addr)) {
                close(p[0]);
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -EIO;
        }
        close(p[0]);
        return pid;
}

static inline void micro_target_stop(pid_t pid) {
        if (pid <= 0)
                return;
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}
