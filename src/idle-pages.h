/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/idle_pages: the access-bit interface of the idle_pages kernel patch set (Intel's "ept_idle" /
 * openEuler's etmem_scan). No mainline kernel has it; tierd uses it when the file exists.
 *
 * The file offset is a virtual address. A read at offset O walks the page tables from O onward, test-and-clears
 * the accessed bits it meets and returns a byte stream describing what it found; a second read of the same range
 * sees only what was accessed since the first, so one read per pass *is* the pass. Each byte is
 * "type << 4 | n", a run of n (1..15) units of one type starting at the cursor; PTE units are 4 KiB, PMD units
 * 2 MiB, PUD units 1 GiB. The byte 0xA0 (IDLE_PAGES_CMD_SET_HVA) is followed by an 8-byte big-endian address that
 * moves the cursor: the kernel uses it at the start of every read (to skip unmapped space, or to go back to the
 * start of a huge page the offset falls into) and wherever it skips a gap.
 *
 * This module is split as maps.c is: a pure decoder (buffer in, runs out) and a thin reader around it. */

/* The unit sizes are the x86-64 page table's; the patch set exists for x86-64 (and arm64 with 4 KiB pages). */
#define IDLE_PAGES_PTE_SIZE UINT64_C(0x1000)
#define IDLE_PAGES_PMD_SIZE UINT64_C(0x200000)
#define IDLE_PAGES_PUD_SIZE UINT64_C(0x40000000)

/* The raw types of the stream, numbered as the kernel numbers them. */
enum idle_pages_type {
        IDLE_PAGES_PTE_ACCESSED = 0,
        IDLE_PAGES_PMD_ACCESSED = 1,  /* a PMD-mapped huge page (THP) */
        IDLE_PAGES_PUD_PRESENT = 2,   /* a PUD-mapped 1 GiB page; the kernel does not test its accessed bit */
        IDLE_PAGES_PTE_DIRTY = 3,
        IDLE_PAGES_PMD_DIRTY = 4,
        IDLE_PAGES_PTE_IDLE = 5,
        IDLE_PAGES_PMD_IDLE = 6,      /* an idle THP */
        IDLE_PAGES_PMD_IDLE_PTES = 7, /* a page table whose PMD accessed bit is clear: all its PTEs are idle */
        IDLE_PAGES_PTE_HOLE = 8,
        IDLE_PAGES_PMD_HOLE = 9,
        IDLE_PAGES_PIP_CMD = 10,
        _IDLE_PAGES_TYPE_MAX,
};

#define IDLE_PAGES_CMD_SET_HVA ((uint8_t) (IDLE_PAGES_PIP_CMD << 4))
#define IDLE_PAGES_SET_HVA_BYTES 9 /* command byte + 8-byte address */
#define IDLE_PAGES_RUN_MAX 15

/* What a run says about the pages it covers. */
enum idle_pages_state {
        IDLE_PAGES_ACCESSED, /* accessed since the previous read (PTE/PMD_ACCESSED, PTE/PMD_DIRTY) */
        IDLE_PAGES_IDLE,     /* not accessed since the previous read (PTE_IDLE, PMD_IDLE, PMD_IDLE_PTES) */
        IDLE_PAGES_HOLE,     /* nothing mapped there (PTE_HOLE, PMD_HOLE) */
        IDLE_PAGES_PRESENT,  /* mapped, but the kernel gives no access information (PUD_PRESENT) */
};

const char *idle_pages_type_to_string(enum idle_pages_type t);
const char *idle_pages_state_to_string(enum idle_pages_state s);

/* One byte of the stream, decoded. */
struct idle_pages_run {
        uint64_t addr;               /* first byte covered */
        uint64_t size;               /* bytes covered: count * unit */
        uint64_t unit;               /* IDLE_PAGES_{PTE,PMD,PUD}_SIZE */
        unsigned count;              /* 1..15 */
        enum idle_pages_type type;   /* as in the stream */
        enum idle_pages_state state;
        bool dirty;                  /* PTE/PMD_DIRTY; always with state ACCESSED */
        bool huge;                   /* each unit is one huge mapping (PMD_ACCESSED/DIRTY/IDLE, PUD_PRESENT): a THP
                                      * or hugetlb page the heat store should keep as one entry. False for
                                      * PMD_IDLE_PTES and PMD_HOLE, whose 2 MiB units are page tables, not pages. */
        size_t offset;               /* of the byte in the buffer, for diagnostics */
};

/* A negative return stops the decoder and is passed back. */
typedef int (*idle_pages_run_cb)(const struct idle_pages_run *run, void *userdata);

/* Decodes buf[0..len) with the cursor at start_addr, calling cb (may be NULL) for every run in order.
 *
 * Returns:
 *   0         everything was decoded;
 *   1         the buffer ends inside a SET_HVA command: *ret_consumed is the offset of its 0xA0 byte, and the caller
 *             continues by decoding from there once it has more bytes, or (the reader's way) by reading again at
 *             *ret_next_addr;
 *   -EBADMSG  a byte that is not a valid run or command: types 11..15, n = 0 for a page type, a PIP_CMD other
 *             than SET_HVA, or a SET_HVA address that is not 4 KiB aligned;
 *   -ERANGE   a run or SET_HVA would take the cursor past 2^64 - 1;
 *   < 0       the callback's error.
 * On errors *ret_consumed is the offset of the offending byte (the callback's: of the run it was given) and no
 * later byte was looked at. *ret_next_addr is always the cursor after the last byte consumed. Both may be NULL.
 *
 * SET_HVA may move the cursor backwards; the decoder reports what the stream says and leaves judging it to the
 * caller (at the start of a read the kernel legitimately goes back to the start of a huge page). */
int idle_pages_decode(const uint8_t *buf, size_t len, uint64_t start_addr, idle_pages_run_cb cb, void *userdata,
                      size_t *ret_consumed, uint64_t *ret_next_addr);

/* The reader. */

/* The kernel walks count * 8 pages (count << (3 + PAGE_SHIFT) bytes of address space) per read of count bytes,
 * and rejects reads shorter than this (the patch set's EPT_IDLE_BUF_MIN, 19 or 20 bytes depending on version). */
#define IDLE_PAGES_READ_MIN 20
#define IDLE_PAGES_BYTES_PER_READ_BYTE (8 * IDLE_PAGES_PTE_SIZE)
#define IDLE_PAGES_BUFFER_DEFAULT (256 * 1024)
#define IDLE_PAGES_BUFFER_MAX (16 * 1024 * 1024)

/* Number of uint64_t words a bitmap of [start, end) needs: one bit per 4 KiB page. */
#define IDLE_PAGES_BITMAP_WORDS(start, end) (((((end) - (start)) / IDLE_PAGES_PTE_SIZE) + 63) / 64)

/* The read seam: pread(2) semantics (bytes read, or -1 with errno set) plus a userdata pointer. Tests replace it to
 * produce what a regular file cannot: ENXIO, ERANGE, ESRCH, a stream that depends on the offset. */
typedef ssize_t (*idle_pages_pread_fn)(int fd, void *buf, size_t count, uint64_t offset, void *userdata);

struct idle_pages_read_options {
        size_t buffer_size;           /* largest read; 0 means IDLE_PAGES_BUFFER_DEFAULT */
        idle_pages_pread_fn pread_fn; /* NULL means pread(2) */
        void *pread_userdata;
        /* Called once per huge mapping (run->huge: THP or 1 GiB page) that overlaps [start, end), with count 1 and
         * the whole mapping's address and size even where it sticks out of the range. A negative return stops the
         * read and is passed back. */
        idle_pages_run_cb huge_cb;
        void *huge_userdata;
};

/* Counts are in 4 KiB pages inside [start, end); a THP counts 512. */
struct idle_pages_stats {
        uint64_t pages_accessed;  /* includes the dirty ones */
        uint64_t pages_dirty;
        uint64_t pages_idle;      /* PMD_IDLE_PTES counts all 512 pages, mapped or not: an upper bound */
        uint64_t pages_hole;      /* reported holes; gaps the kernel jumps over with SET_HVA are not counted */
        uint64_t pages_untracked; /* PUD_PRESENT: mapped, no access information */
        uint64_t thp_accessed;    /* PMD-mapped huge pages, as units */
        uint64_t thp_idle;
        uint64_t bytes_skipped;   /* address space given up after ERANGE */
        uint64_t reads;           /* successful reads (the calls to the read function that returned data) */
        uint64_t scanned_end;     /* where reading stopped: end, or less when the kernel said there is no more */
};

/* Reads the accessed bits of [start, end) of a process: opens /proc/PID/idle_pages through fsroot, reads at
 * start, decodes, and reads again at the cursor until it reaches end.
 *
 * start and end must be 4 KiB aligned (the kernel rejects unaligned offsets). bitmap (may be NULL) has bitmap_words
 * words, at least IDLE_PAGES_BITMAP_WORDS(start, end); it is cleared first, then bit i is set when the page at
 * start + i * 4096 was accessed, including every page of an accessed THP. ret_stats may be NULL.
 *
 * Each read is sized so that the address space it walks (count * 32 KiB) ends at end, within the kernel's
 * minimum read: reading past end would clear the accessed bits of whatever lies beyond. That minimum means a
 * read can still walk up to 640 KiB past end, so a caller reading several ranges of one process in one pass
 * should go from the highest range down: then the overshoot lands on a range already read this pass (costing it a
 * few milliseconds of its next window) instead of wiping the one about to be read.
 *
 * Kernel answers:
 *   ENXIO, or a read of 0 bytes: no more mappings; stop (returns 0, scanned_end tells where).
 *   ERANGE: the kernel cannot walk at this offset; skip to the next 2 MiB boundary (the granularity of a page
 *           table) and read on, counting the skipped address space in bytes_skipped.
 *   EINTR: retried.
 *
 * Returns 0, or:
 *   -ESRCH       the process is gone (ESRCH from open or read, ENOENT from read, ENOENT from open when /proc/PID
 *                is missing too);
 *   -EOPNOTSUPP  /proc/PID exists but has no idle_pages (kernel without the patch set);
 *   -EACCES/-EPERM from open: a capability is missing (see idle_pages_probe());
 *   -EBADMSG     a malformed stream, or one that does not move the cursor forward (logged at debug level with the
 *                offset); the bitmap then holds what was decoded before it;
 *   -EINVAL      bad arguments; other negative errnos from open/read. */
int idle_pages_read_range(pid_t pid, uint64_t start, uint64_t end, uint64_t *bitmap, size_t bitmap_words,
                          const struct idle_pages_read_options *opts, struct idle_pages_stats *ret_stats);

/* Whether /proc/PID/idle_pages exists and can be opened for reading; pid is normally tierd's own. It only opens
 * the file: a read would clear accessed bits.
 * Returns 1 if usable, 0 if not with *ret_reason (allocated, for logs and status) saying why, -ESRCH if the
 * process is gone, -EINVAL or -ENOMEM. *ret_reason is NULL when 1 is returned. */
int idle_pages_probe(pid_t pid, char **ret_reason);

static inline bool idle_pages_bitmap_test(const uint64_t *bitmap, uint64_t page) {
        return (bitmap[page / 64] >> (page % 64)) & 1;
}
