/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsroot.h"
#include "macro.h"
#include "proc-stat.h"
#include "util.h"

#define PF_KTHREAD 0x00200000U
/* A stat line is one short line; anything longer is not one. */
#define PROC_STAT_MAX 4096

int proc_stat_read(pid_t pid, char **ret) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        return fsroot_read_file(path, PROC_STAT_MAX, ret, NULL);
}

/* The start of field `field` (1-based; 3 and up, the fields after the comm), or NULL when the line ends before it.
 * The comm is chosen by the process and may hold spaces and parentheses, "1 (a) (b) S ..." included, but the kernel
 * does not escape it: it ends at the LAST ')' of the line, which the caller passes. */
static const char *stat_field(const char *rparen, unsigned field) {
        const char *p = rparen + 1;

        for (unsigned f = 3; f < field; f++) {
                p += strspn(p, " ");
                if (!*p || *p == '\n')
                        return NULL;
                p += strcspn(p, " \n");
        }
        p += strspn(p, " ");
        return p;
}

static const char *stat_comm_end(const char *buf) {
        const char *lparen = strchr(buf, '('), *rparen = strrchr(buf, ')');

        return lparen && rparen && rparen > lparen ? rparen : NULL;
}

int proc_stat_parse(const char *buf, char comm[static 17], bool *ret_kthread) {
        const char *rparen = stat_comm_end(buf), *lparen;
        uint64_t flags;
        size_t len;
        int r;

        if (!rparen)
                return -EINVAL;
        r = parse_u64_field(stat_field(rparen, 9), &flags);
        if (r < 0)
                return r;

        lparen = strchr(buf, '(');
        len = MIN((size_t) (rparen - lparen - 1), (size_t) 16);
        memcpy(comm, lparen + 1, len);
        comm[len] = '\0';
        *ret_kthread = flags & PF_KTHREAD;
        return 0;
}

int proc_stat_cpu_parse(const char *buf, uint64_t *ret_ticks) {
        const char *rparen = stat_comm_end(buf);
        uint64_t utime, stime;
        int r;

        if (!rparen)
                return -EINVAL;
        r = parse_u64_field(stat_field(rparen, 14), &utime);
        if (r < 0)
                return r;
        r = parse_u64_field(stat_field(rparen, 15), &stime);
        if (r < 0)
                return r;
        if (stime > UINT64_MAX - utime)
                return -ERANGE;
        *ret_ticks = utime + stime;
        return 0;
}

int proc_cpu_read_us(pid_t pid, uint64_t *ret_us) {
        _cleanup_free_ char *buf = NULL;
        uint64_t ticks;
        long hz;
        int r;

        r = proc_stat_read(pid, &buf);
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
