/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "heat.h"
#include "macro.h"
#include "util.h"

/* See heat.h for the layout and the rules; this file only implements them. */

struct heat_vma {
        uint64_t start, end; /* [start, end), 4 KiB aligned */
        uint64_t n_thp;      /* THP heads among the entries */
        uint16_t *entries;   /* one per 4 KiB page */
        uint64_t *settled;   /* one bit per slot, see "Settled units" in heat.h; a THP's is its head's */
        /* Partial observation (heat.h), NULL when off: five bitmaps of a bit per settled word, one after the other
         * (vma_due(), vma_look(), vma_turned(), vma_parked(), vma_slow_settled()): the word is observed in the
         * open round; it is observed in full in the open round; a unit its sample saw turned (for the next
         * round); the last heat_store_settle_bitmap() parked a unit of it (heat.h, "Parked units"); that call
         * found all 64 units settled on the slowest tier, and none was settled on the fastest since. */
        uint64_t *observation;
        uint16_t flags_seen; /* HEAT_F_LAZYFREE/HEAT_F_SKIP if any entry may have it: clearing a flag nobody
                              * has, every round for every page, then reads nothing */
};

struct heat_target {
        pid_t pid;
        bool alive; /* scratch for heat_store_drop_missing_targets() */
        uint32_t rounds; /* rounds folded since it became a target, up to HEAT_STREAK_MAX + 1 */
        struct heat_vma *vmas; /* ascending start, non-overlapping */
        size_t n_vmas;
};

/* 24 bytes. Rounds are kept as their low 32 bits and compared by wrapping difference: all intervals that matter
 * are bounded by heat_move_params (at most 2^20 rounds). */
/* 16 bytes, so that a table sized for 2^20 moves is 32 MiB at 1 TiB tracked: the fields are as wide as the kernel
 * lets them be. User addresses stay below 2^56 (5-level paging), pids below PID_MAX_LIMIT (2^22), nodes below
 * NODE_SET_MAX; the wait stops doubling before max_backoff_rounds (<= 2^20), and an entry lives at most twice that,
 * so rounds modulo 2^24 still tell every live entry's age. */
#define MOVE_PID_BITS 22
#define MOVE_PAGE_BITS 44
#define MOVE_ROUND_BITS 24
#define MOVE_ROUND_MASK ((UINT32_C(1) << MOVE_ROUND_BITS) - 1)
struct heat_move {
        uint64_t page : MOVE_PAGE_BITS; /* address >> HEAT_PAGE_SHIFT */
        uint64_t from_node : 10;
        uint64_t backoff_shift : 6;     /* the wait has doubled this many times */
        uint32_t pid : MOVE_PID_BITS;   /* 0: empty slot (pid 0 is never a target) */
        uint32_t to_node : 10;
        uint32_t round : MOVE_ROUND_BITS; /* of the last move, modulo 2^24 */
        uint32_t pingpongs : 8;
};
_Static_assert(sizeof(struct heat_move) == 16, "heat.h's size of the move table assumes 16-byte entries");
_Static_assert(NODE_SET_MAX <= 1 << 10, "node numbers must fit the move table's 10 bits");

static uint64_t move_addr(const struct heat_move *m) {
        return (uint64_t) m->page << HEAT_PAGE_SHIFT;
}

static bool move_key_is(const struct heat_move *m, pid_t pid, uint64_t addr) {
        return m->pid == (uint32_t) pid && move_addr(m) == addr;
}

struct heat_store {
        struct heat_target *targets; /* ascending pid */
        size_t n_targets, n_targets_allocated;

        uint64_t round;
        bool in_round;
        unsigned hot_threshold; /* as given to begin_round: 0 means every pass */
        unsigned passes;        /* begun in the open round */
        unsigned last_passes, last_hot_threshold;
        bool partial;            /* heat_store_set_partial_observation() */
        bool parking_held;       /* heat_store_hold_parking() */
        uint64_t parked_units;   /* parked by the last folded round's heat_store_settle_bitmap() calls */
        uint64_t parking_units;  /* parked so far by the open round's calls: a status mid-round sees the last */
        uint64_t observed_pages; /* slots the last folded round observed (a THP's head counts for 512) */

        struct heat_move_params move_params;
        struct heat_move *moves; /* open addressing, linear probing; load <= 3/4, see moves_grow() */
        size_t n_moves, moves_capacity;
        uint64_t moves_evicted_rounds; /* times the table was full and forgot early (moves_make_room()) */
        size_t moves_inserted; /* entries added since the last heat_store_end_round(): the round's moves */
        uint32_t moves_drop_age; /* moves_make_room()'s cut: entries at least this many rounds old go */
};

#define MOVES_CAPACITY_MIN 64
/* Enough slots for HEAT_MOVES_MAX entries at a load of 3/4: 21 MiB. */
#define MOVES_CAPACITY_MAX ((size_t) (HEAT_MOVES_MAX / 3 * 4 + MOVES_CAPACITY_MIN))
#define MOVE_PARAM_MAX (1U << 20)

static const char *const heat_class_names[_HEAT_CLASS_MAX] = {
        [HEAT_CLASS_HOT] = "hot",
        [HEAT_CLASS_WARM] = "warm",
        [HEAT_CLASS_COLD] = "cold",
        [HEAT_CLASS_SKIPPED] = "skipped",
};

const char *heat_class_to_string(enum heat_class c) {
        if ((unsigned) c >= _HEAT_CLASS_MAX)
                return NULL;
        return heat_class_names[c];
}

bool heat_class_params_valid(const struct heat_class_params *p) {
        return p && p->promote_rounds >= 1 && p->promote_rounds <= HEAT_STREAK_MAX && p->cold_rounds >= 1 &&
                p->cold_rounds <= HEAT_IDLE_MAX;
}

bool heat_vma_trackable(const struct vma *v) {
        if (!v || v->end <= v->start)
                return false;
        if ((v->start | v->end) & (HEAT_PAGE_SIZE - 1))
                return false;
        if (v->end - v->start > HEAT_VMA_MAX_BYTES)
                return false;
        if (v->perms[1] != 'w' || v->perms[3] != 'p')
                return false;
        if (!v->path)
                return true;
        return streq(v->path, "[heap]") || streq(v->path, "[stack]") || startswith(v->path, "[anon:");
}

/* VMAs */

static uint64_t vma_n_pages(const struct heat_vma *v) {
        return (v->end - v->start) >> HEAT_PAGE_SHIFT;
}

/* Offset of slot i within its 2 MiB-aligned unit of address space. */
static uint64_t vma_thp_offset(const struct heat_vma *v, uint64_t i) {
        return ((v->start >> HEAT_PAGE_SHIFT) + i) & (HEAT_THP_PAGES - 1);
}

/* Index of the first 2 MiB-aligned slot. */
static uint64_t vma_first_aligned(const struct heat_vma *v) {
        return (HEAT_THP_PAGES - ((v->start >> HEAT_PAGE_SHIFT) & (HEAT_THP_PAGES - 1))) & (HEAT_THP_PAGES - 1);
}

/* Index of the head of the THP containing slot i, or UINT64_MAX when slot i is not part of one. Heads only ever
 * sit at 2 MiB-aligned slots with their whole unit inside the VMA, so this is one array access. */
static uint64_t vma_thp_head(const struct heat_vma *v, uint64_t i) {
        uint64_t off, h;

        if (v->n_thp == 0)
                return UINT64_MAX;
        off = vma_thp_offset(v, i);
        if (off > i)
                return UINT64_MAX;
        h = i - off;
        if (h + HEAT_THP_PAGES > vma_n_pages(v) || !(v->entries[h] & HEAT_F_THP))
                return UINT64_MAX;
        return h;
}

static uint64_t vma_count_thp(const struct heat_vma *v) {
        uint64_t n = vma_n_pages(v), c = 0;

        for (uint64_t i = vma_first_aligned(v); i + HEAT_THP_PAGES <= n; i += HEAT_THP_PAGES)
                c += !!(v->entries[i] & HEAT_F_THP);
        return c;
}

static uint64_t vma_settled_words(const struct heat_vma *v) {
        return (vma_n_pages(v) + 63) / 64;
}

static bool vma_settled_test(const struct heat_vma *v, uint64_t i) {
        return (v->settled[i / 64] >> (i % 64)) & 1;
}

static void vma_settled_clear_range(struct heat_vma *v, uint64_t first, uint64_t n) {
        for (uint64_t i = first; i < first + n;) {
                uint64_t off = i % 64, len = MIN(64 - off, first + n - i);
                uint64_t mask = len == 64 ? UINT64_MAX : ((UINT64_C(1) << len) - 1) << off;

                v->settled[i / 64] &= ~mask;
                i += len;
        }
}

/* Partial observation */

#define OBSERVATION_BITMAPS 5

static uint64_t vma_observation_words(const struct heat_vma *v) {
        return (vma_settled_words(v) + 63) / 64;
}

static uint64_t *vma_due(const struct heat_vma *v) {
        return v->observation;
}

static uint64_t *vma_look(const struct heat_vma *v) {
        return v->observation + vma_observation_words(v);
}

static uint64_t *vma_turned(const struct heat_vma *v) {
        return v->observation + 2 * vma_observation_words(v);
}

static uint64_t *vma_parked(const struct heat_vma *v) {
        return v->observation + 3 * vma_observation_words(v);
}

static uint64_t *vma_slow_settled(const struct heat_vma *v) {
        return v->observation + 4 * vma_observation_words(v);
}

static bool vma_word_parked(const struct heat_vma *v, uint64_t w) {
        return v->observation && ((vma_parked(v)[w / 64] >> (w % 64)) & 1);
}

static bool vma_word_due(const struct heat_vma *v, uint64_t w) {
        return !v->observation || ((vma_due(v)[w / 64] >> (w % 64)) & 1);
}

/* Valid slots of settled word w (the last word of a VMA may be partial). */
static uint64_t vma_word_len(const struct heat_vma *v, uint64_t w) {
        return MIN((uint64_t) 64, vma_n_pages(v) - w * 64);
}

static uint64_t vma_word_valid(const struct heat_vma *v, uint64_t w) {
        uint64_t len = vma_word_len(v, w);

        return len == 64 ? UINT64_MAX : (UINT64_C(1) << len) - 1;
}

/* The slots of word w that are THP tails: they carry no heat of their own (the head does) and never a settled
 * bit, so they must not make their word due. */
static uint64_t vma_word_tails(const struct heat_vma *v, uint64_t w) {
        uint64_t tails = 0, len = vma_word_len(v, w);

        if (v->n_thp == 0)
                return 0;
        /* At most two 2 MiB units meet in a word. */
        for (uint64_t j = 0; j < len;) {
                uint64_t i = w * 64 + j, off = vma_thp_offset(v, i), run = MIN(HEAT_THP_PAGES - off, len - j);

                if (vma_thp_head(v, i) != UINT64_MAX) {
                        uint64_t m = (run == 64 ? UINT64_MAX : (UINT64_C(1) << run) - 1) << j;

                        if (off == 0)
                                m &= ~(UINT64_C(1) << j);
                        tails |= m;
                }
                j += run;
        }
        return tails;
}

/* The slot of word w still observed in a round the word is not due: each in turn, a different one every round,
 * so that heat arriving in a settled word is noticed without looking at all of it. A sampled THP tail shows
 * nothing (the head holds the unit's heat): a THP is sampled when its head's turn comes, once in 64 rounds like
 * any slot. */
static inline unsigned sample_offset(uint64_t w, uint64_t round, uint64_t len) {
        return (unsigned) (len == 64 ? (round + w * 23) & 63 : (round + w * 23) % len);
}

static uint64_t vma_sample_slot(const struct heat_vma *v, uint64_t w, uint64_t round) {
        return w * 64 + sample_offset(w, round, vma_word_len(v, w));
}

/* How many words ahead the policy's walk and the record fetch entries into the cache. The words the walk reads
 * are those not all settled, and the record's those with a hit: irregular patterns the hardware prefetcher does
 * not follow, so each read would otherwise wait for its line. (The fold and the settle pass gained nothing from
 * the same at 1 TiB: BENCHMARKS.md.) */
#define WORD_AHEAD 4

/* Both cache lines of word w's 64 entries. */
static inline void vma_prefetch_word(const struct heat_vma *v, uint64_t w) {
        __builtin_prefetch(v->entries + w * 64, 1);
        __builtin_prefetch(v->entries + w * 64 + 32, 1);
}

/* The words [from, to) of v that round re-verifies: a slice that rotates through the VMA in
 * HEAT_SETTLED_VERIFY_ROUNDS rounds. */
static void vma_verify_slice(const struct heat_vma *v, uint64_t round, uint64_t *ret_from, uint64_t *ret_to) {
        uint64_t words = vma_settled_words(v), slice = round % HEAT_SETTLED_VERIFY_ROUNDS;

        *ret_from = words * slice / HEAT_SETTLED_VERIFY_ROUNDS;
        *ret_to = words * (slice + 1) / HEAT_SETTLED_VERIFY_ROUNDS;
}

/* What a round observes of a VMA, worked out once for the loops over its words. */
struct observation {
        const struct heat_vma *v;
        uint64_t round;
        uint64_t slice_from, slice_to; /* vma_verify_slice() */
        uint64_t full_words;           /* words of 64 valid slots */
};

static struct observation observation_of(const struct heat_vma *v, uint64_t round) {
        struct observation o = { .v = v, .round = round, .full_words = vma_n_pages(v) / 64 };

        vma_verify_slice(v, round, &o.slice_from, &o.slice_to);
        return o;
}

/* The slots of word w the round observes (bit j: slot w * 64 + j): in a word it left out, the sample; in the
 * words of the round's slice, all; in the others, every slot not settled, and the sample. Without partial
 * observation, all. */
static inline uint64_t observation_word(const struct observation *o, uint64_t w) {
        const struct heat_vma *v = o->v;
        uint64_t sample, valid;

        if (!v->observation)
                return UINT64_MAX;
        /* Full words spelled out: this runs for every word of every VMA, in the fold and the record. */
        if (w < o->full_words) {
                sample = UINT64_C(1) << sample_offset(w, o->round, 64);
                valid = UINT64_MAX;
        } else {
                sample = UINT64_C(1) << sample_offset(w, o->round, vma_word_len(v, w));
                valid = vma_word_valid(v, w);
        }
        if (!vma_word_due(v, w))
                return sample;
        /* Settled again within the round (by a backend that knows where pages are) or not: the slice is the
         * full look that bounds how long a settled unit goes unseen, and a word whose sample turned last round
         * is looked at in full too (heat arriving or leaving rarely touches one page alone). */
        if ((w >= o->slice_from && w < o->slice_to) || ((vma_look(v)[w / 64] >> (w % 64)) & 1))
                return valid;
        return (~v->settled[w] | sample) & valid;
}

static bool observation_slot(const struct observation *o, uint64_t i) {
        return (observation_word(o, i / 64) >> (i % 64)) & 1;
}

/* Decides which words the round looks at: those with a unit that is not settled. Without memory for the bits,
 * every word is. look_parked: parking is held, and its settle pass will unpark every unit, which the policy's walk
 * then offers for demotion: their words are looked at in full first, so none is offered on a stale idle age. */
static void vma_plan_observation(struct heat_vma *v, bool look_parked) {
        uint64_t words = vma_settled_words(v), n = vma_observation_words(v);

        if (!v->observation) {
                v->observation = calloc(OBSERVATION_BITMAPS * n, sizeof(uint64_t));
                if (!v->observation)
                        return;
        } else
                memset(vma_due(v), 0, n * sizeof(uint64_t));
        /* What turned last round is looked at in full in this one. */
        memcpy(vma_look(v), vma_turned(v), n * sizeof(uint64_t));
        memset(vma_turned(v), 0, n * sizeof(uint64_t));
        if (look_parked)
                for (uint64_t k = 0; k < n; k++)
                        vma_look(v)[k] |= vma_parked(v)[k];
        for (uint64_t w = 0; w < words; w++) {
                uint64_t units = vma_word_valid(v, w) & ~vma_word_tails(v, w);

                if ((v->settled[w] & units) != units || ((vma_look(v)[w / 64] >> (w % 64)) & 1))
                        vma_due(v)[w / 64] |= UINT64_C(1) << (w % 64);
        }
}

/* Whether a settled unit stays settled through the fold of a round that gave it hits (clamped to the passes). One
 * on the fastest tier (it has a streak) stays while its streak holds: once broken it may be displaced or demoted.
 * One on the slowest tier (no streak) stays until it reaches the threshold, which starts the streak that could
 * make it hot: a stray hit makes it warm, and warm units on the slowest tier are where the plan leaves them. */
static inline bool settled_keeps(uint16_t e, unsigned hits, unsigned threshold) {
        if (e & HEAT_STREAK_MASK)
                return hits >= threshold;
        return hits < threshold;
}

/* The unit becomes 512 pages, each with the unit's history. The move-table entry, if any, is keyed by the head
 * address, which stays the head page's, so only the head keeps the moved marker. */
static void vma_thp_split(struct heat_vma *v, uint64_t h) {
        uint16_t *e = v->entries + h;
        uint16_t head = e[0] & (uint16_t) ~HEAT_F_THP;
        uint16_t tail = head & (uint16_t) ~HEAT_F_MOVED;

        e[0] = head;
        for (unsigned j = 1; j < HEAT_THP_PAGES; j++)
                e[j] = tail;
        v->n_thp--;
        vma_settled_clear_range(v, h, HEAT_THP_PAGES);
}

/* The 512 pages become one unit, as hot as its hottest page. */
static void vma_thp_form(struct heat_vma *v, uint64_t h) {
        uint16_t *e = v->entries + h;
        unsigned hits = 0, streak = 0, idle = HEAT_IDLE_MAX;

        for (unsigned j = 0; j < HEAT_THP_PAGES; j++) {
                hits = MAX(hits, heat_entry_hits(e[j]));
                streak = MAX(streak, heat_entry_streak(e[j]));
                idle = MIN(idle, heat_entry_idle_rounds(e[j]));
        }
        e[0] = (uint16_t) ((e[0] & (HEAT_F_LAZYFREE | HEAT_F_SKIP | HEAT_F_MOVED)) | HEAT_F_THP |
                           hits << HEAT_HITS_SHIFT | streak << HEAT_STREAK_SHIFT | idle << HEAT_IDLE_SHIFT);
        memset(e + 1, 0, (HEAT_THP_PAGES - 1) * sizeof(uint16_t));
        v->n_thp++;
        vma_settled_clear_range(v, h, HEAT_THP_PAGES);
}

/* Splits the THP that addr falls strictly inside, if any: a VMA boundary is being drawn there. */
static void vma_thp_split_at(struct heat_vma *v, uint64_t addr) {
        uint64_t head_addr, h;

        if (v->n_thp == 0 || addr % HEAT_THP_SIZE == 0)
                return;
        head_addr = addr & ~(HEAT_THP_SIZE - 1);
        if (head_addr < v->start)
                return;
        h = (head_addr - v->start) >> HEAT_PAGE_SHIFT;
        if (h + HEAT_THP_PAGES <= vma_n_pages(v) && (v->entries[h] & HEAT_F_THP))
                vma_thp_split(v, h);
}

static void vma_copy_overlap(struct heat_vma *dst, struct heat_vma *src) {
        uint64_t a = MAX(dst->start, src->start), b = MIN(dst->end, src->end);

        if (a >= b)
                return;
        vma_thp_split_at(src, a);
        vma_thp_split_at(src, b);
        memcpy(dst->entries + ((a - dst->start) >> HEAT_PAGE_SHIFT),
               src->entries + ((a - src->start) >> HEAT_PAGE_SHIFT),
               ((b - a) >> HEAT_PAGE_SHIFT) * sizeof(uint16_t));
}

static void vmas_free_entries(struct heat_vma *vmas, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(vmas[i].entries);
                free(vmas[i].settled);
                free(vmas[i].observation);
        }
}

/* Hits saturate at 15; the increment touches only the low 4 bits. */
static inline void entry_hit(uint16_t *e) {
        *e += (*e & HEAT_HITS_MASK) != HEAT_HITS_MASK;
}

/* A THP counts once per pass: the first tail slot remembers the pass that last counted it. */
static inline void thp_hit(uint16_t *head, unsigned pass) {
        uint16_t *stamp = head + 1;

        if ((*stamp & HEAT_HITS_MASK) == pass)
                return;
        *stamp = (uint16_t) ((*stamp & ~HEAT_HITS_MASK) | pass);
        entry_hit(head);
}

/* Slots first .. first + count of v were covered by a pass; slot first + k's bit is bit bit0 + k of bitmap (all
 * set when bitmap is NULL). */
static void vma_record(struct heat_vma *v, uint64_t first, uint64_t count, const uint64_t *bitmap, uint64_t bit0,
                       unsigned pass) {
        uint16_t *e = v->entries + first;

        for (uint64_t k = 0; k < count;) {
                uint64_t b = bit0 + k, w;
                unsigned off = (unsigned) (b % 64);
                uint64_t len = MIN(64 - off, count - k);
                bool thp_possible = v->n_thp > 0;

                w = bitmap ? bitmap[b / 64] >> off : UINT64_MAX;
                if (len < 64)
                        w &= (UINT64_C(1) << len) - 1;
                if (k + (WORD_AHEAD + 1) * 64 <= count) {
                        __builtin_prefetch(e + k + WORD_AHEAD * 64, 1);
                        __builtin_prefetch(e + k + WORD_AHEAD * 64 + 32, 1);
                }

                if (w == 0) {
                        k += len;
                        continue;
                }
                if (thp_possible && vma_thp_offset(v, first + k) + len <= HEAT_THP_PAGES) {
                        /* The word lies within one 2 MiB unit: one look at its head decides for all bits. */
                        uint64_t h = vma_thp_head(v, first + k);

                        if (h != UINT64_MAX) {
                                thp_hit(v->entries + h, pass);
                                k += len;
                                continue;
                        }
                        thp_possible = false;
                }
                if (!thp_possible) {
                        if (w == UINT64_MAX)
                                for (unsigned j = 0; j < 64; j++)
                                        entry_hit(e + k + j);
                        else
                                for (; w; w &= w - 1)
                                        entry_hit(e + k + __builtin_ctzll(w));
                } else
                        for (; w; w &= w - 1) {
                                uint64_t i = first + k + (uint64_t) __builtin_ctzll(w);
                                uint64_t h = vma_thp_head(v, i);

                                if (h == UINT64_MAX)
                                        entry_hit(v->entries + i);
                                else
                                        thp_hit(v->entries + h, pass);
                        }
                k += len;
        }
}

/* The end-of-round rule of heat.h on 8 entries at a time. The fold runs over every tracked page each round (2^28
 * of them for 1 TiB), and the scalar form is compute bound at ~2 ns an entry; GCC's generic vectors (SSE2 on
 * x86-64, NEON on arm64) bring it to memory bandwidth. Comparisons give all-ones lanes, so "x + (x < max)" is
 * written "x - (x < max)", and selects are masks. */
typedef uint16_t u16x8 __attribute__((vector_size(16)));
/* Signed lanes for comparisons: every field compared is below 2^15, and SSE2 compares signed 16-bit lanes in one
 * instruction where an unsigned comparison takes two or three. */
typedef int16_t s16x8 __attribute__((vector_size(16)));

static inline s16x8 s16x8_splat(int v) {
        return (s16x8) { (int16_t) v, (int16_t) v, (int16_t) v, (int16_t) v,
                         (int16_t) v, (int16_t) v, (int16_t) v, (int16_t) v };
}


static inline u16x8 u16x8_splat(unsigned v) {
        return (u16x8) { v, v, v, v, v, v, v, v };
}

/* Folds the entries among 8 whose bit in lanes is set (lane j is bit j), leaves the others alone; with want_keep,
 * returns a bit per entry: settled_keeps() of it. */
static inline unsigned entries_fold8(uint16_t *e, unsigned passes, unsigned threshold, bool want_keep,
                                     unsigned lanes) {
        typedef s16x8 v8;
        const v8 lane_bits = { 1, 2, 4, 8, 16, 32, 64, 128 };
        const v8 zero = { 0 }, passes_v = zero + (int16_t) passes, threshold_m1 = zero + (int16_t) (threshold - 1);
        const v8 streak_max = zero + HEAT_STREAK_MAX, idle_max = zero + HEAT_IDLE_MAX;
        v8 old, x, hits, streak, idle, m, at_threshold, no_hit, keep, fold;
        unsigned bits = 0;

        memcpy(&x, e, sizeof(x));
        old = x;
        hits = x & HEAT_HITS_MASK;
        m = (v8) (hits > passes_v);
        hits = (hits & ~m) | (passes_v & m);
        streak = (x & HEAT_STREAK_MASK) >> HEAT_STREAK_SHIFT;
        idle = (x & HEAT_IDLE_MASK) >> HEAT_IDLE_SHIFT;
        at_threshold = (v8) (hits > threshold_m1);
        no_hit = (v8) (hits == zero);
        if (want_keep) {
                v8 on_streak = (v8) (streak > zero);

                keep = (on_streak & at_threshold) | (~on_streak & ~at_threshold);
#ifdef __SSE2__
                bits = (unsigned) _mm_movemask_epi8(_mm_packs_epi16((__m128i) keep, _mm_setzero_si128())) & 0xff;
#else
                for (unsigned j = 0; j < 8; j++)
                        bits |= (keep[j] & 1U) << j;
#endif
        }
        streak = at_threshold & (streak - (v8) (streak < streak_max));
        idle = no_hit & (idle - (v8) (idle < idle_max));
        x = (x & (int16_t) HEAT_FLAGS_MASK) | hits << HEAT_HITS_SHIFT | streak << HEAT_STREAK_SHIFT |
                idle << HEAT_IDLE_SHIFT;
        fold = (v8) (((zero + (int16_t) lanes) & lane_bits) != zero);
        x = (x & fold) | (old & ~fold);
        memcpy(e, &x, sizeof(x));
        return bits;
}

static void entries_clear_hits(uint16_t *e, uint64_t n) {
        const u16x8 keep = u16x8_splat((uint16_t) ~HEAT_HITS_MASK);
        uint64_t i = 0;

        for (; i + 8 <= n; i += 8) {
                u16x8 x;

                memcpy(&x, e + i, sizeof(x));
                x &= keep;
                memcpy(e + i, &x, sizeof(x));
        }
        for (; i < n; i++)
                e[i] &= (uint16_t) ~HEAT_HITS_MASK;
}

/* The end-of-round rule of heat.h. */
static void entry_fold(uint16_t *e, unsigned passes, unsigned threshold) {
        unsigned x = *e;
        unsigned hits = MIN(x & HEAT_HITS_MASK, passes);
        unsigned streak = (x & HEAT_STREAK_MASK) >> HEAT_STREAK_SHIFT;
        unsigned idle = (x & HEAT_IDLE_MASK) >> HEAT_IDLE_SHIFT;

        streak = hits >= threshold ? streak + (streak < HEAT_STREAK_MAX) : 0;
        idle = hits == 0 ? idle + (idle < HEAT_IDLE_MAX) : 0;
        *e = (uint16_t) ((x & HEAT_FLAGS_MASK) | hits << HEAT_HITS_SHIFT | streak << HEAT_STREAK_SHIFT |
                         idle << HEAT_IDLE_SHIFT);
}

static void entries_fold(uint16_t *e, uint64_t n, unsigned passes, unsigned threshold) {
        uint64_t i = 0;

        for (; i + 8 <= n; i += 8)
                entries_fold8(e + i, passes, threshold, false, 0xff);
        for (; i < n; i++)
                entry_fold(e + i, passes, threshold);
}

/* A settled unit seen by sample turned: its word gets a full look next round. */
static void vma_mark_turned(struct heat_vma *v, uint64_t w) {
        if (v->observation)
                vma_turned(v)[w / 64] |= UINT64_C(1) << (w % 64);
}

/* One slot: the fold and its settled bit. Returns whether a settled unit turned. */
static bool vma_fold_slot(struct heat_vma *v, uint64_t i, unsigned passes, unsigned threshold) {
        uint16_t *e = v->entries + i;
        bool turned = false;

        if (vma_settled_test(v, i) && !settled_keeps(*e, MIN(*e & HEAT_HITS_MASK, passes), threshold)) {
                v->settled[i / 64] &= ~(UINT64_C(1) << (i % 64));
                turned = true;
        }
        entry_fold(e, passes, threshold);
        return turned;
}

/* Base pages only: the fold and the settled bits' upkeep in one pass, 64 entries (one bitmap word) at a time.
 * Words without a settled unit, most of them until placement has settled, cost nothing extra; a word the round
 * left out costs its one sampled slot. Returns the slots observed. */
static uint64_t vma_fold_base(struct heat_vma *v, unsigned passes, unsigned threshold, uint64_t round) {
        const struct observation o = observation_of(v, round);
        uint64_t n = vma_n_pages(v), w = 0, observed = 0;
        uint16_t *e = v->entries;

        for (; (w + 1) * 64 <= n; w++) {
                uint16_t *g = e + w * 64;
                uint64_t keep = 0, obs;

                if (!vma_word_due(v, w)) {
                        if (vma_fold_slot(v, vma_sample_slot(v, w, round), passes, threshold))
                                vma_mark_turned(v, w);
                        observed++;
                        continue;
                }
                if (v->settled[w] == 0) {
                        for (unsigned j = 0; j < 64; j += 8)
                                entries_fold8(g + j, passes, threshold, false, 0xff);
                        observed += 64;
                        continue;
                }
                /* Settled slots were not observed (but the sample): they keep their entries and their bits. */
                obs = observation_word(&o, w);
                for (unsigned j = 0; j < 64; j += 8)
                        keep |= (uint64_t) entries_fold8(g + j, passes, threshold, true, (unsigned) (obs >> j) & 0xff)
                                << j;
                if (obs != UINT64_MAX && (v->settled[w] & obs & ~keep))
                        vma_mark_turned(v, w);
                v->settled[w] &= keep | ~obs;
                observed += (uint64_t) __builtin_popcountll(obs);
        }
        for (uint64_t i = w * 64; i < n; i++)
                if (observation_slot(&o, i)) {
                        if (vma_fold_slot(v, i, passes, threshold) &&
                            observation_word(&o, w) != vma_word_valid(v, w))
                                vma_mark_turned(v, w);
                        observed++;
                }
        return observed;
}

/* With THPs: the settled bits first (only heads carry one), then the fold. */
static void vma_settled_fold(struct heat_vma *v, unsigned passes, unsigned threshold, uint64_t round) {
        const struct observation o = observation_of(v, round);

        for (uint64_t w = 0; w < vma_settled_words(v); w++)
                for (uint64_t b = v->settled[w]; b; b &= b - 1) {
                        uint64_t i = w * 64 + (uint64_t) __builtin_ctzll(b);
                        uint16_t x = v->entries[i];

                        if (observation_slot(&o, i) && !settled_keeps(x, MIN(x & HEAT_HITS_MASK, passes), threshold)) {
                                if (observation_word(&o, w) != vma_word_valid(v, w))
                                        vma_mark_turned(v, w);
                                v->settled[w] &= ~(UINT64_C(1) << (i % 64));
                        }
                }
}

/* Folds the observed slots of [first, first + n); returns how many. The settled bits were updated before (and
 * so a sample whose bit went is folded as observed, which it was). */
static uint64_t vma_fold_range(struct heat_vma *v, uint64_t first, uint64_t n, unsigned passes, unsigned threshold,
                               uint64_t round) {
        const struct observation o = observation_of(v, round);
        uint64_t observed = 0;

        for (uint64_t i = first; i < first + n;) {
                uint64_t w = i / 64, off = i % 64, len = MIN(64 - off, first + n - i);
                uint64_t obs = observation_word(&o, w) >> off;

                if (len < 64)
                        obs &= (UINT64_C(1) << len) - 1;
                if (obs == (len == 64 ? UINT64_MAX : (UINT64_C(1) << len) - 1)) {
                        entries_fold(v->entries + i, len, passes, threshold);
                        observed += len;
                } else
                        for (; obs; obs &= obs - 1) {
                                entry_fold(v->entries + i + (uint64_t) __builtin_ctzll(obs), passes, threshold);
                                observed++;
                        }
                i += len;
        }
        return observed;
}

static uint64_t vma_fold(struct heat_vma *v, unsigned passes, unsigned threshold, uint64_t round) {
        uint64_t n = vma_n_pages(v), observed = 0;

        if (v->n_thp == 0)
                return vma_fold_base(v, passes, threshold, round);
        vma_settled_fold(v, passes, threshold, round);
        /* Chunk by 2 MiB of address space: a THP folds its head only, tail slots are left alone. */
        for (uint64_t i = 0; i < n;) {
                uint64_t off = vma_thp_offset(v, i);
                uint64_t chunk = MIN(HEAT_THP_PAGES - off, n - i);

                if (off == 0 && chunk == HEAT_THP_PAGES && (v->entries[i] & HEAT_F_THP))
                        observed += vma_fold_range(v, i, 1, passes, threshold, round) * HEAT_THP_PAGES;
                else
                        observed += vma_fold_range(v, i, chunk, passes, threshold, round);
                i += chunk;
        }
        return observed;
}

/* Clears the hits of the slots the round observes (and with them the pass stamps of THP tails). The others keep
 * the hits of the last round that looked at them. */
static void vma_clear_hits(struct heat_vma *v, uint64_t round) {
        uint64_t words = vma_settled_words(v);

        if (!v->observation) {
                entries_clear_hits(v->entries, vma_n_pages(v));
                return;
        }
        for (uint64_t w = 0; w < words; w++) {
                if (vma_word_due(v, w))
                        entries_clear_hits(v->entries + w * 64, vma_word_len(v, w));
                else
                        v->entries[vma_sample_slot(v, w, round)] &= (uint16_t) ~HEAT_HITS_MASK;
        }
}

/* Targets */

/* First index whose pid is >= pid. */
static size_t target_lower_bound(const struct heat_store *s, pid_t pid) {
        size_t lo = 0, hi = s->n_targets;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (s->targets[mid].pid < pid)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static struct heat_target *target_find(const struct heat_store *s, pid_t pid) {
        size_t i = target_lower_bound(s, pid);

        return i < s->n_targets && s->targets[i].pid == pid ? &s->targets[i] : NULL;
}

/* First VMA whose end is > addr. */
static size_t vma_lower_bound(const struct heat_target *t, uint64_t addr) {
        size_t lo = 0, hi = t->n_vmas;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (t->vmas[mid].end <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static struct heat_vma *vma_find(const struct heat_target *t, uint64_t addr) {
        size_t i = vma_lower_bound(t, addr);

        return i < t->n_vmas && t->vmas[i].start <= addr ? &t->vmas[i] : NULL;
}

/* The slot of the 4 KiB page at addr (not its THP head). */
/* The VMA of pid that holds addr, and addr's slot in it (a THP tail's own, not its head's); NULL if untracked. */
static struct heat_vma *vma_at(const struct heat_store *s, pid_t pid, uint64_t addr, uint64_t *ret_slot) {
        const struct heat_target *t = target_find(s, pid);
        struct heat_vma *v;

        if (!t)
                return NULL;
        v = vma_find(t, addr);
        if (v)
                *ret_slot = (addr - v->start) >> HEAT_PAGE_SHIFT;
        return v;
}

static uint16_t *slot_find(const struct heat_store *s, pid_t pid, uint64_t addr) {
        uint64_t i;
        struct heat_vma *v = vma_at(s, pid, addr, &i);

        return v ? v->entries + i : NULL;
}

static void target_done(struct heat_target *t) {
        vmas_free_entries(t->vmas, t->n_vmas);
        t->vmas = mfree(t->vmas);
        t->n_vmas = 0;
}

static int targets_reserve(struct heat_store *s, size_t n) {
        struct heat_target *t;
        size_t a;

        if (n <= s->n_targets_allocated)
                return 0;
        a = MAX(n, MAX(s->n_targets_allocated * 2, (size_t) 8));
        t = reallocarray(s->targets, a, sizeof(struct heat_target));
        if (!t)
                return -ENOMEM;
        s->targets = t;
        s->n_targets_allocated = a;
        return 0;
}

/* The move table */

static uint64_t move_hash(pid_t pid, uint64_t addr) {
        /* splitmix64's finalizer over the page number mixed with the pid. */
        uint64_t x = (addr >> HEAT_PAGE_SHIFT) ^ ((uint64_t) (uint32_t) pid * UINT64_C(0x9e3779b97f4a7c15));

        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x;
}

/* The home slot: the hash scaled to the capacity, which therefore need not be a power of two (the table grows by
 * half, not by doubling, and stops at MOVES_CAPACITY_MAX). */
static size_t move_home(pid_t pid, uint64_t addr, size_t capacity) {
        return (size_t) (((unsigned __int128) move_hash(pid, addr) * capacity) >> 64);
}

static size_t move_next(size_t i, size_t capacity) {
        return i + 1 == capacity ? 0 : i + 1;
}

static struct heat_move *moves_find(const struct heat_store *s, pid_t pid, uint64_t addr) {
        if (s->moves_capacity == 0)
                return NULL;
        for (size_t i = move_home(pid, addr, s->moves_capacity);; i = move_next(i, s->moves_capacity)) {
                struct heat_move *m = &s->moves[i];

                if (m->pid == 0)
                        return NULL;
                if (move_key_is(m, pid, addr))
                        return m;
        }
}

/* The empty slot where a key that is not in the table goes. */
static struct heat_move *moves_free_slot(struct heat_move *table, size_t capacity, pid_t pid, uint64_t addr) {
        size_t i = move_home(pid, addr, capacity);

        while (table[i].pid != 0)
                i = move_next(i, capacity);
        return &table[i];
}

static int moves_resize(struct heat_store *s, size_t capacity) {
        struct heat_move *table;

        table = calloc(capacity, sizeof(struct heat_move));
        if (!table)
                return -ENOMEM;
        for (size_t i = 0; i < s->moves_capacity; i++)
                if (s->moves[i].pid != 0)
                        *moves_free_slot(table, capacity, (pid_t) s->moves[i].pid, move_addr(&s->moves[i])) =
                                s->moves[i];
        free(s->moves);
        s->moves = table;
        s->moves_capacity = capacity;
        return 0;
}

/* By half, up to MOVES_CAPACITY_MAX: while the old table is rehashed into the new one both are held, and at 1 TiB
 * tracked the move of the last step to the full size would otherwise set the daemon's peak memory (doubling held
 * 48 MiB for a moment where growing by half holds 35 MiB, and the full table at a load of 1/2 was 32 MiB). */
static int moves_grow(struct heat_store *s) {
        size_t capacity = MIN(MAX(s->moves_capacity / 2 * 3, (size_t) MOVES_CAPACITY_MIN), MOVES_CAPACITY_MAX);

        if (capacity <= s->moves_capacity)
                return -ENOSPC;
        return moves_resize(s, capacity);
}

/* At the end of a round, room for as many new entries as the last round added: the next plan's moves then find
 * the table grown already, instead of growing it while the plan itself is held. At 1 TiB tracked that moment set
 * the peak memory (the plan's 16 MiB, the old table and the new one at once). A guess, not a limit: a round that
 * moves more grows the table as before. */
static void moves_reserve(struct heat_store *s) {
        size_t want = MIN(s->n_moves + s->moves_inserted, (size_t) HEAT_MOVES_MAX);

        s->moves_inserted = 0;
        if (want * 4 <= s->moves_capacity * 3)
                return;
        (void) moves_resize(s, MIN(MAX(want / 3 * 4 + MOVES_CAPACITY_MIN, s->moves_capacity / 2 * 3),
                                   MOVES_CAPACITY_MAX)); /* may fail: the moves then grow it */
}

/* Backward-shift deletion: the entries after the hole that may move closer to their home slot do, so lookups
 * never need tombstones. */
static void moves_delete_at(struct heat_store *s, size_t hole) {
        for (size_t j = hole;;) {
                size_t home;

                j = move_next(j, s->moves_capacity);
                if (s->moves[j].pid == 0)
                        break;
                home = move_home((pid_t) s->moves[j].pid, move_addr(&s->moves[j]), s->moves_capacity);
                /* The entry at j stays when its home lies cyclically in (hole, j]. */
                if (hole <= j ? (hole < home && home <= j) : (hole < home || home <= j))
                        continue;
                s->moves[hole] = s->moves[j];
                hole = j;
        }
        s->moves[hole] = (struct heat_move) {};
        s->n_moves--;
}

static uint64_t move_wait(const struct heat_move_params *p, unsigned shift) {
        uint64_t w;

        if (shift == 0)
                return p->min_residency_rounds;
        w = (uint64_t) MAX(p->min_residency_rounds, 1U) << MIN(shift, 32U);
        return MIN(w, (uint64_t) p->max_backoff_rounds);
}

/* Rounds since the last move; a round before it (a caller going back in time) counts as 0, not as 2^24. */
static uint32_t move_age(const struct heat_move *m, uint64_t round_no) {
        uint32_t age = ((uint32_t) round_no - m->round) & MOVE_ROUND_MASK;

        return age > MOVE_ROUND_MASK / 2 ? 0 : age;
}

/* The window runs from the end of the page's wait, not from its move: a page that bounces back as soon as it
 * may has not settled, however long its wait has grown, and must not be forgiven for it. And it lasts at least
 * as long as that wait: forgiveness takes as long a quiet spell as the punishment, or a page whose wanted place
 * changes every few rounds would be forgiven between two bounces once its wait outgrew the window. */
static uint64_t move_window_end(const struct heat_store *s, const struct heat_move *m) {
        uint64_t wait = move_wait(&s->move_params, m->backoff_shift);

        if (s->move_params.pingpong_window_rounds == 0)
                return wait;
        return wait + MAX(wait, (uint64_t) s->move_params.pingpong_window_rounds);
}

static bool move_expired(const struct heat_store *s, const struct heat_move *m, uint64_t round_no) {
        return move_age(m, round_no) > move_window_end(s, m);
}

/* How many dropped entries' markers a sweep has in flight: each is a cache miss at a random place in the
 * entries, and clearing it SWEEP_AHEAD drops later lets the misses overlap. */
#define SWEEP_AHEAD 16

/* Deletes the entries for which drop() holds and clears the moved marker of their pages. */
static void moves_sweep(struct heat_store *s, uint64_t round_no,
                        bool (*drop)(const struct heat_store *s, const struct heat_move *m, uint64_t round_no),
                        bool may_shrink) {
        uint16_t *pending[SWEEP_AHEAD];
        size_t n_dropped = 0; /* pending[n % SWEEP_AHEAD] is the marker of the nth, the last SWEEP_AHEAD not cleared yet */

        for (size_t i = 0; i < s->moves_capacity;) {
                struct heat_move *m = &s->moves[i];
                uint16_t *e;

                if (m->pid == 0 || !drop(s, m, round_no)) {
                        i++;
                        continue;
                }
                e = slot_find(s, (pid_t) m->pid, move_addr(m));
                if (e) {
                        uint16_t **slot = &pending[n_dropped % SWEEP_AHEAD];

                        __builtin_prefetch(e, 1);
                        if (n_dropped >= SWEEP_AHEAD)
                                **slot &= (uint16_t) ~HEAT_F_MOVED;
                        *slot = e;
                        n_dropped++;
                }
                /* Deletion may pull a later entry into slot i, so look at it again. Entries only ever move towards
                 * their home slot, so none that is still to be looked at is skipped. */
                moves_delete_at(s, i);
        }
        for (size_t k = 0; k < MIN(n_dropped, (size_t) SWEEP_AHEAD); k++)
                *pending[k] &= (uint16_t) ~HEAT_F_MOVED;
        /* Shrunk only well below the load that grows it: a table whose moves come and go by the round's budget
         * would otherwise be rebuilt twice a round, paying for every entry and every fresh page each time. And not
         * below what moves_reserve() keeps for the round's moves. Nor while moves are being noted
         * (moves_make_room()): they would only grow it again, a step at a time. */
        if (!may_shrink)
                return;
        if (s->moves_capacity > MOVES_CAPACITY_MIN && s->n_moves + s->moves_inserted < s->moves_capacity / 32)
                (void) moves_resize(s, MAX(s->moves_capacity / 4, (size_t) MOVES_CAPACITY_MIN)); /* may fail: fine */
        if (s->n_moves == 0 && s->moves_capacity > 0) {
                s->moves = mfree(s->moves);
                s->moves_capacity = 0;
        }
}

static bool move_drop_expired(const struct heat_store *s, const struct heat_move *m, uint64_t round_no) {
        return move_expired(s, m, round_no);
}

static bool move_drop_untracked_pid(const struct heat_store *s, const struct heat_move *m,
                                    _unused_ uint64_t round_no) {
        return !target_find(s, (pid_t) m->pid);
}

/* An entry past its residency wait no longer stops a move; it only remembers where the unit came from, for
 * ping-pong detection. */
static bool move_drop_waited(const struct heat_store *s, const struct heat_move *m, uint64_t round_no) {
        return move_age(m, round_no) >= move_wait(&s->move_params, m->backoff_shift);
}

static bool move_drop_aged(const struct heat_store *s, const struct heat_move *m, uint64_t round_no) {
        return move_age(m, round_no) >= s->moves_drop_age;
}

#define MOVE_AGE_BUCKETS 64

/* The table is full: make room by forgetting what matters least, so that moves never stop for want of it. Entries
 * past their wait go first (ping-pong detection then has a shorter memory for them), then the oldest, a round at a
 * time, until half the table is free; the moves of this round stay. Forgetting every round but this one instead
 * would lift the wait of units moved a round ago, which is what the wait is for, whenever a round's moves fill
 * half the table (at 1 TiB: every other round). */
static void moves_make_room(struct heat_store *s, uint64_t round_no) {
        uint64_t by_age[MOVE_AGE_BUCKETS] = {}, dropped = 0;
        uint32_t age;

        s->moves_evicted_rounds++;
        moves_sweep(s, round_no, move_drop_waited, false);
        if (s->n_moves <= HEAT_MOVES_MAX / 2)
                return;
        for (size_t i = 0; i < s->moves_capacity; i++)
                if (s->moves[i].pid != 0)
                        by_age[MIN(move_age(&s->moves[i], round_no), MOVE_AGE_BUCKETS - 1U)]++;
        for (age = MOVE_AGE_BUCKETS - 1; age > 1; age--) {
                dropped += by_age[age];
                if (s->n_moves - dropped <= HEAT_MOVES_MAX / 2)
                        break;
        }
        s->moves_drop_age = age;
        moves_sweep(s, round_no, move_drop_aged, false);
}

/* The store */

int heat_store_new(struct heat_store **ret) {
        struct heat_store *s;

        if (!ret)
                return -EINVAL;
        s = calloc(1, sizeof(struct heat_store));
        if (!s)
                return -ENOMEM;
        s->move_params = HEAT_MOVE_PARAMS_DEFAULT;
        *ret = s;
        return 0;
}

struct heat_store *heat_store_free(struct heat_store *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_targets; i++)
                target_done(&s->targets[i]);
        free(s->targets);
        free(s->moves);
        return mfree(s);
}

int heat_store_set_move_params(struct heat_store *s, const struct heat_move_params *p) {
        if (!s || !p)
                return -EINVAL;
        if (p->min_residency_rounds > MOVE_PARAM_MAX || p->pingpong_window_rounds > MOVE_PARAM_MAX ||
            p->max_backoff_rounds > MOVE_PARAM_MAX || p->max_backoff_rounds < p->min_residency_rounds)
                return -EINVAL;
        s->move_params = *p;
        return 0;
}

int heat_store_begin_round(struct heat_store *s, uint64_t round_no, unsigned hot_threshold) {
        if (!s || hot_threshold > HEAT_HITS_MAX)
                return -EINVAL;
        if (s->in_round)
                return -EBUSY;

        for (size_t i = 0; i < s->n_targets; i++)
                for (size_t j = 0; j < s->targets[i].n_vmas; j++) {
                        struct heat_vma *v = &s->targets[i].vmas[j];

                        uint64_t from, to;

                        vma_verify_slice(v, round_no, &from, &to);

                        /* The kernel moves pages too (reclaim's demotion, NUMA balancing, a cpuset change):
                         * each round, one slice of every VMA is located afresh, and observed in full. */
                        memset(v->settled + from, 0, (to - from) * sizeof(uint64_t));
                        if (s->partial)
                                vma_plan_observation(v, s->parking_held);
                        else if (v->observation) {
                                /* Parked units are only visible to walks through their words' bits: without
                                 * those, they must be looked at (and located) again. */
                                for (uint64_t w = 0; w < vma_settled_words(v); w++)
                                        if (vma_word_parked(v, w))
                                                v->settled[w] = 0;
                                v->observation = mfree(v->observation);
                        }
                        vma_clear_hits(v, round_no);
                }
        s->in_round = true;
        s->round = round_no;
        s->hot_threshold = hot_threshold;
        s->parking_units = 0;
        s->passes = 0;
        return 0;
}

void heat_store_set_partial_observation(struct heat_store *s, bool partial) {
        if (s)
                s->partial = partial;
}

int heat_store_begin_pass(struct heat_store *s) {
        if (!s || !s->in_round)
                return -EINVAL;
        if (s->passes >= HEAT_PASSES_MAX)
                return -ERANGE;
        return (int) ++s->passes;
}

void heat_store_end_round(struct heat_store *s) {
        if (!s || !s->in_round)
                return;
        s->in_round = false;

        if (s->passes > 0) {
                unsigned threshold = s->hot_threshold == HEAT_HOT_THRESHOLD_ALL_PASSES ?
                        s->passes :
                        MIN(s->hot_threshold, s->passes);

                uint64_t observed = 0;

                for (size_t i = 0; i < s->n_targets; i++) {
                        struct heat_target *t = &s->targets[i];

                        for (size_t j = 0; j < t->n_vmas; j++)
                                observed += vma_fold(&t->vmas[j], s->passes, threshold, s->round);
                        t->rounds = MIN(t->rounds + 1, (uint32_t) HEAT_STREAK_MAX + 1);
                }
                s->observed_pages = observed;
                s->parked_units = s->parking_units;
                s->last_passes = s->passes;
                s->last_hot_threshold = threshold;
        }

        if (s->n_moves > 0)
                moves_sweep(s, s->round, move_drop_expired, true);
        moves_reserve(s);
}

bool heat_store_in_round(const struct heat_store *s) {
        return s && s->in_round;
}

int heat_store_sync_target(struct heat_store *s, pid_t pid, const struct vma *vmas, size_t n) {
        struct heat_vma *nv = NULL, *old = NULL;
        size_t n_new = 0, n_old = 0, ti, i, k = 0;
        uint64_t prev_end = 0;
        bool exists;
        int r;

        if (!s || pid <= 0 || (n > 0 && !vmas))
                return -EINVAL;

        for (size_t j = 0; j < n; j++) {
                if (!heat_vma_trackable(&vmas[j]))
                        continue;
                if (vmas[j].start < prev_end)
                        return -EINVAL;
                prev_end = vmas[j].end;
                n_new++;
        }

        ti = target_lower_bound(s, pid);
        exists = ti < s->n_targets && s->targets[ti].pid == pid;
        if (exists) {
                old = s->targets[ti].vmas;
                n_old = s->targets[ti].n_vmas;
        } else {
                /* Make room first: growing the table changes nothing else, so a later failure leaves no trace. */
                r = targets_reserve(s, s->n_targets + 1);
                if (r < 0)
                        return r;
        }

        if (n_new > 0) {
                nv = calloc(n_new, sizeof(struct heat_vma));
                if (!nv)
                        return -ENOMEM;
        }

        for (size_t j = 0; j < n; j++)
                if (heat_vma_trackable(&vmas[j]))
                        nv[k++] = (struct heat_vma) { .start = vmas[j].start, .end = vmas[j].end };

        /* Phase 1, which may fail: allocate the arrays of the VMAs that changed. A VMA that did not change
         * (same start and end) takes its old array in phase 2, so a steady process costs no copying. */
        for (i = 0, k = 0; k < n_new; k++) {
                struct heat_vma *v = &nv[k];

                while (i < n_old && old[i].end <= v->start)
                        i++;
                if (i < n_old && old[i].start == v->start && old[i].end == v->end)
                        continue;
                v->entries = calloc(vma_n_pages(v), sizeof(uint16_t));
                /* A changed VMA starts with nothing settled: its units are located again. */
                v->settled = calloc(vma_settled_words(v), sizeof(uint64_t));
                if (!v->entries || !v->settled) {
                        vmas_free_entries(nv, k + 1);
                        free(nv);
                        return -ENOMEM;
                }
        }

        /* Phase 2, which cannot fail: hand over or copy by address overlap. An old VMA overlapping several new
         * ones (a split) is copied from several times; a new one overlapping several old ones (a merge) is
         * copied into several times. */
        for (i = 0, k = 0; k < n_new; k++) {
                struct heat_vma *v = &nv[k];

                while (i < n_old && old[i].end <= v->start)
                        i++;
                if (!v->entries) {
                        v->entries = TAKE_PTR(old[i].entries);
                        v->settled = TAKE_PTR(old[i].settled);
                        v->observation = TAKE_PTR(old[i].observation);
                        v->n_thp = old[i].n_thp;
                        v->flags_seen = old[i].flags_seen;
                        continue;
                }
                for (size_t m = i; m < n_old && old[m].start < v->end; m++) {
                        vma_copy_overlap(v, &old[m]);
                        v->flags_seen |= old[m].flags_seen;
                }
                v->n_thp = vma_count_thp(v);
        }

        if (exists) {
                vmas_free_entries(old, n_old);
                free(old);
        } else {
                memmove(s->targets + ti + 1, s->targets + ti, (s->n_targets - ti) * sizeof(struct heat_target));
                s->targets[ti] = (struct heat_target) { .pid = pid };
                s->n_targets++;
        }
        s->targets[ti].vmas = nv;
        s->targets[ti].n_vmas = n_new;
        return 0;
}

int heat_store_target_rounds(const struct heat_store *s, pid_t pid) {
        const struct heat_target *t = target_find(s, pid);

        return t ? (int) t->rounds : -ENOENT;
}

size_t heat_store_drop_missing_targets(struct heat_store *s, const pid_t *alive, size_t n) {
        size_t kept = 0, dropped;

        if (!s)
                return 0;
        for (size_t i = 0; i < s->n_targets; i++)
                s->targets[i].alive = false;
        for (size_t j = 0; alive && j < n; j++) {
                struct heat_target *t = target_find(s, alive[j]);

                if (t)
                        t->alive = true;
        }
        for (size_t i = 0; i < s->n_targets; i++) {
                if (!s->targets[i].alive) {
                        target_done(&s->targets[i]);
                        continue;
                }
                s->targets[kept++] = s->targets[i];
        }
        dropped = s->n_targets - kept;
        s->n_targets = kept;
        if (dropped > 0 && s->n_moves > 0)
                moves_sweep(s, s->round, move_drop_untracked_pid, true);
        return dropped;
}

int heat_store_drop_target(struct heat_store *s, pid_t pid) {
        size_t i;

        if (!s)
                return -EINVAL;
        i = target_lower_bound(s, pid);
        if (i >= s->n_targets || s->targets[i].pid != pid)
                return -ENOENT;
        target_done(&s->targets[i]);
        memmove(s->targets + i, s->targets + i + 1, (s->n_targets - i - 1) * sizeof(struct heat_target));
        s->n_targets--;
        if (s->n_moves > 0)
                moves_sweep(s, s->round, move_drop_untracked_pid, true);
        return 0;
}

/* Recording */

static int range_check(uint64_t start, uint64_t n_pages) {
        if (start % HEAT_PAGE_SIZE)
                return -EINVAL;
        if (n_pages > (UINT64_MAX - start) >> HEAT_PAGE_SHIFT)
                return -EINVAL;
        return 0;
}

/* The pages [start, start + n_pages) of one target, VMA by VMA: what every call that takes a bitmap over an
 * address range walks. */
struct range_walk {
        struct heat_target *t;
        uint64_t start, end;
        size_t next; /* index of the next VMA */
};

struct range_piece {
        struct heat_vma *v;
        uint64_t first; /* slot of the piece's first page in v */
        uint64_t n;     /* pages in the piece */
        uint64_t bit0;  /* bit of its first page in the caller's bitmap */
};

static int range_walk_begin(const struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                            struct range_walk *ret) {
        int r = range_check(start, n_pages);

        if (r < 0)
                return r;
        ret->t = target_find(s, pid);
        if (!ret->t)
                return -ENOENT;
        ret->start = start;
        ret->end = start + (n_pages << HEAT_PAGE_SHIFT);
        ret->next = vma_lower_bound(ret->t, start);
        return 0;
}

static bool range_walk_next(struct range_walk *w, struct range_piece *ret) {
        struct heat_vma *v;
        uint64_t a, b;

        if (w->next >= w->t->n_vmas || w->t->vmas[w->next].start >= w->end)
                return false;
        v = &w->t->vmas[w->next++];
        a = MAX(w->start, v->start);
        b = MIN(w->end, v->end);
        *ret = (struct range_piece) {
                .v = v,
                .first = (a - v->start) >> HEAT_PAGE_SHIFT,
                .n = (b - a) >> HEAT_PAGE_SHIFT,
                .bit0 = (a - w->start) >> HEAT_PAGE_SHIFT,
        };
        return true;
}

static int record_range(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages, const uint64_t *bitmap) {
        struct range_walk w;
        struct range_piece p;
        int r;

        if (!s || !s->in_round || s->passes == 0)
                return -EINVAL;
        r = range_walk_begin(s, pid, start, n_pages, &w);
        if (r < 0)
                return r;
        while (range_walk_next(&w, &p))
                vma_record(p.v, p.first, p.n, bitmap, p.bit0, s->passes);
        return 0;
}

int heat_store_record_bitmap(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                             const uint64_t *bitmap) {
        if (!bitmap && n_pages > 0)
                return -EINVAL;
        return record_range(s, pid, start, n_pages, bitmap);
}

static void bits_fill(uint64_t *bitmap, uint64_t first, uint64_t n, bool on) {
        for (uint64_t i = first; i < first + n;) {
                uint64_t off = i % 64, len = MIN(64 - off, first + n - i);
                uint64_t mask = len == 64 ? UINT64_MAX : ((UINT64_C(1) << len) - 1) << off;

                if (on)
                        bitmap[i / 64] |= mask;
                else
                        bitmap[i / 64] &= ~mask;
                i += len;
        }
}

/* Bits [bit, bit + len) of bitmap (len <= 64) become the low len bits of value. */
static void bits_put(uint64_t *bitmap, uint64_t bit, uint64_t len, uint64_t value) {
        uint64_t off = bit % 64, mask = len == 64 ? UINT64_MAX : (UINT64_C(1) << len) - 1;

        value &= mask;
        bitmap[bit / 64] = (bitmap[bit / 64] & ~(mask << off)) | value << off;
        if (off > 0 && off + len > 64)
                bitmap[bit / 64 + 1] = (bitmap[bit / 64 + 1] & ~(mask >> (64 - off))) | value >> (64 - off);
}

int heat_store_observed_bitmap(const struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                               uint64_t *bitmap) {
        struct range_walk w;
        struct range_piece p;
        int r;

        if (!s || (!bitmap && n_pages > 0))
                return -EINVAL;
        r = range_walk_begin(s, pid, start, n_pages, &w);
        if (r < 0)
                return r;

        bits_fill(bitmap, 0, n_pages, true);
        if (!s->in_round)
                return 0;
        while (range_walk_next(&w, &p)) {
                struct observation o;

                if (!p.v->observation)
                        continue;
                o = observation_of(p.v, s->round);
                for (uint64_t k = p.first; k < p.first + p.n;) {
                        uint64_t len = MIN(64 - k % 64, p.first + p.n - k);
                        uint64_t obs = observation_word(&o, k / 64) >> (k % 64);

                        if (len < 64)
                                obs &= (UINT64_C(1) << len) - 1;
                        bits_put(bitmap, p.bit0 + (k - p.first), len, obs);
                        k += len;
                }
        }
        return 0;
}

/* [addr, addr + len) rounded out to whole pages, as (start, n_pages). */
static int round_out(uint64_t addr, uint64_t len, uint64_t *ret_start, uint64_t *ret_n_pages) {
        uint64_t start = addr & ~(HEAT_PAGE_SIZE - 1), end;

        if (len > UINT64_MAX - addr || addr + len > UINT64_MAX - (HEAT_PAGE_SIZE - 1))
                return -EINVAL;
        end = (addr + len + HEAT_PAGE_SIZE - 1) & ~(HEAT_PAGE_SIZE - 1);
        *ret_start = start;
        *ret_n_pages = (end - start) >> HEAT_PAGE_SHIFT;
        return 0;
}

int heat_store_record_accessed(struct heat_store *s, pid_t pid, uint64_t addr, uint64_t len_bytes) {
        uint64_t start, n_pages;
        int r;

        r = round_out(addr, len_bytes, &start, &n_pages);
        if (r < 0)
                return r;
        return record_range(s, pid, start, n_pages, NULL);
}

/* Flags */

int heat_store_set_thp(struct heat_store *s, pid_t pid, uint64_t addr, bool is_thp) {
        struct heat_vma *v;
        uint64_t h;

        if (!s || addr % HEAT_THP_SIZE)
                return -EINVAL;
        v = vma_at(s, pid, addr, &h);
        if (!v)
                return -ENOENT;
        if (v->end - addr < HEAT_THP_SIZE)
                return -EINVAL;
        if (is_thp == !!(v->entries[h] & HEAT_F_THP))
                return 0;
        if (is_thp)
                vma_thp_form(v, h);
        else
                vma_thp_split(v, h);
        return 1;
}

/* Whether bits [first, first + n) of bitmap are all clear. */
static bool bits_all_zero(const uint64_t *bitmap, uint64_t first, uint64_t n) {
        for (uint64_t i = first; i < first + n;) {
                uint64_t off = i % 64, len = MIN(64 - off, first + n - i);
                uint64_t mask = len == 64 ? UINT64_MAX : ((UINT64_C(1) << len) - 1) << off;

                if (bitmap[i / 64] & mask)
                        return false;
                i += len;
        }
        return true;
}

/* A flagged unit is never moved, so it is not "settled" either: the walk must see it to count it. */
static void entry_set_flags(struct heat_vma *v, uint64_t i, uint16_t flags) {
        v->entries[i] |= flags;
        v->flags_seen |= flags;
        v->settled[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* Reads before it writes: nearly always no entry has the flags, and a clean cache line is cheaper to leave
 * alone than to store back. */
static void entries_clear_flags(uint16_t *e, uint64_t n, uint16_t flags) {
        uint16_t any = 0;

        for (uint64_t j = 0; j < n; j++)
                any |= e[j];
        if (!(any & flags))
                return;
        for (uint64_t j = 0; j < n; j++)
                e[j] &= (uint16_t) ~flags;
}

static int flags_range(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages, uint16_t flags,
                       const uint64_t *bitmap, bool on) {
        struct range_walk w;
        struct range_piece p;
        int r;

        if (!s || flags == 0 || (flags & ~(HEAT_F_LAZYFREE | HEAT_F_SKIP)))
                return -EINVAL;
        r = range_walk_begin(s, pid, start, n_pages, &w);
        if (r < 0)
                return r;

        while (range_walk_next(&w, &p)) {
                struct heat_vma *v = p.v;
                uint64_t first = p.first, bit0 = p.bit0, n = p.n;

                /* Nothing to set, and nothing here ever had the flags: nothing to clear either. */
                if (!(v->flags_seen & flags) && (bitmap ? bits_all_zero(bitmap, bit0, n) : !on))
                        continue;

                /* The common case, every round for every page of page_idle's targets: base pages only and
                 * bitmaps that are mostly zero. A word at a time, an all-zero word is one tight clearing loop. */
                if (bitmap && v->n_thp == 0) {
                        for (uint64_t k = 0; k < n;) {
                                uint64_t bit = bit0 + k, run = MIN(64 - bit % 64, n - k);
                                uint64_t word = bitmap[bit / 64] >> (bit % 64);
                                uint16_t *e = v->entries + first + k;

                                if (word == 0) {
                                        if (v->flags_seen & flags)
                                                entries_clear_flags(e, run, flags);
                                } else
                                        for (uint64_t j = 0; j < run; j++)
                                                if ((word >> j) & 1)
                                                        entry_set_flags(v, first + k + j, flags);
                                                else
                                                        e[j] &= (uint16_t) ~flags;
                                k += run;
                        }
                        continue;
                }

                for (uint64_t k = 0; k < n; k++) {
                        uint64_t idx = first + k, h;
                        bool set = on;

                        if (v->n_thp > 0) {
                                h = vma_thp_head(v, idx);
                                if (h != UINT64_MAX && h != idx)
                                        continue; /* a THP tail: the head decides */
                        }
                        if (bitmap)
                                set = (bitmap[(bit0 + k) / 64] >> ((bit0 + k) % 64)) & 1;
                        if (set)
                                entry_set_flags(v, idx, flags);
                        else
                                v->entries[idx] &= (uint16_t) ~flags;
                }
        }
        return 0;
}

int heat_store_set_flags(struct heat_store *s, pid_t pid, uint64_t addr, uint64_t len_bytes, uint16_t flags,
                         bool on) {
        uint64_t start, n_pages;
        int r;

        r = round_out(addr, len_bytes, &start, &n_pages);
        if (r < 0)
                return r;
        return flags_range(s, pid, start, n_pages, flags, NULL, on);
}

int heat_store_set_flags_bitmap(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages, uint16_t flags,
                                const uint64_t *bitmap) {
        if (!bitmap && n_pages > 0)
                return -EINVAL;
        return flags_range(s, pid, start, n_pages, flags, bitmap, false);
}

/* Moves */

int heat_store_note_move(struct heat_store *s, pid_t pid, uint64_t addr, int from_node, int to_node,
                         uint64_t round_no) {
        struct heat_move *m;
        uint16_t *e;
        int pingpong = 0, r;

        if (!s || pid <= 0 || pid >= (1 << MOVE_PID_BITS) || addr % HEAT_PAGE_SIZE ||
            (addr >> HEAT_PAGE_SHIFT) >> MOVE_PAGE_BITS != 0 || from_node < 0 || to_node < 0 ||
            from_node >= NODE_SET_MAX || to_node >= NODE_SET_MAX)
                return -EINVAL;

        m = moves_find(s, pid, addr);
        if (m && move_expired(s, m, round_no)) {
                /* Waited out long enough: forgiven. */
                m->backoff_shift = 0;
                m->pingpongs = 0;
        } else if (m && to_node == m->from_node && s->move_params.pingpong_window_rounds > 0 &&
                   move_age(m, round_no) <= move_window_end(s, m)) {
                pingpong = 1;
                if (move_wait(&s->move_params, m->backoff_shift) < s->move_params.max_backoff_rounds)
                        m->backoff_shift++;
                if (m->pingpongs < UINT8_MAX)
                        m->pingpongs++;
        }

        if (!m) {
                if (s->n_moves >= HEAT_MOVES_MAX)
                        moves_make_room(s, round_no);
                if (s->n_moves >= HEAT_MOVES_MAX)
                        return -ENOSPC;
                if ((s->n_moves + 1) * 4 > s->moves_capacity * 3) {
                        r = moves_grow(s);
                        if (r < 0)
                                return r;
                }
                m = moves_free_slot(s->moves, s->moves_capacity, pid, addr);
                *m = (struct heat_move) { .pid = (uint32_t) pid, .page = addr >> HEAT_PAGE_SHIFT };
                s->n_moves++;
                s->moves_inserted++;
        }
        m->from_node = (unsigned) from_node;
        m->to_node = (unsigned) to_node;
        m->round = (uint32_t) round_no & MOVE_ROUND_MASK;

        e = slot_find(s, pid, addr);
        if (e)
                *e |= HEAT_F_MOVED;
        return pingpong;
}

bool heat_store_may_move(const struct heat_store *s, pid_t pid, uint64_t addr, uint64_t round_no) {
        const struct heat_move *m;
        const uint16_t *e;

        if (!s)
                return false;
        /* Nearly every page lands here: tracked and never moved recently. */
        e = slot_find(s, pid, addr);
        if (e && !(*e & HEAT_F_MOVED))
                return true;
        m = moves_find(s, pid, addr);
        if (!m)
                return true;
        return move_age(m, round_no) >= move_wait(&s->move_params, m->backoff_shift);
}

void heat_store_prefetch_unit(const struct heat_store *s, pid_t pid, uint64_t addr) {
        const struct heat_vma *v;
        uint64_t i;

        if (!s)
                return;
        if (s->moves_capacity > 0)
                __builtin_prefetch(&s->moves[move_home(pid, addr, s->moves_capacity)], 1);
        v = vma_at(s, pid, addr, &i);
        if (!v)
                return;
        __builtin_prefetch(&v->entries[i], 1);
        __builtin_prefetch(&v->settled[i / 64], 1);
}

int heat_store_get_move(const struct heat_store *s, pid_t pid, uint64_t addr, struct heat_move_info *ret) {
        const struct heat_move *m;

        if (!s || !ret)
                return -EINVAL;
        m = moves_find(s, pid, addr);
        if (!m)
                return 0;
        *ret = (struct heat_move_info) {
                .last_round = m->round,
                .from_node = m->from_node,
                .to_node = m->to_node,
                .pingpongs = m->pingpongs,
                .wait_rounds = (unsigned) move_wait(&s->move_params, m->backoff_shift),
        };
        return 1;
}

/* Settled units */

int heat_store_settle(struct heat_store *s, pid_t pid, uint64_t addr, enum heat_settle where) {
        struct heat_vma *v;
        uint64_t i, h;
        uint16_t e;

        if (!s || (where != HEAT_SETTLE_FASTEST && where != HEAT_SETTLE_SLOWEST))
                return -EINVAL;
        v = vma_at(s, pid, addr, &i);
        if (!v)
                return -ENOENT;
        h = vma_thp_head(v, i);
        if (h != UINT64_MAX)
                i = h;
        e = v->entries[i];
        /* A flagged unit is never moved: walks must see it to count it. */
        if (e & (HEAT_F_LAZYFREE | HEAT_F_SKIP))
                return 0;
        if (where == HEAT_SETTLE_FASTEST ? !(e & HEAT_STREAK_MASK) : !(e & HEAT_IDLE_MASK))
                return 0;
        v->settled[i / 64] |= UINT64_C(1) << (i % 64);
        /* Settled for the fastest tier, the unit has a streak: its word must be looked at again by
         * heat_store_settle_bitmap() should the kernel put it back on the slowest. */
        if (where == HEAT_SETTLE_FASTEST && v->observation)
                vma_slow_settled(v)[i / 64 / 64] &= ~(UINT64_C(1) << (i / 64 % 64));
        return 1;
}

int heat_store_watch_unit(struct heat_store *s, pid_t pid, uint64_t addr) {
        struct heat_vma *v;
        uint64_t i;

        if (!s)
                return -EINVAL;
        v = vma_at(s, pid, addr, &i);
        if (!v)
                return -ENOENT;
        vma_mark_turned(v, i / 64);
        return 0;
}

/* Bits [bit, bit + len) of bitmap (len <= 64) as the low bits of a word. */
static uint64_t bits_get(const uint64_t *bitmap, uint64_t bit, uint64_t len) {
        uint64_t off = bit % 64, w = bitmap[bit / 64] >> off;

        if (off > 0 && off + len > 64)
                w |= bitmap[bit / 64 + 1] << (64 - off);
        return len == 64 ? w : w & ((UINT64_C(1) << len) - 1);
}

/* Two masks in one: bits 0..7 from a, 8..15 from b. */
static inline unsigned u16x8_bits2(u16x8 a, u16x8 b) {
#ifdef __SSE2__
        return (unsigned) _mm_movemask_epi8(_mm_packs_epi16((__m128i) a, (__m128i) b)) & 0xffff;
#else
        unsigned bits = 0;

        for (unsigned j = 0; j < 8; j++)
                bits |= (a[j] & 1U) << j | (b[j] & 1U) << (j + 8);
        return bits;
#endif
}

static inline unsigned u16x8_bits(u16x8 m) {
#ifdef __SSE2__
        return (unsigned) _mm_movemask_epi8(_mm_packs_epi16((__m128i) m, _mm_setzero_si128())) & 0xff;
#else
        unsigned bits = 0;

        for (unsigned j = 0; j < 8; j++)
                bits |= (m[j] & 1U) << j;
        return bits;
#endif
}

/* What settles, in heat_store_settle_bitmap()'s terms: a streak of hot_streak on the fastest tier, an idle age of
 * park_idle there without a streak (0: never). */
struct settle_rules {
        unsigned hot_streak, park_idle;
};

/* 8 entries, a bit per entry in each: hot (a streak of at least hot_streak), streak (any), idle, parkable (an idle
 * age of at least park_idle and no streak); flagged entries in none. */
struct trend8 {
        unsigned hot, streak, idle, cold;
};

static inline struct trend8 entries_trend8(const uint16_t *e, const struct settle_rules *rules) {
        /* An idle field can never exceed 0x0f80: park_idle 0 compares against 0x7fff and parks nothing. */
        const s16x8 zero = s16x8_splat(0), hot_m1 = s16x8_splat((int) (rules->hot_streak << HEAT_STREAK_SHIFT) - 1),
                    cold_m1 = s16x8_splat(rules->park_idle == 0 ? INT16_MAX :
                                                                  (int) (rules->park_idle << HEAT_IDLE_SHIFT) - 1);
        s16x8 x, ok, streak, idle;
        unsigned a, b;

        memcpy(&x, e, sizeof(x));
        ok = (s16x8) ((x & (int16_t) (HEAT_F_LAZYFREE | HEAT_F_SKIP)) == zero);
        streak = x & (int16_t) HEAT_STREAK_MASK;
        idle = x & (int16_t) HEAT_IDLE_MASK;
        a = u16x8_bits2((u16x8) (ok & (s16x8) (streak > hot_m1)), (u16x8) (ok & (s16x8) (streak > zero)));
        b = u16x8_bits2((u16x8) (ok & (s16x8) (idle > zero)),
                        (u16x8) (ok & (s16x8) (streak == zero) & (s16x8) (idle > cold_m1)));
        return (struct trend8) { .hot = a & 0xff, .streak = a >> 8, .idle = b & 0xff, .cold = b >> 8 };
}

/* Settled bits of len slots from slot i (within one word), given where they are. Returns the units parked. */
static unsigned vma_settle_piece(struct heat_vma *v, uint64_t i, uint64_t len, uint64_t fastest, uint64_t slowest,
                                 const struct settle_rules *rules) {
        uint64_t w = i / 64, off = i % 64, mask = (len == 64 ? UINT64_MAX : (UINT64_C(1) << len) - 1) << off;
        uint64_t old = v->settled[w], hot = 0, streak = 0, idle = 0, cold = 0, now, parked;

        fastest <<= off;
        slowest <<= off;
        if (((fastest | slowest | old) & mask) == 0)
                return 0;
        /* A word found settled on the slowest tier is still so when every unit is still settled and still there:
         * its entries changed since only where a fold observed them, and the fold keeps a bit there only while
         * the unit gains no streak (settled_keeps()), which is this rule too. Most of a large host's memory is
         * such words; their entries are not even read. */
        if (len == 64 && old == UINT64_MAX && slowest == UINT64_MAX && v->observation &&
            ((vma_slow_settled(v)[w / 64] >> (w % 64)) & 1))
                return 0;
        if (len == 64)
                for (unsigned j = 0; j < 64; j += 8) {
                        struct trend8 t = entries_trend8(v->entries + i + j, rules);

                        hot |= (uint64_t) t.hot << j;
                        streak |= (uint64_t) t.streak << j;
                        idle |= (uint64_t) t.idle << j;
                        cold |= (uint64_t) t.cold << j;
                }
        else
                for (uint64_t k = 0; k < len; k++) {
                        uint16_t e = v->entries[i + k];
                        bool ok = !(e & (HEAT_F_LAZYFREE | HEAT_F_SKIP));

                        hot |= (uint64_t) (ok && heat_entry_streak(e) >= rules->hot_streak) << (off + k);
                        streak |= (uint64_t) (ok && (e & HEAT_STREAK_MASK)) << (off + k);
                        idle |= (uint64_t) (ok && (e & HEAT_IDLE_MASK)) << (off + k);
                        cold |= (uint64_t) (ok && rules->park_idle > 0 && !(e & HEAT_STREAK_MASK) &&
                                            heat_entry_idle_rounds(e) >= rules->park_idle)
                                << (off + k);
                }
        /* On the fastest tier: hot (a unit merely on a streak may still be displaced, and a settled one is not
         * watched), or parked. On the slowest: idle, and once settled there, without a streak (settled_keeps()). */
        parked = fastest & cold & mask;
        now = (fastest & hot) | parked | (slowest & ((old & ~streak) | (~old & idle)));
        v->settled[w] = (old & ~mask) | (now & mask);
        /* The word's bit says where walks for demotion must look past the settled bits; a word split between
         * pieces keeps it if any piece parks. */
        if (v->observation) {
                uint64_t bit = UINT64_C(1) << (w % 64);

                if (parked)
                        vma_parked(v)[w / 64] |= bit;
                else if (len == 64)
                        vma_parked(v)[w / 64] &= ~bit;
                if (len == 64 && now == UINT64_MAX && slowest == UINT64_MAX)
                        vma_slow_settled(v)[w / 64] |= bit;
                else
                        vma_slow_settled(v)[w / 64] &= ~bit;
        }
        return parked ? (unsigned) __builtin_popcountll(parked) : 0;
}

int heat_store_settle_bitmap(struct heat_store *s, pid_t pid, uint64_t start, uint64_t n_pages,
                             const uint64_t *fastest, const uint64_t *slowest, unsigned hot_streak,
                             unsigned park_idle_rounds) {
        struct range_walk w;
        struct range_piece p;
        int r;

        if (!s || (n_pages > 0 && (!fastest || !slowest)) || hot_streak < 1 || hot_streak > HEAT_STREAK_MAX ||
            park_idle_rounds > HEAT_IDLE_MAX)
                return -EINVAL;
        r = range_walk_begin(s, pid, start, n_pages, &w);
        if (r < 0)
                return r;
        while (range_walk_next(&w, &p)) {
                /* Parking needs the word bits, which live with partial observation. */
                const struct settle_rules rules = {
                        .hot_streak = hot_streak,
                        .park_idle = s->parking_held || !p.v->observation ? 0 : park_idle_rounds,
                };

                for (uint64_t i = p.first; i < p.first + p.n;) {
                        uint64_t len = MIN(64 - i % 64, p.first + p.n - i), bit = p.bit0 + (i - p.first);

                        s->parking_units += vma_settle_piece(p.v, i, len, bits_get(fastest, bit, len),
                                                            bits_get(slowest, bit, len), &rules);
                        i += len;
                }
        }
        return 0;
}

void heat_store_hold_parking(struct heat_store *s, bool hold) {
        if (s)
                s->parking_held = hold;
}

bool heat_store_is_settled(const struct heat_store *s, pid_t pid, uint64_t addr) {
        const struct heat_vma *v;
        uint64_t i, h;

        if (!s)
                return false;
        v = vma_at(s, pid, addr, &i);
        if (!v)
                return false;
        h = vma_thp_head(v, i);
        return vma_settled_test(v, h != UINT64_MAX ? h : i);
}

void heat_store_unsettle_all(struct heat_store *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_targets; i++)
                for (size_t j = 0; j < s->targets[i].n_vmas; j++) {
                        struct heat_vma *v = &s->targets[i].vmas[j];

                        memset(v->settled, 0, vma_settled_words(v) * sizeof(uint64_t));
                }
}

uint64_t heat_store_settled_units(const struct heat_store *s) {
        uint64_t n = 0;

        if (!s)
                return 0;
        for (size_t i = 0; i < s->n_targets; i++)
                for (size_t j = 0; j < s->targets[i].n_vmas; j++) {
                        const struct heat_vma *v = &s->targets[i].vmas[j];

                        for (uint64_t w = 0; w < vma_settled_words(v); w++)
                                n += (uint64_t) __builtin_popcountll(v->settled[w]);
                }
        return n;
}

/* Reading */

static void unit_fill(struct heat_unit *u, pid_t pid, const struct heat_vma *v, uint64_t i, uint16_t entry,
                      const struct heat_class_params *p) {
        *u = (struct heat_unit) {
                .pid = pid,
                .addr = v->start + (i << HEAT_PAGE_SHIFT),
                .size_bytes = (entry & HEAT_F_THP) ? HEAT_THP_SIZE : HEAT_PAGE_SIZE,
                .entry = entry,
                .class = heat_entry_class(entry, p),
        };
}

int heat_store_lookup(const struct heat_store *s, pid_t pid, uint64_t addr, const struct heat_class_params *p,
                      struct heat_unit *ret) {
        const struct heat_vma *v;
        uint64_t i, h;

        if (!s || !ret || !heat_class_params_valid(p))
                return -EINVAL;
        v = vma_at(s, pid, addr, &i);
        if (!v)
                return -ENOENT;
        h = vma_thp_head(v, i);
        if (h != UINT64_MAX)
                i = h;
        unit_fill(ret, pid, v, i, v->entries[i], p);
        return 0;
}

/* The targets a pid argument selects: all for 0. */
static int targets_select(const struct heat_store *s, pid_t pid, size_t *ret_first, size_t *ret_end) {
        size_t i;

        if (pid == 0) {
                *ret_first = 0;
                *ret_end = s->n_targets;
                return 0;
        }
        i = target_lower_bound(s, pid);
        if (i >= s->n_targets || s->targets[i].pid != pid)
                return -ENOENT;
        *ret_first = i;
        *ret_end = i + 1;
        return 0;
}

/* The class of an entry depends on its streak, its idle age and two flags: 10 bits. A walk looks the selection
 * up in a 1 KiB table instead of classifying every entry, which matters when the policy walks 2^28 entries for
 * the few hot ones. */
#define CLASS_KEY_BITS 10

static unsigned class_key(uint16_t e) {
        return (e >> HEAT_STREAK_SHIFT & 0xff) | (e >> 5 & 0x300); /* streak, idle; lazyfree and skip (13, 14) */
}

static void class_selection(const struct heat_class_params *p, unsigned class_mask,
                            uint8_t sel[1 << CLASS_KEY_BITS]) {
        for (unsigned k = 0; k < (1U << CLASS_KEY_BITS); k++) {
                uint16_t e = (uint16_t) ((k & 0xff) << HEAT_STREAK_SHIFT | (k & 0x300) << 5);
                enum heat_class c = heat_entry_class(e, p);

                sel[k] = !(class_mask & HEAT_CLASS_MASK(c)) ? 0 : c == HEAT_CLASS_HOT || c == HEAT_CLASS_COLD ? 2 : 1;
        }
}

/* What a walk selects, fixed for the walk but for the filter, which f may narrow as it goes. */
struct walk {
        pid_t pid;
        const struct heat_class_params *p;
        unsigned class_mask;
        bool unsettled_only;
        bool parked_too;  /* unsettled only, for cold units: parked ones the last round observed are walked */
        uint64_t round;   /* the store's last round, whose observation tells which parked units are fresh */
        const struct heat_walk_filter *filter;
        uint8_t sel[1 << CLASS_KEY_BITS]; /* 1: selected class; 2: hot or cold, also subject to the filter */
        heat_unit_func_t f;
        void *userdata;
        uint64_t next; /* f paused the walk: the slot to go on from */
};

static bool walk_passes_filter(const struct walk *w, uint16_t e) {
        if (!w->filter)
                return true;
        if (heat_entry_streak(e) >= w->p->promote_rounds)
                return (unsigned) (e & HEAT_HOT_RANK_MASK) >= w->filter->hot_rank_min;
        return heat_entry_idle_rounds(e) >= w->filter->cold_idle_min;
}

static int walk_call(const struct walk *w, const struct heat_vma *v, uint64_t i, uint16_t e) {
        struct heat_unit u;

        unit_fill(&u, w->pid, v, i, e, w->p);
        return w->f(&u, w->userdata);
}

/* The settled slots of word k that the walk leaves out. A parked unit (heat.h, "Parked units") is settled but
 * still a candidate for demotion, as long as what the store knows of it is fresh: the round that just ended
 * looked at its word in full (the slice, or a turned sample). A word's lone sample is not offered: the slices
 * offer more than a round can demote wherever parking is not held, and a walk that takes samples would read
 * every parked word's entries to find them. */
static inline uint64_t walk_settled_word(const struct walk *w, const struct heat_vma *v,
                                         const struct observation *o, uint64_t k) {
        uint64_t settled;

        if (!w->unsettled_only)
                return 0;
        settled = v->settled[k];
        /* Once the filter wants no cold unit any more, parked ones have nothing to offer. */
        if (w->parked_too && vma_word_parked(v, k) && (!w->filter || w->filter->cold_idle_min <= HEAT_IDLE_MAX) &&
            observation_word(o, k) == vma_word_valid(v, k))
                settled = 0;
        return settled;
}

/* One unit at a time: VMAs with THPs, and the last partial word of the others. */
static int vma_walk_units(struct walk *w, const struct heat_vma *v, uint64_t i, uint64_t n) {
        const struct observation o = observation_of(v, w->round);
        int r;

        /* THP flags exist only on heads, so a unit is 512 slots exactly when its first has it. */
        while (i < n) {
                uint16_t e = v->entries[i];
                uint64_t len = (e & HEAT_F_THP) ? HEAT_THP_PAGES : 1;
                uint8_t s = w->sel[class_key(e)];

                if (s == 2 && !walk_passes_filter(w, e))
                        s = 0;
                if (s != 0 && ((walk_settled_word(w, v, &o, i / 64) >> (i % 64)) & 1))
                        s = 0;
                i += len;
                if (s != 0) {
                        r = walk_call(w, v, i - len, e);
                        if (r > 0)
                                w->next = i;
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

/* What walk_select8() compares against, as vectors: made once per word, since the filter may narrow between
 * words. Comparisons are signed (s16x8), each as "greater than the bound minus one". */
struct walk_bounds {
        s16x8 hot_m1;      /* streak field of promote_rounds, minus 1 */
        s16x8 cold_m1;     /* idle field of cold_rounds, minus 1 */
        s16x8 rank_m1;     /* hot units: the filter's least rank, minus 1 */
        s16x8 cold_f_m1;   /* cold units: idle field of the larger of cold_rounds and the filter's, minus 1 */
        s16x8 want_hot, want_cold, want_warm, want_skipped; /* all ones or all zeros, from the class mask */
};

static void walk_bounds_make(const struct walk *w, struct walk_bounds *ret) {
        /* Bounds past every value of a field select nothing: a rank above 0x7f, an idle age above 31. */
        unsigned rank_min = w->filter ? MIN(w->filter->hot_rank_min, HEAT_HOT_RANK_MASK + 1U) : 0;
        unsigned idle_min = w->filter ? MIN(w->filter->cold_idle_min, HEAT_IDLE_MAX + 1U) : 0;

        *ret = (struct walk_bounds) {
                .hot_m1 = s16x8_splat((int) (w->p->promote_rounds << HEAT_STREAK_SHIFT) - 1),
                .cold_m1 = s16x8_splat((int) (w->p->cold_rounds << HEAT_IDLE_SHIFT) - 1),
                .rank_m1 = s16x8_splat((int) rank_min - 1),
                .cold_f_m1 = s16x8_splat((int) (MAX(w->p->cold_rounds, idle_min) << HEAT_IDLE_SHIFT) - 1),
                .want_hot = s16x8_splat(w->class_mask & HEAT_CLASS_MASK(HEAT_CLASS_HOT) ? -1 : 0),
                .want_cold = s16x8_splat(w->class_mask & HEAT_CLASS_MASK(HEAT_CLASS_COLD) ? -1 : 0),
                .want_warm = s16x8_splat(w->class_mask & HEAT_CLASS_MASK(HEAT_CLASS_WARM) ? -1 : 0),
                .want_skipped = s16x8_splat(w->class_mask & HEAT_CLASS_MASK(HEAT_CLASS_SKIPPED) ? -1 : 0),
        };
}

/* 8 entries: bit j of the result is set when entry j is selected. Classes as heat_entry_class(): flagged entries
 * are skipped; of the others, a streak of promote_rounds is hot, else an idle age of cold_rounds is cold, else
 * warm; the filter narrows hot and cold. */
static inline unsigned walk_select8(const struct walk_bounds *b, const uint16_t *e) {
        const s16x8 zero = s16x8_splat(0);
        s16x8 x, unflagged, hot, cold, warm, sel;

        memcpy(&x, e, sizeof(x));
        unflagged = (s16x8) ((x & (int16_t) (HEAT_F_LAZYFREE | HEAT_F_SKIP)) == zero);
        hot = (s16x8) ((x & (int16_t) HEAT_STREAK_MASK) > b->hot_m1);
        cold = ~hot & (s16x8) ((x & (int16_t) HEAT_IDLE_MASK) > b->cold_m1);
        warm = ~hot & ~cold;
        sel = (b->want_hot & hot & (s16x8) ((x & (int16_t) HEAT_HOT_RANK_MASK) > b->rank_m1)) |
                (b->want_cold & cold & (s16x8) ((x & (int16_t) HEAT_IDLE_MASK) > b->cold_f_m1)) |
                (b->want_warm & warm);
        sel = (unflagged & sel) | (~unflagged & b->want_skipped);
#ifdef __SSE2__
        return (unsigned) _mm_movemask_epi8(_mm_packs_epi16((__m128i) sel, _mm_setzero_si128())) & 0xff;
#else
        unsigned bits = 0;

        for (unsigned j = 0; j < 8; j++)
                bits |= (sel[j] & 1U) << j;
        return bits;
#endif
}

/* Base pages only: 64 entries (one settled word) at a time, selected without a branch per entry, so that a walk
 * over 2^28 entries for a few thousand candidates costs memory bandwidth rather than mispredictions. */
static int vma_walk_base(struct walk *w, const struct heat_vma *v, uint64_t from) {
        const struct observation o = observation_of(v, w->round);
        uint64_t n = vma_n_pages(v), words = n / 64;
        struct walk_bounds b;
        int r;

        for (uint64_t k = from / 64; k < words; k++) {
                /* A walk that goes on mid-word leaves out the slots before it, as if settled. */
                uint64_t sel = 0, settled = walk_settled_word(w, v, &o, k) |
                        (k == from / 64 ? (UINT64_C(1) << (from % 64)) - 1 : 0);

                if (k + WORD_AHEAD < words && v->settled[k + WORD_AHEAD] != UINT64_MAX)
                        vma_prefetch_word(v, k + WORD_AHEAD);
                /* Once placement has settled, most words are all settled: 64 units for one load. */
                if (settled == UINT64_MAX)
                        continue;
                walk_bounds_make(w, &b);
                uint64_t rest = ~settled & (~settled - 1);

                /* One or two slots to look at (clearing the two lowest bits leaves none): read the 8 entries
                 * around each, not all 64. */
                if ((rest & (rest - 1)) == 0)
                        for (uint64_t c = ~settled; c; c &= c - 1) {
                                unsigned j = (unsigned) __builtin_ctzll(c);

                                sel |= (uint64_t) ((walk_select8(&b, v->entries + k * 64 + (j & ~7U)) >> (j & 7)) & 1)
                                        << j;
                        }
                else {
                        for (unsigned j = 0; j < 64; j += 8)
                                sel |= (uint64_t) walk_select8(&b, v->entries + k * 64 + j) << j;
                        sel &= ~settled;
                }
                for (; sel; sel &= sel - 1) {
                        uint64_t i = k * 64 + (uint64_t) __builtin_ctzll(sel);

                        r = walk_call(w, v, i, v->entries[i]);
                        if (r > 0)
                                w->next = i + 1;
                        if (r != 0)
                                return r;
                }
        }
        return vma_walk_units(w, v, MAX(words * 64, from), n);
}

int heat_store_foreach_unit(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                            unsigned class_mask, heat_unit_func_t f, void *userdata) {
        return heat_store_foreach_unit_filtered(s, pid, p, class_mask, NULL, f, userdata);
}

int heat_store_foreach_unit_filtered(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                                     unsigned class_mask, const struct heat_walk_filter *filter,
                                     heat_unit_func_t f, void *userdata) {
        struct heat_walk_cursor cursor = {};
        int r;

        r = heat_store_walk(s, pid, p, class_mask, filter, &cursor, f, userdata);
        /* Without a cursor to go on from, a pause is the end. */
        return MIN(r, 0);
}

int heat_store_walk(const struct heat_store *s, pid_t pid, const struct heat_class_params *p, unsigned class_mask,
                    const struct heat_walk_filter *filter, struct heat_walk_cursor *cursor, heat_unit_func_t f,
                    void *userdata) {
        _cleanup_free_ struct walk *w = NULL;
        size_t first, end;
        int r;

        if (!s || !f || !heat_class_params_valid(p) || (class_mask & ~(HEAT_CLASS_MASK_ALL | HEAT_WALK_UNSETTLED)))
                return -EINVAL;
        r = targets_select(s, pid, &first, &end);
        if (r < 0)
                return r;
        w = malloc(sizeof(struct walk));
        if (!w)
                return -ENOMEM;
        *w = (struct walk) {
                .p = p,
                .class_mask = class_mask & HEAT_CLASS_MASK_ALL,
                .unsettled_only = class_mask & HEAT_WALK_UNSETTLED,
                .parked_too = (class_mask & HEAT_WALK_UNSETTLED) && (class_mask & HEAT_CLASS_MASK(HEAT_CLASS_COLD)),
                .round = s->round,
                .filter = filter,
                .f = f,
                .userdata = userdata,
        };
        class_selection(p, class_mask, w->sel);
        /* By pid and address, not by index: a target that went away in between leaves the cursor good. */
        for (size_t ti = MAX(first, target_lower_bound(s, cursor->pid)); ti < end; ti++) {
                const struct heat_target *t = &s->targets[ti];
                uint64_t from_addr = t->pid == cursor->pid ? cursor->addr : 0;

                w->pid = t->pid;
                for (size_t j = vma_lower_bound(t, from_addr); j < t->n_vmas; j++) {
                        const struct heat_vma *v = &t->vmas[j];
                        uint64_t from = from_addr > v->start ? (from_addr - v->start) >> HEAT_PAGE_SHIFT : 0;

                        r = v->n_thp == 0 ? vma_walk_base(w, v, from) : vma_walk_units(w, v, from, vma_n_pages(v));
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                *cursor = (struct heat_walk_cursor) {
                                        .pid = t->pid,
                                        .addr = v->start + (w->next << HEAT_PAGE_SHIFT),
                                };
                                return 1;
                        }
                }
        }
        *cursor = (struct heat_walk_cursor) { .pid = INT32_MAX, .addr = UINT64_MAX };
        return 0;
}

int heat_store_sample_units(const struct heat_store *s, const struct heat_class_params *p, uint64_t stride,
                            heat_unit_func_t f, void *userdata) {
        uint64_t skip = 0; /* units still to pass before the next sample */
        struct heat_unit u;
        int r;

        if (!s || !f || stride == 0 || !heat_class_params_valid(p))
                return -EINVAL;
        for (size_t ti = 0; ti < s->n_targets; ti++)
                for (size_t j = 0; j < s->targets[ti].n_vmas; j++) {
                        const struct heat_vma *v = &s->targets[ti].vmas[j];
                        uint64_t n = vma_n_pages(v), i = 0;

                        if (v->n_thp == 0) {
                                /* Units are slots: straight to every stride-th. */
                                for (i = skip; i < n; i += stride) {
                                        unit_fill(&u, s->targets[ti].pid, v, i, v->entries[i], p);
                                        r = f(&u, userdata);
                                        if (r < 0)
                                                return r;
                                }
                                skip = i - n;
                                continue;
                        }
                        while (i < n) {
                                uint16_t e = v->entries[i];
                                uint64_t len = (e & HEAT_F_THP) ? HEAT_THP_PAGES : 1;

                                if (skip > 0)
                                        skip--;
                                else {
                                        unit_fill(&u, s->targets[ti].pid, v, i, e, p);
                                        r = f(&u, userdata);
                                        if (r < 0)
                                                return r;
                                        skip = stride - 1;
                                }
                                i += len;
                        }
                }
        return 0;
}

static void histogram_add(struct heat_histogram *h, uint16_t e, uint64_t count, const struct heat_class_params *p) {
        uint64_t pages = count * ((e & HEAT_F_THP) ? HEAT_THP_PAGES : 1);
        enum heat_class c = heat_entry_class(e, p);

        h->units += count;
        h->pages += pages;
        if (e & HEAT_F_THP)
                h->thp_units += count;
        if (e & HEAT_F_LAZYFREE)
                h->lazyfree_units += count;
        if (e & HEAT_F_SKIP)
                h->skip_units += count;
        if (e & HEAT_F_MOVED)
                h->moved_units += count;
        h->hits[heat_entry_hits(e)] += count;
        h->streak[heat_entry_streak(e)] += count;
        h->idle[heat_entry_idle_rounds(e)] += count;
        h->class_units[c] += count;
        h->class_bytes[c] += pages << HEAT_PAGE_SHIFT;
}

/* Large VMAs are counted by raw entry value first (one increment per unit, no branches), then the histogram is
 * derived from the 2^16 possible values; small ones directly, so that a process with thousands of small VMAs
 * does not pay 2^16 steps for each. Four interleaved tables keep consecutive increments of the same value (the
 * common case: whole regions equally hot or cold) from waiting on each other. */
#define HISTOGRAM_TABLE_MIN_PAGES (UINT64_C(1) << 16)
#define HISTOGRAM_TABLES 4
#define HISTOGRAM_TABLE_BYTES (sizeof(uint32_t) * HISTOGRAM_TABLES << 16)

static void entries_count(uint32_t *table, const uint16_t *e, uint64_t n) {
        uint64_t i = 0;

        for (; i + HISTOGRAM_TABLES <= n; i += HISTOGRAM_TABLES)
                for (unsigned k = 0; k < HISTOGRAM_TABLES; k++)
                        table[k << 16 | e[i + k]]++;
        for (; i < n; i++)
                table[e[i]]++;
}

static void vma_histogram(const struct heat_vma *v, const struct heat_class_params *p, uint32_t *table,
                          struct heat_histogram *h) {
        uint64_t n = vma_n_pages(v);

        if (!table || n < HISTOGRAM_TABLE_MIN_PAGES) {
                for (uint64_t i = 0; i < n;) {
                        uint16_t e = v->entries[i];

                        histogram_add(h, e, 1, p);
                        i += (e & HEAT_F_THP) ? HEAT_THP_PAGES : 1;
                }
                return;
        }

        /* A VMA holds at most 2^28 units (HEAT_VMA_MAX_BYTES), so uint32_t counters cannot overflow. */
        memset(table, 0, HISTOGRAM_TABLE_BYTES);
        if (v->n_thp == 0)
                entries_count(table, v->entries, n);
        else
                /* By 2 MiB of address space: a THP counts its head only. */
                for (uint64_t i = 0; i < n;) {
                        uint64_t chunk = MIN(HEAT_THP_PAGES - vma_thp_offset(v, i), n - i);

                        if (chunk == HEAT_THP_PAGES && (v->entries[i] & HEAT_F_THP))
                                entries_count(table, v->entries + i, 1);
                        else
                                entries_count(table, v->entries + i, chunk);
                        i += chunk;
                }
        for (unsigned x = 0; x < (1U << 16); x++) {
                uint64_t c = 0;

                for (unsigned k = 0; k < HISTOGRAM_TABLES; k++)
                        c += table[k << 16 | x];
                if (c > 0)
                        histogram_add(h, (uint16_t) x, c, p);
        }
}

/* The counting tables, when some VMA in the selection is large enough to want them. */
static int histogram_table(const struct heat_store *s, size_t first, size_t end, uint32_t **ret) {
        *ret = NULL;
        for (size_t ti = first; ti < end; ti++)
                for (size_t j = 0; j < s->targets[ti].n_vmas; j++)
                        if (vma_n_pages(&s->targets[ti].vmas[j]) >= HISTOGRAM_TABLE_MIN_PAGES) {
                                *ret = malloc(HISTOGRAM_TABLE_BYTES);
                                return *ret ? 0 : -ENOMEM;
                        }
        return 0;
}

int heat_store_histogram(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                         struct heat_histogram *h) {
        _cleanup_free_ uint32_t *table = NULL;
        size_t first, end;
        int r;

        if (!s || !h || !heat_class_params_valid(p))
                return -EINVAL;
        r = targets_select(s, pid, &first, &end);
        if (r < 0)
                return r;
        r = histogram_table(s, first, end, &table);
        if (r < 0)
                return r;
        for (size_t ti = first; ti < end; ti++)
                for (size_t j = 0; j < s->targets[ti].n_vmas; j++)
                        vma_histogram(&s->targets[ti].vmas[j], p, table, h);
        return 0;
}

int heat_store_foreach_vma(const struct heat_store *s, pid_t pid, const struct heat_class_params *p,
                           heat_vma_func_t f, void *userdata) {
        _cleanup_free_ uint32_t *table = NULL;
        size_t first, end;
        int r;

        if (!s || !f || !heat_class_params_valid(p))
                return -EINVAL;
        r = targets_select(s, pid, &first, &end);
        if (r < 0)
                return r;
        r = histogram_table(s, first, end, &table);
        if (r < 0)
                return r;
        for (size_t ti = first; ti < end; ti++) {
                const struct heat_target *t = &s->targets[ti];

                for (size_t j = 0; j < t->n_vmas; j++) {
                        struct heat_vma_info info = {
                                .pid = t->pid,
                                .start = t->vmas[j].start,
                                .end = t->vmas[j].end,
                        };

                        vma_histogram(&t->vmas[j], p, table, &info.histogram);
                        r = f(&info, userdata);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

uint64_t heat_store_memory_bytes(const struct heat_store *s) {
        uint64_t bytes;

        if (!s)
                return 0;
        bytes = sizeof(struct heat_store) + s->n_targets_allocated * sizeof(struct heat_target) +
                s->moves_capacity * sizeof(struct heat_move);
        for (size_t i = 0; i < s->n_targets; i++) {
                const struct heat_target *t = &s->targets[i];

                bytes += t->n_vmas * sizeof(struct heat_vma);
                for (size_t j = 0; j < t->n_vmas; j++)
                        bytes += vma_n_pages(&t->vmas[j]) * sizeof(uint16_t) +
                                vma_settled_words(&t->vmas[j]) * sizeof(uint64_t) +
                                (t->vmas[j].observation ? OBSERVATION_BITMAPS * vma_observation_words(&t->vmas[j]) * sizeof(uint64_t) : 0);
        }
        return bytes;
}

void heat_store_get_stats(const struct heat_store *s, struct heat_store_stats *ret) {
        if (!ret)
                return;
        *ret = (struct heat_store_stats) {};
        if (!s)
                return;
        for (size_t i = 0; i < s->n_targets; i++) {
                const struct heat_target *t = &s->targets[i];

                ret->n_vmas += t->n_vmas;
                for (size_t j = 0; j < t->n_vmas; j++) {
                        ret->pages += vma_n_pages(&t->vmas[j]);
                        ret->thp_units += t->vmas[j].n_thp;
                }
        }
        ret->n_targets = s->n_targets;
        ret->units = ret->pages - (HEAT_THP_PAGES - 1) * ret->thp_units;
        ret->tracked_bytes = ret->pages << HEAT_PAGE_SHIFT;
        ret->memory_bytes = heat_store_memory_bytes(s);
        ret->moves = s->n_moves;
        ret->round = s->round;
        ret->last_passes = s->last_passes;
        ret->last_hot_threshold = s->last_hot_threshold;
        ret->observed_pages = s->observed_pages;
        ret->parked_units = s->parked_units;
        ret->parking_held = s->parking_held;
        ret->moves_evictions = s->moves_evicted_rounds;
}
