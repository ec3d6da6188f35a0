/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "util.h"

#define PG HEAT_PAGE_SIZE
#define THP HEAT_THP_SIZE
/* 2 MiB aligned, like real mmap() results of THP-eligible sizes. */
#define BASE UINT64_C(0x7f0000000000)

static const struct heat_class_params params = { .promote_rounds = 2, .cold_rounds = 3 };

static struct vma anon(uint64_t start, uint64_t end) {
        return (struct vma) { .start = start, .end = end, .perms = "rw-p" };
}

static void sync1(struct heat_store *s, pid_t pid, uint64_t start, uint64_t end) {
        struct vma v = anon(start, end);

        assert_int_equal(heat_store_sync_target(s, pid, &v, 1), 0);
}

static uint16_t entry_at(struct heat_store *s, pid_t pid, uint64_t addr) {
        struct heat_unit u;

        assert_int_equal(heat_store_lookup(s, pid, addr, &params, &u), 0);
        return u.entry;
}

static void bit_set(uint64_t *bitmap, uint64_t i) {
        bitmap[i / 64] |= UINT64_C(1) << (i % 64);
}

/* One round of `passes` passes; in pass p (0-based) the page at start + i * 4096 is accessed when
 * accessed(i, p, userdata). */
static void round_with(struct heat_store *s, uint64_t round_no, unsigned threshold, unsigned passes, pid_t pid,
                       uint64_t start, uint64_t n_pages, bool (*accessed)(uint64_t i, unsigned pass, void *u),
                       void *userdata) {
        uint64_t *bitmap = calloc((n_pages + 63) / 64, sizeof(uint64_t));

        assert_non_null(bitmap);
        assert_int_equal(heat_store_begin_round(s, round_no, threshold), 0);
        for (unsigned p = 0; p < passes; p++) {
                assert_int_equal(heat_store_begin_pass(s), (int) p + 1);
                memset(bitmap, 0, (n_pages + 63) / 64 * sizeof(uint64_t));
                for (uint64_t i = 0; i < n_pages; i++)
                        if (accessed(i, p, userdata))
                                bit_set(bitmap, i);
                assert_int_equal(heat_store_record_bitmap(s, pid, start, n_pages, bitmap), 0);
        }
        heat_store_end_round(s);
        free(bitmap);
}

static bool acc_none(uint64_t i _unused_, unsigned pass _unused_, void *u _unused_) {
        return false;
}

static bool acc_all(uint64_t i _unused_, unsigned pass _unused_, void *u _unused_) {
        return true;
}

/* Page i is accessed in the first i % 8 passes. */
static bool acc_first_i(uint64_t i, unsigned pass, void *u _unused_) {
        return pass < i % 8;
}

/* A different history per page: a hash of (page, round, pass) decides, with a likelihood that depends on the
 * page (never, 1 in 4, ..., always). */
static bool acc_hashed(uint64_t i, unsigned pass, void *u) {
        uint64_t x = i << 16 | (uint64_t) *(unsigned *) u << 8 | pass;

        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x % 4 < i % 5;
}

static void give_history(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages) {
        for (unsigned r = 0; r < 5; r++)
                round_with(s, 100 + r, 0, 3, pid, start, n_pages, acc_hashed, &r);
}

static void test_history_update(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        /* 21 pages: the end-of-round fold works on 8 entries at a time and finishes one by one, so pages 0..15
         * and 16..20 go through different code. Page i behaves like page i % 8. */
        const uint64_t n = 21;
        uint16_t e;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);

        /* Recording needs an open pass. */
        assert_int_equal(heat_store_record_accessed(s, 1, BASE, PG), -EINVAL);
        assert_int_equal(heat_store_begin_pass(s), -EINVAL);

        /* 4 passes, threshold "every pass": page i is accessed in min(i % 8, 4) passes. */
        round_with(s, 1, HEAT_HOT_THRESHOLD_ALL_PASSES, 4, 1, BASE, n, acc_first_i, NULL);
        for (unsigned i = 0; i < n; i++) {
                e = entry_at(s, 1, BASE + i * PG);
                assert_int_equal(heat_entry_hits(e), MIN(i % 8, 4u));
                assert_int_equal(heat_entry_streak(e), i % 8 >= 4 ? 1 : 0);
                assert_int_equal(heat_entry_idle_rounds(e), i % 8 == 0 ? 1 : 0);
        }

        /* Streaks and idle ages saturate. */
        for (unsigned r = 2; r < 50; r++)
                round_with(s, r, 0, 4, 1, BASE, n, acc_first_i, NULL);
        for (unsigned i = 0; i < n; i++) {
                e = entry_at(s, 1, BASE + i * PG);
                assert_int_equal(heat_entry_streak(e), i % 8 >= 4 ? HEAT_STREAK_MAX : 0);
                assert_int_equal(heat_entry_idle_rounds(e), i % 8 == 0 ? HEAT_IDLE_MAX : 0);
                assert_int_equal(heat_entry_class(e, &params),
                                 i % 8 >= 4 ? HEAT_CLASS_HOT : i % 8 == 0 ? HEAT_CLASS_COLD : HEAT_CLASS_WARM);
                assert_int_equal(e & HEAT_FLAGS_MASK, 0); /* nothing overflowed into the flags */
        }

        /* One round without a hit ends a streak and starts an idle age; one hit ends an idle age. */
        round_with(s, 50, 0, 4, 1, BASE, n, acc_none, NULL);
        for (unsigned i = 5; i < n; i += 15) {
                e = entry_at(s, 1, BASE + i * PG);
                assert_int_equal(heat_entry_streak(e), 0);
                assert_int_equal(heat_entry_idle_rounds(e), 1);
                assert_int_equal(heat_entry_hits(e), 0);
        }
        round_with(s, 51, 0, 4, 1, BASE, n, acc_first_i, NULL);
        for (unsigned i = 1; i < n; i += 16) {
                e = entry_at(s, 1, BASE + i * PG);
                assert_int_equal(heat_entry_idle_rounds(e), 0);
                assert_int_equal(heat_entry_hits(e), 1);
        }

        /* begin_round clears the hits only; the counters stay. */
        assert_int_equal(heat_store_begin_round(s, 52, 0), 0);
        assert_true(heat_store_in_round(s));
        assert_int_equal(heat_store_begin_round(s, 52, 0), -EBUSY);
        for (unsigned i = 7; i < n; i += 13) {
                e = entry_at(s, 1, BASE + i * PG);
                assert_int_equal(heat_entry_hits(e), 0);
                assert_int_equal(heat_entry_streak(e), 1);
        }

        /* A page reported twice in a pass cannot get more hits than passes ran. */
        assert_int_equal(heat_store_begin_pass(s), 1);
        for (unsigned i = 7; i < n; i += 13) {
                assert_int_equal(heat_store_record_accessed(s, 1, BASE + i * PG, PG), 0);
                assert_int_equal(heat_store_record_accessed(s, 1, BASE + i * PG + 100, 1), 0);
                assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE + i * PG)), 2);
        }
        heat_store_end_round(s);
        assert_false(heat_store_in_round(s));
        for (unsigned i = 7; i < n; i += 13)
                assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE + i * PG)), 1);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE + 6 * PG)), 0);

        /* Hits saturate at 15 and passes stop at 15. */
        assert_int_equal(heat_store_begin_round(s, 53, 0), 0);
        for (unsigned p = 1; p <= HEAT_PASSES_MAX; p++) {
                assert_int_equal(heat_store_begin_pass(s), (int) p);
                assert_int_equal(heat_store_record_accessed(s, 1, BASE, PG), 0);
                assert_int_equal(heat_store_record_accessed(s, 1, BASE, PG), 0);
        }
        assert_int_equal(heat_store_begin_pass(s), -ERANGE);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE)), HEAT_HITS_MAX);
        heat_store_end_round(s);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE)), 15);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE)), 1);

        assert_int_equal(heat_store_begin_round(s, 54, HEAT_HITS_MAX + 1), -EINVAL);
        assert_int_equal(heat_store_record_accessed(s, 99, BASE, PG), -EINVAL); /* no round */
}

static void test_threshold_and_short_rounds(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_store_stats st;
        uint16_t e;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + 8 * PG);

        /* Explicit threshold 2 with 4 passes: 2 hits are enough. */
        round_with(s, 1, 2, 4, 1, BASE, 8, acc_first_i, NULL);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 1 * PG)), 0);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 2 * PG)), 1);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 3 * PG)), 1);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.last_passes, 4);
        assert_int_equal(st.last_hot_threshold, 2);

        /* Threshold 4, but only 2 passes ran (a reload lowered passes): every pass that ran is the threshold,
         * so the streak of a page accessed in both goes on and that of a page accessed in one ends. */
        round_with(s, 2, 4, 2, 1, BASE, 8, acc_first_i, NULL);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 2 * PG)), 2);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 5 * PG)), 2);
        e = entry_at(s, 1, BASE + 1 * PG);
        assert_int_equal(heat_entry_streak(e), 0);
        assert_int_equal(heat_entry_hits(e), 1);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.last_hot_threshold, 2);

        /* A round with no pass carries no information. */
        assert_int_equal(heat_store_begin_round(s, 3, 0), 0);
        heat_store_end_round(s);
        e = entry_at(s, 1, BASE + 5 * PG);
        assert_int_equal(heat_entry_streak(e), 2);
        assert_int_equal(heat_entry_idle_rounds(e), 0);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE)), 2);
}

static void test_record_bitmap_ranges(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct vma v[] = { anon(BASE + 10 * PG, BASE + 80 * PG), anon(BASE + 100 * PG, BASE + 230 * PG) };
        uint64_t bitmap[4] = {};

        assert_int_equal(heat_store_new(&s), 0);
        assert_int_equal(heat_store_sync_target(s, 7, v, 2), 0);

        /* A bitmap from BASE + 3 pages over 250 pages: it starts before the first VMA, spans the gap and ends
         * past the second. Bits of untracked pages are ignored. */
        uint64_t want[] = { 0, 6, 7, 8, 63, 64, 65, 76, 77, 96, 97, 128, 190, 226, 227, 240, 249 };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                bit_set(bitmap, want[i]);

        assert_int_equal(heat_store_begin_round(s, 1, 0), 0);
        assert_int_equal(heat_store_begin_pass(s), 1);
        assert_int_equal(heat_store_record_bitmap(s, 7, BASE + 3 * PG, 250, bitmap), 0);
        assert_int_equal(heat_store_record_bitmap(s, 8, BASE, 1, bitmap), -ENOENT);
        assert_int_equal(heat_store_record_bitmap(s, 7, BASE + 1, 1, bitmap), -EINVAL);
        assert_int_equal(heat_store_record_bitmap(s, 7, UINT64_MAX - PG + 1, 2, bitmap), -EINVAL);
        heat_store_end_round(s);

        for (uint64_t page = 0; page < 260; page++) {
                uint64_t addr = BASE + page * PG;
                bool tracked = (page >= 10 && page < 80) || (page >= 100 && page < 230);
                bool hit = false;
                struct heat_unit u;

                for (size_t i = 0; i < ELEMENTSOF(want); i++)
                        hit = hit || want[i] + 3 == page;
                if (!tracked) {
                        assert_int_equal(heat_store_lookup(s, 7, addr, &params, &u), -ENOENT);
                        continue;
                }
                assert_int_equal(heat_entry_hits(entry_at(s, 7, addr)), hit ? 1 : 0);
        }
}

/* Every address of [start, end) that stays tracked keeps its entry. */
struct snapshot {
        uint64_t start, n;
        uint16_t *e;
};

static struct snapshot take_snapshot(struct heat_store *s, pid_t pid, uint64_t start, uint64_t end) {
        struct snapshot sn = { .start = start, .n = (end - start) / PG };

        sn.e = calloc(sn.n, sizeof(uint16_t));
        assert_non_null(sn.e);
        for (uint64_t i = 0; i < sn.n; i++)
                sn.e[i] = entry_at(s, pid, start + i * PG);
        return sn;
}

static void check_kept(struct heat_store *s, pid_t pid, const struct snapshot *sn, uint64_t start, uint64_t end) {
        for (uint64_t a = start; a < end; a += PG)
                assert_int_equal(entry_at(s, pid, a), sn->e[(a - sn->start) / PG]);
}

static void check_new(struct heat_store *s, pid_t pid, uint64_t start, uint64_t end) {
        for (uint64_t a = start; a < end; a += PG)
                assert_int_equal(entry_at(s, pid, a), 0);
}

static void check_untracked(struct heat_store *s, pid_t pid, uint64_t start, uint64_t end) {
        struct heat_unit u;

        for (uint64_t a = start; a < end; a += PG)
                assert_int_equal(heat_store_lookup(s, pid, a, &params, &u), -ENOENT);
}

static uint64_t tracked_pages(struct heat_store *s) {
        struct heat_store_stats st;

        heat_store_get_stats(s, &st);
        return st.pages;
}

static void test_vma_changes(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t A = BASE, B = BASE + 64 * PG;
        struct snapshot sn;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, A, B);
        give_history(s, 1, A, 64);
        sn = take_snapshot(s, 1, A, B);
        /* The history is really different per page, or this test would prove little. */
        {
                bool seen[1 << 12] = {};
                unsigned distinct = 0;

                for (uint64_t i = 0; i < sn.n; i++) {
                        distinct += !seen[sn.e[i] & 0xfff];
                        seen[sn.e[i] & 0xfff] = true;
                }
                assert_true(distinct >= 8);
        }

        /* Unchanged. */
        sync1(s, 1, A, B);
        check_kept(s, 1, &sn, A, B);

        /* Grow at the end (brk): old addresses keep, new ones start empty. */
        sync1(s, 1, A, B + 16 * PG);
        check_kept(s, 1, &sn, A, B);
        check_new(s, 1, B, B + 16 * PG);
        assert_int_equal(tracked_pages(s), 80);

        /* Shrink at the end, then at the front. */
        sync1(s, 1, A, B - 8 * PG);
        check_kept(s, 1, &sn, A, B - 8 * PG);
        check_untracked(s, 1, B - 8 * PG, B + 16 * PG);
        sync1(s, 1, A + 4 * PG, B - 8 * PG);
        check_kept(s, 1, &sn, A + 4 * PG, B - 8 * PG);
        check_untracked(s, 1, A, A + 4 * PG);

        /* The start moves down (a stack growing): the array is re-indexed by address, not by index. */
        sync1(s, 1, A - 32 * PG, B - 8 * PG);
        check_new(s, 1, A - 32 * PG, A + 4 * PG);
        check_kept(s, 1, &sn, A + 4 * PG, B - 8 * PG);

        /* Split by mprotect(PROT_READ) of the middle: the read-only part is no longer tracked. */
        {
                struct vma v[] = {
                        anon(A - 32 * PG, A + 10 * PG),
                        { .start = A + 10 * PG, .end = A + 20 * PG, .perms = "r--p" },
                        anon(A + 20 * PG, B - 8 * PG),
                };

                assert_int_equal(heat_store_sync_target(s, 1, v, ELEMENTSOF(v)), 0);
                check_kept(s, 1, &sn, A + 4 * PG, A + 10 * PG);
                check_untracked(s, 1, A + 10 * PG, A + 20 * PG);
                check_kept(s, 1, &sn, A + 20 * PG, B - 8 * PG);
        }

        /* Split into two tracked VMAs (different flags, say), then merged back. */
        {
                struct vma v[] = { anon(A + 20 * PG, A + 30 * PG), anon(A + 30 * PG, B - 8 * PG) };

                assert_int_equal(heat_store_sync_target(s, 1, v, ELEMENTSOF(v)), 0);
                check_kept(s, 1, &sn, A + 20 * PG, B - 8 * PG);
                check_untracked(s, 1, A - 32 * PG, A + 20 * PG);
                sync1(s, 1, A + 20 * PG, B - 8 * PG);
                check_kept(s, 1, &sn, A + 20 * PG, B - 8 * PG);
        }

        /* Merge of two VMAs with a new piece in between (the hole got mapped). */
        {
                struct vma v[] = { anon(A + 20 * PG, A + 30 * PG), anon(A + 40 * PG, B) };

                assert_int_equal(heat_store_sync_target(s, 1, v, ELEMENTSOF(v)), 0);
                sync1(s, 1, A, B);
                check_new(s, 1, A, A + 20 * PG);
                check_kept(s, 1, &sn, A + 20 * PG, A + 30 * PG);
                check_new(s, 1, A + 30 * PG, A + 40 * PG);
                check_kept(s, 1, &sn, A + 40 * PG, B - 8 * PG);
                check_new(s, 1, B - 8 * PG, B);
        }

        /* Vanish and appear: a new VMA elsewhere starts empty, the old addresses are gone. */
        sync1(s, 1, B + 1024 * PG, B + 1040 * PG);
        check_untracked(s, 1, A, B);
        check_new(s, 1, B + 1024 * PG, B + 1040 * PG);
        assert_int_equal(tracked_pages(s), 16);

        /* Nothing trackable left: the target stays, empty. */
        assert_int_equal(heat_store_sync_target(s, 1, NULL, 0), 0);
        assert_int_equal(tracked_pages(s), 0);
        assert_int_equal(heat_store_drop_target(s, 1), 0);
        free(sn.e);
}

static void test_vma_filter_and_errors(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_store_stats st;
        struct vma v[] = {
                { .start = 0x400000, .end = 0x401000, .perms = "r-xp", .path = (char *) "/usr/bin/x" },
                { .start = 0x600000, .end = 0x602000, .perms = "rw-p", .path = (char *) "/usr/bin/x" },
                { .start = 0x800000, .end = 0x810000, .perms = "rw-p", .path = (char *) "[heap]" },
                { .start = 0x900000, .end = 0x901000, .perms = "rw-s", .path = (char *) "/memfd:x (deleted)" },
                { .start = 0xa00000, .end = 0xa04000, .perms = "rw-p", .path = (char *) "[anon:arena]" },
                { .start = 0xb00000, .end = 0xb01000, .perms = "r--p" },
                { .start = 0xc00000, .end = 0xc02000, .perms = "rw-p" },
                { .start = 0xd00000, .end = 0xd01000, .perms = "rw-p", .path = (char *) "[vvar]" },
                { .start = 0x7ffd0000, .end = 0x7ffd4000, .perms = "rw-p", .path = (char *) "[stack]" },
        };
        struct vma huge = anon(BASE, BASE + HEAT_VMA_MAX_BYTES + PG);
        struct vma bad[] = { anon(0x2000, 0x4000), anon(0x1000, 0x3000) };

        assert_int_equal(heat_store_new(&s), 0);
        assert_true(heat_vma_trackable(&v[2]));
        assert_false(heat_vma_trackable(&v[1]));
        assert_false(heat_vma_trackable(&huge));

        assert_int_equal(heat_store_sync_target(s, 5, v, ELEMENTSOF(v)), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.n_targets, 1);
        assert_int_equal(st.n_vmas, 4); /* heap, anon:arena, anonymous, stack */
        assert_int_equal(st.pages, 16 + 4 + 2 + 4);

        /* Unsorted or overlapping input is refused and leaves the target as it was. */
        assert_int_equal(heat_store_sync_target(s, 5, bad, ELEMENTSOF(bad)), -EINVAL);
        assert_int_equal(heat_store_sync_target(s, 0, v, 1), -EINVAL);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.n_vmas, 4);
        assert_int_equal(st.pages, 26);
}

static void test_thp(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        /* 16 pages before the first 2 MiB boundary, two THP-sized units, 16 pages after. */
        const uint64_t start = BASE - 16 * PG, end = BASE + 2 * THP + 16 * PG;
        const uint64_t n = (end - start) / PG;
        struct heat_store_stats st;
        struct heat_unit u;
        uint64_t *bitmap = calloc((n + 63) / 64, sizeof(uint64_t));

        assert_non_null(bitmap);
        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, start, end);

        /* The pages that will form the THP have different histories: page 3 of it is hot. */
        for (unsigned r = 0; r < 3; r++) {
                assert_int_equal(heat_store_begin_round(s, r, 0), 0);
                assert_int_equal(heat_store_begin_pass(s), 1);
                assert_int_equal(heat_store_record_accessed(s, 1, BASE + 3 * PG, PG), 0);
                heat_store_end_round(s);
        }

        assert_int_equal(heat_store_set_thp(s, 1, BASE + PG, true), -EINVAL);         /* unaligned */
        assert_int_equal(heat_store_set_thp(s, 1, BASE + 2 * THP, true), -EINVAL);     /* sticks out */
        assert_int_equal(heat_store_set_thp(s, 1, BASE + 64 * THP, true), -ENOENT);
        assert_int_equal(heat_store_set_thp(s, 2, BASE, true), -ENOENT);
        assert_int_equal(heat_store_set_thp(s, 1, BASE, true), 1);
        assert_int_equal(heat_store_set_thp(s, 1, BASE, true), 0);

        /* The unit is as hot as its hottest page; any address inside finds it. */
        assert_int_equal(heat_store_lookup(s, 1, BASE + 300 * PG + 5, &params, &u), 0);
        assert_int_equal(u.addr, BASE);
        assert_int_equal(u.size_bytes, THP);
        assert_true(u.entry & HEAT_F_THP);
        assert_int_equal(heat_entry_streak(u.entry), 3);
        assert_int_equal(heat_entry_idle_rounds(u.entry), 0);
        assert_int_equal(u.class, HEAT_CLASS_HOT);

        heat_store_get_stats(s, &st);
        assert_int_equal(st.thp_units, 1);
        assert_int_equal(st.units, n - 511);

        /* One pass reporting every page of the unit, in two calls, counts it once; so does a single tail page. */
        assert_int_equal(heat_store_begin_round(s, 10, 0), 0);
        assert_int_equal(heat_store_begin_pass(s), 1);
        for (uint64_t i = 0; i < n; i++)
                bit_set(bitmap, i);
        assert_int_equal(heat_store_record_bitmap(s, 1, start, 16 + 200, bitmap), 0);
        assert_int_equal(heat_store_record_bitmap(s, 1, BASE + 200 * PG, n - 216, bitmap), 0);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE)), 1);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE + THP)), 1); /* an ordinary page */
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE - PG)), 1);
        assert_int_equal(heat_store_begin_pass(s), 2);
        assert_int_equal(heat_store_record_accessed(s, 1, BASE + 511 * PG, PG), 0);
        assert_int_equal(heat_store_record_accessed(s, 1, BASE + 17 * PG, PG), 0);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE)), 2);
        assert_int_equal(heat_store_begin_pass(s), 3);
        heat_store_end_round(s);
        u.entry = entry_at(s, 1, BASE);
        assert_int_equal(heat_entry_hits(u.entry), 2);
        assert_int_equal(heat_entry_streak(u.entry), 0);
        assert_int_equal(heat_entry_idle_rounds(u.entry), 0);
        /* Ordinary pages count per page: only pass 1 reported these. */
        assert_int_equal(heat_entry_hits(entry_at(s, 1, BASE + THP + PG)), 1);
        assert_int_equal(heat_entry_hits(entry_at(s, 1, end - PG)), 1);

        /* Flags go through the head; a range of tail pages only leaves the unit alone. */
        assert_int_equal(heat_store_set_flags(s, 1, BASE + PG, 100 * PG, HEAT_F_LAZYFREE, true), 0);
        assert_false(entry_at(s, 1, BASE) & HEAT_F_LAZYFREE);
        assert_int_equal(heat_store_set_flags(s, 1, BASE, PG, HEAT_F_LAZYFREE, true), 0);
        assert_true(entry_at(s, 1, BASE) & HEAT_F_LAZYFREE);
        assert_int_equal(heat_store_set_flags(s, 1, BASE, PG, HEAT_F_LAZYFREE, false), 0);

        /* Split: every page gets the unit's history. */
        assert_int_equal(heat_store_set_thp(s, 1, BASE, false), 1);
        for (uint64_t i = 0; i < 512; i++) {
                uint16_t e = entry_at(s, 1, BASE + i * PG);

                assert_false(e & HEAT_F_THP);
                assert_int_equal(heat_entry_hits(e), 2);
                assert_int_equal(heat_entry_idle_rounds(e), 0);
        }
        heat_store_get_stats(s, &st);
        assert_int_equal(st.thp_units, 0);
        assert_int_equal(st.units, n);

        /* A VMA change that cuts through a unit splits it; a unit that stays whole stays a unit. */
        assert_int_equal(heat_store_set_thp(s, 1, BASE, true), 1);
        assert_int_equal(heat_store_set_thp(s, 1, BASE + THP, true), 1);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.thp_units, 2);
        {
                struct vma v[] = { anon(start, BASE + 100 * PG), anon(BASE + 100 * PG, end) };

                assert_int_equal(heat_store_sync_target(s, 1, v, 2), 0);
        }
        heat_store_get_stats(s, &st);
        assert_int_equal(st.thp_units, 1);
        assert_int_equal(heat_store_lookup(s, 1, BASE + 50 * PG, &params, &u), 0);
        assert_int_equal(u.size_bytes, PG);
        assert_int_equal(heat_entry_hits(u.entry), 2);
        assert_int_equal(heat_store_lookup(s, 1, BASE + 150 * PG, &params, &u), 0);
        assert_int_equal(u.size_bytes, PG);
        assert_int_equal(heat_entry_hits(u.entry), 2);
        assert_int_equal(heat_store_lookup(s, 1, BASE + THP + 7 * PG, &params, &u), 0);
        assert_int_equal(u.addr, BASE + THP);
        assert_int_equal(u.size_bytes, THP);

        /* The whole unit moving into a new VMA by address keeps it a unit. */
        sync1(s, 1, BASE + THP - 8 * PG, end + 64 * PG);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.thp_units, 1);
        assert_int_equal(heat_store_lookup(s, 1, BASE + THP + 9 * PG, &params, &u), 0);
        assert_int_equal(u.addr, BASE + THP);
        free(bitmap);
}

static void test_flags(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        uint64_t bitmap[1] = { 0x5 }; /* pages 0 and 2 */
        struct heat_histogram h = {};

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + 8 * PG);

        assert_int_equal(heat_store_set_flags(s, 1, BASE + 4 * PG + 10, 2 * PG, HEAT_F_LAZYFREE, true), 0);
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(!!(entry_at(s, 1, BASE + i * PG) & HEAT_F_LAZYFREE), i >= 4 && i <= 6);

        assert_int_equal(heat_store_set_flags_bitmap(s, 1, BASE, 4, HEAT_F_SKIP, bitmap), 0);
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(!!(entry_at(s, 1, BASE + i * PG) & HEAT_F_SKIP), i == 0 || i == 2);
        bitmap[0] = 0x2;
        assert_int_equal(heat_store_set_flags_bitmap(s, 1, BASE, 4, HEAT_F_SKIP, bitmap), 0);
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(!!(entry_at(s, 1, BASE + i * PG) & HEAT_F_SKIP), i == 1);

        /* A range that starts before the VMA (bits not aligned to words), with an all-zero word, a full one and
         * mixed ones: each page gets exactly its bit, set or cleared. */
        {
                _cleanup_heat_store_free_ struct heat_store *t = NULL;
                uint64_t words[4] = { UINT64_C(0x8000000000000001), UINT64_C(0x0123456789abcdef), 0, UINT64_MAX };

                assert_int_equal(heat_store_new(&t), 0);
                sync1(t, 1, BASE + 70 * PG, BASE + 256 * PG);
                assert_int_equal(heat_store_set_flags(t, 1, BASE + 70 * PG, 186 * PG, HEAT_F_SKIP, true), 0);
                assert_int_equal(heat_store_set_flags_bitmap(t, 1, BASE, 256, HEAT_F_SKIP, words), 0);
                for (unsigned i = 70; i < 256; i++)
                        assert_int_equal(!!(entry_at(t, 1, BASE + i * PG) & HEAT_F_SKIP), (words[i / 64] >> (i % 64)) & 1);
        }

        /* An all-zero bitmap clears a flag set before the VMA changed (the new array inherits what the old one
         * may hold: clearing skips only VMAs that never had the flag). */
        {
                _cleanup_heat_store_free_ struct heat_store *t = NULL;
                uint64_t zeros[2] = {};

                assert_int_equal(heat_store_new(&t), 0);
                sync1(t, 1, BASE, BASE + 64 * PG);
                assert_int_equal(heat_store_set_flags(t, 1, BASE + 3 * PG, PG, HEAT_F_LAZYFREE, true), 0);
                sync1(t, 1, BASE, BASE + 128 * PG);
                assert_true(entry_at(t, 1, BASE + 3 * PG) & HEAT_F_LAZYFREE);
                assert_int_equal(heat_store_set_flags_bitmap(t, 1, BASE, 128, HEAT_F_SKIP, zeros), 0);
                assert_true(entry_at(t, 1, BASE + 3 * PG) & HEAT_F_LAZYFREE);
                assert_int_equal(heat_store_set_flags_bitmap(t, 1, BASE, 128, HEAT_F_LAZYFREE, zeros), 0);
                assert_false(entry_at(t, 1, BASE + 3 * PG) & HEAT_F_LAZYFREE);
        }

        /* Flags survive rounds; flagged pages are never hot or cold. */
        for (unsigned r = 0; r < 5; r++)
                round_with(s, r, 0, 2, 1, BASE, 8, acc_all, NULL);
        assert_true(entry_at(s, 1, BASE + PG) & HEAT_F_SKIP);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + PG), &params), HEAT_CLASS_SKIPPED);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + 5 * PG), &params), HEAT_CLASS_SKIPPED);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + 7 * PG), &params), HEAT_CLASS_HOT);
        assert_int_equal(heat_store_histogram(s, 1, &params, &h), 0);
        assert_int_equal(h.lazyfree_units, 3);
        assert_int_equal(h.skip_units, 1);
        assert_int_equal(h.class_units[HEAT_CLASS_SKIPPED], 4);
        assert_int_equal(h.class_units[HEAT_CLASS_HOT], 4);
        assert_int_equal(h.class_bytes[HEAT_CLASS_HOT], 4 * PG);

        assert_int_equal(heat_store_set_flags(s, 1, BASE, 8 * PG, HEAT_F_LAZYFREE | HEAT_F_SKIP, false), 0);
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(entry_at(s, 1, BASE + i * PG) & (HEAT_F_LAZYFREE | HEAT_F_SKIP), 0);

        assert_int_equal(heat_store_set_flags(s, 1, BASE, PG, HEAT_F_THP, true), -EINVAL);
        assert_int_equal(heat_store_set_flags(s, 1, BASE, PG, HEAT_F_MOVED, true), -EINVAL);
        assert_int_equal(heat_store_set_flags(s, 1, BASE, PG, 0, true), -EINVAL);
        assert_int_equal(heat_store_set_flags(s, 2, BASE, PG, HEAT_F_SKIP, true), -ENOENT);
}

static void end_rounds(struct heat_store *s, uint64_t from, uint64_t to) {
        for (uint64_t r = from; r <= to; r++) {
                assert_int_equal(heat_store_begin_round(s, r, 0), 0);
                heat_store_end_round(s);
        }
}

/* The move table's entries are packed to the kernel's limits: what lies beyond them is refused, what lies within
 * is kept exactly, and ages stay right across the wrap of the round counter the entry keeps. */
static void test_move_entry_limits(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_move_params p = { .min_residency_rounds = 2, .pingpong_window_rounds = 8,
                                      .max_backoff_rounds = 8 };
        const uint64_t top = (UINT64_C(1) << 56) - 8 * PG; /* the highest 5-level user addresses */
        const pid_t pid_top = (1 << 22) - 1;                /* PID_MAX_LIMIT - 1 */
        const uint64_t wrap = UINT64_C(1) << 24;
        struct heat_move_info mi;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, pid_top, top, top + 8 * PG);
        assert_int_equal(heat_store_set_move_params(s, &p), 0);

        assert_int_equal(heat_store_note_move(s, 1 << 22, BASE, 0, 1, 1), -EINVAL);
        assert_int_equal(heat_store_note_move(s, 1, UINT64_C(1) << 56, 0, 1, 1), -EINVAL);
        assert_int_equal(heat_store_note_move(s, 1, BASE, 0, NODE_SET_MAX, 1), -EINVAL);

        /* The widest key and nodes, one round before the counter wraps. */
        assert_int_equal(heat_store_note_move(s, pid_top, top + PG, NODE_SET_MAX - 1, 1, wrap - 1), 0);
        assert_int_equal(heat_store_get_move(s, pid_top, top + PG, &mi), 1);
        assert_int_equal(mi.from_node, NODE_SET_MAX - 1);
        assert_int_equal(mi.to_node, 1);
        assert_int_equal(mi.last_round, wrap - 1);
        assert_true(entry_at(s, pid_top, top + PG) & HEAT_F_MOVED);
        assert_int_equal(heat_store_get_move(s, pid_top, top, &mi), 0);
        assert_int_equal(heat_store_get_move(s, pid_top - 1, top + PG, &mi), 0);

        /* Waited 2 rounds across the wrap; back within the window: a ping-pong, the wait doubles. */
        assert_false(heat_store_may_move(s, pid_top, top + PG, wrap));
        assert_true(heat_store_may_move(s, pid_top, top + PG, wrap + 1));
        assert_int_equal(heat_store_note_move(s, pid_top, top + PG, 1, NODE_SET_MAX - 1, wrap + 1), 1);
        assert_int_equal(heat_store_get_move(s, pid_top, top + PG, &mi), 1);
        assert_int_equal(mi.wait_rounds, 4);
        assert_int_equal(mi.pingpongs, 1);
        assert_false(heat_store_may_move(s, pid_top, top + PG, wrap + 4));
        assert_true(heat_store_may_move(s, pid_top, top + PG, wrap + 5));
}

static void test_moves(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_move_params p = { .min_residency_rounds = 2, .pingpong_window_rounds = 8,
                                      .max_backoff_rounds = 8 };
        const uint64_t a = BASE + 3 * PG;
        struct heat_move_info mi;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + 8 * PG);
        assert_int_equal(heat_store_set_move_params(s, &(struct heat_move_params) { 4, 8, 2 }), -EINVAL);
        assert_int_equal(heat_store_set_move_params(s, &p), 0);

        assert_true(heat_store_may_move(s, 1, a, 10));
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 0);
        assert_int_equal(heat_store_note_move(s, 1, a, 0, 1, 10), 0);
        assert_true(entry_at(s, 1, a) & HEAT_F_MOVED);
        assert_false(entry_at(s, 1, a + PG) & HEAT_F_MOVED);
        assert_true(heat_store_may_move(s, 1, a + PG, 10));

        /* Minimum residency. */
        assert_false(heat_store_may_move(s, 1, a, 10));
        assert_false(heat_store_may_move(s, 1, a, 11));
        assert_true(heat_store_may_move(s, 1, a, 12));

        /* Back where it came from within the window: a ping-pong, the wait doubles. */
        assert_int_equal(heat_store_note_move(s, 1, a, 1, 0, 12), 1);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.pingpongs, 1);
        assert_int_equal(mi.wait_rounds, 4);
        assert_int_equal(mi.from_node, 1);
        assert_int_equal(mi.to_node, 0);
        assert_int_equal(mi.last_round, 12);
        assert_false(heat_store_may_move(s, 1, a, 15));
        assert_true(heat_store_may_move(s, 1, a, 16));
        assert_int_equal(heat_store_note_move(s, 1, a, 0, 1, 16), 1);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.wait_rounds, 8);
        assert_false(heat_store_may_move(s, 1, a, 23));
        assert_true(heat_store_may_move(s, 1, a, 24));
        /* Capped. */
        assert_int_equal(heat_store_note_move(s, 1, a, 1, 0, 24), 1);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.wait_rounds, 8);
        assert_int_equal(mi.pingpongs, 3);

        /* A move onward to a third node is no ping-pong, and the back-off stays while the entry lives. */
        assert_int_equal(heat_store_note_move(s, 1, a, 0, 2, 32), 0);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.wait_rounds, 8);

        /* Expiry: the window runs from the end of the wait, so wait + max(wait, window) = 16 rounds after the last move
         * (32) the entry is swept and the marker goes. */
        end_rounds(s, 33, 48);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_true(entry_at(s, 1, a) & HEAT_F_MOVED);
        end_rounds(s, 49, 49);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 0);
        assert_false(entry_at(s, 1, a) & HEAT_F_MOVED);
        /* Forgiven: the next move back is no ping-pong. */
        assert_int_equal(heat_store_note_move(s, 1, a, 2, 0, 50), 0);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.wait_rounds, 2);
        assert_int_equal(mi.pingpongs, 0);

        /* An expired entry that was not swept yet is forgiven too: after a move at 54 with a wait of 4, the
         * window ends 4 + 8 rounds later, at 66. */
        assert_int_equal(heat_store_note_move(s, 1, a, 0, 3, 52), 0);
        assert_int_equal(heat_store_note_move(s, 1, a, 3, 0, 54), 1);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.wait_rounds, 4);
        assert_int_equal(heat_store_note_move(s, 1, a, 0, 3, 67), 0);
        assert_int_equal(heat_store_get_move(s, 1, a, &mi), 1);
        assert_int_equal(mi.wait_rounds, 2);
        assert_int_equal(mi.pingpongs, 0);

        /* A page that bounces back as soon as its wait ends keeps doubling: the window (2) counts from the end
         * of the wait, not from the move. */
        p = (struct heat_move_params) { .min_residency_rounds = 2, .pingpong_window_rounds = 2,
                                        .max_backoff_rounds = 16 };
        assert_int_equal(heat_store_set_move_params(s, &p), 0);
        assert_int_equal(heat_store_note_move(s, 1, a + PG, 0, 1, 100), 0);
        assert_int_equal(heat_store_note_move(s, 1, a + PG, 1, 0, 102), 1);
        assert_int_equal(heat_store_note_move(s, 1, a + PG, 0, 1, 106), 1); /* age 4 <= wait 4 + window 2 */
        assert_int_equal(heat_store_get_move(s, 1, a + PG, &mi), 1);
        assert_int_equal(mi.wait_rounds, 8);
        assert_int_equal(heat_store_note_move(s, 1, a + PG, 1, 0, 116), 1); /* age 10 = wait 8 + window 2 */
        assert_int_equal(heat_store_get_move(s, 1, a + PG, &mi), 1);
        assert_int_equal(mi.wait_rounds, 16);
        /* The window lasts at least as long as the wait: age 32 = wait 16 + max(16, 2) is still a ping-pong,
         * checked on a copy of the history (a second page moved the same way), one round more is forgiven. */
        assert_int_equal(heat_store_note_move(s, 1, a + 3 * PG, 0, 1, 100), 0);
        assert_int_equal(heat_store_note_move(s, 1, a + 3 * PG, 1, 0, 102), 1);
        assert_int_equal(heat_store_note_move(s, 1, a + 3 * PG, 0, 1, 106), 1);
        assert_int_equal(heat_store_note_move(s, 1, a + 3 * PG, 1, 0, 116), 1);
        assert_int_equal(heat_store_note_move(s, 1, a + 3 * PG, 0, 1, 148), 1);
        assert_int_equal(heat_store_note_move(s, 1, a + PG, 0, 1, 149), 0); /* age 33 > 16 + 16 */
        assert_int_equal(heat_store_get_move(s, 1, a + PG, &mi), 1);
        assert_int_equal(mi.wait_rounds, 2);

        /* Untracked addresses still have their history. */
        assert_int_equal(heat_store_note_move(s, 9, BASE, 0, 1, 100), 0);
        assert_false(heat_store_may_move(s, 9, BASE, 101));
        assert_true(heat_store_may_move(s, 9, BASE, 102));

        assert_int_equal(heat_store_note_move(s, 1, a + 1, 0, 1, 1), -EINVAL);
        assert_int_equal(heat_store_note_move(s, 1, a, -1, 1, 1), -EINVAL);
        assert_int_equal(heat_store_note_move(s, 1, a, 0, NODE_SET_MAX, 1), -EINVAL);
        assert_int_equal(heat_store_note_move(s, 0, a, 0, 1, 1), -EINVAL);
        /* pingpong_window_rounds = 0 turns ping-pong detection off. */
        p = (struct heat_move_params) { .min_residency_rounds = 0, .pingpong_window_rounds = 0,
                                        .max_backoff_rounds = 0 };
        assert_int_equal(heat_store_set_move_params(s, &p), 0);
        assert_int_equal(heat_store_note_move(s, 1, a + 2 * PG, 0, 1, 200), 0);
        assert_int_equal(heat_store_note_move(s, 1, a + 2 * PG, 1, 0, 200), 0);
        assert_true(heat_store_may_move(s, 1, a + 2 * PG, 200));
}

/* Many entries with staggered expiry: exercises growth, backward-shift deletion during sweeps and shrinking. */
static void test_move_table(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_move_params p = { .min_residency_rounds = 1, .pingpong_window_rounds = 4,
                                      .max_backoff_rounds = 4 };
        const unsigned n = 5000;
        struct heat_store_stats st;
        struct heat_move_info mi;
        uint64_t mem_full;

        assert_int_equal(heat_store_new(&s), 0);
        assert_int_equal(heat_store_set_move_params(s, &p), 0);
        sync1(s, 3, BASE, BASE + n * PG);
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(heat_store_note_move(s, (pid_t) (1 + i % 3), BASE + (uint64_t) i * PG, 0, 1, i % 10),
                                 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, n);
        mem_full = heat_store_memory_bytes(s);

        /* Entries live wait (1) + window (4) rounds: the end of round 10 sweeps what moved in rounds 0..4
         * (age > 5). */
        end_rounds(s, 10, 10);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, n / 2);
        for (unsigned i = 0; i < n; i++) {
                pid_t pid = (pid_t) (1 + i % 3);
                uint64_t addr = BASE + (uint64_t) i * PG;

                assert_int_equal(heat_store_get_move(s, pid, addr, &mi), i % 10 >= 5);
                if (pid == 3)
                        assert_int_equal(!!(entry_at(s, 3, addr) & HEAT_F_MOVED), i % 10 >= 5);
        }

        end_rounds(s, 100, 100);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, 0);
        assert_true(heat_store_memory_bytes(s) < mem_full);
        for (unsigned i = 2; i < n; i += 3)
                assert_false(entry_at(s, 3, BASE + (uint64_t) i * PG) & HEAT_F_MOVED);
}

/* The walk's vectorized selection against the class of every unit: for each class mask and filter, exactly the
 * units of a selected class that pass the filter are visited. The units cover every streak and idle age, a warm
 * one, never-hit ones and flagged ones, in a VMA of whole 64-slot words (the vectorized path). */
struct walk_seen {
        uint64_t bits[2];
};

static int walk_seen_on_unit(const struct heat_unit *u, void *userdata) {
        struct walk_seen *seen = userdata;
        uint64_t i = (u->addr - BASE) / PG;

        seen->bits[i / 64] |= UINT64_C(1) << (i % 64);
        return 0;
}

static void test_walk_selection_exhaustive(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const struct heat_class_params p = { .promote_rounds = 2, .cold_rounds = 3 };
        const unsigned rounds = 40, n = 128;
        const unsigned rank_mins[] = { 0, 0x21, 0x72, 0x80, 0xffff }, idle_mins[] = { 0, 5, 31, 32, 1000 };

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);
        /* Slots 0-6: a streak of 1..7; 7-37: idle 1..31; 38: warm (one pass of two); the rest never hit. */
        for (unsigned r = 1; r <= rounds; r++) {
                assert_int_equal(heat_store_begin_round(s, r, HEAT_HOT_THRESHOLD_ALL_PASSES), 0);
                for (unsigned pass = 0; pass < 2; pass++) {
                        uint64_t bm[2] = {};

                        assert_true(heat_store_begin_pass(s) >= 0);
                        for (unsigned k = 0; k < 7; k++)
                                if (r + k + 1 > rounds)
                                        bm[0] |= UINT64_C(1) << k;
                        for (unsigned j = 1; j <= 31; j++)
                                if (pass == 0 && r == rounds - j)
                                        bm[(6 + j) / 64] |= UINT64_C(1) << ((6 + j) % 64);
                        if (pass == 0 && r == rounds)
                                bm[0] |= UINT64_C(1) << 38;
                        assert_int_equal(heat_store_record_bitmap(s, 1, BASE, n, bm), 0);
                }
                heat_store_end_round(s);
        }
        /* Flagged: a hot, a cold and a never-hit one lazyfree, a warm-looking never-hit one skip. */
        assert_int_equal(heat_store_set_flags(s, 1, BASE + 6 * PG, PG, HEAT_F_LAZYFREE, true), 0);
        assert_int_equal(heat_store_set_flags(s, 1, BASE + 20 * PG, PG, HEAT_F_LAZYFREE, true), 0);
        assert_int_equal(heat_store_set_flags(s, 1, BASE + 70 * PG, PG, HEAT_F_SKIP, true), 0);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + 3 * PG), &p), HEAT_CLASS_HOT);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + 38 * PG), &p), HEAT_CLASS_WARM);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + 37 * PG), &p), HEAT_CLASS_COLD);

        for (unsigned mask = 0; mask <= HEAT_CLASS_MASK_ALL; mask++)
                for (size_t ri = 0; ri < ELEMENTSOF(rank_mins); ri++)
                        for (size_t ii = 0; ii < ELEMENTSOF(idle_mins); ii++) {
                                const struct heat_walk_filter f = { rank_mins[ri], idle_mins[ii] };
                                struct walk_seen seen = {};

                                assert_int_equal(heat_store_foreach_unit_filtered(s, 1, &p, mask, &f, walk_seen_on_unit,
                                                                                  &seen),
                                                 0);
                                for (unsigned i = 0; i < n; i++) {
                                        uint16_t e = entry_at(s, 1, BASE + i * PG);
                                        enum heat_class c = heat_entry_class(e, &p);
                                        bool want = (mask & HEAT_CLASS_MASK(c)) &&
                                                (c != HEAT_CLASS_HOT || (e & HEAT_HOT_RANK_MASK) >= f.hot_rank_min) &&
                                                (c != HEAT_CLASS_COLD || heat_entry_idle_rounds(e) >= f.cold_idle_min);

                                        if (want != !!(seen.bits[i / 64] & (UINT64_C(1) << (i % 64))))
                                                fail_msg("slot %u (entry %#x, class %d): mask %#x, rank >= %u, idle >= %u: "
                                                         "walk %s it", i, e, c, mask, f.hot_rank_min, f.cold_idle_min,
                                                         want ? "missed" : "selected");
                                }
                        }
}

/* The end of a round makes room for as many moves as the round before it made, so that the next plan's moves, whose
 * plan is held while they are noted, do not grow the table then. */
static void test_move_table_reserves(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = 4000;
        struct heat_store_stats st;
        uint64_t mem;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + 2 * n * PG);
        for (uint64_t i = 0; i < n; i++)
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 1, 0, 1), 0);
        end_rounds(s, 2, 2);
        mem = heat_store_memory_bytes(s);
        for (uint64_t i = n; i < 2 * n; i++)
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 1, 0, 2), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, 2 * n);
        assert_int_equal(heat_store_memory_bytes(s), mem);
        for (uint64_t i = 0; i < 2 * n; i += 97)
                assert_true(heat_store_get_move(s, 1, BASE + i * PG, &(struct heat_move_info) {}));

        /* Quiet rounds: it shrinks back once the entries expire. */
        end_rounds(s, 3, 100);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, 0);
        assert_true(heat_store_memory_bytes(s) < mem);
}

/* When what is past its wait is not enough, a full table forgets the oldest rounds first: a unit moved a round
 * ago keeps its wait. */
static void test_move_table_full_oldest_first(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_move_params p = { .min_residency_rounds = 4, .pingpong_window_rounds = 8,
                                      .max_backoff_rounds = 8 };
        const uint64_t n = HEAT_MOVES_MAX;
        struct heat_store_stats st;

        assert_int_equal(heat_store_new(&s), 0);
        assert_int_equal(heat_store_set_move_params(s, &p), 0);
        sync1(s, 1, BASE, BASE + 2 * n * PG);
        /* Half in round 1, a quarter each in rounds 2 and 3: nothing is past its wait of 4 in round 3. */
        for (uint64_t i = 0; i < n; i++)
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 0, 1, i < n / 2 ? 1 : i < 3 * n / 4 ? 2 : 3),
                                 0);
        assert_int_equal(heat_store_note_move(s, 1, BASE + n * PG, 0, 1, 3), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves_evictions, 1);
        assert_int_equal(st.moves, n / 2 + 1);
        assert_false(heat_store_get_move(s, 1, BASE, &(struct heat_move_info) {}));
        assert_true(heat_store_get_move(s, 1, BASE + (n / 2) * PG, &(struct heat_move_info) {}));
        assert_false(heat_store_may_move(s, 1, BASE + (n / 2) * PG, 3));
        assert_true(heat_store_may_move(s, 1, BASE, 3));
}

/* A full move table forgets early rather than stopping moves: first what is past its wait, then what is older than
 * the round; only a round that alone filled it is refused. */
static void test_move_table_full(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = HEAT_MOVES_MAX;
        struct heat_store_stats st;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + 3 * n * PG);
        /* Round 1: half the table; round 4 (past the default wait of 2): the other half. */
        for (uint64_t i = 0; i < n / 2; i++)
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 0, 1, 1), 0);
        for (uint64_t i = n / 2; i < n; i++)
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 0, 1, 4), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, n);
        assert_int_equal(st.moves_evictions, 0);

        /* Round 4 again: round 1's moves are past their wait and go; round 4's stay. */
        assert_int_equal(heat_store_note_move(s, 1, BASE + n * PG, 1, 0, 4), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, n / 2 + 1);
        assert_int_equal(st.moves_evictions, 1);
        assert_false(heat_store_get_move(s, 1, BASE, &(struct heat_move_info) {}));
        assert_true(heat_store_get_move(s, 1, BASE + (n - 1) * PG, &(struct heat_move_info) {}));
        assert_false(heat_store_may_move(s, 1, BASE + (n - 1) * PG, 5));

        /* Fill it in round 5: round 4's moves are still in their wait, but older than the round: they go too. */
        for (uint64_t i = n + 1; i < 2 * n - n / 2; i++)
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 0, 1, 5), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves, n);
        assert_int_equal(heat_store_note_move(s, 1, BASE + 2 * n * PG, 0, 1, 5), 0);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.moves_evictions, 2);
        assert_true(heat_store_may_move(s, 1, BASE + (n - 1) * PG, 5));
        assert_false(heat_store_get_move(s, 1, BASE + n * PG, &(struct heat_move_info) {}));
        assert_true(heat_store_get_move(s, 1, BASE + (n + 1) * PG, &(struct heat_move_info) {}));

        /* Round 5 alone fills it: refused. */
        for (uint64_t i = 2 * n + 1; st.moves < n; i++) {
                assert_int_equal(heat_store_note_move(s, 1, BASE + i * PG, 0, 1, 5), 0);
                heat_store_get_stats(s, &st);
        }
        assert_int_equal(heat_store_note_move(s, 1, BASE + (3 * n - 1) * PG, 0, 1, 5), -ENOSPC);
}

static void test_drop_targets(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct heat_store_stats st;
        struct heat_move_info mi;
        pid_t alive[] = { 30, 10, 4242 };

        assert_int_equal(heat_store_new(&s), 0);
        for (pid_t pid = 10; pid <= 40; pid += 10) {
                sync1(s, pid, BASE, BASE + (uint64_t) pid * PG);
                assert_int_equal(heat_store_note_move(s, pid, BASE, 0, 1, 1), 0);
        }
        heat_store_get_stats(s, &st);
        assert_int_equal(st.n_targets, 4);
        assert_int_equal(st.moves, 4);

        assert_int_equal(heat_store_drop_missing_targets(s, alive, ELEMENTSOF(alive)), 2);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.n_targets, 2);
        assert_int_equal(st.pages, 10 + 30);
        assert_int_equal(st.moves, 2);
        assert_int_equal(heat_store_get_move(s, 20, BASE, &mi), 0);
        assert_int_equal(heat_store_get_move(s, 30, BASE, &mi), 1);
        assert_int_equal(heat_store_record_accessed(s, 20, BASE, PG), -EINVAL); /* no round open */
        assert_int_equal(heat_store_begin_round(s, 2, 0), 0);
        assert_int_equal(heat_store_begin_pass(s), 1);
        assert_int_equal(heat_store_record_accessed(s, 20, BASE, PG), -ENOENT);
        assert_int_equal(heat_store_record_accessed(s, 30, BASE, PG), 0);
        heat_store_end_round(s);

        assert_int_equal(heat_store_drop_target(s, 20), -ENOENT);
        assert_int_equal(heat_store_drop_target(s, 10), 0);
        assert_int_equal(heat_store_drop_missing_targets(s, NULL, 0), 1);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.n_targets, 0);
        assert_int_equal(st.moves, 0);
        assert_int_equal(st.pages, 0);
}

static void test_memory_per_page(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t gib = UINT64_C(1) << 30, pages = gib / PG;
        struct heat_store_stats st;
        uint64_t mem;

        assert_int_equal(heat_store_new(&s), 0);
        assert_true(heat_store_memory_bytes(s) < 1024);
        assert_int_equal(heat_store_memory_bytes(NULL), 0);

        sync1(s, 1, BASE, BASE + gib);
        mem = heat_store_memory_bytes(s);
        /* 2 bytes per tracked page and a settled bit, plus a bounded overhead for the store, target and VMA
         * tables. */
        assert_true(mem >= 2 * pages + pages / 8);
        assert_true(mem <= 2 * pages + pages / 8 + 1024);

        /* A full round and THPs cost nothing extra. */
        round_with(s, 1, 0, 3, 1, BASE, pages, acc_all, NULL);
        for (uint64_t a = BASE; a < BASE + gib; a += 64 * THP)
                assert_int_equal(heat_store_set_thp(s, 1, a, true), 1);
        assert_int_equal(heat_store_memory_bytes(s), mem);

        /* 1000 more VMAs of 16 pages: the overhead per VMA stays small. */
        {
                struct vma *v = calloc(1001, sizeof(struct vma));

                assert_non_null(v);
                v[0] = anon(BASE, BASE + gib);
                for (unsigned i = 1; i <= 1000; i++)
                        v[i] = anon(BASE + gib + i * 32 * PG, BASE + gib + i * 32 * PG + 16 * PG);
                assert_int_equal(heat_store_sync_target(s, 1, v, 1001), 0);
                free(v);
        }
        heat_store_get_stats(s, &st);
        assert_int_equal(st.pages, pages + 16000);
        assert_int_equal(st.memory_bytes, heat_store_memory_bytes(s));
        assert_true(st.memory_bytes <= 2 * st.pages + st.pages / 8 + 1024 + 1000 * 72);
        assert_int_equal(st.tracked_bytes, gib + 16000 * PG);
}

struct collected {
        struct heat_unit u[64];
        size_t n;
        size_t stop_after;
};

static int collect(const struct heat_unit *u, void *userdata) {
        struct collected *c = userdata;

        if (c->n == c->stop_after)
                return -ECANCELED;
        assert_true(c->n < ELEMENTSOF(c->u));
        c->u[c->n++] = *u;
        return 0;
}

struct vma_collected {
        struct heat_vma_info v[8];
        size_t n;
};

static int collect_vma(const struct heat_vma_info *v, void *userdata) {
        struct vma_collected *c = userdata;

        assert_true(c->n < ELEMENTSOF(c->v));
        c->v[c->n++] = *v;
        return 0;
}

/* A walk paused after every few units (heat_store_walk()) meets every unit the whole walk meets, once and in
 * order: across words, VMAs, a THP and targets, and with a class mask that selects units mid-word. A target
 * dropped while the walk is paused inside it is left, and the walk goes on with the next. */
struct paused_walk {
        struct heat_unit u[1024];
        size_t n;
        size_t every; /* pause after each every-th unit */
};

static int collect_pausing(const struct heat_unit *u, void *userdata) {
        struct paused_walk *w = userdata;

        assert_true(w->n < ELEMENTSOF(w->u));
        w->u[w->n++] = *u;
        return w->n % w->every == 0;
}

static size_t walk_in_steps(struct heat_store *s, pid_t pid, unsigned mask, size_t every, pid_t drop_at,
                            struct paused_walk *w) {
        struct heat_walk_cursor cursor = {};
        size_t steps = 0;
        int r;

        *w = (struct paused_walk) { .every = every };
        do {
                r = heat_store_walk(s, pid, &params, mask, NULL, &cursor, collect_pausing, w);
                assert_true(r >= 0);
                steps++;
                if (r > 0 && drop_at > 0 && cursor.pid == drop_at) {
                        assert_int_equal(heat_store_drop_target(s, drop_at), 0);
                        drop_at = 0;
                }
        } while (r > 0);
        /* Done: the same cursor walks nothing more. */
        assert_int_equal(heat_store_walk(s, pid, &params, mask, NULL, &cursor, collect_pausing, w), 0);
        return steps;
}

static void test_walk_pauses(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        static struct paused_walk whole, stepped;
        const uint64_t thp_vma = BASE + 64 * THP;
        const unsigned masks[] = { HEAT_CLASS_MASK_ALL, HEAT_CLASS_MASK(HEAT_CLASS_HOT),
                                   HEAT_CLASS_MASK(HEAT_CLASS_COLD) };
        const size_t every[] = { 1, 2, 3, 7, 64, 65 };

        assert_int_equal(heat_store_new(&s), 0);
        {
                struct vma v[] = { anon(BASE, BASE + 200 * PG), anon(thp_vma, thp_vma + THP + 2 * PG) };

                assert_int_equal(heat_store_sync_target(s, 10, v, 2), 0);
        }
        sync1(s, 20, BASE, BASE + 130 * PG);
        sync1(s, 30, BASE, BASE + 2 * PG);
        assert_int_equal(heat_store_set_thp(s, 10, thp_vma, true), 1);
        /* Every third page of each target hot, and the THP: the hot walk selects units mid-word. */
        for (unsigned r = 0; r < 4; r++) {
                assert_int_equal(heat_store_begin_round(s, r, 0), 0);
                assert_int_equal(heat_store_begin_pass(s), 1);
                for (uint64_t i = 0; i < 200; i += 3) {
                        assert_int_equal(heat_store_record_accessed(s, 10, BASE + i * PG, PG), 0);
                        if (i < 130)
                                assert_int_equal(heat_store_record_accessed(s, 20, BASE + i * PG, PG), 0);
                }
                assert_int_equal(heat_store_record_accessed(s, 10, thp_vma + 5 * PG, PG), 0);
                heat_store_end_round(s);
        }

        for (size_t m = 0; m < ELEMENTSOF(masks); m++) {
                assert_int_equal(walk_in_steps(s, 0, masks[m], SIZE_MAX, 0, &whole), 1);
                assert_true(whole.n > 10);
                for (size_t e = 0; e < ELEMENTSOF(every); e++) {
                        size_t steps = walk_in_steps(s, 0, masks[m], every[e], 0, &stepped);

                        assert_int_equal(steps, whole.n / every[e] + 1);
                        assert_int_equal(stepped.n, whole.n);
                        for (size_t i = 0; i < whole.n; i++) {
                                assert_int_equal(stepped.u[i].pid, whole.u[i].pid);
                                assert_int_equal(stepped.u[i].addr, whole.u[i].addr);
                                assert_int_equal(stepped.u[i].size_bytes, whole.u[i].size_bytes);
                        }
                }
        }
        /* One target's walk, paused. */
        assert_int_equal(walk_in_steps(s, 20, HEAT_CLASS_MASK_ALL, SIZE_MAX, 0, &whole), 1);
        assert_int_equal(whole.n, 130);
        walk_in_steps(s, 20, HEAT_CLASS_MASK_ALL, 5, 0, &stepped);
        assert_int_equal(stepped.n, 130);
        assert_int_equal(stepped.u[129].addr, BASE + 129 * PG);

        /* pid 20 goes away while the walk is paused inside it: pid 30's two pages follow what was met of it. */
        walk_in_steps(s, 0, HEAT_CLASS_MASK_ALL, 250, 20, &stepped);
        assert_int_equal(stepped.n, 252);
        assert_int_equal(stepped.u[249].pid, 20);
        assert_int_equal(stepped.u[250].pid, 30);
        assert_int_equal(stepped.u[250].addr, BASE);
        walk_in_steps(s, 0, HEAT_CLASS_MASK_ALL, SIZE_MAX, 0, &whole);
        assert_int_equal(whole.n, 200 + 1 + 2 + 2);
        assert_int_equal(whole.u[whole.n - 1].pid, 30);
}

static void test_iteration(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        struct collected c = { .stop_after = SIZE_MAX };
        struct vma_collected vc = {};
        struct heat_class_params bad = { .promote_rounds = 0, .cold_rounds = 3 };
        struct heat_histogram h = {};
        const uint64_t thp_vma = BASE + 64 * THP;

        assert_int_equal(heat_store_new(&s), 0);
        /* Created out of order. */
        sync1(s, 30, BASE, BASE + 2 * PG);
        {
                struct vma v[] = { anon(BASE, BASE + 3 * PG), anon(thp_vma, thp_vma + THP + 2 * PG) };

                assert_int_equal(heat_store_sync_target(s, 10, v, 2), 0);
        }
        sync1(s, 20, BASE + PG, BASE + 2 * PG);
        assert_int_equal(heat_store_set_thp(s, 10, thp_vma, true), 1);

        assert_int_equal(heat_store_foreach_unit(s, 0, &params, HEAT_CLASS_MASK_ALL, collect, &c), 0);
        /* pid 10: 3 pages, the THP, 2 pages; pid 20: 1; pid 30: 2. */
        assert_int_equal(c.n, 3 + 1 + 2 + 1 + 2);
        for (size_t i = 1; i < c.n; i++)
                assert_true(c.u[i - 1].pid < c.u[i].pid ||
                            (c.u[i - 1].pid == c.u[i].pid && c.u[i - 1].addr < c.u[i].addr));
        assert_int_equal(c.u[3].addr, thp_vma);
        assert_int_equal(c.u[3].size_bytes, THP);
        assert_int_equal(c.u[4].addr, thp_vma + THP);
        assert_int_equal(c.u[4].size_bytes, PG);
        assert_int_equal(c.u[6].pid, 20);
        assert_int_equal(c.u[8].pid, 30);

        /* Class filter: after four rounds with only pid 10's first page and the THP accessed, those are hot
         * and the rest is cold. */
        for (unsigned r = 0; r < 4; r++) {
                assert_int_equal(heat_store_begin_round(s, r, 0), 0);
                assert_int_equal(heat_store_begin_pass(s), 1);
                assert_int_equal(heat_store_record_accessed(s, 10, BASE, PG), 0);
                assert_int_equal(heat_store_record_accessed(s, 10, thp_vma + 100 * PG, PG), 0);
                heat_store_end_round(s);
        }
        c = (struct collected) { .stop_after = SIZE_MAX };
        assert_int_equal(heat_store_foreach_unit(s, 0, &params, HEAT_CLASS_MASK(HEAT_CLASS_HOT), collect, &c), 0);
        assert_int_equal(c.n, 2);
        assert_int_equal(c.u[0].addr, BASE);
        assert_int_equal(c.u[1].addr, thp_vma);
        assert_int_equal(c.u[1].class, HEAT_CLASS_HOT);
        c = (struct collected) { .stop_after = SIZE_MAX };
        assert_int_equal(heat_store_foreach_unit(s, 20, &params, HEAT_CLASS_MASK(HEAT_CLASS_COLD), collect, &c), 0);
        assert_int_equal(c.n, 1);
        assert_int_equal(heat_entry_idle_rounds(c.u[0].entry), 4);

        /* A negative return stops the walk. */
        c = (struct collected) { .stop_after = 2 };
        assert_int_equal(heat_store_foreach_unit(s, 0, &params, HEAT_CLASS_MASK_ALL, collect, &c), -ECANCELED);
        assert_int_equal(c.n, 2);

        assert_int_equal(heat_store_foreach_unit(s, 11, &params, HEAT_CLASS_MASK_ALL, collect, &c), -ENOENT);
        assert_int_equal(heat_store_foreach_unit(s, 0, &bad, HEAT_CLASS_MASK_ALL, collect, &c), -EINVAL);

        /* Per-VMA histograms, in order. */
        assert_int_equal(heat_store_foreach_vma(s, 10, &params, collect_vma, &vc), 0);
        assert_int_equal(vc.n, 2);
        assert_int_equal(vc.v[0].start, BASE);
        assert_int_equal(vc.v[0].histogram.units, 3);
        assert_int_equal(vc.v[0].histogram.hits[1], 1);
        assert_int_equal(vc.v[0].histogram.hits[0], 2);
        assert_int_equal(vc.v[0].histogram.class_units[HEAT_CLASS_COLD], 2);
        assert_int_equal(vc.v[1].start, thp_vma);
        assert_int_equal(vc.v[1].histogram.units, 3);
        assert_int_equal(vc.v[1].histogram.pages, 514);
        assert_int_equal(vc.v[1].histogram.thp_units, 1);
        assert_int_equal(vc.v[1].histogram.class_bytes[HEAT_CLASS_HOT], THP);
        assert_int_equal(vc.v[1].histogram.streak[4], 1);
        assert_int_equal(vc.v[1].histogram.idle[4], 2);

        assert_int_equal(heat_store_histogram(s, 0, &params, &h), 0);
        assert_int_equal(h.units, 9);
        assert_int_equal(h.pages, 3 + 514 + 1 + 2);
        assert_int_equal(h.class_units[HEAT_CLASS_HOT], 2);
        assert_int_equal(h.class_units[HEAT_CLASS_COLD], 7);

        assert_string_equal(heat_class_to_string(HEAT_CLASS_COLD), "cold");
        assert_null(heat_class_to_string(_HEAT_CLASS_MAX));
}

static int count_unit(const struct heat_unit *u, void *userdata) {
        struct heat_histogram *h = userdata;

        h->units++;
        h->pages += u->size_bytes / PG;
        h->thp_units += u->size_bytes == THP;
        h->hits[heat_entry_hits(u->entry)]++;
        h->streak[heat_entry_streak(u->entry)]++;
        h->idle[heat_entry_idle_rounds(u->entry)]++;
        h->class_units[u->class]++;
        h->class_bytes[u->class] += u->size_bytes;
        h->lazyfree_units += !!(u->entry & HEAT_F_LAZYFREE);
        h->skip_units += !!(u->entry & HEAT_F_SKIP);
        h->moved_units += !!(u->entry & HEAT_F_MOVED);
        return 0;
}

/* Large VMAs are counted through a table of raw entry values: it must agree with a walk over the units. */
static void test_histogram_large_vma(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = 1 << 17, start = BASE + 5 * PG; /* not 2 MiB aligned */
        struct heat_histogram by_table = {}, by_walk = {};
        struct vma v[] = { anon(start, start + n * PG), anon(start + (n + 8) * PG, start + (n + 40) * PG) };

        assert_int_equal(heat_store_new(&s), 0);
        assert_int_equal(heat_store_sync_target(s, 1, v, 2), 0);
        give_history(s, 1, start, n + 40);
        for (uint64_t a = BASE + THP; a + THP <= start + n * PG; a += 7 * THP)
                assert_int_equal(heat_store_set_thp(s, 1, a, true), 1);
        assert_int_equal(heat_store_set_flags(s, 1, start + 1000 * PG, 3000 * PG, HEAT_F_LAZYFREE, true), 0);
        assert_int_equal(heat_store_set_flags(s, 1, start + 2000 * PG, 3000 * PG, HEAT_F_SKIP, true), 0);
        assert_int_equal(heat_store_note_move(s, 1, start + 77 * PG, 0, 1, 1), 0);

        assert_int_equal(heat_store_histogram(s, 1, &params, &by_table), 0);
        assert_int_equal(heat_store_foreach_unit(s, 1, &params, HEAT_CLASS_MASK_ALL, count_unit, &by_walk), 0);
        assert_int_equal(by_table.pages, n + 32);
        assert_true(by_table.thp_units > 10);
        assert_true(by_table.class_units[HEAT_CLASS_HOT] > 0);
        assert_true(by_table.class_units[HEAT_CLASS_COLD] > 0);
        assert_int_equal(by_table.moved_units, 1);
        assert_memory_equal(&by_table, &by_walk, sizeof(by_table));

        /* Walks selecting one class (through the walk's own class lookup) agree with the counts. */
        for (unsigned c = 0; c < _HEAT_CLASS_MAX; c++) {
                struct heat_histogram one = {};

                assert_int_equal(heat_store_foreach_unit(s, 0, &params, HEAT_CLASS_MASK(c), count_unit, &one), 0);
                assert_int_equal(one.units, by_table.class_units[c]);
                assert_int_equal(one.class_units[c], by_table.class_units[c]);
                assert_true(one.units > 0);
        }
}

/* Page i's trend by i % 4: 0 always hot, 1 always idle, 2 hot until round `flip` then idle, 3 the reverse. */
static bool acc_trend(uint64_t i, unsigned pass _unused_, void *u) {
        const unsigned *round_and_flip = u;
        bool late = round_and_flip[0] >= round_and_flip[1];

        switch (i % 4) {
        case 0:
                return true;
        case 1:
                return false;
        case 2:
                return !late;
        default:
                return late;
        }
}

static uint64_t settle_all(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n, enum heat_settle where) {
        uint64_t marked = 0;

        for (uint64_t i = 0; i < n; i++) {
                int r = heat_store_settle(s, pid, start + i * PG, where);

                assert_true(r == 0 || r == 1);
                marked += (uint64_t) r;
        }
        return marked;
}

static void test_settled_trend(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        /* 200 pages: 3 bitmap words go through the 64-entry fold, the last 8 pages through the one-by-one tail.
         * With 4 words, begin_round() re-verifies word w in rounds 8k + 2w + 1, so even rounds keep them all. */
        const uint64_t n = 200;
        unsigned rf[2] = { 2, 4 };

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);

        /* No trend yet: nothing can be settled. */
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_FASTEST), 0);
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_SLOWEST), 0);
        assert_int_equal(heat_store_settle(s, 1, BASE, 7), -EINVAL);
        assert_int_equal(heat_store_settle(s, 2, BASE, HEAT_SETTLE_FASTEST), -ENOENT);
        assert_int_equal(heat_store_settle(s, 1, BASE + n * PG, HEAT_SETTLE_FASTEST), -ENOENT);

        round_with(s, 2, 0, 2, 1, BASE, n, acc_trend, rf);
        /* Pages on a streak can be settled on the fastest tier, idle ones on the slowest, not the other way. */
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_FASTEST), n / 2);
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_SLOWEST), n / 2);
        assert_int_equal(heat_store_settled_units(s), n);

        /* Pages 2 and 3 (mod 4) turn: they lose the bit, the others keep it, also once streak and idle age
         * saturate. */
        for (rf[0] = 4; rf[0] <= 80; rf[0] += 2) {
                round_with(s, rf[0], 0, 2, 1, BASE, n, acc_trend, rf);
                assert_int_equal(heat_store_settled_units(s), n / 2);
                for (uint64_t i = 0; i < n; i++)
                        assert_int_equal(heat_store_is_settled(s, 1, BASE + i * PG), i % 4 < 2);
        }
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE)), HEAT_STREAK_MAX);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE + PG)), HEAT_IDLE_MAX);

        /* A round without a pass carries no information: the bits stay. */
        assert_int_equal(heat_store_begin_round(s, 82, 0), 0);
        heat_store_end_round(s);
        assert_int_equal(heat_store_settled_units(s), n / 2);

        /* Round 81 + 8 = 89 re-verifies word 0: pages 0..63 are located again, the rest stay settled. */
        round_with(s, 89, 0, 2, 1, BASE, n, acc_trend, rf);
        assert_int_equal(heat_store_settled_units(s), n / 2 - 32);
        assert_false(heat_store_is_settled(s, 1, BASE));
        assert_true(heat_store_is_settled(s, 1, BASE + 64 * PG));
        /* Within HEAT_SETTLED_VERIFY_ROUNDS consecutive rounds every word is re-verified once. */
        for (unsigned r = 90; r < 90 + HEAT_SETTLED_VERIFY_ROUNDS; r++)
                round_with(s, r, 0, 2, 1, BASE, n, acc_trend, rf);
        assert_int_equal(heat_store_settled_units(s), 0);

        /* Settled again, then forgotten all at once (the tiers changed). */
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_FASTEST), n / 2);
        heat_store_unsettle_all(s);
        assert_int_equal(heat_store_settled_units(s), 0);
        heat_store_unsettle_all(NULL);
        assert_int_equal(heat_store_settled_units(NULL), 0);
        assert_false(heat_store_is_settled(NULL, 1, BASE));
}

static bool acc_pass0_of_odd(uint64_t i, unsigned pass, void *u _unused_) {
        return pass == 0 && i % 2 == 1;
}

/* A stray hit keeps a unit settled on the slowest tier (warm units stay where they are); reaching the threshold
 * does not. */
static void test_settled_stray_hit(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = 130;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);
        round_with(s, 2, 0, 2, 1, BASE, n, acc_none, NULL);
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_SLOWEST), n);

        /* Odd pages hit in one pass of two: warm, still settled. */
        round_with(s, 4, 0, 2, 1, BASE, n, acc_pass0_of_odd, NULL);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE + PG)), 0);
        assert_int_equal(heat_entry_class(entry_at(s, 1, BASE + PG), &params), HEAT_CLASS_WARM);
        assert_int_equal(heat_store_settled_units(s), n);

        /* With a threshold of one pass the same hit starts a streak: the bit goes. */
        round_with(s, 6, 1, 2, 1, BASE, n, acc_pass0_of_odd, NULL);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + PG)), 1);
        assert_int_equal(heat_store_settled_units(s), n / 2);
        for (uint64_t i = 0; i < n; i++)
                assert_int_equal(heat_store_is_settled(s, 1, BASE + i * PG), i % 2 == 0);
}

static bool acc_even(uint64_t i, unsigned pass _unused_, void *u _unused_) {
        return i % 2 == 0;
}

/* Where the backend says units are: settled bits follow, set and cleared, a streak for the fastest tier, an idle
 * age for the slowest; flagged units and units in neither bitmap are never settled. */
/* Pages [0, split) in first, [split, end) in second (4 words each), the rest in neither. */
static void tiers_split(uint64_t first[static 4], uint64_t second[static 4], uint64_t split, uint64_t end) {
        memset(first, 0, 4 * sizeof(uint64_t));
        memset(second, 0, 4 * sizeof(uint64_t));
        for (uint64_t i = 0; i < end; i++)
                bit_set(i < split ? first : second, i);
}

static void test_settle_bitmap(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        /* 3 pages into the VMA so that the bitmap's words and the store's words do not line up. */
        const uint64_t n = 200, start = BASE + 3 * PG;
        uint64_t fastest[4] = {}, slowest[4] = {};

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + (n + 3) * PG);
        /* Even pages hot (a streak), odd ones idle. */
        round_with(s, 2, 0, 2, 1, start, n, acc_even, NULL);
        assert_int_equal(heat_store_set_flags(s, 1, start + 4 * PG, PG, HEAT_F_SKIP, true), 0);

        /* Pages 0..99 on the fastest tier, 100..197 on the slowest, 198 and 199 nowhere (not present). */
        tiers_split(fastest, slowest, 100, 198);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, 1, 0), 0);
        for (uint64_t i = 0; i < n; i++) {
                bool want = i < 100 ? i % 2 == 0 && i != 4 : i < 198 && i % 2 == 1;

                assert_int_equal(heat_store_is_settled(s, 1, start + i * PG), want);
        }
        assert_false(heat_store_is_settled(s, 1, BASE));

        /* The kernel swapped the tiers of pages 0..99 and 100..197: what was settled is no longer, and the other
         * half settles. */
        tiers_split(slowest, fastest, 100, 198);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, 1, 0), 0);
        for (uint64_t i = 0; i < n; i++) {
                bool want = i < 100 ? i % 2 == 1 : i < 198 && i % 2 == 0;

                assert_int_equal(heat_store_is_settled(s, 1, start + i * PG), want);
        }

        /* Settled on the slowest tier, a stray hit keeps the bit (no streak); one without a history is not
         * settled (no idle age). */
        round_with(s, 4, 2, 2, 1, start, n, acc_pass0_of_odd, NULL);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, start + PG)), 0);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, 1, 0), 0);
        assert_true(heat_store_is_settled(s, 1, start + PG));

        /* On the fastest tier only hot units settle: with promote_rounds 3, a streak of 2 is not enough (and a
         * unit settled there before stays only while hot). */
        round_with(s, 6, 1, 1, 1, start, n, acc_even, NULL);
        round_with(s, 8, 1, 1, 1, start, n, acc_even, NULL);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, start + 100 * PG)), 2);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, 3, 0), 0);
        assert_false(heat_store_is_settled(s, 1, start + 100 * PG));
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, 2, 0), 0);
        assert_true(heat_store_is_settled(s, 1, start + 100 * PG));

        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, 0, 0), -EINVAL);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, fastest, slowest, HEAT_STREAK_MAX + 1, 0), -EINVAL);
        assert_int_equal(heat_store_settle_bitmap(s, 2, start, n, fastest, slowest, 1, 0), -ENOENT);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start, n, NULL, slowest, 1, 0), -EINVAL);
        assert_int_equal(heat_store_settle_bitmap(NULL, 1, start, n, fastest, slowest, 1, 0), -EINVAL);
        assert_int_equal(heat_store_settle_bitmap(s, 1, start + 1, n, fastest, slowest, 1, 0), -EINVAL);
}

static uint64_t popcount_bits(const uint64_t *bitmap, uint64_t n) {
        uint64_t c = 0;

        for (uint64_t i = 0; i < n; i++)
                c += (bitmap[i / 64] >> (i % 64)) & 1;
        return c;
}

/* A round as a partial-observation backend runs it: what it records is limited to what the store observes. */
static void round_observed(struct heat_store *s, uint64_t round_no, unsigned passes, uint64_t start, uint64_t n,
                           bool (*accessed)(uint64_t i, unsigned pass, void *u), uint64_t *ret_observed) {
        uint64_t words = (n + 63) / 64;
        _cleanup_free_ uint64_t *observed = calloc(words, sizeof(uint64_t));
        _cleanup_free_ uint64_t *bitmap = calloc(words, sizeof(uint64_t));

        assert_non_null(observed);
        assert_non_null(bitmap);
        assert_int_equal(heat_store_begin_round(s, round_no, 0), 0);
        assert_int_equal(heat_store_observed_bitmap(s, 1, start, n, observed), 0);
        *ret_observed = popcount_bits(observed, n);
        for (unsigned p = 0; p < passes; p++) {
                assert_int_equal(heat_store_begin_pass(s), (int) p + 1);
                memset(bitmap, 0, words * sizeof(uint64_t));
                for (uint64_t i = 0; i < n; i++)
                        if (accessed(i, p, NULL) && ((observed[i / 64] >> (i % 64)) & 1))
                                bit_set(bitmap, i);
                assert_int_equal(heat_store_record_bitmap(s, 1, start, n, bitmap), 0);
        }
        heat_store_end_round(s);
}

static bool acc_first_half(uint64_t i, unsigned pass _unused_, void *u _unused_) {
        return i < 100;
}

/* THP tails carry no heat and no settled bit of their own: a VMA of settled THPs is left to its samples and its
 * re-verification slice like any settled memory, not looked at in full because its tails never settle. */
static void test_partial_observation_thp(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = 4 * HEAT_THP_PAGES; /* 32 words; round r re-verifies words 4 (r % 8) .. 4 (r % 8) + 3,
                                                * the heads sit in words 0, 8, 16 and 24 */
        uint64_t observed;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);
        heat_store_set_partial_observation(s, true);
        for (unsigned k = 0; k < 4; k++)
                assert_int_equal(heat_store_set_thp(s, 1, BASE + k * THP, true), 1);

        /* Nothing settled: the heads' words are observed in full, the 28 words of tails by their samples only. */
        round_observed(s, 2, 2, BASE, n, acc_none, &observed);
        assert_int_equal(observed, 4 * 64 + 28);
        round_observed(s, 4, 2, BASE, n, acc_none, &observed);
        for (unsigned k = 0; k < 4; k++)
                assert_int_equal(heat_store_settle(s, 1, BASE + k * THP, HEAT_SETTLE_SLOWEST), 1);
        assert_int_equal(heat_store_settled_units(s), 4);

        /* Settled heads: every word is left to its sample. */
        round_observed(s, 9, 2, BASE, n, acc_none, &observed);
        assert_int_equal(observed, 32);
        /* Round 16 re-verifies words 0-3: the first head's word is observed in full again. */
        round_observed(s, 16, 2, BASE, n, acc_none, &observed);
        assert_int_equal(observed, 64 + 31);
        /* Its bit went with the slice, for whoever locates it (the policy, page_idle by PFN) to set again. */
        assert_int_equal(heat_store_settled_units(s), 3);

        /* A settled head is sampled when its slot's turn comes, once in 64 rounds: head 3 (word 24, 23 * 24 = 40
         * mod 64) in rounds 64k + 24. Heat arriving everywhere in round 24 is seen by it (and by head 0, not
         * settled), not by heads 1 and 2; head 3 loses its bit, and its word is looked at in full in round 25. */
        round_observed(s, 24, 2, BASE, n, acc_all, &observed);
        assert_int_equal(observed, 64 + 31);
        assert_int_equal(heat_store_settled_units(s), 2);
        assert_false(heat_store_is_settled(s, 1, BASE + 3 * THP));
        round_observed(s, 25, 2, BASE, n, acc_none, &observed);
        assert_int_equal(observed, 2 * 64 + 30);
}

/* n pages of pid 1 at BASE with partial observation: rounds 2 and 4 hit the first 100 pages in every pass, then
 * the first 100 are settled on the fastest tier and the rest on the slowest. Returns what round 4 observed. */
static uint64_t settled_layout(struct heat_store *s, uint64_t n) {
        uint64_t observed;

        sync1(s, 1, BASE, BASE + n * PG);
        heat_store_set_partial_observation(s, true);
        round_observed(s, 2, 2, BASE, n, acc_first_half, &observed);
        assert_int_equal(observed, n);
        round_observed(s, 4, 2, BASE, n, acc_first_half, &observed);
        assert_int_equal(settle_all(s, 1, BASE, 100, HEAT_SETTLE_FASTEST), 100);
        assert_int_equal(settle_all(s, 1, BASE + 100 * PG, n - 100, HEAT_SETTLE_SLOWEST), n - 100);
        return observed;
}

/* A watched unit's word is observed in full the next round, settled or not, and only that round: the payoff
 * ledger's way to see what a moved unit does (test_partial_observation's layout: 200 pages, all settled). */
static void test_watch_unit(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = 200;
        uint64_t observed;

        assert_int_equal(heat_store_new(&s), 0);
        settled_layout(s, n);
        round_observed(s, 6, 2, BASE, n, acc_first_half, &observed);
        assert_int_equal(observed, 4);

        assert_int_equal(heat_store_watch_unit(s, 1, BASE + 150 * PG), 0);
        round_observed(s, 8, 2, BASE, n, acc_first_half, &observed);
        assert_int_equal(observed, 3 + 64);
        assert_true(heat_store_is_settled(s, 1, BASE + 150 * PG));
        round_observed(s, 10, 2, BASE, n, acc_first_half, &observed);
        assert_int_equal(observed, 4);

        assert_int_equal(heat_store_watch_unit(s, 1, BASE + n * PG), -ENOENT);
        assert_int_equal(heat_store_watch_unit(s, 2, BASE), -ENOENT);
        assert_int_equal(heat_store_watch_unit(NULL, 1, BASE), -EINVAL);
}

static void test_partial_observation(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        /* 4 settled words (the last one of 8 slots); begin_round() re-verifies word w in rounds 8k + 2w + 1, so
         * even rounds leave settled words alone. Page i sits in the first 100 (hot) or the rest (cold). */
        const uint64_t n = 200;
        struct heat_store_stats st;
        uint64_t observed, bits[4];

        assert_int_equal(heat_store_new(&s), 0);
        /* Nothing settled: everything is observed (rounds 2 and 4 of the layout). */
        assert_int_equal(settled_layout(s, n), n);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.observed_pages, n);

        /* All settled: one sampled slot per word, a different one each round. */
        round_observed(s, 6, 2, BASE, n, acc_first_half, &observed);
        assert_int_equal(observed, 4);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.observed_pages, 4);
        assert_int_equal(heat_store_settled_units(s), n);
        /* Round 6 samples slot 6 of word 0 (and 93, 180, 195): it was folded, the pages left out were not. */
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 6 * PG)), 3);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 63 * PG)), 2);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE + 180 * PG)), 3);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE + 181 * PG)), 2);

        /* The sample moves from round to round (round 6 and 8 differ in every word). */
        assert_int_equal(heat_store_begin_round(s, 8, 0), 0);
        assert_int_equal(heat_store_observed_bitmap(s, 1, BASE, n, bits), 0);
        heat_store_end_round(s);
        for (unsigned w = 0; w < 4; w++)
                assert_int_equal(__builtin_popcountll(w < 3 ? bits[w] : bits[w] & 0xff), 1);

        /* Heat arrives everywhere: sampled slots see it and lose the bit (184 and 199, the two cold words'
         * samples; the hot words' samples keep their streak). Their words get a full look the round after. */
        round_observed(s, 10, 2, BASE, n, acc_all, &observed);
        assert_int_equal(observed, 4);
        assert_int_equal(heat_store_settled_units(s), n - 2);
        assert_false(heat_store_is_settled(s, 1, BASE + 184 * PG));
        assert_false(heat_store_is_settled(s, 1, BASE + 199 * PG));
        round_observed(s, 12, 2, BASE, n, acc_all, &observed);
        assert_int_equal(observed, 1 + 1 + 64 + 8);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.observed_pages, 74);
        /* In the looked-at words every unit saw the heat: a streak begun, the bit gone. In the others, the
         * settled units kept theirs unseen (a slice or their sample will come). */
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 184 * PG)), 2);
        assert_int_equal(heat_entry_streak(entry_at(s, 1, BASE + 185 * PG)), 1);
        assert_false(heat_store_is_settled(s, 1, BASE + 185 * PG));
        assert_int_equal(heat_store_settled_units(s), 128);
        /* Nothing turned unseen in round 12: round 14 looks at the unsettled units and the samples only. */
        round_observed(s, 14, 2, BASE, n, acc_all, &observed);
        assert_int_equal(observed, 1 + 1 + 64 + 8);
        /* But word 1's sample in round 14 (slot 101, settled cold) turned: round 16 looks at all of word 1. */
        assert_false(heat_store_is_settled(s, 1, BASE + 101 * PG));
        round_observed(s, 16, 2, BASE, n, acc_none, &observed);
        assert_int_equal(observed, 1 + 64 + 64 + 8);

        /* Round 19 re-verifies word 1 (of 4 words: rounds 8k + 3); settled again before the backend asks (as
         * page_idle does by PFN), the word is still observed in full. */
        assert_int_equal(heat_store_begin_round(s, 19, 0), 0);
        assert_false(heat_store_is_settled(s, 1, BASE + 64 * PG));
        assert_int_equal(settle_all(s, 1, BASE + 64 * PG, 64, HEAT_SETTLE_SLOWEST), 64); /* idle since round 16 */
        assert_int_equal(heat_store_observed_bitmap(s, 1, BASE, n, bits), 0);
        assert_int_equal(bits[1], UINT64_MAX);
        heat_store_end_round(s);

        /* Without partial observation (a backend that cannot), every page is. */
        heat_store_set_partial_observation(s, false);
        round_observed(s, 14, 2, BASE, n, acc_all, &observed);
        assert_int_equal(observed, n);
        heat_store_get_stats(s, &st);
        assert_int_equal(st.observed_pages, n);

        /* Outside a round every page counts as observed; errors. */
        heat_store_set_partial_observation(s, true);
        memset(bits, 0, sizeof(bits));
        assert_int_equal(heat_store_observed_bitmap(s, 1, BASE, n, bits), 0);
        assert_int_equal(popcount_bits(bits, n), n);
        assert_int_equal(heat_store_observed_bitmap(s, 2, BASE, n, bits), -ENOENT);
        assert_int_equal(heat_store_observed_bitmap(s, 1, BASE, n, NULL), -EINVAL);
        assert_int_equal(heat_store_observed_bitmap(NULL, 1, BASE, n, bits), -EINVAL);
        heat_store_set_partial_observation(NULL, true);
}

static int count_units(const struct heat_unit *u _unused_, void *userdata) {
        (*(uint64_t *) userdata)++;
        return 0;
}

static uint64_t walk_count(struct heat_store *s, unsigned mask) {
        uint64_t n = 0;

        assert_int_equal(heat_store_foreach_unit(s, 0, &params, mask, count_units, &n), 0);
        return n;
}

static void test_settled_walk(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const unsigned hot = HEAT_CLASS_MASK(HEAT_CLASS_HOT), candidates = hot | HEAT_CLASS_MASK(HEAT_CLASS_COLD) |
                HEAT_CLASS_MASK(HEAT_CLASS_SKIPPED);
        /* 130 pages: two whole words (the walk's one-load skip) and 2 pages after them. */
        const uint64_t n = 130;
        struct vma grown[2] = { anon(BASE, BASE + n * PG), anon(BASE + THP, BASE + 2 * THP) };
        uint64_t n_units = 0;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);
        for (unsigned r = 2; r <= 6; r += 2)
                round_with(s, r, 0, 2, 1, BASE, n, acc_all, NULL);
        assert_int_equal(walk_count(s, candidates | HEAT_WALK_UNSETTLED), n);
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_FASTEST), n);
        assert_int_equal(walk_count(s, candidates | HEAT_WALK_UNSETTLED), 0);
        assert_int_equal(walk_count(s, candidates), n);
        assert_int_equal(heat_store_foreach_unit(s, 0, &params, candidates | (1U << 20), count_units, &n_units),
                         -EINVAL);

        /* A flagged unit is never moved: it leaves the settled units and is walked (to be counted as skipped). */
        assert_int_equal(heat_store_set_flags(s, 1, BASE + 5 * PG, PG, HEAT_F_SKIP, true), 0);
        assert_int_equal(heat_store_set_flags(s, 1, BASE + 129 * PG, PG, HEAT_F_LAZYFREE, true), 0);
        assert_false(heat_store_is_settled(s, 1, BASE + 5 * PG));
        assert_int_equal(walk_count(s, candidates | HEAT_WALK_UNSETTLED), 2);
        assert_int_equal(walk_count(s, hot | HEAT_WALK_UNSETTLED), 0);

        /* An unchanged VMA keeps its bits through a resync, a changed one starts over. */
        sync1(s, 1, BASE, BASE + n * PG);
        assert_int_equal(heat_store_settled_units(s), n - 2);
        assert_int_equal(heat_store_sync_target(s, 1, grown, 2), 0);
        assert_int_equal(heat_store_settled_units(s), n - 2);
        sync1(s, 1, BASE, BASE + (n + 1) * PG);
        assert_int_equal(heat_store_settled_units(s), 0);
}

/* A round as page_idle runs it: where every unit is (settling and parking) before asking what to observe. */
static void round_placed(struct heat_store *s, uint64_t round_no, uint64_t n, const uint64_t *fastest,
                         const uint64_t *slowest, unsigned park_idle, bool (*accessed)(uint64_t i, unsigned pass, void *u),
                         uint64_t *ret_observed) {
        uint64_t observed[4] = {}, bitmap[4];

        assert_true(n <= 256);
        assert_int_equal(heat_store_begin_round(s, round_no, 0), 0);
        assert_int_equal(heat_store_settle_bitmap(s, 1, BASE, n, fastest, slowest, 1, park_idle), 0);
        assert_int_equal(heat_store_observed_bitmap(s, 1, BASE, n, observed), 0);
        *ret_observed = popcount_bits(observed, n);
        for (unsigned p = 0; p < 2; p++) {
                assert_int_equal(heat_store_begin_pass(s), (int) p + 1);
                memset(bitmap, 0, sizeof(bitmap));
                for (uint64_t i = 0; i < n; i++)
                        if (accessed(i, p, NULL) && ((observed[i / 64] >> (i % 64)) & 1))
                                bit_set(bitmap, i);
                assert_int_equal(heat_store_record_bitmap(s, 1, BASE, n, bitmap), 0);
        }
        heat_store_end_round(s);
}

/* A store with partial observation on and one VMA of n pages at BASE, of which the first split lie on the fastest
 * tier and the rest on the slowest (as page_idle would report them). */
static struct heat_store *placed_store(uint64_t n, uint64_t split, uint64_t fastest[static 4],
                                       uint64_t slowest[static 4]) {
        struct heat_store *s = NULL;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + n * PG);
        heat_store_set_partial_observation(s, true);
        tiers_split(fastest, slowest, split, n);
        return s;
}

static uint64_t parked_units(const struct heat_store *s) {
        struct heat_store_stats st;

        heat_store_get_stats(s, &st);
        return st.parked_units;
}

/* Cold units on the fastest tier are parked: observed like settled ones, offered to walks for cold units only
 * where the last round observed them, and all looked at again while the policy holds parking. */
static void test_parked_units(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const unsigned cold = HEAT_CLASS_MASK(HEAT_CLASS_COLD) | HEAT_WALK_UNSETTLED;
        /* 4 words: 0..2 on the fastest tier, 3 on the slowest. With 4 words, round 8k + 2w + 1 re-verifies
         * word w (its slice) and even rounds none. */
        const uint64_t n = 256;
        uint64_t fastest[4], slowest[4], observed;

        s = placed_store(n, 192, fastest, slowest);

        /* Nothing is parked before cold_rounds (3) rounds without a hit; the slowest tier settles at 1. */
        for (unsigned r = 2; r <= 6; r += 2) {
                round_placed(s, r, n, fastest, slowest, 3, acc_none, &observed);
                assert_int_equal(parked_units(s), 0);
        }
        assert_int_equal(heat_store_settled_units(s), 64);
        assert_int_equal(walk_count(s, cold), 192);

        /* Round 8 parks them: each word is left to its sample. */
        round_placed(s, 8, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(parked_units(s), 192);
        assert_int_equal(observed, 4);
        assert_int_equal(heat_store_settled_units(s), n);
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE + 8 * PG)), 4); /* word 0's sample */
        assert_int_equal(heat_entry_idle_rounds(entry_at(s, 1, BASE + 9 * PG)), 3);
        /* Only words the round looked at in full offer their parked units for demotion (not lone samples);
         * the slowest tier's settled units are never offered. */
        assert_int_equal(walk_count(s, cold), 0);
        assert_int_equal(walk_count(s, HEAT_CLASS_MASK(HEAT_CLASS_HOT) | HEAT_WALK_UNSETTLED), 0);
        /* All 192 are cold; the slowest tier's units settled at an idle age of 1 and have only been sampled since. */
        assert_int_equal(walk_count(s, HEAT_CLASS_MASK(HEAT_CLASS_COLD)), 192);

        /* Round 9 re-verifies word 0: looked at in full, it is offered whole. */
        round_placed(s, 9, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(observed, 64 + 3);
        assert_int_equal(walk_count(s, cold), 64);

        /* Heat reaches the samples (slot 10 of word 0): they lose the bit, their words get a full look. */
        round_placed(s, 10, n, fastest, slowest, 3, acc_all, &observed);
        assert_int_equal(observed, 4);
        assert_false(heat_store_is_settled(s, 1, BASE + 10 * PG));
        assert_true(heat_store_is_settled(s, 1, BASE + 11 * PG));
        round_placed(s, 12, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(observed, n);

        /* Held (too few cold units offered): nothing parks, every unit of the fastest tier is observed. */
        heat_store_hold_parking(s, true);
        round_placed(s, 14, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(parked_units(s), 0);
        assert_int_equal(observed, 192 + 1);
        assert_int_equal(walk_count(s, HEAT_CLASS_MASK_ALL | HEAT_WALK_UNSETTLED), 192);
        heat_store_hold_parking(s, false);
        /* Released, it parks again all but the three samples heated in round 10 (idle for 2 rounds only). */
        round_placed(s, 16, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(parked_units(s), 189);
        assert_int_equal(observed, 4 + 3);
        round_placed(s, 18, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(parked_units(s), 192);
        assert_int_equal(observed, 4);
        /* Held while whole words are parked: they are looked at in full in the round that unparks them, so the
         * walk that offers their units has fresh idle ages. */
        heat_store_hold_parking(s, true);
        round_placed(s, 20, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(parked_units(s), 0);
        assert_int_equal(observed, 192 + 1);
        assert_int_equal(walk_count(s, cold), 192);
        heat_store_hold_parking(s, false);
        /* park_idle_rounds 0 parks nothing. */
        round_placed(s, 22, n, fastest, slowest, 0, acc_none, &observed);
        assert_int_equal(parked_units(s), 0);
        assert_int_equal(heat_store_settled_units(s), 64);

        /* Without partial observation the word bits go, and with them the parked units' settled bits. */
        round_placed(s, 24, n, fastest, slowest, 3, acc_none, &observed);
        assert_int_equal(parked_units(s), 192);
        heat_store_set_partial_observation(s, false);
        assert_int_equal(heat_store_begin_round(s, 26, 0), 0);
        assert_int_equal(heat_store_settled_units(s), 64);
        heat_store_end_round(s);

        assert_int_equal(heat_store_settle_bitmap(s, 1, BASE, n, fastest, slowest, 1, HEAT_IDLE_MAX + 1), -EINVAL);
        heat_store_hold_parking(NULL, true);
}

static bool acc_page5(uint64_t i, unsigned pass _unused_, void *u _unused_) {
        return i == 5;
}

/* heat_store_settle_bitmap() leaves a word settled on the slowest tier alone while it stays so, and looks again
 * once a unit of it was settled for the fastest tier or the kernel moved one. */
static void test_settle_slow_words(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        /* One word: round 8k + 7 re-verifies it. */
        const uint64_t n = 64;
        uint64_t fastest[4], slowest[4], observed;

        s = placed_store(n, 0, fastest, slowest);

        round_placed(s, 2, n, fastest, slowest, 0, acc_none, &observed);
        round_placed(s, 4, n, fastest, slowest, 0, acc_none, &observed);
        assert_int_equal(heat_store_settled_units(s), n);
        assert_int_equal(observed, 1);

        /* Looked at in full (round 7), page 5 starts a streak and loses its bit. */
        round_placed(s, 7, n, fastest, slowest, 0, acc_page5, &observed);
        assert_int_equal(observed, n);
        assert_false(heat_store_is_settled(s, 1, BASE + 5 * PG));
        /* Promoted and settled there by the executor, then put back on the slowest tier by the kernel: not where
         * its trend wants it, it is settled no longer. */
        assert_int_equal(heat_store_settle(s, 1, BASE + 5 * PG, HEAT_SETTLE_FASTEST), 1);
        assert_int_equal(heat_store_settled_units(s), n);
        round_placed(s, 8, n, fastest, slowest, 0, acc_none, &observed);
        assert_false(heat_store_is_settled(s, 1, BASE + 5 * PG));
        assert_int_equal(heat_store_settled_units(s), n - 1);

        /* All settled on the slowest tier again; then the kernel moves page 9 to the fastest, where a unit
         * without a streak does not settle (nothing parks here). */
        /* (Unsettled in round 8 after its word's observation was planned, page 5 is observed and folded in
         * round 10, and idle only from then on.) */
        round_placed(s, 10, n, fastest, slowest, 0, acc_none, &observed);
        assert_int_equal(heat_store_settled_units(s), n - 1);
        round_placed(s, 12, n, fastest, slowest, 0, acc_none, &observed);
        assert_int_equal(heat_store_settled_units(s), n);
        fastest[0] = UINT64_C(1) << 9;
        slowest[0] = ~fastest[0];
        round_placed(s, 14, n, fastest, slowest, 0, acc_none, &observed);
        assert_false(heat_store_is_settled(s, 1, BASE + 9 * PG));
        assert_int_equal(heat_store_settled_units(s), n - 1);
}

static void test_settled_thp(void **state _unused_) {
        _cleanup_heat_store_free_ struct heat_store *s = NULL;
        const uint64_t n = 2 * HEAT_THP_PAGES;

        assert_int_equal(heat_store_new(&s), 0);
        sync1(s, 1, BASE, BASE + 2 * THP);
        for (unsigned r = 2; r <= 6; r += 2)
                round_with(s, r, 0, 2, 1, BASE, n, acc_all, NULL);
        assert_int_equal(settle_all(s, 1, BASE, n, HEAT_SETTLE_FASTEST), n);

        /* Forming a THP drops what its pages knew; the unit is settled through any of its addresses. */
        assert_int_equal(heat_store_set_thp(s, 1, BASE, true), 1);
        assert_int_equal(heat_store_settled_units(s), HEAT_THP_PAGES);
        assert_false(heat_store_is_settled(s, 1, BASE + 7 * PG));
        assert_int_equal(heat_store_settle(s, 1, BASE + 7 * PG, HEAT_SETTLE_FASTEST), 1);
        assert_true(heat_store_is_settled(s, 1, BASE));
        assert_true(heat_store_is_settled(s, 1, BASE + 300 * PG));
        assert_int_equal(walk_count(s, HEAT_CLASS_MASK(HEAT_CLASS_HOT) | HEAT_WALK_UNSETTLED), 0);

        /* The THP's trend turns: the fold drops its bit (the THP path of the fold), the base pages' stay. */
        /* 16 words: round r re-verifies words 2 (r % 8) and 2 (r % 8) + 1, so rounds 14 and 24 leave the THP's head
         * (word 0) and the base pages (words 8-15) alone. */
        round_with(s, 14, 0, 2, 1, BASE, HEAT_THP_PAGES, acc_none, NULL);
        assert_false(heat_store_is_settled(s, 1, BASE));
        assert_int_equal(heat_store_settled_units(s), 0);
        round_with(s, 16, 0, 2, 1, BASE, n, acc_all, NULL);
        assert_int_equal(settle_all(s, 1, BASE + THP, HEAT_THP_PAGES, HEAT_SETTLE_FASTEST), HEAT_THP_PAGES);
        round_with(s, 24, 0, 2, 1, BASE, n, acc_all, NULL);
        assert_int_equal(heat_store_settled_units(s), HEAT_THP_PAGES);

        /* Splitting drops the unit's bit too. */
        assert_int_equal(heat_store_settle(s, 1, BASE, HEAT_SETTLE_FASTEST), 1);
        assert_int_equal(heat_store_set_thp(s, 1, BASE, false), 1);
        assert_false(heat_store_is_settled(s, 1, BASE));
        assert_int_equal(heat_store_settled_units(s), HEAT_THP_PAGES);
}

static void test_null_safety(void **state _unused_) {
        struct heat_store_stats st;

        assert_null(heat_store_free(NULL));
        heat_store_end_round(NULL);
        assert_false(heat_store_in_round(NULL));
        assert_int_equal(heat_store_drop_missing_targets(NULL, NULL, 0), 0);
        heat_store_get_stats(NULL, &st);
        assert_int_equal(st.pages, 0);
        assert_int_equal(heat_store_new(NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_history_update),
                cmocka_unit_test(test_threshold_and_short_rounds),
                cmocka_unit_test(test_record_bitmap_ranges),
                cmocka_unit_test(test_vma_changes),
                cmocka_unit_test(test_vma_filter_and_errors),
                cmocka_unit_test(test_thp),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_moves),
                cmocka_unit_test(test_move_entry_limits),
                cmocka_unit_test(test_move_table),
                cmocka_unit_test(test_walk_selection_exhaustive),
                cmocka_unit_test(test_move_table_reserves),
                cmocka_unit_test(test_move_table_full),
                cmocka_unit_test(test_move_table_full_oldest_first),
                cmocka_unit_test(test_drop_targets),
                cmocka_unit_test(test_memory_per_page),
                cmocka_unit_test(test_iteration),
                cmocka_unit_test(test_walk_pauses),
                cmocka_unit_test(test_histogram_large_vma),
                cmocka_unit_test(test_settled_trend),
                cmocka_unit_test(test_settled_walk),
                cmocka_unit_test(test_settled_thp),
                cmocka_unit_test(test_settled_stray_hit),
                cmocka_unit_test(test_partial_observation),
                cmocka_unit_test(test_watch_unit),
                cmocka_unit_test(test_partial_observation_thp),
                cmocka_unit_test(test_settle_bitmap),
                cmocka_unit_test(test_parked_units),
                cmocka_unit_test(test_settle_slow_words),
                cmocka_unit_test(test_null_safety),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
