/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /sys/kernel/mm/page_idle/bitmap (CONFIG_IDLE_PAGE_TRACKING, mm/page_idle.c): one bit per PFN, PFN i at bit i % 64
 * of the native-endian 64-bit word i / 64, so word w lives at file offset w * 8. Mode 0600 root.
 *
 *   write  a 1 bit marks the page idle: the kernel clears the accessed bits of every PTE/PMD mapping it (setting
 *          PG_young so reclaim still sees the reference) and sets PG_idle; a 0 bit does nothing. Writing at or
 *          beyond max_pfn fails with ENXIO; a write that reaches past it is cut short there.
 *   read   a 1 bit means the page is still idle: nothing accessed it since it was marked (the kernel re-checks
 *          the accessed bits of its mappings first). Reads at or beyond max_pfn return 0 bytes.
 * Offsets and sizes must be multiples of 8 (EINVAL). Only LRU pages take part: tails of large folios, isolated
 * pages and pages still in a per-CPU LRU batch ignore writes and read as 0 ("accessed").
 *
 * The file is a sysfs binary attribute, and kernfs moves at most PAGE_SIZE bytes per read or write call, so a
 * run of up to 512 words is one system call.
 *
 * This module is split as the others: a pure planner (PFNs in, words and runs out) and thin I/O around it. */

#define PAGE_IDLE_BITMAP_PATH "/sys/kernel/mm/page_idle/bitmap"
/* 4 KiB: what kernfs takes per call (PAGE_SIZE on x86-64 and 4 KiB arm64). */
#define PAGE_IDLE_RUN_WORDS_MAX 512

/* A run of consecutive bitmap words, written and read with one call. */
struct page_idle_run {
        uint64_t word : 52;    /* first word: PFN / 64 (PFNs have 55 bits, so words 49); file offset word * 8 */
        uint64_t n_words : 12; /* 1..PAGE_IDLE_RUN_WORDS_MAX */
};

/* The words of a set of PFNs. masks[] holds the words of all runs back to back, in run order (ascending word), so
 * run k's words start at the sum of the n_words of runs 0..k-1. A word's mask has exactly the bits of the PFNs
 * that were planned: a 0 bit written to the bitmap has no effect, so writing masks[] never marks a page that was
 * not asked for. */
struct page_idle_plan {
        uint64_t *masks;
        size_t n_words;
        struct page_idle_run *runs;
        size_t n_runs;
};

/* Pure. Plans pfns[0..n) (any order, duplicates allowed, each < 2^55): sorts them (radix sort), groups them into
 * words and the words into runs of consecutive words of at most PAGE_IDLE_RUN_WORDS_MAX. ret_slots (may be
 * NULL, and may be pfns itself: each element is read before it is overwritten) receives, for every input PFN,
 * its slot: index of its word in masks[] * 64 + PFN % 64. Returns 0, -EINVAL (a PFN out of range), -E2BIG (more
 * than 2^32 PFNs) or -ENOMEM; *ret is left empty on error. Uses 32 bytes per PFN while it runs. */
int page_idle_plan_build(const uint64_t *pfns, size_t n, uint64_t *ret_slots, struct page_idle_plan *ret);
void page_idle_plan_done(struct page_idle_plan *p);

/* The same plan in steps, so that an event loop is not held for the whole of it (393k PFNs took 446 ms under
 * TCG in one go): page_idle_planner_new() takes the arguments of page_idle_plan_build(), which must stay as they
 * are until the plan is done; each page_idle_planner_step() handles about `budget` PFNs' worth of work (a plan
 * takes some 4 + 2 x (bytes of the largest PFN) times n in all) and returns 1 while work remains, 0 with the plan
 * in *ret, or a negative errno (then the planner is of no further use). The plan is identical to
 * page_idle_plan_build()'s, whatever the budgets. */
struct page_idle_planner;
int page_idle_planner_new(const uint64_t *pfns, size_t n, uint64_t *ret_slots, struct page_idle_planner **ret);
int page_idle_planner_step(struct page_idle_planner *p, size_t budget, struct page_idle_plan *ret);
struct page_idle_planner *page_idle_planner_free(struct page_idle_planner *p);

static inline uint64_t page_idle_slot_pos(uint64_t slot) {
        return slot >> 6;
}
static inline uint64_t page_idle_slot_bit(uint64_t slot) {
        return UINT64_C(1) << (slot & 63);
}

/* The I/O seam: pread(2)/pwrite(2) semantics plus userdata. Tests replace it to count calls and to produce what a
 * regular file cannot (ENXIO). NULL restores the system calls. Process-wide. */
struct page_idle_io {
        ssize_t (*pread)(int fd, void *buf, size_t count, off_t offset, void *userdata);
        ssize_t (*pwrite)(int fd, const void *buf, size_t count, off_t offset, void *userdata);
        void *userdata;
};
void page_idle_set_io(const struct page_idle_io *io);

/* Opens the bitmap read-write (through fsroot). Returns the fd or a negative errno. */
int page_idle_open(void);

/* Writes the runs of p whose words lie below position live (an index into masks[]; pass p->n_words for all), one
 * pwrite per run (continuing only if the kernel takes less). Returns the new live position: live, or less when
 * the kernel says the PFNs from there on lie beyond max_pfn (ENXIO, or a write that makes no progress): those
 * words were not written and every later word is beyond it too. Negative errno on other failures. */
ssize_t page_idle_write(int fd, const struct page_idle_plan *p, size_t live);

/* Reads the runs of p below position live back into p->masks (overwriting the masks: afterwards a 1 bit means
 * "still idle"). Returns the new live position as page_idle_write() does (end of file: beyond max_pfn), or a
 * negative errno. */
ssize_t page_idle_read(int fd, struct page_idle_plan *p, size_t live);

/* The same a few words at a time, so that a large plan is written or read across several turns of the event
 * loop (the kernel walks the mappings of every page marked or read: a run of 512 words is 32768 pages): the cursor
 * holds the next run, the word within it and that word's position in masks[] (start from {}); at most max_words
 * words are moved per call, a run split where it must be. Returns the new live position as above (the cursor is
 * then done if the kernel's end was reached), or a negative errno. */
struct page_idle_cursor {
        size_t run;
        size_t word; /* within the run */
        size_t pos;
};
ssize_t page_idle_write_some(int fd, const struct page_idle_plan *p, size_t live, struct page_idle_cursor *c,
                             size_t max_words);
ssize_t page_idle_read_some(int fd, struct page_idle_plan *p, size_t live, struct page_idle_cursor *c,
                            size_t max_words);
bool page_idle_cursor_done(const struct page_idle_plan *p, size_t live, const struct page_idle_cursor *c);
