/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "macro.h"
#include "zoneinfo.h"

/* A few KiB per zone: 5 zones on each of 1024 nodes stay well inside this. */
#define ZONEINFO_MAX_BYTES (32 * 1024 * 1024)

struct zone_acc {
        bool open;
        int node;
        uint64_t free, high, boost, protection;
        uint64_t spanned, start_pfn;
};

static void zone_close(struct zone_acc *z, uint64_t page_size, struct zoneinfo *ret) {
        uint64_t kept;

        if (!z->open || z->node < 0 || z->node >= ZONEINFO_NODES_MAX) {
                z->open = false;
                return;
        }
        kept = MIN(z->free, z->high + z->boost + z->protection);
        ret->kept_bytes[z->node] += kept * page_size;
        ret->free_bytes[z->node] += z->free * page_size;
        ret->present[z->node / 8] |= (uint8_t) (1U << (z->node % 8));
        if (z->spanned > 0 && z->start_pfn <= UINT64_MAX - z->spanned) {
                uint64_t *start = &ret->span_start_pfn[z->node], *end = &ret->span_end_pfn[z->node];

                if (*end == 0) {
                        *start = z->start_pfn;
                        *end = z->start_pfn + z->spanned;
                } else {
                        *start = MIN(*start, z->start_pfn);
                        *end = MAX(*end, z->start_pfn + z->spanned);
                }
        }
        z->open = false;
}

static int parse_u64(const char *s, const char *end, uint64_t *ret) {
        uint64_t v = 0;

        if (s == end)
                return -EBADMSG;
        for (; s < end; s++) {
                if (!isdigit((unsigned char) *s) || v > (UINT64_MAX - 9) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return 0;
}

/* "(0, 3018, 5066, 5066, 5066)": the largest entry. */
static int parse_protection(const char *s, const char *end, uint64_t *ret) {
        uint64_t best = 0;
        bool any = false;

        while (s < end && isspace((unsigned char) *s))
                s++;
        if (s == end || *s != '(')
                return -EBADMSG;
        s++;
        for (;;) {
                const char *num;
                uint64_t v;
                int r;

                while (s < end && *s == ' ')
                        s++;
                num = s;
                while (s < end && isdigit((unsigned char) *s))
                        s++;
                r = parse_u64(num, s, &v);
                if (r < 0)
                        return r;
                best = MAX(best, v);
                any = true;
                while (s < end && *s == ' ')
                        s++;
                if (s < end && *s == ',') {
                        s++;
                        continue;
                }
                if (s < end && *s == ')')
                        break;
                return -EBADMSG;
        }
        if (!any)
                return -EBADMSG;
        *ret = best;
        return 0;
}

/* Splits a line into its first word and the rest; returns false for a blank line. */
static bool split_line(const char *line, const char *eol, const char **ret_word, const char **ret_word_end,
                       const char **ret_rest) {
        const char *p = line;

        while (p < eol && isspace((unsigned char) *p))
                p++;
        if (p == eol)
                return false;
        *ret_word = p;
        while (p < eol && !isspace((unsigned char) *p))
                p++;
        *ret_word_end = p;
        while (p < eol && isspace((unsigned char) *p))
                p++;
        *ret_rest = p;
        return true;
}

static bool word_is(const char *w, const char *w_end, const char *s) {
        return (size_t) (w_end - w) == strlen(s) && memcmp(w, s, (size_t) (w_end - w)) == 0;
}

int zoneinfo_parse(const char *text, uint64_t page_size, struct zoneinfo *ret) {
        struct zone_acc z = {};
        const char *line, *next;

        if (!text || !ret || page_size == 0)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));

        for (line = text; *line; line = next) {
                const char *nl = strchr(line, '\n'), *eol, *w, *w_end, *rest, *val_end;
                uint64_t *field = NULL;
                int r;

                eol = nl ? nl : line + strlen(line);
                next = nl ? nl + 1 : eol;

                /* "Node 0, zone      DMA": a new zone. */
                if (strncmp(line, "Node ", 5) == 0) {
                        char *end;
                        long node;

                        zone_close(&z, page_size, ret);
                        errno = 0;
                        node = strtol(line + 5, &end, 10);
                        if (errno != 0 || end == line + 5 || end > eol || *end != ',' || node < 0)
                                return -EBADMSG;
                        z = (struct zone_acc) { .open = true, .node = node > INT32_MAX ? -1 : (int) node };
                        continue;
                }
                if (!z.open || !split_line(line, eol, &w, &w_end, &rest))
                        continue;

                if (word_is(w, w_end, "protection:")) {
                        r = parse_protection(rest, eol, &z.protection);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* "pages free     3840" */
                if (word_is(w, w_end, "pages")) {
                        const char *w2, *w2_end, *rest2;

                        if (!split_line(rest, eol, &w2, &w2_end, &rest2) || !word_is(w2, w2_end, "free"))
                                continue;
                        field = &z.free;
                        rest = rest2;
                } else if (word_is(w, w_end, "high"))
                        field = &z.high;
                else if (word_is(w, w_end, "boost"))
                        field = &z.boost;
                else if (word_is(w, w_end, "spanned"))
                        field = &z.spanned;
                else if (word_is(w, w_end, "start_pfn:"))
                        field = &z.start_pfn;
                else
                        continue;

                val_end = rest;
                while (val_end < eol && !isspace((unsigned char) *val_end))
                        val_end++;
                r = parse_u64(rest, val_end, field);
                if (r < 0)
                        return r;
        }
        zone_close(&z, page_size, ret);
        return 0;
}

int zoneinfo_read(struct zoneinfo **ret) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ struct zoneinfo *z = NULL;
        long page_size = sysconf(_SC_PAGESIZE);
        int r;

        r = fsroot_read_file("/proc/zoneinfo", ZONEINFO_MAX_BYTES, &buf, NULL);
        if (r < 0)
                return r;
        z = malloc(sizeof(*z));
        if (!z)
                return -ENOMEM;
        r = zoneinfo_parse(buf, page_size > 0 ? (uint64_t) page_size : 4096, z);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(z);
        return 0;
}
