/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsroot.h"
#include "macro.h"
#include "maps.h"

/* Largest maps file we accept: ~64k VMAs (vm.max_map_count's default) of up to ~150 bytes each. */
#define MAPS_MAX_BYTES (16U * 1024 * 1024)

static int hex_u64(const char **p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        const char *s = *p;

        if (s >= end)
                return -EINVAL;
        for (; s < end; s++) {
                unsigned d;

                if (*s >= '0' && *s <= '9')
                        d = (unsigned) (*s - '0');
                else if (*s >= 'a' && *s <= 'f')
                        d = (unsigned) (*s - 'a' + 10);
                else if (*s >= 'A' && *s <= 'F')
                        d = (unsigned) (*s - 'A' + 10);
                else
                        break;
                if (v >> 60)
                        return -ERANGE;
                v = v << 4 | d;
        }
        if (s == *p)
                return -EINVAL;
        *p = s;
        *ret = v;
        return 0;
}

static int dec_u64(const char **p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        const char *s = *p;

        for (; s < end && *s >= '0' && *s <= '9'; s++) {
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t) (*s - '0'), &v))
                        return -ERANGE;
        }
        if (s == *p)
                return -EINVAL;
        *p = s;
        *ret = v;
        return 0;
}

static int expect(const char **p, const char *end, char c) {
        if (*p >= end || **p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

static void skip_spaces(const char **p, const char *end) {
        while (*p < end && **p == ' ')
                (*p)++;
}

/* One line: "start-end perms offset major:minor inode [path]". */
static int parse_line(const char *p, const char *end, struct vma *v) {
        uint64_t major, minor;
        int r;

        *v = (struct vma) {};
        if ((r = hex_u64(&p, end, &v->start)) < 0 || (r = expect(&p, end, '-')) < 0 ||
            (r = hex_u64(&p, end, &v->end)) < 0 || (r = expect(&p, end, ' ')) < 0)
                return r;
        if (v->end < v->start)
                return -EINVAL;
        if (end - p < 5 || p[4] != ' ')
                return -EINVAL;
        memcpy(v->perms, p, 4);
        v->perms[4] = '\0';
        p += 5;
        if ((r = hex_u64(&p, end, &v->offset)) < 0 || (r = expect(&p, end, ' ')) < 0 ||
            (r = hex_u64(&p, end, &major)) < 0 || (r = expect(&p, end, ':')) < 0 ||
            (r = hex_u64(&p, end, &minor)) < 0 || (r = expect(&p, end, ' ')) < 0 ||
            (r = dec_u64(&p, end, &v->inode)) < 0)
                return r;
        if (major > UINT32_MAX || minor > UINT32_MAX)
                return -ERANGE;
        v->dev_major = (unsigned) major;
        v->dev_minor = (unsigned) minor;

        skip_spaces(&p, end);
        if (p < end) {
                v->path = strndup(p, (size_t) (end - p));
                if (!v->path)
                        return -ENOMEM;
        }
        return 0;
}

int maps_parse(const char *buf, size_t len, struct vma **ret_vmas, size_t *ret_n) {
        struct vma *vmas = NULL;
        size_t n = 0, allocated = 0;
        const char *p = buf, *end = buf + len;
        int r;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));

                if (!eol)
                        eol = end;
                if (eol > p) {
                        if (n == allocated) {
                                size_t na = allocated ? allocated * 2 : 64;
                                struct vma *nv = realloc(vmas, na * sizeof(*vmas));
                                if (!nv) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                                vmas = nv;
                                allocated = na;
                        }
                        r = parse_line(p, eol, &vmas[n]);
                        if (r < 0)
                                goto fail;
                        n++;
                }
                p = eol + 1;
        }

        *ret_vmas = vmas;
        *ret_n = n;
        return 0;

fail:
        vmas_free(vmas, n);
        return r;
}

int maps_read(int pid, struct vma **ret_vmas, size_t *ret_n) {
        _cleanup_free_ char *buf = NULL;
        char path[64];
        size_t size;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/maps", pid);
        r = fsroot_read_file(path, MAPS_MAX_BYTES, &buf, &size);
        if (r < 0)
                return r;
        return maps_parse(buf, size, ret_vmas, ret_n);
}

void vmas_free(struct vma *vmas, size_t n) {
        if (!vmas)
                return;
        for (size_t i = 0; i < n; i++)
                free(vmas[i].path);
        free(vmas);
}
