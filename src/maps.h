/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* /proc/PID/maps: a pure parser (buffer in, entries out) and a thin reader around it. */

struct vma {
        uint64_t start, end; /* [start, end) */
        char perms[5];       /* "rw-p" */
        uint64_t offset;
        unsigned dev_major, dev_minor;
        uint64_t inode;
        char *path; /* NULL for anonymous mappings; "[heap]", "[stack]", file path, ... otherwise */
};

int maps_parse(const char *buf, size_t len, struct vma **ret_vmas, size_t *ret_n);
/* Reads /proc/PID/maps through the fsroot door. -ENOENT/-ESRCH when the process is gone. */
int maps_read(int pid, struct vma **ret_vmas, size_t *ret_n);
void vmas_free(struct vma *vmas, size_t n);

static inline uint64_t vma_size(const struct vma *v) {
        return v->end - v->start;
}
