/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "kpageflags.h"
#include "log.h"
#include "macro.h"
#include "maps.h"
#include "page-idle.h"
#include "pagemap.h"
#include "scan-backend.h"

/* The page_idle backend: /proc/PID/pagemap (virtual page -> PFN), /proc/kpageflags (what the page is) and
 * /sys/kernel/mm/page_idle/bitmap (the per-PFN idle flag).
 *
 * round_begin  resolves every present page of every trackable VMA to its PFN again (PFNs change under migration,
 *              compaction, THP collapse and split, swap: nothing PFN-based survives a round), classifies it from
 *              kpageflags, tells the heat store about THP units, skip and lazyfree pages, and plans the bitmap
 *              words of the PFNs to track: sorted, grouped into 64-bit words holding only tracked bits, and the
 *              words into runs of consecutive words.
 * pass_begin   writes the runs (one pwrite each): the kernel clears the accessed bits of those pages and sets
 *              their idle flags.
 * pass_end     reads the same runs back; a tracked bit that is clear means the page was accessed since
 *              pass_begin, and is recorded by virtual address.
 *
 * What is tracked: one bit per folio. An order-0 page has its own PFN; a large folio (THP, mTHP) keeps its idle
 * flag on its head page and the kernel ignores writes to tail PFNs and reads them as 0, i.e. "accessed", so a
 * tail must never be tracked by its own PFN. A 2 MiB-aligned, fully mapped PMD-sized THP becomes one heat unit
 * (heat_store_set_thp()) tracked by its head PFN. The pages of a smaller or PTE-mapped large folio stay 4 KiB
 * units of the heat store but all follow their head's bit (a tail is attributed to the head when the page just
 * before it maps PFN - 1, as every contiguously mapped folio does). A tail whose head is not mapped there cannot
 * be observed and is skipped for the round.
 *
 * Memory, for the length of a round (round_begin to round_end):
 *   8 bytes per tracked unit (a 4 KiB page or a whole PMD THP): its page offset in the VMA and its slot in the
 *     plan, packed into one word;
 *   8 bytes per bitmap word and 8 per run of words. A word holds the tracked pages of 64 consecutive PFNs: one
 *     per unit when a process's pages are spread thinly over a large machine, down to 1/64 when they are
 *     physically dense;
 * so 8 to 24 bytes per tracked unit (24 only when every unit sits alone in its word and its run), about 9 to 12
 * for a process whose pages fill its share of RAM, plus 24 bytes per trackable VMA. Each page of a small large
 * folio is a unit of its own (sharing the head's slot). round_begin briefly uses 8 more bytes per unit while
 * collecting PFNs and 32 per unit while sorting them, and 1.6 MiB of buffers for one chunk of 64k pages (its
 * pagemap entries, its sorted PFNs and their flags); all of that is freed before it returns.
 *
 * Cost: round_begin reads 8 bytes of pagemap per page of every trackable VMA, populated or not (a sparse 1 TiB
 * reservation is 2 GiB of pagemap a round; the heat store already holds 512 MiB for it), and kpageflags in runs
 * of nearby PFNs. A pass is one pwrite and one pread per run of at most 512 words (32768 PFNs).
 *
 * Staleness: the plan is fixed for the round. A page that migrates, is swapped out or split after round_begin
 * leaves a PFN behind that now holds someone else's page (or nothing): that bit reads as noise, for the rest of
 * the round only. The same holds for a process that exits after round_begin: its pages are recorded into its
 * (soon dropped) heat entries as accessed/idle noise until the engine drops it. Neither is worth detecting.
 *
 * Pages the kernel leaves out of idle tracking while they are off the LRU (a fresh page still in a per-CPU LRU
 * batch, a page isolated for migration) read as accessed: erring towards "hot" only delays a demotion. */

/* A unit: page offset within its VMA << UNIT_SLOT_BITS | slot (word position * 64 + bit). */
#define UNIT_SLOT_BITS 36
#define UNIT_SLOT_MASK ((UINT64_C(1) << UNIT_SLOT_BITS) - 1)
_Static_assert((HEAT_VMA_MAX_BYTES >> HEAT_PAGE_SHIFT) <= (UINT64_C(1) << (64 - UNIT_SLOT_BITS)),
               "a tracked VMA's page offsets must fit next to the slot");

#define CHUNK_PAGES ((size_t) PAGEMAP_READ_MAX_ENTRIES)
_Static_assert(CHUNK_PAGES % HEAT_THP_PAGES == 0, "chunks must not cut 2 MiB windows");
#define CHUNK_WINDOWS (CHUNK_PAGES / HEAT_THP_PAGES + 1)

/* Accessed pages are handed to the heat store in bitmaps of this many pages (4 KiB of bitmap). */
#define RECORD_WINDOW_PAGES 32768

struct segment {
        pid_t pid;
        uint64_t start;    /* of the VMA */
        size_t first_unit; /* its units are [first_unit, the next segment's first_unit) */
};

struct round_stats {
        uint64_t present, pfn_zero, units, thp_units, skipped, lazyfree, targets_gone, kpageflags_reads;
        uint64_t unobserved; /* settled units the heat store does not need this round */
        uint64_t skip[_PAGE_SKIP_MAX];
};

/* Buffers for one chunk of pagemap, round_begin only. */
struct chunk {
        uint64_t pme[CHUNK_PAGES];
        uint64_t query[CHUNK_PAGES];  /* the chunk's PFNs, sorted and unique */
        uint64_t kflags[CHUNK_PAGES]; /* their flags (also the sort's scratch) */
        uint64_t skip[CHUNK_PAGES / 64];
        uint64_t lazyfree[CHUNK_PAGES / 64];
        uint64_t observed[CHUNK_PAGES / 64]; /* pages the heat store wants observed this round */
        uint64_t fastest[CHUNK_PAGES / 64];  /* units whose PFN lies on the fastest tier (ctx->pfn_map) */
        uint64_t slowest[CHUNK_PAGES / 64];
        /* The chunk's units before the heat store says which it observes: index in the chunk, (head) PFN. */
        uint32_t cand_index[CHUNK_PAGES];
        uint64_t cand_pfn[CHUNK_PAGES];
        size_t n_cand;
        bool thp[CHUNK_WINDOWS]; /* 2 MiB window k is a PMD THP unit */
};

/* Follows a large folio through consecutive virtual pages. */
struct folio_walk {
        bool valid;
        uint64_t last_pfn; /* PFN of the previous virtual page */
        uint64_t head_pfn;
        uint64_t head_kflags;
        bool exclusive; /* every page of the folio seen so far is exclusively mapped */
};

/* round_begin's walk, resumable: a step is one piece of work (opening a target's pagemap, or one stretch of
 * BEGIN_STEP_PAGES pages of a VMA), and a slice runs steps until ctx->slice_us has passed, so that resolving a
 * large target's pages does not hold the event loop for the whole of it. Targets are followed by pid: one that
 * exits between slices is gone from ctx->targets (the order of the others stays) and is skipped. */
/* 4 MiB: a step of 32 MiB took 190 ms under TCG in the first round (every page resolved). */
#define BEGIN_STEP_PAGES ((size_t) 1024)
_Static_assert(BEGIN_STEP_PAGES % HEAT_THP_PAGES == 0 && BEGIN_STEP_PAGES <= CHUNK_PAGES,
               "steps must not cut 2 MiB windows nor outgrow a chunk");

struct begin_walk {
        struct chunk *chunk;
        pid_t *pids; /* this round's targets, in ctx->targets' order */
        size_t n_pids, k;
        int fd;      /* pagemap of pids[k]; -1: not open yet */
        size_t vma;  /* index into the target's VMAs */
        bool in_vma; /* the VMA's segment was added; addr is where its next step starts */
        uint64_t addr;
        struct folio_walk folio;
        size_t target_units, target_segments; /* to forget a target that vanishes midway */
        size_t vma_units, vma_segments;       /* to forget a VMA the heat store does not track */
        uint64_t steps;
};

struct page_idle_backend {
        int bitmap_fd;
        int kpageflags_fd;

        bool in_round;
        bool ksm_pages_exist; /* read once per round: see kpageflags_fix_ksm() */
        bool move_shared;     /* [migrate] move_shared: shared pages are tracked, not skipped */
        uint64_t *units;
        uint64_t *pfns; /* round_begin only: the PFN of each unit */
        size_t n_units, allocated_units;
        struct segment *segments;
        size_t n_segments, allocated_segments;
        struct page_idle_plan plan;
        size_t live;         /* words below this position are within the kernel's bitmap */
        bool masks_current;  /* plan.masks holds the masks to write, not the idle bits last read */
        struct round_stats stats;
        struct begin_walk begin; /* round_begin's walk while it lasts (chunk NULL: none) */
        struct page_idle_planner *planner; /* after the walk: the plan of its PFNs, built in steps */
        uint64_t begin_slices;
        enum {
                PASS_NONE,
                PASS_WRITING, /* pass_begin: the runs, marking pages idle */
                PASS_READING, /* pass_end: the runs back */
                PASS_RECORDING, /* pass_end: the accessed pages into the heat store, a segment a step */
        } pass_phase;
        struct page_idle_cursor pass_cursor;
        size_t pass_segment;

        uint64_t window[RECORD_WINDOW_PAGES / 64];
};

static void begin_walk_done(struct begin_walk *w);

static void round_reset(struct page_idle_backend *b) {
        begin_walk_done(&b->begin);
        b->planner = page_idle_planner_free(b->planner);
        b->begin_slices = 0;
        b->pass_phase = PASS_NONE;
        b->units = mfree(b->units);
        b->pfns = mfree(b->pfns);
        b->n_units = b->allocated_units = 0;
        b->segments = mfree(b->segments);
        b->n_segments = b->allocated_segments = 0;
        page_idle_plan_done(&b->plan);
        b->live = 0;
        b->masks_current = false;
        b->in_round = false;
        b->stats = (struct round_stats) {};
}

static void bit_set(uint64_t *bitmap, uint64_t i) {
        bitmap[i / 64] |= UINT64_C(1) << (i % 64);
}

static bool bit_test(const uint64_t *bitmap, uint64_t i) {
        return (bitmap[i / 64] >> (i % 64)) & 1;
}

/* Where the unit at chunk index i lies, for heat_store_settle_bitmap(). */
static void note_place(struct chunk *c, const struct pfn_map *m, size_t *hint, size_t i, uint64_t pfn) {
        switch (pfn_map_lookup(m, pfn, hint)) {
        case PFN_PLACE_FASTEST:
                bit_set(c->fastest, i);
                break;
        case PFN_PLACE_SLOWEST:
                bit_set(c->slowest, i);
                break;
        default:
                break;
        }
}

static int add_unit(struct page_idle_backend *b, uint64_t page, uint64_t pfn) {
        if (b->n_units == b->allocated_units) {
                size_t n = MAX(b->allocated_units * 2, (size_t) 4096);
                uint64_t *u, *p;

                u = realloc(b->units, n * sizeof(uint64_t));
                if (!u)
                        return -ENOMEM;
                b->units = u;
                p = realloc(b->pfns, n * sizeof(uint64_t));
                if (!p)
                        return -ENOMEM;
                b->pfns = p;
                b->allocated_units = n;
        }
        b->units[b->n_units] = page << UNIT_SLOT_BITS;
        b->pfns[b->n_units] = pfn;
        b->n_units++;
        return 0;
}

static int add_segment(struct page_idle_backend *b, pid_t pid, uint64_t start) {
        if (b->n_segments == b->allocated_segments) {
                size_t n = MAX(b->allocated_segments * 2, (size_t) 64);
                struct segment *s = realloc(b->segments, n * sizeof(struct segment));

                if (!s)
                        return -ENOMEM;
                b->segments = s;
                b->allocated_segments = n;
        }
        b->segments[b->n_segments++] = (struct segment) { .pid = pid, .start = start, .first_unit = b->n_units };
        return 0;
}

static size_t segment_end(const struct page_idle_backend *b, size_t k) {
        return k + 1 < b->n_segments ? b->segments[k + 1].first_unit : b->n_units;
}

/* Sorts a[0..n) with tmp as scratch (LSD radix, 8 bits per pass over the bytes the largest value uses) and drops
 * duplicates. Returns the new length. */
static size_t sort_unique(uint64_t *a, uint64_t *tmp, size_t n) {
        uint64_t max = 0, *src = a, *dst = tmp;
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
                max = MAX(max, a[i]);
        for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += 8) {
                size_t count[256] = {}, sum = 0;

                for (size_t i = 0; i < n; i++)
                        count[(src[i] >> shift) & 0xff]++;
                for (size_t d = 0; d < 256; d++) {
                        size_t c = count[d];
                        count[d] = sum;
                        sum += c;
                }
                for (size_t i = 0; i < n; i++)
                        dst[count[(src[i] >> shift) & 0xff]++] = src[i];
                uint64_t *t = src;
                src = dst;
                dst = t;
        }
        for (size_t i = 0; i < n; i++)
                if (m == 0 || src[i] != a[m - 1])
                        a[m++] = src[i]; /* src is a or tmp; writing a[m] with m <= i never clobbers unread src */
        return m;
}

static uint64_t flags_of(const struct chunk *c, size_t n_query, uint64_t pfn) {
        size_t lo = 0, hi = n_query;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (c->query[mid] < pfn)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < n_query && c->query[lo] == pfn ? c->kflags[lo] : KPF_BIT(KPF_NOPAGE);
}

/* Whether the 512 entries at pme are one PMD-sized THP: every page present and mapping head + i, the head
 * 512-aligned (folios are naturally aligned), a compound head with KPF_THP, and head + 256 a tail. KPF_THP is set
 * for any large folio (mTHP too) and a small folio can be followed by physically adjacent ones; with the head
 * 512-aligned, head + 256 can only be a tail of the head's own folio, and only if that folio has 512 pages or
 * more. Returns the head's PFN, or 0. */
static uint64_t pmd_thp_head(const struct chunk *c, size_t n_query, const uint64_t *pme) {
        uint64_t head = pagemap_pfn(pme[0]), f;

        if (head == 0 || head % HEAT_THP_PAGES != 0)
                return 0;
        for (size_t i = 1; i < HEAT_THP_PAGES; i++)
                if (pagemap_pfn(pme[i]) != head + i)
                        return 0;
        f = flags_of(c, n_query, head);
        if ((f & (KPF_BIT(KPF_COMPOUND_HEAD) | KPF_BIT(KPF_THP))) != (KPF_BIT(KPF_COMPOUND_HEAD) | KPF_BIT(KPF_THP)))
                return 0;
        if (!(flags_of(c, n_query, head + HEAT_THP_PAGES / 2) & KPF_BIT(KPF_COMPOUND_TAIL)))
                return 0;
        return head;
}

/* Applies the configuration to a page's class and counts it. With move_shared, shared pages are moved too
 * (the executor then passes MPOL_MF_MOVE_ALL), so they are tracked like any other page. */
static void settle_class(struct page_idle_backend *b, struct page_class *cl) {
        if (b->move_shared && cl->skip == PAGE_SKIP_SHARED)
                cl->skip = PAGE_SKIP_NONE;
        b->stats.skip[cl->skip]++;
        if (cl->skip != PAGE_SKIP_NONE)
                b->stats.skipped++;
        else if (cl->lazyfree)
                b->stats.lazyfree++;
}

/* Classifies the n pages of the pagemap entries in c->pme (at addr, inside the VMA starting at vma_start),
 * updates the heat store's THP units and flags for them, and adds the units to track. Returns 0, -ENOENT when
 * the heat store does not track this VMA, or a negative errno that stops the round. */
static int scan_chunk(struct page_idle_backend *b, const struct scan_context *ctx, struct chunk *c, pid_t pid,
                      uint64_t vma_start, uint64_t addr, size_t n, struct folio_walk *walk) {
        uint64_t first_page = (addr - vma_start) >> HEAT_PAGE_SHIFT;
        size_t n_query = 0, w0, hint = 0;
        int r;

        /* The chunk's PFNs, sorted and unique, and their flags: one pread per run of nearby PFNs. */
        for (size_t i = 0; i < n; i++) {
                uint64_t pfn = pagemap_pfn(c->pme[i]);

                if (!pagemap_present(c->pme[i]))
                        continue;
                b->stats.present++;
                if (pfn == 0) {
                        /* Hidden PFNs (no CAP_SYS_ADMIN): nothing to track; round_begin decides about it. */
                        b->stats.pfn_zero++;
                        continue;
                }
                c->query[n_query++] = pfn;
        }
        n_query = sort_unique(c->query, c->kflags, n_query);
        r = kpageflags_read_sorted(b->kpageflags_fd, c->query, n_query, c->kflags, &b->stats.kpageflags_reads);
        if (r < 0)
                return log_repeat_errno(LOG_ERR, "page-idle-kpageflags", r, "Cannot read " KPAGEFLAGS_PATH ": %m");

        memset(c->skip, 0, (n + 63) / 64 * sizeof(uint64_t));
        memset(c->lazyfree, 0, (n + 63) / 64 * sizeof(uint64_t));
        memset(c->fastest, 0, (n + 63) / 64 * sizeof(uint64_t));
        memset(c->slowest, 0, (n + 63) / 64 * sizeof(uint64_t));
        memset(c->thp, 0, sizeof(c->thp));

        /* 2 MiB windows first: the heat store must know the units before flags are set through their heads. Only
         * windows wholly inside the chunk count, and chunks end at 2 MiB boundaries inside the VMA. */
        w0 = (size_t) (((HEAT_THP_SIZE - addr % HEAT_THP_SIZE) % HEAT_THP_SIZE) >> HEAT_PAGE_SHIFT);
        for (size_t w = w0; w + HEAT_THP_PAGES <= n; w += HEAT_THP_PAGES) {
                bool is_thp = pmd_thp_head(c, n_query, c->pme + w) != 0;

                r = heat_store_set_thp(ctx->heat, pid, addr + (w << HEAT_PAGE_SHIFT), is_thp);
                if (r == -ENOENT || r == -EINVAL)
                        return -ENOENT; /* the heat store's VMAs are not these: it could not sync the target */
                if (r < 0)
                        return r;
                c->thp[(w - w0) / HEAT_THP_PAGES] = is_thp;
        }
        c->n_cand = 0;

        /* Then every page in address order, so that units stay sorted by address within the VMA. */
        for (size_t i = 0; i < n; i++) {
                uint64_t raw = c->pme[i], pfn = pagemap_pfn(raw), unit_pfn;
                struct page_class cl;

                if (i >= w0 && (i - w0) % HEAT_THP_PAGES == 0 && i + HEAT_THP_PAGES <= n &&
                    c->thp[(i - w0) / HEAT_THP_PAGES]) {
                        uint64_t eff = raw;

                        /* A PMD mapping is all or nothing, but its mapcount is per subpage: the unit is
                         * exclusive only if every page of it is. */
                        for (size_t k = 1; k < HEAT_THP_PAGES; k++)
                                if (!(c->pme[i + k] & PAGEMAP_EXCLUSIVE))
                                        eff &= ~PAGEMAP_EXCLUSIVE;
                        kpageflags_classify(kpageflags_fix_ksm(flags_of(c, n_query, pfn), eff, b->ksm_pages_exist),
                                            eff, &cl);
                        settle_class(b, &cl);
                        if (cl.skip != PAGE_SKIP_NONE)
                                bit_set(c->skip, i);
                        else {
                                if (cl.lazyfree)
                                        bit_set(c->lazyfree, i);
                                note_place(c, ctx->pfn_map, &hint, i, pfn);
                                /* A THP head: marked in the top bit (chunk indices stay far below it). */
                                c->cand_index[c->n_cand] = (uint32_t) i | UINT32_C(1) << 31;
                                c->cand_pfn[c->n_cand++] = pfn;
                        }
                        walk->valid = false;
                        i += HEAT_THP_PAGES - 1;
                        continue;
                }

                if (!pagemap_present(raw) || pfn == 0) {
                        walk->valid = false;
                        continue;
                }

                uint64_t kf = kpageflags_fix_ksm(flags_of(c, n_query, pfn), raw, b->ksm_pages_exist);
                kpageflags_classify(kf, raw, &cl);
                unit_pfn = pfn;

                switch (cl.kind) {
                case PAGE_KIND_THP_TAIL:
                        if (walk->valid && pfn == walk->last_pfn + 1) {
                                /* The folio's flags are its head's; the mapping's exclusivity is the whole
                                 * folio's so far: moving a page moves the whole folio. */
                                walk->exclusive = walk->exclusive && (raw & PAGEMAP_EXCLUSIVE);
                                uint64_t eff = walk->exclusive ? raw : raw & ~PAGEMAP_EXCLUSIVE;

                                kpageflags_classify(kpageflags_fix_ksm(walk->head_kflags, eff, b->ksm_pages_exist),
                                                    eff, &cl);
                                cl.kind = PAGE_KIND_THP_TAIL;
                                unit_pfn = walk->head_pfn;
                                walk->last_pfn = pfn;
                        } else {
                                if (cl.skip == PAGE_SKIP_NONE)
                                        cl.skip = PAGE_SKIP_PARTIAL;
                                walk->valid = false;
                        }
                        break;
                case PAGE_KIND_THP_HEAD:
                        *walk = (struct folio_walk) {
                                .valid = true,
                                .last_pfn = pfn,
                                .head_pfn = pfn,
                                .head_kflags = kf,
                                .exclusive = raw & PAGEMAP_EXCLUSIVE,
                        };
                        break;
                default:
                        walk->valid = false;
                }

                settle_class(b, &cl);
                if (cl.skip != PAGE_SKIP_NONE) {
                        bit_set(c->skip, i);
                        continue;
                }
                if (cl.lazyfree)
                        bit_set(c->lazyfree, i);
                note_place(c, ctx->pfn_map, &hint, i, unit_pfn);
                c->cand_index[c->n_cand] = (uint32_t) i;
                c->cand_pfn[c->n_cand++] = unit_pfn;
        }

        /* Set and clear in one go: what no longer holds (a page munlocked, written again after MADV_FREE, gone)
         * loses its flag. */
        r = heat_store_set_flags_bitmap(ctx->heat, pid, addr, n, HEAT_F_SKIP, c->skip);
        if (r >= 0)
                r = heat_store_set_flags_bitmap(ctx->heat, pid, addr, n, HEAT_F_LAZYFREE, c->lazyfree);
        /* Where every unit is, from its PFN: the policy need not ask move_pages(2) about settled ones. */
        if (r >= 0 && ctx->pfn_map)
                r = heat_store_settle_bitmap(ctx->heat, pid, addr, n, c->fastest, c->slowest, ctx->hot_streak,
                                             ctx->park_idle);
        if (r < 0)
                return r;

        /* Settled units the heat store leaves out of this round are not tracked: their pages cost the kernel no
         * rmap walk in any pass. Asked after the settling above, which decides it, and before any pass. */
        r = heat_store_observed_bitmap(ctx->heat, pid, addr, n, c->observed);
        if (r < 0)
                return r == -ENOENT || r == -EINVAL ? -ENOENT : r;
        for (size_t k = 0; k < c->n_cand; k++) {
                uint32_t i = c->cand_index[k] & ~(UINT32_C(1) << 31);

                if (!bit_test(c->observed, i)) {
                        b->stats.unobserved++;
                        continue;
                }
                r = add_unit(b, first_page + i, c->cand_pfn[k]);
                if (r < 0)
                        return r;
                if (c->cand_index[k] >> 31)
                        b->stats.thp_units++;
        }
        return 0;
}

static void begin_walk_done(struct begin_walk *w) {
        w->chunk = mfree(w->chunk);
        w->pids = mfree(w->pids);
        w->fd = safe_close(w->fd);
        *w = (struct begin_walk) { .fd = -1 };
}

static void begin_next_target(struct begin_walk *w) {
        w->fd = safe_close(w->fd);
        w->k++;
        w->vma = 0;
        w->in_vma = false;
}

/* The process is gone or its pagemap unreadable: what its earlier VMAs told the heat store stays (harmless: the
 * engine drops the target next round if it is gone), its units are not tracked. */
static void begin_skip_target(struct page_idle_backend *b, struct begin_walk *w) {
        b->n_units = w->target_units;
        b->n_segments = w->target_segments;
        b->stats.targets_gone++;
        begin_next_target(w);
}

/* One step. Returns 1 while steps remain, 0 when every target was walked, or a negative errno that stops the
 * round. */
static int begin_step(struct page_idle_backend *b, const struct scan_context *ctx, struct begin_walk *w) {
        const struct target *t;
        const struct vma *v;
        uint64_t end;
        size_t n;
        pid_t pid;
        int r;

        /* Moving on to the next target or VMA is no step of its own. */
        for (;;) {
                if (w->k >= w->n_pids)
                        return 0;
                pid = w->pids[w->k];
                t = target_set_find(ctx->targets, pid);
                if (!t) {
                        begin_next_target(w);
                        continue;
                }
                if (w->fd < 0)
                        break;
                while (w->vma < t->n_vmas && !w->in_vma && !heat_vma_trackable(&t->vmas[w->vma]))
                        w->vma++;
                if (w->vma < t->n_vmas)
                        break;
                begin_next_target(w);
        }
        w->steps++;

        if (w->fd < 0) {
                w->fd = pagemap_open(pid);
                if (w->fd == -ESRCH) {
                        log_debug("Process %d exited before its pagemap was opened, skipping it.", (int) pid);
                        b->stats.targets_gone++;
                        begin_next_target(w);
                        return 1;
                }
                if (w->fd < 0) {
                        char key[64];

                        snprintf(key, sizeof(key), "page-idle-pagemap-open:%d", (int) pid);
                        log_repeat_errno(LOG_WARNING, key, w->fd,
                                         "Cannot open /proc/%d/pagemap: %m, ignoring the process", (int) pid);
                        begin_next_target(w);
                        return 1;
                }
                w->target_units = b->n_units;
                w->target_segments = b->n_segments;
                return 1;
        }

        v = &t->vmas[w->vma];
        if (!w->in_vma) {
                w->vma_units = b->n_units;
                w->vma_segments = b->n_segments;
                r = add_segment(b, pid, v->start);
                if (r < 0)
                        return r;
                w->in_vma = true;
                w->addr = v->start;
                w->folio = (struct folio_walk) {};
        }

        /* Steps end on 2 MiB boundaries, so no THP window is ever cut in two. */
        end = MIN(v->end, (w->addr & ~(HEAT_THP_SIZE - 1)) + BEGIN_STEP_PAGES * HEAT_PAGE_SIZE);
        n = (size_t) ((end - w->addr) >> HEAT_PAGE_SHIFT);
        r = pagemap_read(w->fd, w->addr, w->chunk->pme, n, false);
        if (r == -ESRCH) {
                log_debug("Process %d exited while its pagemap was read, skipping it.", (int) pid);
                begin_skip_target(b, w);
                return 1;
        }
        if (r < 0) {
                char key[64];

                snprintf(key, sizeof(key), "page-idle-pagemap-read:%d", (int) pid);
                log_repeat_errno(LOG_WARNING, key, r,
                                 "Cannot read /proc/%d/pagemap at 0x%" PRIx64 ": %m, ignoring the process",
                                 (int) pid, w->addr);
                begin_skip_target(b, w);
                return 1;
        }

        r = scan_chunk(b, ctx, w->chunk, pid, v->start, w->addr, n, &w->folio);
        if (r == -ENOENT) {
                log_debug("Heat store does not track 0x%" PRIx64 "-0x%" PRIx64 " of %d, skipping it.", v->start,
                          v->end, (int) pid);
                b->n_units = w->vma_units;
                b->n_segments = w->vma_segments;
                end = v->end;
        } else if (r < 0)
                return r;
        w->addr = end;
        if (end >= v->end) {
                w->vma++;
                w->in_vma = false;
        }
        return 1;
}

/* The idle bits of the words at positions [from, to) cannot be used: their PFNs lie beyond the kernel's bitmap
 * (max_pfn; memory hot-removed, or device memory). The pages cannot be observed, so they are not moved either. */
static void mark_unobservable(struct page_idle_backend *b, const struct scan_context *ctx, size_t from, size_t to) {
        uint64_t n = 0;

        for (size_t k = 0; k < b->n_segments; k++) {
                const struct segment *s = &b->segments[k];

                for (size_t u = s->first_unit; u < segment_end(b, k); u++) {
                        uint64_t pos = page_idle_slot_pos(b->units[u] & UNIT_SLOT_MASK);

                        if (pos < from || pos >= to)
                                continue;
                        (void) heat_store_set_flags(ctx->heat, s->pid,
                                                    s->start + ((b->units[u] >> UNIT_SLOT_BITS) << HEAT_PAGE_SHIFT),
                                                    HEAT_PAGE_SIZE, HEAT_F_SKIP, true);
                        n++;
                }
        }
        log_repeat_errno(LOG_WARNING, "page-idle-beyond-max-pfn", ENXIO,
                         "%" PRIu64 " tracked pages lie beyond the end of " PAGE_IDLE_BITMAP_PATH
                         " (max_pfn): %m; not tracking them this round", n);
}

static void rebuild_masks(struct page_idle_backend *b) {
        memset(b->plan.masks, 0, b->plan.n_words * sizeof(uint64_t));
        for (size_t u = 0; u < b->n_units; u++) {
                uint64_t slot = b->units[u] & UNIT_SLOT_MASK;

                b->plan.masks[page_idle_slot_pos(slot)] |= page_idle_slot_bit(slot);
        }
        b->masks_current = true;
}

static int flush_window(struct page_idle_backend *b, const struct scan_context *ctx, const struct segment *s,
                        uint64_t first, uint64_t last) {
        int r;

        r = heat_store_record_bitmap(ctx->heat, s->pid, s->start + (first << HEAT_PAGE_SHIFT), last - first + 1,
                                     b->window);
        memset(b->window, 0, ((last - first) / 64 + 1) * sizeof(uint64_t));
        return r;
}

/* Hands the accessed units of segment k to the heat store, in bitmaps over windows of address space. */
static int record_segment(struct page_idle_backend *b, const struct scan_context *ctx, size_t k) {
        const struct segment *s = &b->segments[k];
        uint64_t first = 0, last = 0;
        bool open = false;
        int r;

        for (size_t u = s->first_unit; u < segment_end(b, k); u++) {
                uint64_t slot = b->units[u] & UNIT_SLOT_MASK, page = b->units[u] >> UNIT_SLOT_BITS;
                uint64_t pos = page_idle_slot_pos(slot);

                if (pos >= b->live)
                        continue;
                if (b->plan.masks[pos] & page_idle_slot_bit(slot))
                        continue; /* still idle */

                if (open && page - first >= RECORD_WINDOW_PAGES) {
                        r = flush_window(b, ctx, s, first, last);
                        if (r < 0)
                                return r;
                        open = false;
                }
                if (!open) {
                        first = page;
                        open = true;
                }
                bit_set(b->window, page - first);
                last = page;
        }
        return open ? flush_window(b, ctx, s, first, last) : 0;
}

/* The backend ops */

static int reason_new(char **ret, int error, const char *fmt, ...) _printf_(3, 4);
static int reason_new(char **ret, int error, const char *fmt, ...) {
        va_list ap;
        int r;

        errno = error < 0 ? -error : error;
        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        if (r < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

/* Is the PFN of a present page visible? 1 yes, 0 no (hidden: zero), -ENODATA when no present page was found to
 * tell, other negative errnos. */
static int probe_pfns_visible(void) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *maps = NULL;
        _cleanup_free_ uint64_t *buf = NULL;
        struct vma *vmas = NULL;
        size_t n_vmas = 0, budget = 64 * 1024;
        volatile uint64_t touched = 1;
        uint64_t e;
        int r;

        fd = pagemap_open(0);
        if (fd < 0)
                return fd;

        /* The kernel decides per open file (file_ns_capable() on the opener), so any present page of ours
         * tells: first the stack page we just wrote. */
        touched++;
        r = pagemap_read(fd, (uint64_t) (uintptr_t) &touched & ~(HEAT_PAGE_SIZE - 1), &e, 1, true);
        if (r < 0)
                return r;
        if (pagemap_present(e))
                return pagemap_pfn(e) != 0;

        /* Not present there (a fixture tree describes some other process): any present page of a trackable VMA
         * will do. Bounded to 64k entries. */
        r = fsroot_read_file("/proc/self/maps", 16 * 1024 * 1024, &maps, NULL);
        if (r < 0)
                return r;
        r = maps_parse(maps, strlen(maps), &vmas, &n_vmas);
        if (r < 0)
                return r;
        buf = malloc(4096 * sizeof(uint64_t));
        if (!buf) {
                vmas_free(vmas, n_vmas);
                return -ENOMEM;
        }
        r = -ENODATA;
        for (size_t j = 0; j < n_vmas && budget > 0 && r == -ENODATA; j++) {
                if (!heat_vma_trackable(&vmas[j]))
                        continue;
                for (uint64_t a = vmas[j].start; a < vmas[j].end && budget > 0 && r == -ENODATA;) {
                        size_t n = (size_t) MIN((vmas[j].end - a) >> HEAT_PAGE_SHIFT, (uint64_t) MIN(budget, 4096));
                        int q = pagemap_read(fd, a, buf, n, true);

                        if (q < 0) {
                                r = q;
                                break;
                        }
                        for (size_t i = 0; i < n; i++)
                                if (pagemap_present(buf[i])) {
                                        r = pagemap_pfn(buf[i]) != 0;
                                        break;
                                }
                        a += (uint64_t) n << HEAT_PAGE_SHIFT;
                        budget -= n;
                }
        }
        vmas_free(vmas, n_vmas);
        return r;
}

/* DAMON marks pages idle through the same PG_idle flag (its mkold): with a kdamond running, pages it looked at
 * read as idle to us although they were accessed, and our writes disturb its counts. */
static int probe_damon(char **ret_reason) {
        static const char *const modules[] = { "damon_reclaim", "damon_lru_sort" };
        _cleanup_free_ char *nr = NULL;
        unsigned n = 0;
        int r;

        r = fsroot_read_line("/sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds", &nr);
        if (r >= 0 && sscanf(nr, "%u", &n) == 1)
                for (unsigned i = 0; i < n && i < 1024; i++) {
                        _cleanup_free_ char *state = NULL;
                        char path[128];

                        snprintf(path, sizeof(path), "/sys/kernel/mm/damon/admin/kdamonds/%u/state", i);
                        if (fsroot_read_line(path, &state) >= 0 && streq(state, "on"))
                                return reason_new(ret_reason, 0,
                                                  "DAMON kdamond %u is running: it uses the same PG_idle page flag, "
                                                  "readings would be corrupt", i) ?: 1;
                }

        for (size_t i = 0; i < ELEMENTSOF(modules); i++) {
                _cleanup_free_ char *enabled = NULL;
                char path[128];

                snprintf(path, sizeof(path), "/sys/module/%s/parameters/enabled", modules[i]);
                if (fsroot_read_line(path, &enabled) >= 0 && streq(enabled, "Y"))
                        return reason_new(ret_reason, 0,
                                          "%s is enabled: DAMON uses the same PG_idle page flag, readings would be "
                                          "corrupt", modules[i]) ?: 1;
        }
        return 0;
}

static int page_idle_backend_probe(_unused_ const struct scan_options *opts, char **ret_reason) {
        _cleanup_close_ int fd = -1, kfd = -1;
        int r;

        if (!ret_reason)
                return -EINVAL;
        *ret_reason = NULL;

        r = fsroot_access(PAGE_IDLE_BITMAP_PATH, F_OK);
        if (r == -ENOENT)
                return reason_new(ret_reason, 0,
                                  PAGE_IDLE_BITMAP_PATH " missing (kernel built without CONFIG_IDLE_PAGE_TRACKING)");
        /* Opening changes nothing; writing would. */
        fd = page_idle_open();
        if (fd == -EACCES || fd == -EPERM || fd == -EROFS)
                return reason_new(ret_reason, fd,
                                  "cannot open " PAGE_IDLE_BITMAP_PATH " for writing: %m (needs root and a writable "
                                  "/sys/kernel/mm/page_idle)");
        if (fd < 0)
                return reason_new(ret_reason, fd, "cannot open " PAGE_IDLE_BITMAP_PATH ": %m");

        kfd = kpageflags_open();
        if (kfd == -ENOENT)
                return reason_new(ret_reason, 0,
                                  KPAGEFLAGS_PATH " missing (kernel built without CONFIG_PROC_PAGE_MONITOR)");
        if (kfd < 0)
                return reason_new(ret_reason, kfd, "cannot open " KPAGEFLAGS_PATH ": %m (needs root)");

        r = probe_pfns_visible();
        if (r == 0)
                return reason_new(ret_reason, 0,
                                  "PFNs in /proc/PID/pagemap read as zero: CAP_SYS_ADMIN missing (in the initial "
                                  "user namespace)");
        if (r == -ENODATA)
                return reason_new(ret_reason, 0,
                                  "cannot tell whether PFNs are visible (needs CAP_SYS_ADMIN): no present page in "
                                  "/proc/self/pagemap");
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return reason_new(ret_reason, r, "cannot read /proc/self/pagemap: %m");

        r = probe_damon(ret_reason);
        if (r != 0)
                return r < 0 ? r : 0;
        return 1;
}

static int page_idle_backend_open(const struct scan_options *opts, void **ret_state) {
        struct page_idle_backend *b;

        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->kpageflags_fd = -1;
        b->begin.fd = -1;
        b->move_shared = opts->move_shared;

        b->bitmap_fd = page_idle_open();
        if (b->bitmap_fd < 0) {
                int r = b->bitmap_fd;
                free(b);
                return log_error_errno(r, "Cannot open " PAGE_IDLE_BITMAP_PATH ": %m");
        }
        b->kpageflags_fd = kpageflags_open();
        if (b->kpageflags_fd < 0) {
                int r = b->kpageflags_fd;
                close(b->bitmap_fd);
                free(b);
                return log_error_errno(r, "Cannot open " KPAGEFLAGS_PATH ": %m");
        }
        *ret_state = b;
        return 0;
}

/* The walk is over: the plan of its PFNs is built in steps (page_idle_planner_step()). Returns 0 or a negative
 * errno. */
static int begin_plan_start(struct page_idle_backend *b) {
        if (b->stats.pfn_zero > 0 && b->stats.present == b->stats.pfn_zero)
                return log_repeat_errno(LOG_ERR, "page-idle-pfn-zero", EPERM,
                                        "PFNs in /proc/PID/pagemap read as zero (%" PRIu64 " present pages): %m; "
                                        "CAP_SYS_ADMIN is missing, page_idle cannot track anything",
                                        b->stats.pfn_zero);
        return page_idle_planner_new(b->pfns, b->n_units, b->pfns, &b->planner);
}

/* PFNs a step of the plan handles: ~1.5 ms under TCG, where the whole plan of 393k PFNs took 446 ms in one go. */
#define PLAN_STEP_PFNS ((size_t) 16384)

/* One step of the plan; the last one gives each unit its slot, written over its PFN, and then the PFNs are no
 * longer needed. Returns 1 while steps remain, 0 once the round is planned, or a negative errno. */
static int begin_plan_step(struct page_idle_backend *b, const struct scan_context *ctx) {
        int r;

        r = page_idle_planner_step(b->planner, PLAN_STEP_PFNS, &b->plan);
        if (r != 0)
                return r;
        b->planner = page_idle_planner_free(b->planner);
        if (b->plan.n_words > (UNIT_SLOT_MASK >> 6))
                return log_repeat_errno(LOG_ERR, "page-idle-too-big", E2BIG,
                                        "Too many page_idle bitmap words (%zu): %m", b->plan.n_words);
        for (size_t u = 0; u < b->n_units; u++)
                b->units[u] |= b->pfns[u];
        b->pfns = mfree(b->pfns);
        if (b->n_units > 0 && b->n_units < b->allocated_units) {
                uint64_t *u = realloc(b->units, b->n_units * sizeof(uint64_t));
                if (u) {
                        b->units = u;
                        b->allocated_units = b->n_units;
                }
        }

        b->stats.units = b->n_units;
        b->live = b->plan.n_words;
        b->masks_current = true;
        b->in_round = true;

        log_debug("page_idle round %" PRIu64 ": %" PRIu64 " present pages, %zu units (%" PRIu64 " THP; %" PRIu64
                  " settled ones left out), %" PRIu64
                  " skipped (%" PRIu64 " shared, %" PRIu64 " unevictable, %" PRIu64 " KSM, %" PRIu64 " zero), %" PRIu64
                  " lazyfree; %zu words in %zu runs, %" PRIu64 " kpageflags reads, %" PRIu64 " processes gone; "
                  "walked in %" PRIu64 " steps, %" PRIu64 " slices",
                  ctx->round, b->stats.present, b->n_units, b->stats.thp_units, b->stats.unobserved, b->stats.skipped,
                  b->stats.skip[PAGE_SKIP_SHARED], b->stats.skip[PAGE_SKIP_UNEVICTABLE], b->stats.skip[PAGE_SKIP_KSM],
                  b->stats.skip[PAGE_SKIP_ZERO], b->stats.lazyfree, b->plan.n_words, b->plan.n_runs,
                  b->stats.kpageflags_reads, b->stats.targets_gone, b->begin.steps, b->begin_slices);
        return 0;
}

/* One slice of round_begin: steps of the walk, then of the plan, until ctx->slice_us has passed (0: one step).
 * Returns 1 while either goes on, 0 once the round is planned, or a negative errno (the round is reset). */
static int begin_slice(struct page_idle_backend *b, const struct scan_context *ctx) {
        uint64_t start = now_monotonic_us();
        int r;

        b->begin_slices++;
        for (;;) {
                if (!b->planner) {
                        r = begin_step(b, ctx, &b->begin);
                        if (r == 0) {
                                r = begin_plan_start(b);
                                if (r == 0)
                                        r = 1;
                        }
                } else
                        r = begin_plan_step(b, ctx);
                if (r <= 0)
                        break;
                if (now_monotonic_us() - start >= ctx->slice_us)
                        return 1;
        }
        begin_walk_done(&b->begin);
        if (r < 0)
                round_reset(b);
        return r;
}

static int page_idle_backend_round_begin(void *state, const struct scan_context *ctx) {
        struct page_idle_backend *b = state;

        /* A round that failed or was cut short was never ended. */
        round_reset(b);
        b->ksm_pages_exist = kpageflags_ksm_pages_exist();

        b->begin.chunk = malloc(sizeof(struct chunk));
        b->begin.pids = calloc(MAX(ctx->targets->n_targets, (size_t) 1), sizeof(pid_t));
        if (!b->begin.chunk || !b->begin.pids) {
                round_reset(b);
                return -ENOMEM;
        }
        for (size_t i = 0; i < ctx->targets->n_targets; i++)
                b->begin.pids[i] = ctx->targets->targets[i].pid;
        b->begin.n_pids = ctx->targets->n_targets;
        return begin_slice(b, ctx);
}

/* A pass's I/O a few words at a time: one step moves at most PASS_STEP_WORDS bitmap words (1024 PFNs, whose
 * mappings the kernel walks: 16 runs of up to 512 words were a whole 1.5 GiB target, 2.8 s under TCG, and 64
 * words still up to 58 ms), or
 * records one segment. The words are read in the order they were written, so each page's window stays the pass
 * interval plus about what writing took, as in one turn. */
#define PASS_STEP_WORDS ((size_t) 16)

/* One step of the pass in progress. Returns 1 while steps remain, 0 when the pass is done, or a negative errno. */
static int pass_step(struct page_idle_backend *b, const struct scan_context *ctx) {
        ssize_t n;
        int r;

        switch (b->pass_phase) {
        case PASS_WRITING:
        case PASS_READING:
                if (b->pass_phase == PASS_WRITING)
                        n = page_idle_write_some(b->bitmap_fd, &b->plan, b->live, &b->pass_cursor, PASS_STEP_WORDS);
                else
                        n = page_idle_read_some(b->bitmap_fd, &b->plan, b->live, &b->pass_cursor, PASS_STEP_WORDS);
                if (n < 0)
                        return b->pass_phase == PASS_WRITING ?
                                log_repeat_errno(LOG_ERR, "page-idle-write", (int) n,
                                                 "Cannot write " PAGE_IDLE_BITMAP_PATH ": %m") :
                                log_repeat_errno(LOG_ERR, "page-idle-read", (int) n,
                                                 "Cannot read " PAGE_IDLE_BITMAP_PATH ": %m");
                if ((size_t) n < b->live) {
                        mark_unobservable(b, ctx, (size_t) n, b->live);
                        b->live = (size_t) n;
                }
                if (!page_idle_cursor_done(&b->plan, b->live, &b->pass_cursor))
                        return 1;
                if (b->pass_phase == PASS_WRITING) {
                        b->pass_phase = PASS_NONE;
                        return 0;
                }
                b->pass_phase = PASS_RECORDING;
                b->pass_segment = 0;
                return 1;

        case PASS_RECORDING:
                if (b->pass_segment < b->n_segments) {
                        size_t k = b->pass_segment++;

                        r = record_segment(b, ctx, k);
                        if (r < 0 && r != -ENOENT) /* -ENOENT: the heat store dropped the process */
                                return log_repeat_errno(LOG_ERR, "page-idle-record", r,
                                                        "Cannot record accesses of %d: %m",
                                                        (int) b->segments[k].pid);
                }
                if (b->pass_segment < b->n_segments)
                        return 1;
                b->pass_phase = PASS_NONE;
                return 0;

        default:
                return 0;
        }
}

/* Steps until ctx->slice_us has passed (0: one step). Returns 1 while the pass goes on, 0 when it is done. */
static int pass_slice(struct page_idle_backend *b, const struct scan_context *ctx) {
        uint64_t start = now_monotonic_us();
        int r;

        for (;;) {
                r = pass_step(b, ctx);
                if (r < 0)
                        b->pass_phase = PASS_NONE;
                if (r <= 0)
                        return r;
                if (now_monotonic_us() - start >= ctx->slice_us)
                        return 1;
        }
}

static int page_idle_backend_pass_begin(void *state, const struct scan_context *ctx) {
        struct page_idle_backend *b = state;

        if (!b->in_round || b->pass_phase != PASS_NONE)
                return -EINVAL;
        if (b->live == 0)
                return 0;
        if (!b->masks_current)
                rebuild_masks(b);
        b->pass_phase = PASS_WRITING;
        b->pass_cursor = (struct page_idle_cursor) {};
        return pass_slice(b, ctx);
}

static int page_idle_backend_pass_end(void *state, const struct scan_context *ctx) {
        struct page_idle_backend *b = state;

        if (!b->in_round || b->pass_phase != PASS_NONE)
                return -EINVAL;
        if (b->live == 0)
                return 0;
        b->masks_current = false;
        b->pass_phase = PASS_READING;
        b->pass_cursor = (struct page_idle_cursor) {};
        return pass_slice(b, ctx);
}

static int page_idle_backend_resume(void *state, const struct scan_context *ctx) {
        struct page_idle_backend *b = state;

        if (b->begin.chunk)
                return begin_slice(b, ctx);
        if (b->pass_phase != PASS_NONE)
                return pass_slice(b, ctx);
        return -EINVAL;
}

static int page_idle_backend_round_end(void *state, _unused_ const struct scan_context *ctx) {
        round_reset(state);
        return 0;
}

static void page_idle_backend_close(void *state) {
        struct page_idle_backend *b = state;

        if (!b)
                return;
        /* Idle flags we set stay behind; the next access clears them, and nobody else reads them (a DAMON
         * started later begins with its own mkold). */
        round_reset(b);
        if (b->bitmap_fd >= 0)
                close(b->bitmap_fd);
        if (b->kpageflags_fd >= 0)
                close(b->kpageflags_fd);
        free(b);
}

const struct scan_backend_ops scan_backend_page_idle = {
        .name = "page_idle",
        .observes_partially = true,
        .probe = page_idle_backend_probe,
        .open = page_idle_backend_open,
        .round_begin = page_idle_backend_round_begin,
        .resume = page_idle_backend_resume,
        .pass_begin = page_idle_backend_pass_begin,
        .pass_end = page_idle_backend_pass_end,
        .round_end = page_idle_backend_round_end,
        .close = page_idle_backend_close,
};
