/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "idle-pages.h"
#include "log.h"
#include "scan-backend.h"

/* The idle_pages backend: reading /proc/PID/idle_pages both reports and resets the accessed bits, so one read of
 * every range is one pass. The first pass of a round starts with a read whose result is thrown away, to start
 * the pass window from clean bits; every later pass's window starts at the previous pass's read. */

struct idle_pages_backend {
        uint64_t *bitmap;
        size_t bitmap_words;
};

static int ensure_bitmap(struct idle_pages_backend *s, size_t words) {
        uint64_t *b;

        if (words <= s->bitmap_words)
                return 0;
        b = realloc(s->bitmap, words * sizeof(uint64_t));
        if (!b)
                return -ENOMEM;
        s->bitmap = b;
        s->bitmap_words = words;
        return 0;
}

struct huge_ctx {
        struct heat_store *heat;
        pid_t pid;
};

static int on_huge(const struct idle_pages_run *run, void *userdata) {
        struct huge_ctx *h = userdata;

        /* Only PMD-sized units are THPs the heat store keeps as one entry; a unit sticking out of the VMA
         * cannot be one (-ENOENT/-EINVAL from the store), which is fine to ignore. */
        if (run->unit == HEAT_THP_SIZE)
                (void) heat_store_set_thp(h->heat, h->pid, run->addr, true);
        return 0;
}

/* Reads every trackable VMA of every target, highest address first: a read may walk a little past its end and
 * clear bits there, and going downwards makes that land on ranges already read in this pass. */
static int read_all(struct idle_pages_backend *s, const struct scan_context *ctx, bool record) {
        for (size_t i = 0; i < ctx->targets->n_targets; i++) {
                const struct target *t = &ctx->targets->targets[i];
                struct huge_ctx huge = { .heat = ctx->heat, .pid = t->pid };
                struct idle_pages_read_options opts = {
                        .huge_cb = record ? on_huge : NULL,
                        .huge_userdata = &huge,
                };

                for (size_t j = t->n_vmas; j-- > 0;) {
                        const struct vma *v = &t->vmas[j];
                        size_t words;
                        int r;

                        if (!heat_vma_trackable(v))
                                continue;
                        words = IDLE_PAGES_BITMAP_WORDS(v->start, v->end);
                        r = ensure_bitmap(s, words);
                        if (r < 0)
                                return r;
                        r = idle_pages_read_range(t->pid, v->start, v->end, s->bitmap, words, &opts, NULL);
                        if (r == -ESRCH)
                                break; /* exited: the next round's target scan drops it */
                        if (r == -EOPNOTSUPP || r == -EACCES || r == -EPERM)
                                return r; /* the backend itself stopped working */
                        if (r < 0) {
                                char key[64];

                                snprintf(key, sizeof(key), "idle-pages:%d", (int) t->pid);
                                log_repeat_errno(LOG_WARNING, key, r,
                                                 "Cannot read /proc/%d/idle_pages at 0x%" PRIx64 ": %m, ignoring",
                                                 (int) t->pid, v->start);
                                continue;
                        }
                        if (record) {
                                r = heat_store_record_bitmap(ctx->heat, t->pid, v->start,
                                                             (v->end - v->start) / HEAT_PAGE_SIZE, s->bitmap);
                                if (r < 0 && r != -ENOENT)
                                        return r;
                        }
                }
        }
        return 0;
}

static int idle_pages_backend_probe(const struct scan_options *opts, char **ret_reason) {
        int r;

        r = idle_pages_probe(getpid(), ret_reason);
        if (r == -ESRCH) {
                /* Our own /proc entry is missing: procfs is not where we look (a fake tree in tests). */
                *ret_reason = strdup("cannot probe: no /proc entry for tierd itself");
                return *ret_reason ? 0 : -ENOMEM;
        }
        return r;
}

static int idle_pages_backend_open(const struct scan_options *opts, void **ret_state) {
        struct idle_pages_backend *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        *ret_state = s;
        return 0;
}

static int idle_pages_backend_round_begin(void *state, const struct scan_context *ctx) {
        return 0;
}

static int idle_pages_backend_pass_begin(void *state, const struct scan_context *ctx) {
        return ctx->pass == 1 ? read_all(state, ctx, false) : 0;
}

static int idle_pages_backend_pass_end(void *state, const struct scan_context *ctx) {
        return read_all(state, ctx, true);
}

static int idle_pages_backend_round_end(void *state, const struct scan_context *ctx) {
        return 0;
}

static void idle_pages_backend_close(void *state) {
        struct idle_pages_backend *s = state;

        if (!s)
                return;
        free(s->bitmap);
        free(s);
}

const struct scan_backend_ops scan_backend_idle_pages = {
        .name = "idle_pages",
        .probe = idle_pages_backend_probe,
        .open = idle_pages_backend_open,
        .round_begin = idle_pages_backend_round_begin,
        .pass_begin = idle_pages_backend_pass_begin,
        .pass_end = idle_pages_backend_pass_end,
        .round_end = idle_pages_backend_round_end,
        .close = idle_pages_backend_close,
};
