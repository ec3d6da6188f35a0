/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsroot.h"
#include "macro.h"
#include "proc-cpu.h"

/* A stat line is one short line; anything longer is not one. */
#define PROC_STAT_MAX 4096

int proc_stat_cpu_parse(const char *buf, uint64_t *ret_ticks) {
        const char *p = strrchr(buf, ')');
        uint64_t sum = 0;

        /* comm (field 2) may hold spaces and ')': fields are counted from the last ')'. */
        if (!p || !strchr(buf, '('))
                return -EINVAL;
        p++;
        for (unsigned field = 3; field <= 15; field++) {
                unsigned long long v;
                char *end;

                p += strspn(p, " ");
                if (!*p || *p == '\n')
                        return -EINVAL;
                if (field < 14) {
                        p += strcspn(p, " \n");
                        continue;
                }
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                errno = 0;
                v = strtoull(p, &end, 10);
                if (errno == ERANGE || v > UINT64_MAX - sum)
                        return -ERANGE;
                if (*end != ' ' && *end != '\n' && *end != '\0')
                        return -EINVAL;
                sum += v;
                p = end;
        }
        *ret_ticks = sum;
        return 0;
}

int proc_cpu_read_us(pid_t pid, uint64_t *ret_us) {
        _cleanup_free_ char *buf = NULL;
        char path[64];
        uint64_t ticks;
        long hz;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        r = fsroot_read_file(path, PROC_STAT_MAX, &buf, NULL);
        if (r < 0)
                return r;
        r = proc_stat_cpu_parse(buf, &ticks);
        if (r < 0)
                return r;
        hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
                hz = 100;
        *ret_us = ticks * (USEC_PER_SEC / (uint64_t) hz) + ticks * (USEC_PER_SEC % (uint64_t) hz) / (uint64_t) hz;
        return 0;
}

uint64_t proc_self_cpu_us(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}
