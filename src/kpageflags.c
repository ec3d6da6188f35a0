/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <fcntl.h>
#include <unistd.h>

#include "fsroot.h"
#include "kpageflags.h"
#include "macro.h"
#include "pagemap.h"

const char *page_kind_to_string(enum page_kind k) {
        static const char *const names[] = {
                [PAGE_KIND_NORMAL] = "normal",
                [PAGE_KIND_THP_HEAD] = "thp-head",
                [PAGE_KIND_THP_TAIL] = "thp-tail",
        };

        if ((unsigned) k >= ELEMENTSOF(names))
                return NULL;
        return names[k];
}

const char *page_skip_to_string(enum page_skip s) {
        static const char *const names[] = {
                [PAGE_SKIP_NONE] = "none",
                [PAGE_SKIP_NOPAGE] = "no-page",
                [PAGE_SKIP_ZERO] = "zero-page",
                [PAGE_SKIP_HUGETLB] = "hugetlb",
                [PAGE_SKIP_KSM] = "ksm",
                [PAGE_SKIP_NOT_ANON] = "not-anonymous",
                [PAGE_SKIP_UNEVICTABLE] = "unevictable",
                [PAGE_SKIP_SHARED] = "shared",
                [PAGE_SKIP_PARTIAL] = "partial-folio",
        };

        if ((unsigned) s >= ELEMENTSOF(names))
                return NULL;
        return names[s];
}

/* Flags that say the PFN holds nothing a process can have mapped: the page was freed (and maybe reused by the
 * kernel) between the pagemap read and ours, or it was never a user page. */
#define NOT_A_USER_PAGE                                                                                         \
        (KPF_BIT(KPF_NOPAGE) | KPF_BIT(KPF_BUDDY) | KPF_BIT(KPF_SLAB) | KPF_BIT(KPF_PGTABLE) |                  \
         KPF_BIT(KPF_OFFLINE) | KPF_BIT(KPF_HWPOISON))

static enum page_skip skip_reason(uint64_t f, uint64_t pme) {
        /* The zero page is never rmap-counted, so it lacks KPF_MMAP: test it first. 6.12 reports the huge zero
         * folio as THP without ZERO_PAGE (it is allocated as a rmappable folio), but then it is also not
         * anonymous, which catches it below. */
        if (f & KPF_BIT(KPF_ZERO_PAGE))
                return PAGE_SKIP_ZERO;
        if ((f & NOT_A_USER_PAGE) || !(f & KPF_BIT(KPF_MMAP)))
                return PAGE_SKIP_NOPAGE;
        if (f & KPF_BIT(KPF_HUGE))
                return PAGE_SKIP_HUGETLB;
        if (f & KPF_BIT(KPF_KSM))
                return PAGE_SKIP_KSM;
        if (!(f & KPF_BIT(KPF_ANON)) || (pme & PAGEMAP_FILE))
                return PAGE_SKIP_NOT_ANON;
        /* PG_mlocked is set at mlock time, PG_unevictable only once the folio reaches the unevictable LRU (it
         * can sit in a per-CPU batch in between): either one means the kernel will not reclaim it, and moving
         * it would only fight the mlock. */
        if (f & (KPF_BIT(KPF_UNEVICTABLE) | KPF_BIT(KPF_MLOCKED)))
                return PAGE_SKIP_UNEVICTABLE;
        if (!(pme & PAGEMAP_EXCLUSIVE))
                return PAGE_SKIP_SHARED;
        return PAGE_SKIP_NONE;
}

void kpageflags_classify(uint64_t kflags, uint64_t pagemap_entry, struct page_class *ret) {
        enum page_kind kind = PAGE_KIND_NORMAL;

        /* Head and tail come from the folio structure, not from KPF_THP: the bitmap ignores every tail
         * (page_idle_get_folio() refuses PageTail), whatever kind of compound page it belongs to. */
        if (kflags & KPF_BIT(KPF_COMPOUND_TAIL))
                kind = PAGE_KIND_THP_TAIL;
        else if (kflags & KPF_BIT(KPF_COMPOUND_HEAD))
                kind = PAGE_KIND_THP_HEAD;

        *ret = (struct page_class) {
                .kind = kind,
                .skip = skip_reason(kflags, pagemap_entry),
                .thp = kflags & KPF_BIT(KPF_THP),
                /* MADV_FREE clears PG_swapbacked (once the folio leaves the per-CPU lazyfree batch); reclaim
                 * then drops the page instead of swapping it, unless it was written again. */
                .lazyfree = (kflags & KPF_BIT(KPF_ANON)) && !(kflags & KPF_BIT(KPF_SWAPBACKED)),
        };
}

uint64_t kpageflags_fix_ksm(uint64_t kflags, uint64_t pagemap_entry, bool ksm_pages_exist) {
        if (!ksm_pages_exist || (pagemap_entry & PAGEMAP_EXCLUSIVE))
                return kflags & ~KPF_BIT(KPF_KSM);
        return kflags;
}

bool kpageflags_ksm_pages_exist(void) {
        _cleanup_free_ char *line = NULL;
        uint64_t n;

        if (fsroot_read_line("/sys/kernel/mm/ksm/pages_shared", &line) < 0)
                return false;
        return sscanf(line, "%" SCNu64, &n) == 1 && n > 0;
}

size_t kpageflags_run_end(const uint64_t *pfns, size_t n, size_t i, uint64_t gap_max, uint64_t span_max) {
        size_t j;

        if (i >= n)
                return n;
        for (j = i + 1; j < n; j++) {
                if (pfns[j] < pfns[j - 1]) /* unsorted: end the run, the reader rejects it */
                        break;
                if (pfns[j] - pfns[j - 1] > gap_max + 1)
                        break;
                if (pfns[j] - pfns[i] >= span_max)
                        break;
        }
        return j;
}

int kpageflags_open(void) {
        return fsroot_open(KPAGEFLAGS_PATH, O_RDONLY | O_NOCTTY);
}

/* Reads entries [first, first + count) into buf; returns the number of entries read (fewer at end of file). */
static ssize_t read_span(int fd, uint64_t first, size_t count, uint64_t *buf, uint64_t *ret_reads) {
        size_t done = 0, bytes = count * sizeof(uint64_t);
        uint64_t offset = first * sizeof(uint64_t);

        while (done < bytes) {
                ssize_t k = pread(fd, (uint8_t *) buf + done, bytes - done, (off_t) (offset + done));

                if (ret_reads)
                        (*ret_reads)++;
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                if ((size_t) k % sizeof(uint64_t) != 0)
                        return -EIO;
                done += (size_t) k;
        }
        return (ssize_t) (done / sizeof(uint64_t));
}

int kpageflags_read_sorted(int fd, const uint64_t *pfns, size_t n, uint64_t *ret_flags, uint64_t *ret_reads) {
        _cleanup_free_ uint64_t *buf = NULL;

        if (fd < 0 || (n > 0 && (!pfns || !ret_flags)))
                return -EINVAL;
        if (n == 0)
                return 0;

        for (size_t i = 0; i < n; i++)
                if ((i > 0 && pfns[i] < pfns[i - 1]) || pfns[i] > PAGEMAP_PFN_MASK)
                        return -EINVAL;

        buf = malloc(sizeof(uint64_t) * MIN((uint64_t) KPAGEFLAGS_SPAN_MAX, pfns[n - 1] - pfns[0] + 1));
        if (!buf)
                return -ENOMEM;

        for (size_t i = 0; i < n;) {
                size_t j = kpageflags_run_end(pfns, n, i, KPAGEFLAGS_GAP_MAX, KPAGEFLAGS_SPAN_MAX);
                uint64_t first = pfns[i], span = pfns[j - 1] - first + 1;
                ssize_t got;

                got = read_span(fd, first, (size_t) span, buf, ret_reads);
                if (got < 0)
                        return (int) got;
                for (size_t k = i; k < j; k++) {
                        uint64_t off = pfns[k] - first;

                        /* Past max_pfn (rounded up to a section) the file ends: nothing there to track. */
                        ret_flags[k] = off < (uint64_t) got ? buf[off] : KPF_BIT(KPF_NOPAGE);
                }
                i = j;
        }
        return 0;
}
