/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "macro.h"
#include "page-idle.h"
#include "pagemap.h"

_Static_assert(sizeof(struct page_idle_run) == 8, "runs are meant to cost 8 bytes");

/* The planner */

struct pfn_ref {
        uint64_t pfn;
        uint64_t index; /* position in the caller's array */
};

void page_idle_plan_done(struct page_idle_plan *p) {
        if (!p)
                return;
        free(p->masks);
        free(p->runs);
        *p = (struct page_idle_plan) {};
}

/* The planner's phases, each a loop over the n PFNs that a step may leave and resume at `i`. */
enum planner_phase {
        PLANNER_FILL,    /* refs[i] = { pfns[i], i }, the largest PFN */
        PLANNER_COUNT,   /* a radix pass's histogram of the byte at `shift` */
        PLANNER_SCATTER, /* the pass's stable scatter into tmp */
        PLANNER_WORDS,   /* how many distinct words the sorted PFNs fill */
        PLANNER_BUILD,   /* masks, runs and slots */
        PLANNER_DONE,
};

struct page_idle_planner {
        const uint64_t *pfns;
        size_t n;
        uint64_t *ret_slots;

        enum planner_phase phase;
        size_t i;            /* the current phase's next element */
        struct pfn_ref *a, *tmp; /* a holds the PFNs as sorted so far */
        uint64_t max_pfn;
        unsigned shift;      /* LSD radix sort by pfn, 8 bits a pass, only over the bytes the largest PFN uses */
        size_t count[256];

        size_t n_words, n_runs, pos;
        uint64_t prev_word;
        uint64_t *masks;
        struct page_idle_run *runs;
};

struct page_idle_planner *page_idle_planner_free(struct page_idle_planner *p) {
        if (!p)
                return NULL;
        free(p->a);
        free(p->tmp);
        free(p->masks);
        free(p->runs);
        return mfree(p);
}

int page_idle_planner_new(const uint64_t *pfns, size_t n, uint64_t *ret_slots, struct page_idle_planner **ret) {
        struct page_idle_planner *p;

        if (!ret || (n > 0 && !pfns))
                return -EINVAL;
        if (n > UINT32_MAX)
                return -E2BIG;
        p = calloc(1, sizeof(struct page_idle_planner));
        if (!p)
                return -ENOMEM;
        *p = (struct page_idle_planner) { .pfns = pfns, .n = n, .ret_slots = ret_slots, .pos = SIZE_MAX };
        if (n > 0) {
                p->a = malloc(sizeof(struct pfn_ref) * n);
                p->tmp = malloc(sizeof(struct pfn_ref) * n);
                if (!p->a || !p->tmp) {
                        (void) page_idle_planner_free(p);
                        return -ENOMEM;
                }
        }
        *ret = p;
        return 0;
}

/* The next radix pass, or the end of the sort. */
static void planner_next_pass(struct page_idle_planner *p) {
        p->i = 0;
        if (p->shift < 64 && (p->max_pfn >> p->shift) != 0) {
                memset(p->count, 0, sizeof(p->count));
                p->phase = PLANNER_COUNT;
        } else
                p->phase = PLANNER_WORDS;
}

/* Runs phases until `budget` elements have been handled in all. Returns 1 while work remains, 0 when done (the
 * plan in *ret), or a negative errno. */
int page_idle_planner_step(struct page_idle_planner *p, size_t budget, struct page_idle_plan *ret) {
        if (!p || !ret || budget == 0)
                return -EINVAL;
        *ret = (struct page_idle_plan) {};

        while (budget > 0) {
                size_t end = p->i + MIN(budget, p->n - p->i);

                budget -= end - p->i;
                switch (p->phase) {
                case PLANNER_FILL:
                        for (; p->i < end; p->i++) {
                                uint64_t pfn = p->pfns[p->i];

                                if (pfn > PAGEMAP_PFN_MASK)
                                        return -EINVAL;
                                p->a[p->i] = (struct pfn_ref) { .pfn = pfn, .index = p->i };
                                p->max_pfn = MAX(p->max_pfn, pfn);
                        }
                        if (p->i == p->n)
                                planner_next_pass(p); /* the first, at shift 0 */
                        break;

                case PLANNER_COUNT:
                        for (; p->i < end; p->i++)
                                p->count[(p->a[p->i].pfn >> p->shift) & 0xff]++;
                        if (p->i == p->n) {
                                size_t sum = 0;

                                for (size_t b = 0; b < 256; b++) {
                                        size_t c = p->count[b];

                                        p->count[b] = sum;
                                        sum += c;
                                }
                                p->i = 0;
                                p->phase = PLANNER_SCATTER;
                        }
                        break;

                case PLANNER_SCATTER:
                        /* Stable: equal PFNs keep their input order. */
                        for (; p->i < end; p->i++)
                                p->tmp[p->count[(p->a[p->i].pfn >> p->shift) & 0xff]++] = p->a[p->i];
                        if (p->i == p->n) {
                                struct pfn_ref *t = p->a;

                                p->a = p->tmp;
                                p->tmp = t;
                                p->shift += 8;
                                planner_next_pass(p);
                        }
                        break;

                case PLANNER_WORDS:
                        /* Count first, so the arrays are allocated once at their final size. */
                        for (; p->i < end; p->i++)
                                if (p->i == 0 || p->a[p->i].pfn / 64 != p->a[p->i - 1].pfn / 64)
                                        p->n_words++;
                        if (p->i == p->n) {
                                p->tmp = mfree(p->tmp);
                                if (p->n_words > 0) {
                                        p->masks = calloc(p->n_words, sizeof(uint64_t));
                                        /* at most one run per word */
                                        p->runs = malloc(sizeof(struct page_idle_run) * p->n_words);
                                        if (!p->masks || !p->runs)
                                                return -ENOMEM;
                                }
                                p->i = 0;
                                p->phase = PLANNER_BUILD;
                        }
                        break;

                case PLANNER_BUILD:
                        for (; p->i < end; p->i++) {
                                uint64_t w = p->a[p->i].pfn / 64, bit = p->a[p->i].pfn % 64;

                                if (p->pos == SIZE_MAX || w != p->prev_word) {
                                        struct page_idle_run *last = p->n_runs > 0 ? &p->runs[p->n_runs - 1] : NULL;

                                        p->pos = p->pos == SIZE_MAX ? 0 : p->pos + 1;
                                        if (last && w == (uint64_t) last->word + last->n_words &&
                                            last->n_words < PAGE_IDLE_RUN_WORDS_MAX)
                                                last->n_words++;
                                        else
                                                p->runs[p->n_runs++] = (struct page_idle_run) { .word = w, .n_words = 1 };
                                        p->prev_word = w;
                                }
                                p->masks[p->pos] |= UINT64_C(1) << bit;
                                if (p->ret_slots)
                                        p->ret_slots[p->a[p->i].index] = (uint64_t) p->pos * 64 + bit;
                        }
                        if (p->i == p->n)
                                p->phase = PLANNER_DONE;
                        break;

                case PLANNER_DONE:
                        break;
                }
                if (p->phase == PLANNER_DONE)
                        break;
        }
        if (p->phase != PLANNER_DONE)
                return 1;

        /* Usually far fewer runs than words: give the rest back. */
        if (p->n_runs < p->n_words) {
                struct page_idle_run *r = realloc(p->runs, sizeof(struct page_idle_run) * MAX(p->n_runs, (size_t) 1));

                if (r)
                        p->runs = r;
        }
        *ret = (struct page_idle_plan) {
                .masks = TAKE_PTR(p->masks),
                .n_words = p->n_words,
                .runs = TAKE_PTR(p->runs),
                .n_runs = p->n_runs,
        };
        p->a = mfree(p->a);
        return 0;
}

int page_idle_plan_build(const uint64_t *pfns, size_t n, uint64_t *ret_slots, struct page_idle_plan *ret) {
        struct page_idle_planner *p = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        *ret = (struct page_idle_plan) {};
        r = page_idle_planner_new(pfns, n, ret_slots, &p);
        if (r < 0)
                return r;
        r = page_idle_planner_step(p, SIZE_MAX, ret);
        (void) page_idle_planner_free(p);
        return MIN(r, 0);
}

/* The I/O */

static ssize_t default_pread(int fd, void *buf, size_t count, off_t offset, _unused_ void *userdata) {
        return pread(fd, buf, count, offset);
}

static ssize_t default_pwrite(int fd, const void *buf, size_t count, off_t offset, _unused_ void *userdata) {
        return pwrite(fd, buf, count, offset);
}

static struct page_idle_io io = {
        .pread = default_pread,
        .pwrite = default_pwrite,
};

void page_idle_set_io(const struct page_idle_io *new_io) {
        io = (struct page_idle_io) {
                .pread = new_io && new_io->pread ? new_io->pread : default_pread,
                .pwrite = new_io && new_io->pwrite ? new_io->pwrite : default_pwrite,
                .userdata = new_io ? new_io->userdata : NULL,
        };
}

int page_idle_open(void) {
        return fsroot_open(PAGE_IDLE_BITMAP_PATH, O_RDWR | O_NOCTTY);
}

/* Moves the words [pos, pos + n) of one run. Returns the number of words moved (fewer than n: the kernel's end of
 * the bitmap) or a negative errno. */
static ssize_t transfer_run(int fd, uint64_t *words, uint64_t first_word, size_t n, bool write) {
        size_t done = 0, bytes = n * sizeof(uint64_t);
        off_t offset = (off_t) (first_word * sizeof(uint64_t));

        while (done < bytes) {
                ssize_t k;

                if (write)
                        k = io.pwrite(fd, (const uint8_t *) words + done, bytes - done, offset + (off_t) done,
                                      io.userdata);
                else
                        k = io.pread(fd, (uint8_t *) words + done, bytes - done, offset + (off_t) done,
                                     io.userdata);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (write && errno == ENXIO) /* at or beyond max_pfn */
                                break;
                        return negative_errno();
                }
                /* The kernel stops at max_pfn: a write makes no progress there, a read returns 0 bytes. A
                 * partial last word is not counted either, so progress is always whole words. */
                if (k == 0)
                        break;
                if ((size_t) k % sizeof(uint64_t) != 0)
                        return -EIO;
                done += (size_t) k;
        }
        return (ssize_t) (done / sizeof(uint64_t));
}

static ssize_t transfer(int fd, struct page_idle_plan *p, size_t live, struct page_idle_cursor *c, size_t max_words,
                        bool write) {
        if (fd < 0 || !p || !c || live > p->n_words || c->run > p->n_runs ||
            (c->run < p->n_runs && c->word >= p->runs[c->run].n_words))
                return -EINVAL;

        while (c->run < p->n_runs && c->pos < live && max_words > 0) {
                size_t n = MIN(MIN((size_t) p->runs[c->run].n_words - c->word, live - c->pos), max_words);
                ssize_t moved;

                moved = transfer_run(fd, p->masks + c->pos, p->runs[c->run].word + c->word, n, write);
                if (moved < 0)
                        return moved;
                if ((size_t) moved < n) {
                        /* Runs ascend, so everything from here on lies beyond the end as well. */
                        c->pos += (size_t) moved;
                        c->run = p->n_runs;
                        c->word = 0;
                        return (ssize_t) c->pos;
                }
                c->pos += n;
                c->word += n;
                max_words -= n;
                if (c->word == p->runs[c->run].n_words) {
                        c->run++;
                        c->word = 0;
                }
        }
        return (ssize_t) live;
}

bool page_idle_cursor_done(const struct page_idle_plan *p, size_t live, const struct page_idle_cursor *c) {
        return c->run >= p->n_runs || c->pos >= live;
}

ssize_t page_idle_write_some(int fd, const struct page_idle_plan *p, size_t live, struct page_idle_cursor *c,
                             size_t max_words) {
        /* transfer() only reads the masks when writing. */
        return transfer(fd, (struct page_idle_plan *) p, live, c, max_words, true);
}

ssize_t page_idle_read_some(int fd, struct page_idle_plan *p, size_t live, struct page_idle_cursor *c,
                            size_t max_words) {
        return transfer(fd, p, live, c, max_words, false);
}

ssize_t page_idle_write(int fd, const struct page_idle_plan *p, size_t live) {
        struct page_idle_cursor c = {};

        return page_idle_write_some(fd, p, live, &c, SIZE_MAX);
}

ssize_t page_idle_read(int fd, struct page_idle_plan *p, size_t live) {
        struct page_idle_cursor c = {};

        return page_idle_read_some(fd, p, live, &c, SIZE_MAX);
}
