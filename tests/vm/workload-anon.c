/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Test workload for the QEMU guest: allocates anonymous memory, fills it with
 * a pattern and reports its pid, address and checksum; re-checksums on
 * SIGUSR1, exits on SIGTERM/SIGINT.
 *
 *   workload-anon [--mib N] [--node N | --first-touch-node N] [--cpu N] [--thp] [--busy] [--hot-mib N]
 *                 [--zigzag-sec K] [--madv-free-mib N]
 *
 * --node N  bind the buffer to node N (mbind MPOL_BIND) before touching it
 * --first-touch-node N  bind to node N only for the first fill, then reset the buffer's policy to the default
 *           (mbind MPOL_DEFAULT), so the pages start on N but nothing keeps them there
 * --cpu N   pin the process to CPU N
 * --thp     allow transparent huge pages (default: MADV_NOHUGEPAGE)
 * --busy    keep reading the whole buffer in a loop (accessed bits stay set)
 * --hot-mib N  with --busy, read only the first N MiB (the rest is never touched after the first fill)
 * --zigzag-sec K  with --busy and --hot-mib H (2H <= the buffer), read [0,H) for K seconds, then [H,2H) for K
 *           seconds, and so on: the hot half and the cold half swap every K seconds
 * --madv-free-mib N  after the fill, MADV_FREE the last N MiB and never touch them again (the checksums
 *           then cover only the rest of the buffer, since the kernel may drop lazily freed pages); the
 *           per-CPU lazyfree batch is drained (mlock/munlock of a page of its own) before the pid line, so
 *           the freed pages are already lazyfree (PG_swapbacked clear) when it is printed; use with --cpu
 *
 * Output lines (stdout, flushed):
 *   WORKLOAD pid=P addr=0xA bytes=B pages=N checksum=C
 *   WORKLOAD checksum=C          (after each SIGUSR1)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WL_MPOL_BIND 2

static volatile sig_atomic_t want_checksum, want_exit;

static void on_signal(int sig) {
        if (sig == SIGUSR1)
                want_checksum = 1;
        else
                want_exit = 1;
}

static uint64_t pattern(uint64_t i) {
        return (i + 1) * 0x9E3779B97F4A7C15ULL ^ 0x5deece66dULL;
}

static uint64_t checksum(const uint64_t *w, size_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= w[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

int main(int argc, char **argv) {
        size_t mib = 64;
        int node = -1, cpu = -1, thp = 0, busy = 0, first_touch_only = 0;
        size_t hot_mib = 0, free_mib = 0;
        unsigned zigzag_sec = 0;
        static const struct option opts[] = {
                { "mib", required_argument, NULL, 'm' },
                { "node", required_argument, NULL, 'n' },
                { "first-touch-node", required_argument, NULL, 'f' },
                { "cpu", required_argument, NULL, 'c' },
                { "thp", no_argument, NULL, 't' },
                { "busy", no_argument, NULL, 'b' },
                { "hot-mib", required_argument, NULL, 'H' },
                { "zigzag-sec", required_argument, NULL, 'z' },
                { "madv-free-mib", required_argument, NULL, 'F' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "m:n:f:c:tbH:z:F:", opts, NULL)) >= 0) {
                switch (c) {
                case 'm': mib = strtoul(optarg, NULL, 0); break;
                case 'n': node = atoi(optarg); break;
                case 'f': node = atoi(optarg); first_touch_only = 1; break;
                case 'c': cpu = atoi(optarg); break;
                case 't': thp = 1; break;
                case 'b': busy = 1; break;
                case 'H': hot_mib = strtoul(optarg, NULL, 0); break;
                case 'z': zigzag_sec = (unsigned) strtoul(optarg, NULL, 0); break;
                case 'F': free_mib = strtoul(optarg, NULL, 0); break;
                default:
                        fprintf(stderr, "usage: %s [--mib N] [--node N | --first-touch-node N] [--cpu N] [--thp] [--busy] [--hot-mib N]\n"
                                "          [--zigzag-sec K] [--madv-free-mib N]\n", argv[0]);
                        return 2;
                }
        }

        if (cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(cpu, &set);
                if (sched_setaffinity(0, sizeof(set), &set) < 0) {
                        perror("sched_setaffinity");
                        return 1;
                }
        }

        size_t bytes = mib << 20, words = bytes / sizeof(uint64_t);
        size_t busy_words = hot_mib > 0 && hot_mib < mib ? (hot_mib << 20) / sizeof(uint64_t) : words;
        if (zigzag_sec > 0 && (!busy || hot_mib == 0 || 2 * hot_mib > mib)) {
                fprintf(stderr, "--zigzag-sec needs --busy and --hot-mib H with 2H <= --mib\n");
                return 2;
        }
        if (free_mib > mib) {
                fprintf(stderr, "--madv-free-mib is larger than --mib\n");
                return 2;
        }
        /* the words the checksums cover: all but the lazily freed tail */
        size_t sum_words = words - (free_mib << 20) / sizeof(uint64_t);
        uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        if (madvise(buf, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
                perror("madvise (ignored)");
        if (node >= 0) {
                unsigned long mask[16] = {};
                mask[node / 64] = 1UL << (node % 64);
                if (syscall(SYS_mbind, buf, bytes, WL_MPOL_BIND, mask, 1024UL, 0U) < 0) {
                        perror("mbind");
                        return 1;
                }
        }
        for (size_t i = 0; i < words; i++)
                buf[i] = pattern(i);
        if (first_touch_only && syscall(SYS_mbind, buf, bytes, 0 /* MPOL_DEFAULT */, NULL, 0UL, 0U) < 0) {
                perror("mbind MPOL_DEFAULT");
                return 1;
        }

        if (free_mib > 0) {
                if (madvise((char *) buf + bytes - (free_mib << 20), free_mib << 20, MADV_FREE) < 0) {
                        perror("madvise MADV_FREE");
                        return 1;
                }
                /* MADV_FREE leaves the last folios in this CPU's lazyfree batch, still swap-backed; changing
                 * the mlock state of a populated VMA drains the local batches (lru_add_drain). */
                long psz = sysconf(_SC_PAGESIZE);
                char *p = mmap(NULL, (size_t) psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) {
                        perror("mmap");
                        return 1;
                }
                p[0] = 1;
                if (mlock(p, (size_t) psz) < 0 || munlock(p, (size_t) psz) < 0)
                        perror("mlock/munlock (ignored)");
                munmap(p, (size_t) psz);
        }

        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        printf("WORKLOAD pid=%d addr=%p bytes=%zu pages=%zu checksum=%016llx\n", (int) getpid(), (void *) buf,
               bytes, bytes / (size_t) sysconf(_SC_PAGESIZE), (unsigned long long) checksum(buf, sum_words));
        fflush(stdout);

        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGUSR1);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGINT);
        volatile uint64_t sink = 0;
        for (;;) {
                if (busy) {
                        size_t first = 0;
                        if (zigzag_sec > 0) {
                                struct timespec now;
                                clock_gettime(CLOCK_MONOTONIC, &now);
                                if ((uint64_t) (now.tv_sec - t0.tv_sec) / zigzag_sec % 2)
                                        first = busy_words;
                        }
                        for (size_t i = first; i < first + busy_words && !want_checksum && !want_exit; i += 512)
                                sink += buf[i];
                } else {
                        sigprocmask(SIG_BLOCK, &block, &old);
                        if (!want_checksum && !want_exit)
                                sigsuspend(&old);
                        sigprocmask(SIG_SETMASK, &old, NULL);
                }
                if (want_exit)
                        break;
                if (want_checksum) {
                        want_checksum = 0;
                        printf("WORKLOAD checksum=%016llx\n", (unsigned long long) checksum(buf, sum_words));
                        fflush(stdout);
                }
        }
        (void) sink;
        return 0;
}
