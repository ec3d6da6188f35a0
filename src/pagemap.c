/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsroot.h"
#include "macro.h"
#include "pagemap.h"

void pagemap_entry_decode(uint64_t raw, struct pagemap_entry *ret) {
        *ret = (struct pagemap_entry) {
                .present = raw & PAGEMAP_PRESENT,
                .swapped = raw & PAGEMAP_SWAPPED,
                .file_or_shared = raw & PAGEMAP_FILE,
                .exclusive = raw & PAGEMAP_EXCLUSIVE,
                .soft_dirty = raw & PAGEMAP_SOFT_DIRTY,
                .uffd_wp = raw & PAGEMAP_UFFD_WP,
                .pfn = pagemap_pfn(raw),
        };
}

int pagemap_open(pid_t pid) {
        char path[64], dir[32];
        int fd;

        if (pid < 0)
                return -EINVAL;
        if (pid == 0)
                snprintf(dir, sizeof(dir), "/proc/self");
        else
                snprintf(dir, sizeof(dir), "/proc/%d", (int) pid);
        snprintf(path, sizeof(path), "%s/pagemap", dir);

        fd = fsroot_open(path, O_RDONLY | O_NOCTTY);
        if (fd != -ENOENT)
                return fd;
        /* ENOENT means either that the process is gone or that the kernel has no such file; /proc/PID tells. */
        return fsroot_access(dir, F_OK) >= 0 ? -EOPNOTSUPP : -ESRCH;
}

int pagemap_read(int fd, uint64_t addr, uint64_t *buf, size_t n, bool allow_short) {
        uint64_t offset;
        size_t done = 0, bytes;

        if (fd < 0 || (!buf && n > 0) || addr % 4096 != 0)
                return -EINVAL;
        if (n > SIZE_MAX / PAGEMAP_ENTRY_BYTES)
                return -EINVAL;
        offset = addr / 4096 * PAGEMAP_ENTRY_BYTES;
        bytes = n * PAGEMAP_ENTRY_BYTES;
        if (offset > (uint64_t) INT64_MAX - bytes)
                return -EINVAL;

        while (done < bytes) {
                ssize_t k = pread(fd, (uint8_t *) buf + done, bytes - done, (off_t) (offset + done));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ESRCH || errno == ENOENT)
                                return -ESRCH;
                        return negative_errno();
                }
                if (k == 0) {
                        /* Below the end of the address space (and every VMA is) the kernel only returns 0
                         * when the process has exited. */
                        if (!allow_short)
                                return -ESRCH;
                        memset((uint8_t *) buf + done, 0, bytes - done);
                        break;
                }
                /* Entries are 8 bytes and the kernel copies whole ones; a torn entry means this is not pagemap. */
                if ((size_t) k % PAGEMAP_ENTRY_BYTES != 0)
                        return -EIO;
                done += (size_t) k;
        }
        return 0;
}
