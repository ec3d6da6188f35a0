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

/* LSD radix sort by pfn, 8 bits at a time, only over the bytes the largest PFN uses (3 passes up to 64 GiB of
 * RAM, 4 up to 16 TiB): linear time, where qsort() of millions of pages would hold up the event loop. Stable, so
 * equal PFNs keep their input order. Returns the array that holds the result (a or tmp). */
static struct pfn_ref *radix_sort(struct pfn_ref *a, struct pfn_ref *tmp, size_t n, uint64_t max_pfn) {
        for (unsigned shift = 0; shift < 64 && (max_pfn >> shift) != 0; shift += 8) {
                size_t count[256] = {};
                size_t sum = 0;

                for (size_t i = 0; i < n; i++)
                        count[(a[i].pfn >> shift) & 0xff]++;
                for (size_t b = 0; b < 256; b++) {
                        size_t c = count[b];
                        count[b] = sum;
                        sum += c;
                }
                for (size_t i = 0; i < n; i++)
                        tmp[count[(a[i].pfn >> shift) & 0xff]++] = a[i];

                struct pfn_ref *t = a;
                a = tmp;
                tmp = t;
        }
        return a;
}

void page_idle_plan_done(struct page_idle_plan *p) {
        if (!p)
                return;
        free(p->masks);
        free(p->runs);
        *p = (struct page_idle_plan) {};
}

int page_idle_plan_build(const uint64_t *pfns, size_t n, uint64_t *ret_slots, struct page_idle_plan *ret) {
        _cleanup_free_ struct pfn_ref *refs = NULL, *tmp = NULL;
        _cleanup_free_ uint64_t *masks = NULL;
        _cleanup_free_ struct page_idle_run *runs = NULL;
        struct pfn_ref *sorted;
        size_t n_words = 0, n_runs = 0;
        uint64_t max_pfn = 0;

        if (!ret || (n > 0 && !pfns))
                return -EINVAL;
        *ret = (struct page_idle_plan) {};
        if (n == 0)
                return 0;
        if (n > UINT32_MAX)
                return -E2BIG;

        refs = malloc(sizeof(struct pfn_ref) * n);
        tmp = malloc(sizeof(struct pfn_ref) * n);
        if (!refs || !tmp)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (pfns[i] > PAGEMAP_PFN_MASK)
                        return -EINVAL;
                refs[i] = (struct pfn_ref) { .pfn = pfns[i], .index = i };
                max_pfn = MAX(max_pfn, pfns[i]);
        }
        sorted = radix_sort(refs, tmp, n, max_pfn);

        /* Count first, so the arrays are allocated once at their final size. */
        for (size_t i = 0; i < n; i++) {
                uint64_t w = sorted[i].pfn / 64;

                if (i > 0 && w == sorted[i - 1].pfn / 64)
                        continue;
                n_words++;
        }
        masks = calloc(n_words, sizeof(uint64_t));
        runs = malloc(sizeof(struct page_idle_run) * n_words); /* at most one run per word */
        if (!masks || !runs)
                return -ENOMEM;

        size_t pos = SIZE_MAX;
        uint64_t prev_word = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t w = sorted[i].pfn / 64, bit = sorted[i].pfn % 64;

                if (pos == SIZE_MAX || w != prev_word) {
                        struct page_idle_run *last = n_runs > 0 ? &runs[n_runs - 1] : NULL;

                        pos = pos == SIZE_MAX ? 0 : pos + 1;
                        if (last && w == (uint64_t) last->word + last->n_words &&
                            last->n_words < PAGE_IDLE_RUN_WORDS_MAX)
                                last->n_words++;
                        else
                                runs[n_runs++] = (struct page_idle_run) { .word = w, .n_words = 1 };
                        prev_word = w;
                }
                masks[pos] |= UINT64_C(1) << bit;
                if (ret_slots)
                        ret_slots[sorted[i].index] = (uint64_t) pos * 64 + bit;
        }

        /* Usually far fewer runs than words: give the rest back. */
        if (n_runs < n_words) {
                struct page_idle_run *r = realloc(runs, sizeof(struct page_idle_run) * n_runs);
                if (r)
                        runs = r;
        }

        *ret = (struct page_idle_plan) {
                .masks = TAKE_PTR(masks),
                .n_words = n_words,
                .runs = TAKE_PTR(runs),
                .n_runs = n_runs,
        };
        return 0;
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
