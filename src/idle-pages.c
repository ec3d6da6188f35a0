/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "idle-pages.h"
#include "log.h"
#include "macro.h"

static const struct {
        const char *name;
        uint64_t unit;
        enum idle_pages_state state;
        bool dirty;
        bool huge;
} type_table[_IDLE_PAGES_TYPE_MAX] = {
        [IDLE_PAGES_PTE_ACCESSED] = { "pte-accessed", IDLE_PAGES_PTE_SIZE, IDLE_PAGES_ACCESSED, false, false },
        [IDLE_PAGES_PMD_ACCESSED] = { "pmd-accessed", IDLE_PAGES_PMD_SIZE, IDLE_PAGES_ACCESSED, false, true },
        [IDLE_PAGES_PUD_PRESENT] = { "pud-present", IDLE_PAGES_PUD_SIZE, IDLE_PAGES_PRESENT, false, true },
        [IDLE_PAGES_PTE_DIRTY] = { "pte-dirty", IDLE_PAGES_PTE_SIZE, IDLE_PAGES_ACCESSED, true, false },
        [IDLE_PAGES_PMD_DIRTY] = { "pmd-dirty", IDLE_PAGES_PMD_SIZE, IDLE_PAGES_ACCESSED, true, true },
        [IDLE_PAGES_PTE_IDLE] = { "pte-idle", IDLE_PAGES_PTE_SIZE, IDLE_PAGES_IDLE, false, false },
        [IDLE_PAGES_PMD_IDLE] = { "pmd-idle", IDLE_PAGES_PMD_SIZE, IDLE_PAGES_IDLE, false, true },
        /* A clear accessed bit in the PMD entry of a page table means none of its 512 PTEs was used. */
        [IDLE_PAGES_PMD_IDLE_PTES] = { "pmd-idle-ptes", IDLE_PAGES_PMD_SIZE, IDLE_PAGES_IDLE, false, false },
        [IDLE_PAGES_PTE_HOLE] = { "pte-hole", IDLE_PAGES_PTE_SIZE, IDLE_PAGES_HOLE, false, false },
        [IDLE_PAGES_PMD_HOLE] = { "pmd-hole", IDLE_PAGES_PMD_SIZE, IDLE_PAGES_HOLE, false, false },
        [IDLE_PAGES_PIP_CMD] = { "pip-cmd", 0, 0, false, false },
};

const char *idle_pages_type_to_string(enum idle_pages_type t) {
        if ((unsigned) t >= _IDLE_PAGES_TYPE_MAX)
                return NULL;
        return type_table[t].name;
}

const char *idle_pages_state_to_string(enum idle_pages_state s) {
        static const char *const names[] = {
                [IDLE_PAGES_ACCESSED] = "accessed",
                [IDLE_PAGES_IDLE] = "idle",
                [IDLE_PAGES_HOLE] = "hole",
                [IDLE_PAGES_PRESENT] = "present",
        };

        if ((unsigned) s >= ELEMENTSOF(names))
                return NULL;
        return names[s];
}

int idle_pages_decode(const uint8_t *buf, size_t len, uint64_t start_addr, idle_pages_run_cb cb, void *userdata,
                      size_t *ret_consumed, uint64_t *ret_next_addr) {
        uint64_t addr = start_addr;
        size_t i = 0;
        int r = 0;

        while (i < len) {
                uint8_t b = buf[i];
                unsigned type = b >> 4, n = b & 0xf;

                if (b == IDLE_PAGES_CMD_SET_HVA) {
                        uint64_t a = 0;

                        /* The kernel reserves room for a whole command at the end of each read, but a short
                         * buffer (or another kernel) may still cut one: leave it unconsumed. */
                        if (len - i < IDLE_PAGES_SET_HVA_BYTES) {
                                r = 1;
                                break;
                        }
                        for (size_t k = 1; k < IDLE_PAGES_SET_HVA_BYTES; k++)
                                a = a << 8 | buf[i + k];
                        /* The kernel only ever points at page boundaries; anything else means we are not reading
                         * what we think (a misframed stream), and the reader could not pread there anyway. */
                        if (a % IDLE_PAGES_PTE_SIZE != 0) {
                                r = -EBADMSG;
                                break;
                        }
                        addr = a;
                        i += IDLE_PAGES_SET_HVA_BYTES;
                        continue;
                }

                /* Types 11..15 do not exist, PIP_CMD has no command but SET_HVA, and a run of 0 pages is never
                 * emitted (the kernel creates a run with n = 1 and increments it). */
                if (type >= IDLE_PAGES_PIP_CMD || n == 0) {
                        r = -EBADMSG;
                        break;
                }

                struct idle_pages_run run = {
                        .addr = addr,
                        .unit = type_table[type].unit,
                        .count = n,
                        .type = type,
                        .state = type_table[type].state,
                        .dirty = type_table[type].dirty,
                        .huge = type_table[type].huge,
                        .offset = i,
                };
                run.size = run.unit * n; /* at most 15 GiB: cannot overflow */

                /* The cursor after the run must be representable: a run ending exactly at 2^64 is an overflow too. */
                if (run.size > UINT64_MAX - addr) {
                        r = -ERANGE;
                        break;
                }

                if (cb) {
                        r = cb(&run, userdata);
                        if (r < 0)
                                break;
                        r = 0;
                }

                addr += run.size;
                i++;
        }

        if (ret_consumed)
                *ret_consumed = i;
        if (ret_next_addr)
                *ret_next_addr = addr;
        return r;
}

/* The reader. */

static void bitmap_set_range(uint64_t *bitmap, uint64_t first, uint64_t n) {
        while (n > 0) {
                uint64_t bit = first % 64, take = MIN(64 - bit, n);
                uint64_t mask = take == 64 ? UINT64_MAX : ((UINT64_C(1) << take) - 1) << bit;

                bitmap[first / 64] |= mask;
                first += take;
                n -= take;
        }
}

struct reader {
        uint64_t start, end;
        uint64_t *bitmap;
        /* Everything below this address has been accounted for. A new read begins with a SET_HVA that may go back
         * to the start of a huge page already reported by the previous read; its accessed bit has been cleared
         * since, so a second report would only turn a hot page cold. Only what lies above the mark counts. */
        uint64_t done;
        idle_pages_run_cb huge_cb;
        void *huge_userdata;
        bool huge_cb_failed;
        struct idle_pages_stats stats;
};

static int reader_huge_units(struct reader *rd, const struct idle_pages_run *run) {
        for (unsigned k = 0; k < run->count; k++) {
                struct idle_pages_run unit = *run;
                int r;

                unit.addr = run->addr + k * run->unit;
                unit.size = run->unit;
                unit.count = 1;

                /* Report each mapping once, and only if part of it is new and inside the range. */
                if (unit.addr + unit.size <= rd->done || unit.addr >= rd->end)
                        continue;

                if (run->unit == IDLE_PAGES_PMD_SIZE) {
                        if (run->state == IDLE_PAGES_ACCESSED)
                                rd->stats.thp_accessed++;
                        else
                                rd->stats.thp_idle++;
                }

                if (rd->huge_cb) {
                        r = rd->huge_cb(&unit, rd->huge_userdata);
                        if (r < 0) {
                                rd->huge_cb_failed = true;
                                return r;
                        }
                }
        }
        return 0;
}

static int reader_run(const struct idle_pages_run *run, _unused_ void *userdata) {
        struct reader *rd = userdata;
        uint64_t run_end = run->addr + run->size, lo, hi, first, n;
        int r;

        if (run->huge) {
                r = reader_huge_units(rd, run);
                if (r < 0)
                        return r;
        }

        lo = MAX(run->addr, rd->done); /* done >= start */
        hi = MIN(run_end, rd->end);
        if (run_end > rd->done)
                rd->done = run_end;
        if (lo >= hi)
                return 0;

        first = (lo - rd->start) / IDLE_PAGES_PTE_SIZE;
        n = (hi - lo) / IDLE_PAGES_PTE_SIZE;

        switch (run->state) {
        case IDLE_PAGES_ACCESSED:
                if (rd->bitmap)
                        bitmap_set_range(rd->bitmap, first, n);
                rd->stats.pages_accessed += n;
                if (run->dirty)
                        rd->stats.pages_dirty += n;
                break;
        case IDLE_PAGES_IDLE:
                rd->stats.pages_idle += n;
                break;
        case IDLE_PAGES_HOLE:
                rd->stats.pages_hole += n;
                break;
        case IDLE_PAGES_PRESENT:
                rd->stats.pages_untracked += n;
                break;
        }
        return 0;
}

static ssize_t default_pread(int fd, void *buf, size_t count, uint64_t offset, _unused_ void *userdata) {
        if (offset > INT64_MAX) {
                errno = EINVAL;
                return -1;
        }
        return pread(fd, buf, count, (off_t) offset);
}

/* ENOENT from open means either that the process is gone or that the kernel has no such file; /proc/PID tells. */
static int classify_enoent(pid_t pid) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        return fsroot_access(path, F_OK) >= 0 ? -EOPNOTSUPP : -ESRCH;
}

/* The size of the next read: enough bytes for the kernel to walk to end (count * 32 KiB), no more, so it does not
 * clear accessed bits beyond the range; never below the kernel's minimum, never above the buffer. */
static size_t read_size(uint64_t cursor, uint64_t end, size_t buffer_size) {
        uint64_t rem = end - cursor;
        uint64_t want = rem / IDLE_PAGES_BYTES_PER_READ_BYTE + (rem % IDLE_PAGES_BYTES_PER_READ_BYTE != 0);

        return (size_t) MIN(MAX(want, (uint64_t) IDLE_PAGES_READ_MIN), (uint64_t) buffer_size);
}

int idle_pages_read_range(pid_t pid, uint64_t start, uint64_t end, uint64_t *bitmap, size_t bitmap_words,
                          const struct idle_pages_read_options *opts, struct idle_pages_stats *ret_stats) {
        static const struct idle_pages_read_options no_options = {};
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        idle_pages_pread_fn pread_fn;
        size_t buffer_size;
        uint64_t cursor;
        char path[64];
        int r;

        if (!opts)
                opts = &no_options;
        if (pid <= 0 || start >= end || start % IDLE_PAGES_PTE_SIZE != 0 || end % IDLE_PAGES_PTE_SIZE != 0)
                return -EINVAL;
        if (bitmap && bitmap_words < IDLE_PAGES_BITMAP_WORDS(start, end))
                return -EINVAL;
        buffer_size = opts->buffer_size ?: IDLE_PAGES_BUFFER_DEFAULT;
        if (buffer_size < IDLE_PAGES_READ_MIN || buffer_size > IDLE_PAGES_BUFFER_MAX)
                return -EINVAL;
        pread_fn = opts->pread_fn ?: default_pread;

        struct reader rd = {
                .start = start,
                .end = end,
                .bitmap = bitmap,
                .done = start,
                .huge_cb = opts->huge_cb,
                .huge_userdata = opts->huge_userdata,
        };

        if (bitmap)
                memset(bitmap, 0, IDLE_PAGES_BITMAP_WORDS(start, end) * sizeof(uint64_t));
        if (ret_stats)
                *ret_stats = (struct idle_pages_stats) { .scanned_end = start };

        snprintf(path, sizeof(path), "/proc/%d/idle_pages", (int) pid);
        fd = fsroot_open(path, O_RDONLY | O_NOCTTY);
        if (fd == -ENOENT)
                return classify_enoent(pid);
        if (fd < 0)
                return fd;

        /* A small range needs a small buffer; the first read is the largest one. */
        buffer_size = read_size(start, end, buffer_size);
        buf = malloc(buffer_size);
        if (!buf)
                return -ENOMEM;

        cursor = start;
        while (cursor < end) {
                size_t count = read_size(cursor, end, buffer_size), consumed;
                uint64_t next;
                ssize_t n;

                n = pread_fn(fd, buf, count, cursor, opts->pread_userdata);
                if (n < 0) {
                        int e = errno > 0 ? errno : EIO;

                        if (e == EINTR)
                                continue;
                        if (e == ENXIO) /* no mapping at or above cursor */
                                break;
                        if (e == ERANGE) {
                                /* The kernel cannot walk here. Page tables come in 2 MiB pieces, so the next
                                 * boundary is the nearest place a walk can succeed again. */
                                uint64_t skip_to = (cursor | (IDLE_PAGES_PMD_SIZE - 1)) + 1;

                                if (skip_to == 0 || skip_to > end) /* wrapped, or past the range */
                                        skip_to = end;
                                log_debug("idle_pages of %d: ERANGE at 0x%" PRIx64 ", skipping to 0x%" PRIx64,
                                          (int) pid, cursor, skip_to);
                                rd.stats.bytes_skipped += skip_to - cursor;
                                cursor = skip_to;
                                continue;
                        }
                        if (e == ESRCH || e == ENOENT)
                                r = -ESRCH;
                        else
                                r = -e;
                        goto finish;
                }
                if (n == 0) /* end of file: past the last mapping, or TASK_SIZE */
                        break;
                if ((size_t) n > count) {
                        r = -EIO;
                        goto finish;
                }
                rd.stats.reads++;

                r = idle_pages_decode(buf, (size_t) n, cursor, reader_run, &rd, &consumed, &next);
                if (r < 0) {
                        if (rd.huge_cb_failed)
                                goto finish;
                        log_debug_errno(r, "idle_pages of %d: malformed stream at byte %zu of %zd read at 0x%" PRIx64
                                        " (cursor 0x%" PRIx64 "): %m",
                                        (int) pid, consumed, n, cursor, next);
                        r = -EBADMSG;
                        goto finish;
                }

                /* A truncated SET_HVA (r == 1) needs no special care: reading again at the cursor before it makes
                 * the kernel start a fresh stream there. But every read must move us forward, or a confused kernel
                 * (or a stream of nothing but a backwards jump) would keep us here forever. */
                if (next <= cursor) {
                        log_debug("idle_pages of %d: read of %zd bytes at 0x%" PRIx64 " did not advance (to 0x%" PRIx64
                                  ")", (int) pid, n, cursor, next);
                        r = -EBADMSG;
                        goto finish;
                }
                cursor = next;
        }
        r = 0;

finish:
        rd.stats.scanned_end = MIN(cursor, end);
        if (ret_stats)
                *ret_stats = rd.stats;
        return r;
}

int idle_pages_probe(pid_t pid, char **ret_reason) {
        _cleanup_close_ int fd = -1;
        char path[64];
        char *reason;
        int r;

        if (pid <= 0)
                return -EINVAL;

        snprintf(path, sizeof(path), "/proc/%d/idle_pages", (int) pid);
        fd = fsroot_open(path, O_RDONLY | O_NOCTTY);
        if (fd >= 0) {
                *ret_reason = NULL;
                return 1;
        }

        switch (fd) {
        case -ENOENT:
                r = classify_enoent(pid);
                if (r != -EOPNOTSUPP)
                        return r;
                reason = strdup("kernel has no /proc/PID/idle_pages (needs the idle_pages patch set)");
                break;
        case -ESRCH:
                return -ESRCH;
        case -ENOMEM:
                return -ENOMEM;
        case -EACCES:
        case -EPERM:
                /* The file is opened like pagemap: ptrace read access to the process, plus DAC access to a file
                 * owned by it. As root that means CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (or DAC_OVERRIDE). */
                errno = -fd;
                if (asprintf(&reason,
                             "cannot open %s: %m; a capability is missing (needs CAP_SYS_PTRACE and "
                             "CAP_DAC_READ_SEARCH)",
                             path) < 0)
                        reason = NULL;
                break;
        default:
                errno = -fd;
                if (asprintf(&reason, "cannot open %s: %m", path) < 0)
                        reason = NULL;
        }
        if (!reason)
                return -ENOMEM;
        *ret_reason = reason;
        return 0;
}
