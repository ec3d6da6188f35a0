/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "maps.h"

/* The heat store: what tierd has learned about every tracked page, across rounds. Scanner backends write it
 * (one record call per pass and range), the policy and status only read it.
 *
 * Layout
 * ======
 *
 * store -> targets (sorted by pid, bsearch) -> VMAs (sorted by start, bsearch) -> one uint16_t per 4 KiB page
 * of the VMA, indexed by (addr - start) / 4096. All state is keyed by virtual address: PFNs change whenever the
 * kernel migrates, compacts or swaps a page, virtual addresses only when the process remaps.
 *
 * The dense entry (16 bits; with the settled bit below, the store needs 2 bytes and 1 bit per tracked 4 KiB page):
 *
 *   bits  0..3   hits       passes of the round that found the page accessed (0..15). While a round is open
 *                           this is the round so far; after heat_store_end_round() it is the last round's count.
 *   bits  4..6   streak     consecutive rounds with hits >= the round's hot threshold, saturating at 7
 *   bits  7..11  idle age   consecutive rounds with no hit at all, saturating at 31
 *   bit   12     THP        this slot is the head of a 2 MiB THP and carries the counts of the whole unit
 *   bit   13     lazyfree   MADV_FREE'd: the kernel may drop it, moving it is wasted bandwidth
 *   bit   14     skip       never move: mlocked/unevictable, KSM, the zero page, shared with another process
 *   bit   15     moved      the page has an entry in the move table (see below): a hint that keeps the move
 *                           table out of the per-page path, since nearly all pages have the bit clear
 *
 * 4 + 3 + 5 bits of counters is what a 2-byte budget leaves room for next to the four flags, and it is enough
 * for the policy: a page is hot after promote_rounds (<= HEAT_STREAK_MAX) rounds in a row at the threshold and
 * cold after cold_rounds (<= HEAT_IDLE_MAX) rounds without a hit; beyond the saturation points the order does
 * not matter (a page idle for 31 rounds is as cold as one idle for 300).
 *
 * THP: a 2 MiB THP is one unit with one entry. Its 512 slots stay in the VMA's array (so the memory per
 * tracked 4 KiB page stays at 2 bytes and a THP that splits turns back into 512 pages in place), but only the
 * head slot (the 2 MiB-aligned address) counts: it carries the THP flag and the counts. A record of any address
 * inside the unit counts for the unit, once per pass however many of its pages the backend reports (the low 4
 * bits of the first tail slot hold the number of the pass that last counted the unit; tail slots are otherwise
 * zero). Flags of a THP are set through its head address. A head only exists where the whole 2 MiB lies inside
 * the VMA; when a VMA change cuts through a unit, the unit is split (its counts copied to all 512 pages).
 *
 * The move table
 * ==============
 *
 * Move history (round of the last move, source and destination node, ping-pong count, back-off) needs 16 bytes a
 * page (packed to the kernel's limits on addresses, pids and nodes) and matters only for pages moved recently, so it
 * lives in a separate open-addressing hash (linear probing, backward-shift deletion) keyed by (pid, address). Moves
 * are rate limited, so it stays small; an entry lives while it can still affect a decision, i.e. for max(ping-pong
 * window, current wait) rounds after the last move, and is swept at the end of every round. It holds at most
 * HEAT_MOVES_MAX entries; when a move finds it full, it forgets early instead of refusing the move: first the
 * entries past their residency wait (they only serve ping-pong detection), then, if that freed less than half, the
 * oldest entries a round at a time until half is free; this round's stay. Moves are only refused (-ENOSPC) when one
 * round alone moved HEAT_MOVES_MAX units.
 *
 * Settled units
 * =============
 *
 * Where a unit is, is the kernel's to say (move_pages(2) with nodes=NULL, ~0.1-0.2 us a unit). Asking about every
 * hot and cold unit every round costs more than anything else at terabyte sizes, and nearly every answer is the
 * same as last round's: the hot units are already on the fastest tier, the cold ones on the slowest. So the store
 * keeps one more bit per slot (in a bitmap beside the entries, 1/16 of their size): "settled", set by whoever
 * learned where the unit is (the policy while locating, the executor after a move, a backend that resolves PFNs)
 * when the unit is where its trend wants it: on the fastest tier with a streak above 0 (HEAT_SETTLE_FASTEST; the
 * callers settle only hot units there, since a warm one on the fast tier is what an exchange displaces and must
 * stay in view), on the slowest tier once its idle age is above 0 (HEAT_SETTLE_SLOWEST). The bit then holds while
 * nothing can make the plan move the unit: the fold clears it when a unit on the fastest tier misses the
 * threshold (broken streak: it may be displaced, or turn cold), or one on the slowest reaches it (a streak: it may
 * turn hot). A stray hit on the slowest tier makes a unit warm, and warm units there stay where they are. A
 * settled unit therefore needs no plan, and the policy's walks pass HEAT_WALK_UNSETTLED and never see it.
 *
 * The bit is a hint: the kernel moves pages without telling (reclaim's demotion, NUMA balancing, a cpuset or
 * mempolicy change, a failed migration that left a page behind). It is dropped for one slice of every VMA at
 * each heat_store_begin_round() (the slice rotates, so each unit is located again at least every
 * HEAT_SETTLED_VERIFY_ROUNDS rounds), for the whole of a VMA that changed, for a THP formed or split, for a unit
 * that gets a lazyfree or skip flag, and for everything by heat_store_unsettle_all() (the tiers or the class
 * rules changed). A backend that knows each page's node every round (page_idle: PFN spans, pfn-map.h) makes it
 * exact instead: heat_store_settle_bitmap() sets and clears the bits of every unit it saw.
 *
 * Partial observation
 * ===================
 *
 * A settled unit needs no plan, and it needs little watching: what it waits for is a change of trend, which a
 * sample shows as well as a full look. With partial observation on (heat_store_set_partial_observation(), for a
 * backend that can track a chosen subset of pages: page_idle), a round observes
 *   - in a word of 64 slots (one settled-bitmap word) with a slot not settled at heat_store_begin_round(): every
 *     slot not settled, and the word's sample;
 *   - in a word of settled slots: its sample alone;
 * where the sample of word w in round r is slot (r + 23 w) mod 64 of it: each slot in turn, so heat arriving in a
 * settled region is seen within a round by the slots it touches and within 64 rounds by every slot. A sampled
 * settled slot whose fold clears its bit ("turned") makes the whole word observed the next round too, since heat
 * rarely arrives on one page alone: a hot set that moves is followed a word at a time. THP tail slots count as
 * settled here (the head carries the unit), so a settled THP is observed when its head is the sample. The rotating
 * slice above unsettles 1/HEAT_SETTLED_VERIFY_ROUNDS of the words each round, so every slot is looked at in full
 * at least that often. heat_store_observed_bitmap() tells the backend which pages those are (asked in round_begin,
 * after the backend's own heat_store_settle_bitmap(), before any pass); the fold folds exactly those and leaves
 * the others as they were (their hits are those of the last round that observed them), and
 * heat_store_begin_round() skips words of settled slots altogether: what a round costs, in the kernel (page_idle's
 * rmap walks) and in the store (clearing, recording, folding), follows the slots that are not settled, i.e. what
 * changed or still waits for a move, rather than what is tracked.
 *
 * Parked units
 * ============
 *
 * One population is neither settled nor changing: cold units on the fastest tier. tierd demotes only to make
 * room (free_target, exchanges), at most a round's demotion budget at a time, so on a large host most of the
 * fast tier is cold memory that stays there for many rounds, and watching all of it every round (rmap walks in
 * the kernel, record and fold in the store) would be most of what a round costs. With partial observation on,
 * heat_store_settle_bitmap() therefore also settles ("parks") a unit on the fastest tier that has no streak and
 * an idle age of at least park_idle_rounds (the daemon passes cold_rounds): it is then observed like any settled
 * unit, by sample, by the rotating slice and when its word turns, and keeps its bit until its fold sees it reach
 * the hot threshold (settled_keeps(): no streak) or the next settle_bitmap finds it no longer cold. A fourth
 * observation bitmap marks the words holding a parked unit, and walks that ask for cold units among the unsettled
 * ones (HEAT_WALK_UNSETTLED with HEAT_CLASS_COLD) also get the parked units of the words the last round looked at
 * in full: demotion candidates whose idle age is fresh, 1/HEAT_SETTLED_VERIFY_ROUNDS of them (the slice) each
 * round, so that a page that heated up unseen is never demoted on stale counts. A walk that finds fewer
 * cold units on the fastest tier than a round may demote holds parking (heat_store_hold_parking()): the next
 * round looks at every word holding a parked unit in full, its settle_bitmap parks nothing, every cold unit
 * there is observed and offered again, and parking resumes once the candidates outnumber the budget. Parking thus only takes effect where cold memory on the fast tier is more
 * than a round can move, which is where its cost lay.
 *
 * heat_store_settle_bitmap() reads no entry of a word whose 64 units its last call found settled on the slowest
 * tier while they are all still settled and still there (a settle for the fastest tier in between makes it
 * look again): only a fold can have changed those entries since, under the same rule.
 *
 * Rounds
 * ======
 *
 *   heat_store_begin_round(round, hot_threshold)   clears the hits of every entry
 *   heat_store_sync_target(pid, maps) ...          reconcile VMAs (may also happen before begin_round)
 *   heat_store_begin_pass()  1..passes times
 *       heat_store_record_bitmap() ...             each page at most once per pass
 *   heat_store_end_round()                         folds the hits into streak and idle age
 *
 * At the end of a round that ran P passes (1 <= P <= 15) with hot threshold T (0: every pass):
 *   - hits are clamped to P (a backend that reported a page twice in a pass cannot make it hotter than "every
 *     pass");
 *   - the threshold of the round is min(T, P) (T = 0 meaning P): a round that ran fewer passes than the
 *     threshold (passes lowered by a reload, a round cut short) counts a page found accessed in every pass that
 *     ran as hot, so a reload neither breaks nor fakes streaks;
 *   - streak = hits >= threshold ? min(streak + 1, 7) : 0;
 *   - idle = hits == 0 ? min(idle + 1, 31) : 0.
 * A round that ran no pass carries no information: streak and idle age are left alone.
 *
 * New pages (a VMA that appears or grows) start at zero: no streak and an idle age of 0, so a page has to stay
 * untouched for cold_rounds rounds before it counts as cold.
 *
 * Cost: begin_round and end_round are one linear pass over all entries each (no per-page branching in the
 * common case); a record is one pass over the bitmap, skipping empty words. heat_store_sync_target() copies
 * nothing for VMAs that did not change (their arrays are handed over) and copies by address overlap for the
 * others. No per-page allocation or hash lookup anywhere in the dense path.
 *
 * Not thread-safe: the daemon's event loop owns it. */

#define HEAT_PAGE_SHIFT 12
#define HEAT_PAGE_SIZE (UINT64_C(1) << HEAT_PAGE_SHIFT)
#define HEAT_THP_SIZE (UINT64_C(2) << 20)
#define HEAT_THP_PAGES 512

#define HEAT_HITS_SHIFT 0
#define HEAT_HITS_MASK UINT16_C(0x000f)
#define HEAT_STREAK_SHIFT 4
#define HEAT_STREAK_MASK UINT16_C(0x0070)
#define HEAT_IDLE_SHIFT 7
#define HEAT_IDLE_MASK UINT16_C(0x0f80)
#define HEAT_F_THP UINT16_C(0x1000)
#define HEAT_F_LAZYFREE UINT16_C(0x2000)
#define HEAT_F_SKIP UINT16_C(0x4000)
#define HEAT_F_MOVED UINT16_C(0x8000)
#define HEAT_FLAGS_MASK UINT16_C(0xf000)

#define HEAT_HITS_MAX 15
#define HEAT_PASSES_MAX 15 /* hits must fit in 4 bits; config.c's PASSES_MAX */
#define HEAT_STREAK_MAX 7  /* the largest usable promote_rounds */
#define HEAT_IDLE_MAX 31   /* the largest usable cold_rounds */

/* hot_threshold for "accessed in every pass of the round". */
#define HEAT_HOT_THRESHOLD_ALL_PASSES 0U

/* The move table holds at most this many pages (21 MiB at its load of 3/4): 4 GiB moved within a window; past
 * that it forgets the oldest history first. */
#define HEAT_MOVES_MAX (UINT64_C(1) << 20)

/* A settled unit is located again at least this often (rounds): a page the kernel moved behind tierd's back is
 * seen within this many rounds. */
#define HEAT_SETTLED_VERIFY_ROUNDS 8

/* For heat_store_foreach_unit()'s class_mask: leave out settled units (see "Settled units"). */
#define HEAT_WALK_UNSETTLED (1U << 16)

/* VMAs larger than this are not tracked: at 2 bytes per page of address space a sparse reservation (sanitizer
 * shadow, a runtime's pre-reserved heap) would cost far more than what is resident in it. 1 TiB of address space
 * is 512 MiB of entries. */
#define HEAT_VMA_MAX_BYTES (UINT64_C(1) << 40)

static inline unsigned heat_entry_hits(uint16_t e) {
        return (e & HEAT_HITS_MASK) >> HEAT_HITS_SHIFT;
}
static inline unsigned heat_entry_streak(uint16_t e) {
        return (e & HEAT_STREAK_MASK) >> HEAT_STREAK_SHIFT;
}
static inline unsigned heat_entry_idle_rounds(uint16_t e) {
        return (e & HEAT_IDLE_MASK) >> HEAT_IDLE_SHIFT;
}

/* Classes the policy works with. SKIPPED: lazyfree or skip flag set, never moved. */
enum heat_class {
        HEAT_CLASS_HOT,
        HEAT_CLASS_WARM,
        HEAT_CLASS_COLD,
        HEAT_CLASS_SKIPPED,
        _HEAT_CLASS_MAX,
};

#define HEAT_CLASS_MASK(c) (1U << (c))
#define HEAT_CLASS_MASK_ALL ((1U << _HEAT_CLASS_MAX) - 1)

const char *heat_class_to_string(enum heat_class c);

struct heat_class_params {
        unsigned promote_rounds; /* hot: streak >= this (1..HEAT_STREAK_MAX) */
        unsigned cold_rounds;    /* cold: idle age >= this (1..HEAT_IDLE_MAX) */
};

bool heat_class_params_valid(const struct heat_class_params *p);

/* p must be valid. Hot and cold cannot both hold: a hot page was hit in the last round, so its idle age is 0. */
static inline enum heat_class heat_entry_class(uint16_t e, const struct heat_class_params *p) {
        if (e & (HEAT_F_SKIP | HEAT_F_LAZYFREE))
                return HEAT_CLASS_SKIPPED;
        if (heat_entry_streak(e) >= p->promote_rounds)
                return HEAT_CLASS_HOT;
        if (heat_entry_idle_rounds(e) >= p->cold_rounds)
                return HEAT_CLASS_COLD;
        return HEAT_CLASS_WARM;
}

/* Residency and ping-pong rules for heat_store_note_move()/heat_store_may_move().
 *
 * After a move a page waits min_residency_rounds before it may move again. A move back to the node it last came
 * from within pingpong_window_rounds after that wait ended is a ping-pong: the page's wait doubles (from
 * max(min_residency_rounds, 1)), capped at max_backoff_rounds. The window counts from the end of the wait so
 * that a page bouncing back as soon as it may keeps doubling instead of being forgiven once its wait outgrows the
 * window. The back-off is forgotten when the entry expires: wait + max(wait, window) rounds after the last
 * move, a page that stayed put after it was free to go for a whole window, and at least as long as it had to
 * wait. pingpong_window_rounds = 0: no ping-pong detection. */
struct heat_move_params {
        unsigned min_residency_rounds;   /* default 2 */
        unsigned pingpong_window_rounds; /* default 8 */
        unsigned max_backoff_rounds;     /* default 64; >= min_residency_rounds */
};

#define HEAT_MOVE_PARAMS_DEFAULT                                                                        \
        ((struct heat_move_params) {                                                                    \
                .min_residency_rounds = 2,                                                              \
                .pingpong_window_rounds = 8,                                                            \
                .max_backoff_rounds = 64,                                                               \
        })

struct heat_store;

int heat_store_new(struct heat_store **ret);
struct heat_store *heat_store_free(struct heat_store *s);
static inline void heat_store_freep(struct heat_store **s) {
        heat_store_free(*s);
}
#define _cleanup_heat_store_free_ _cleanup_(heat_store_freep)

/* -EINVAL if max_backoff_rounds < min_residency_rounds or a value exceeds 2^20 rounds. Applies to entries
 * already in the table too. */
int heat_store_set_move_params(struct heat_store *s, const struct heat_move_params *p);

/* Rounds and passes. */

/* Opens round round_no and clears all hits. hot_threshold: 1..HEAT_HITS_MAX, or HEAT_HOT_THRESHOLD_ALL_PASSES.
 * -EBUSY if a round is open, -EINVAL for a bad threshold. */
int heat_store_begin_round(struct heat_store *s, uint64_t round_no, unsigned hot_threshold);
/* Starts the next pass of the open round and returns its number (1..HEAT_PASSES_MAX). -EINVAL outside a round,
 * -ERANGE after HEAT_PASSES_MAX passes. */
int heat_store_begin_pass(struct heat_store *s);

/* Partial observation (see above), for backends that track only what heat_store_observed_bitmap() names; off by
 * default. Takes effect at the next heat_store_begin_round(). */
void heat_store_set_partial_observation(struct heat_store *s, bool partial);
/* Sets bit k of bitmap (n_pages bits) when the page at start + k * 4 KiB is observed in the open round: every
 * page outside a round, without partial observation, or outside the target's tracked VMAs. Returns 0, -ENOENT
 * for an unknown pid, -EINVAL. */
int heat_store_observed_bitmap(const struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                               uint64_t *bitmap);
/* Folds the round (see above) and sweeps expired move entries. No-op outside a round. */
void heat_store_end_round(struct heat_store *s);
bool heat_store_in_round(const struct heat_store *s);

/* Targets and VMAs. */

/* The rule for VMAs worth tracking: private, writable, anonymous memory (no path, "[heap]", "[stack]", or a
 * named "[anon:...]" region), page aligned, non-empty and at most HEAT_VMA_MAX_BYTES. File-backed mappings
 * (even private writable ones, whose few COWed pages are not worth the array), shared memory, hugetlbfs and
 * the special mappings ([vdso], [vvar], ...) are left out. */
bool heat_vma_trackable(const struct vma *v);

/* Reconciles pid's VMAs with a fresh /proc/PID/maps (vmas in ascending address order, as maps_parse() gives
 * them); only trackable VMAs are kept. A VMA that did not change keeps its array as is; for every other one the
 * history of each address that stays tracked is kept (copied by address overlap, so growth, shrinkage at either
 * end, splits, merges and moved start addresses all keep what still exists); addresses that are new start empty;
 * VMAs that vanished are dropped. A THP cut by the change is split first. Creates the target if needed.
 * Returns 0, -EINVAL (pid <= 0; trackable VMAs unsorted or overlapping) or -ENOMEM; on error the target is left
 * as it was. */
int heat_store_sync_target(struct heat_store *s, pid_t pid, const struct vma *vmas, size_t n);
/* Rounds folded (with at least one pass) since pid became a target, counted up to HEAT_STREAK_MAX + 1: a unit
 * whose streak equals it has been hot in every round tierd has watched it. -ENOENT for an unknown pid. */
int heat_store_target_rounds(const struct heat_store *s, pid_t pid);
/* Drops every target whose pid is not in alive[0..n) (any order), with its move entries. Returns the number
 * dropped. */
size_t heat_store_drop_missing_targets(struct heat_store *s, const pid_t *alive, size_t n);
/* Returns 0, or -ENOENT if pid is not tracked. */
int heat_store_drop_target(struct heat_store *s, pid_t pid);

/* Recording a pass. */

/* Bit i of bitmap (LSB first within each uint64_t) set means the page at start + i * 4096 was accessed in the
 * current pass. [start, start + n_pages * 4096) may span several VMAs and gaps; pages that are not tracked are
 * ignored. A set bit anywhere inside a THP counts the unit once per pass. Returns 0, -ENOENT for an unknown pid,
 * -EINVAL (no pass begun, start not 4 KiB aligned, range overflows). */
int heat_store_record_bitmap(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                             const uint64_t *bitmap);
/* The same for a contiguous accessed range [addr, addr + len_bytes); addr and len_bytes are rounded out to
 * pages. */
int heat_store_record_accessed(struct heat_store *s, pid_t pid, uint64_t addr, uint64_t len_bytes);

/* Flags. */

/* Marks [addr, addr + 2 MiB) as one THP (is_thp) or as 512 pages again. Forming a unit merges the pages' history
 * (most hits, longest streak, shortest idle age: the unit is as hot as its hottest page; flags of the head
 * page); splitting copies the unit's history to every page. addr must be 2 MiB aligned with the whole 2 MiB
 * inside one tracked VMA. Returns 1 if something changed, 0 if it already was so, -ENOENT if pid or addr is not
 * tracked, -EINVAL. */
int heat_store_set_thp(struct heat_store *s, pid_t pid, uint64_t addr, bool is_thp);
/* Sets (on) or clears the flags (HEAT_F_LAZYFREE and/or HEAT_F_SKIP, others are -EINVAL) on every tracked unit
 * whose address lies in [addr, addr + len_bytes) rounded out to pages. A THP takes the flags through its head
 * address (a range holding only tail pages leaves it alone). Returns 0, -ENOENT for an unknown pid, -EINVAL. */
int heat_store_set_flags(struct heat_store *s, pid_t pid, uint64_t addr, uint64_t len_bytes, uint16_t flags,
                         bool on);
/* Bulk form: for every tracked unit at start + i * 4096 (i < n_pages), flags are set when bit i is set and
 * cleared when it is not; bits of THP tail pages are ignored. */
int heat_store_set_flags_bitmap(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages, uint16_t flags,
                                const uint64_t *bitmap);

/* Moves. */

/* Notes that the unit at addr moved from from_node to to_node in round round_no. Returns 1 if that was a
 * ping-pong (its wait doubled), 0 if not, -EINVAL, -ENOSPC when this round alone filled the move table (the
 * policy should stop moving for the round), -ENOMEM. addr should be a unit address (a THP's head). */
int heat_store_note_move(struct heat_store *s, pid_t pid, uint64_t addr, int from_node, int to_node,
                         uint64_t round_no);
/* Whether the unit at addr has waited out its residency (with back-off) by round round_no. */
bool heat_store_may_move(const struct heat_store *s, pid_t pid, uint64_t addr, uint64_t round_no);
/* A hint, no effect on the store: starts loading into the cache what heat_store_note_move() and
 * heat_store_settle() will touch for the unit at addr (its move-table slot, its entry, its settled word). Each of
 * those is a cache miss at a random place in tens to hundreds of MiB; a caller that notes a batch of moves hints
 * a few units ahead so that the misses overlap instead of following one another. */
void heat_store_prefetch_unit(const struct heat_store *s, pid_t pid, uint64_t addr);

struct heat_move_info {
        uint64_t last_round; /* as given to heat_store_note_move(), low 24 bits */
        int from_node, to_node;
        unsigned pingpongs;   /* within the life of the entry, saturating at 255 */
        unsigned wait_rounds; /* current residency wait, back-off included */
};
/* Returns 1 and fills *ret if the unit has a live entry, 0 if not. */
int heat_store_get_move(const struct heat_store *s, pid_t pid, uint64_t addr, struct heat_move_info *ret);

/* Settled units (see above). */

enum heat_settle {
        HEAT_SETTLE_FASTEST, /* the unit is on the fastest tier */
        HEAT_SETTLE_SLOWEST, /* the unit is on the slowest tier */
};
/* Marks the unit containing addr settled if its trend matches where it is: a streak above 0 for FASTEST (callers
 * settle only hot units there: a settled unit is not watched, and one merely on a streak may still have to make
 * room), an idle age above 0 for SLOWEST. Returns 1 if marked, 0 if the trend does not match, -ENOENT if not tracked, -EINVAL. */
int heat_store_settle(struct heat_store *s, pid_t pid, uint64_t addr, enum heat_settle where);
/* For a backend that learns where pages are (page_idle: each page's PFN, and so its node): bit k of fastest
 * (slowest) set when the unit at start + k * 4 KiB lies on the fastest (slowest) tier, with a THP's bit at its
 * head. Sets and clears the settled bits of every unit of the range: settled when on the fastest tier and hot (a
 * streak of at least hot_streak, i.e. promote_rounds), or on the slowest tier with an idle age (once settled
 * there: without a streak); with partial observation on and park_idle_rounds > 0, also on the fastest tier
 * without a streak and with an idle age of at least park_idle_rounds (parked, see "Parked units"); not settled
 * anywhere else, flagged, or not found in either bitmap. Returns 0, -ENOENT for an unknown pid, -EINVAL. */
int heat_store_settle_bitmap(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                             const uint64_t *fastest, const uint64_t *slowest, unsigned hot_streak,
                             unsigned park_idle_rounds);
/* While held, heat_store_settle_bitmap() parks nothing (and so lets go of what it parked before): the policy holds
 * parking when a round's walk found fewer cold units on the fastest tier than it could demote. */
void heat_store_hold_parking(struct heat_store *s, bool hold);
bool heat_store_is_settled(const struct heat_store *s, pid_t pid, uint64_t addr);
/* The unit's word is observed in full in the next round, settled or not (with partial observation; without it
 * every unit is observed anyway): for a caller that must see what a unit does after a move (the payoff ledger).
 * Returns 0, -ENOENT if not tracked, -EINVAL. */
int heat_store_watch_unit(struct heat_store *s, pid_t pid, uint64_t addr);

void heat_store_unsettle_all(struct heat_store *s);
/* Counts the settled units (one pass over the bitmaps: for status and the benchmarks). */
uint64_t heat_store_settled_units(const struct heat_store *s);

/* Reading. */

struct heat_unit {
        pid_t pid;
        uint64_t addr;
        uint64_t size_bytes; /* HEAT_PAGE_SIZE or HEAT_THP_SIZE */
        uint16_t entry;      /* decode with heat_entry_*() */
        enum heat_class class;
};

/* The unit containing addr (a THP's head entry for any address inside it), classified with p. Returns 0,
 * -ENOENT if not tracked, -EINVAL for invalid params. */
int heat_store_lookup(const struct heat_store *s, pid_t pid, uint64_t addr, const struct heat_class_params *p,
                      struct heat_unit *ret);

/* A negative return stops the walk and is passed back; a positive one pauses heat_store_walk() after the unit. */
typedef int (*heat_unit_func_t)(const struct heat_unit *u, void *userdata);

/* Calls f for every unit of pid (0: of all targets) whose class is in class_mask, in ascending (pid, address)
 * order; units of other classes cost one table lookup each. With HEAT_WALK_UNSETTLED in class_mask, settled units
 * are left out (a word of 64 settled base pages costs one load). For "coldest first"/"hottest first", take
 * heat_store_histogram() first, pick the idle-age or streak cut-off that yields the budget, then walk with that
 * cut-off. Returns 0, f's negative return, -ENOENT for an unknown pid, -EINVAL for invalid params. */
int heat_store_foreach_unit(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                            unsigned class_mask, heat_unit_func_t f, void *userdata);

/* The rank of a hot unit: streak x 16 + hits, the low 7 bits of its entry (0..127). */
#define HEAT_HOT_RANK_MASK UINT16_C(0x007f)

/* Narrows a walk to the units the caller still wants: hot ones of rank >= hot_rank_min, cold ones idle for
 * >= cold_idle_min rounds (other classes pass). The walk reads it as it goes, so f may narrow it: the policy
 * walks 2^28 entries at 1 TiB and wants a callback only for units its candidate sets would still take.
 * hot_rank_min > 127 or cold_idle_min > 31 lets none of that class through. */
struct heat_walk_filter {
        unsigned hot_rank_min;
        unsigned cold_idle_min;
};
/* heat_store_foreach_unit() with a filter (NULL: none). A positive return of f stops it as a pause would. */
int heat_store_foreach_unit_filtered(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                                     unsigned class_mask, const struct heat_walk_filter *filter,
                                     heat_unit_func_t f, void *userdata);

/* Where a paused walk goes on: the unit at or after addr in target pid, or the next target should pid be gone.
 * Zeroed, it is the start. By pid and address rather than by index, so that the store may change between the
 * turns of a walk the daemon spreads over several (a process that exits in between is left out, one that comes
 * in ahead of the cursor is not walked). */
struct heat_walk_cursor {
        pid_t pid;
        uint64_t addr;
};

/* heat_store_foreach_unit_filtered() from *cursor on. When f returns a positive value the walk pauses after that
 * unit: *cursor is where it goes on and 1 is returned. Returns 0 when the walk is done (a further call with the
 * same cursor walks nothing), f's negative return, -ENOENT for an unknown pid, -EINVAL for invalid params. */
int heat_store_walk(const struct heat_store *s, pid_t pid, const struct heat_class_params *p, unsigned class_mask,
                    const struct heat_walk_filter *filter, struct heat_walk_cursor *cursor, heat_unit_func_t f,
                    void *userdata);

/* Calls f for every stride-th unit of all targets (the first, the stride+1-th, ...) in walk order, whatever its
 * class: a sample whose cost follows the sample, not the store (base pages are reached by index; VMAs with THPs
 * are walked). stride 0 is -EINVAL. */
int heat_store_sample_units(const struct heat_store *s, const struct heat_class_params *p, uint64_t stride,
                            heat_unit_func_t f, void *userdata);

/* Counts over units (a THP is one unit of 512 pages). */
struct heat_histogram {
        uint64_t units;
        uint64_t pages; /* 4 KiB pages */
        uint64_t thp_units;
        uint64_t lazyfree_units, skip_units, moved_units;
        uint64_t hits[HEAT_HITS_MAX + 1];   /* units by hits (last round, or the open round so far) */
        uint64_t streak[HEAT_STREAK_MAX + 1];
        uint64_t idle[HEAT_IDLE_MAX + 1];
        uint64_t class_units[_HEAT_CLASS_MAX];
        uint64_t class_bytes[_HEAT_CLASS_MAX];
};

/* Adds the units of pid (0: all targets) to *h (which the caller zeroes). One pass over the entries (~1 ns a
 * page: large VMAs are counted through a 1 MiB table of entry values). Returns 0, -ENOENT for an unknown pid,
 * -EINVAL for invalid params, -ENOMEM. */
int heat_store_histogram(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                         struct heat_histogram *h);

struct heat_vma_info {
        pid_t pid;
        uint64_t start, end;
        struct heat_histogram histogram;
};
typedef int (*heat_vma_func_t)(const struct heat_vma_info *v, void *userdata);
/* Calls f for every tracked VMA of pid (0: all) in ascending (pid, start) order, with its histogram (one pass over
 * its entries: for `tierctl pages PID`). Returns 0, f's negative return, -ENOENT, -EINVAL or -ENOMEM. */
int heat_store_foreach_vma(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                           heat_vma_func_t f, void *userdata);

struct heat_store_stats {
        size_t n_targets;
        size_t n_vmas;
        uint64_t pages;        /* tracked 4 KiB slots */
        uint64_t thp_units;
        uint64_t units;        /* pages - 511 * thp_units */
        uint64_t tracked_bytes;
        uint64_t memory_bytes; /* heat_store_memory_bytes() */
        uint64_t moves;        /* live move table entries */
        uint64_t moves_evictions; /* times the move table was full and forgot early (see "The move table") */
        uint64_t round;        /* last round begun */
        unsigned last_passes;  /* passes of the last folded round */
        unsigned last_hot_threshold; /* its effective threshold */
        uint64_t observed_pages;     /* pages the last folded round observed ("Partial observation") */
        uint64_t parked_units;       /* units the last folded round parked ("Parked units") */
        bool parking_held;           /* heat_store_hold_parking() */
};
void heat_store_get_stats(const struct heat_store *s, struct heat_store_stats *ret);

/* Bytes the store has allocated: entry arrays, VMA and target tables, move table, the store itself (requested
 * sizes; malloc's own overhead is not included). */
uint64_t heat_store_memory_bytes(const struct heat_store *s);
