/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* /proc/kpageflags: one 64-bit word of flags (native endian) per PFN, at file offset PFN * 8; mode 0400 root.
 * Reads must be 8-byte aligned multiples (EINVAL otherwise); PFNs at or beyond max_pfn rounded up to a memory
 * section read as end of file. A pure classifier for one page and a thin reader that reads sorted PFNs in runs.
 *
 * Bit numbers from include/uapi/linux/kernel-page-flags.h (6.12); 32 and up are include/linux/kernel-page-flags.h,
 * "kernel hacking assistances, subject to change", but fs/proc/page.c in 6.12 still exports PG_mlocked as bit 33
 * (as it has since 2.6.32) and there is no stable alternative for mlock. */

#define KPF_LOCKED 0 /* PG_locked: the page lock, not mlock */
#define KPF_REFERENCED 2
#define KPF_DIRTY 4
#define KPF_LRU 5
#define KPF_ACTIVE 6
#define KPF_SLAB 7
#define KPF_BUDDY 10
#define KPF_MMAP 11
#define KPF_ANON 12
#define KPF_SWAPCACHE 13
#define KPF_SWAPBACKED 14
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17 /* hugetlbfs */
#define KPF_UNEVICTABLE 18
#define KPF_HWPOISON 19
#define KPF_NOPAGE 20
#define KPF_KSM 21
#define KPF_THP 22 /* any large anonymous/rmappable folio, mTHP included (fs/proc/page.c) */
#define KPF_OFFLINE 23
#define KPF_ZERO_PAGE 24
#define KPF_IDLE 25
#define KPF_PGTABLE 26
#define KPF_MLOCKED 33

#define KPF_BIT(b) (UINT64_C(1) << (b))

/* What the page is to the page_idle bitmap. */
enum page_kind {
        PAGE_KIND_NORMAL,   /* an order-0 page: its own bit is its idle bit */
        PAGE_KIND_THP_HEAD, /* head of a large folio (a THP, PMD-sized or smaller): its bit is the folio's */
        PAGE_KIND_THP_TAIL, /* tail of a large folio: the kernel ignores its bit (reads as "not idle") */
        _PAGE_KIND_MAX,
};

/* Why a page is never moved (HEAT_F_SKIP). */
enum page_skip {
        PAGE_SKIP_NONE,
        PAGE_SKIP_NOPAGE,      /* no usable page at that PFN (any more): a hole, offline, free, slab, page table,
                                * poisoned, or no longer mapped since pagemap was read */
        PAGE_SKIP_ZERO,        /* the shared zero page or the huge zero page */
        PAGE_SKIP_HUGETLB,
        PAGE_SKIP_KSM,
        PAGE_SKIP_NOT_ANON,    /* not an anonymous page (pagemap bit 61, or KPF_ANON clear) */
        PAGE_SKIP_UNEVICTABLE, /* mlocked, or otherwise on the unevictable list */
        PAGE_SKIP_SHARED,      /* mapped more than once (pagemap bit 56 clear): shared with another process */
        PAGE_SKIP_PARTIAL,     /* a large folio's tail mapped without its head just before it: no access bit */
        _PAGE_SKIP_MAX,
};

struct page_class {
        enum page_kind kind;
        enum page_skip skip;
        bool thp;      /* KPF_THP: a large anonymous folio */
        bool lazyfree; /* MADV_FREE'd: anonymous but no longer swap-backed; the kernel may drop it at any time */
};

const char *page_kind_to_string(enum page_kind k);
const char *page_skip_to_string(enum page_skip s);

/* Classifies a present page from its kpageflags and its pagemap entry (for bits 56 and 61). Pure.
 * Precedence: zero page, no usable page, hugetlb, KSM, not anonymous, unevictable/mlocked, shared. A tail page
 * gets the classification of its folio (its flags are the folio's), with kind PAGE_KIND_THP_TAIL. */
void kpageflags_classify(uint64_t kflags, uint64_t pagemap_entry, struct page_class *ret);

/* Linux 6.12's stable_page_flags() sets KPF_KSM when (mapping & PAGE_MAPPING_KSM) is non-zero, which holds for
 * every anonymous page (PAGE_MAPPING_KSM includes PAGE_MAPPING_ANON), so the bit alone cannot be trusted. Pure:
 * returns kflags with KPF_KSM kept only where it can be true: when the system has KSM pages at all
 * (/sys/kernel/mm/ksm/pages_shared > 0, see kpageflags_ksm_pages_exist()) and the page is mapped more than once
 * (a page KSM merged is shared by the mappings it merged). */
uint64_t kpageflags_fix_ksm(uint64_t kflags, uint64_t pagemap_entry, bool ksm_pages_exist);
/* Whether KSM has merged any page: /sys/kernel/mm/ksm/pages_shared > 0. Missing file (no CONFIG_KSM): false. */
bool kpageflags_ksm_pages_exist(void);

/* The reader. */

#define KPAGEFLAGS_PATH "/proc/kpageflags"
/* Gaps of up to this many PFNs between wanted ones are read through rather than starting another pread. The
 * kernel computes every entry it returns (stable_page_flags(), ~40-130 ns a PFN) while a one-entry pread costs
 * ~400 ns, so reading through only pays for short gaps. */
#define KPAGEFLAGS_GAP_MAX 4
/* Entries per read (64 KiB). */
#define KPAGEFLAGS_SPAN_MAX 8192

/* Pure: the end (exclusive) of the read run that starts at pfns[i] in the ascending array pfns[0..n) (duplicates
 * allowed): the run grows while the next PFN is at most gap_max + 1 past the previous one and the run spans at
 * most span_max PFNs (span_max >= 1). */
size_t kpageflags_run_end(const uint64_t *pfns, size_t n, size_t i, uint64_t gap_max, uint64_t span_max);

/* Opens /proc/kpageflags read-only (through fsroot). Returns the fd or a negative errno. */
int kpageflags_open(void);

/* Reads the flags of pfns[0..n) (ascending, duplicates allowed) into ret_flags[0..n), one pread per run (see
 * kpageflags_run_end() with KPAGEFLAGS_GAP_MAX and KPAGEFLAGS_SPAN_MAX). PFNs beyond the end of the file read as
 * KPF_BIT(KPF_NOPAGE). ret_reads (may be NULL) is incremented by the number of pread calls. Returns 0, -EINVAL
 * (unsorted input, PFN out of range), -ENOMEM or the read's negative errno. */
int kpageflags_read_sorted(int fd, const uint64_t *pfns, size_t n, uint64_t *ret_flags, uint64_t *ret_reads);
