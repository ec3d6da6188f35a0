/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "macro.h"
#include "read-full.h"

int read_full_fd(int fd, size_t max_bytes, int timeout_ms, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        if (fd < 0 || !ret || max_bytes == 0 || max_bytes >= SIZE_MAX / 2)
                return -EINVAL;
        for (;;) {
                ssize_t n;

                /* Room for at least one byte beyond the limit, so that reaching it is told apart from the end. */
                if (allocated - size < 2) {
                        size_t want = allocated ? allocated * 2 : 4096;
                        char *p;

                        want = MIN(want, max_bytes + 2);
                        if (want <= allocated)
                                return -EFBIG;
                        p = realloc(buf, want);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }
                if (timeout_ms >= 0) {
                        struct pollfd pfd = { .fd = fd, .events = POLLIN };
                        int p = poll(&pfd, 1, timeout_ms);

                        if (p < 0) {
                                if (errno == EINTR)
                                        continue;
                                return negative_errno();
                        }
                        if (p == 0)
                                return -ETIMEDOUT;
                }
                n = read(fd, buf + size, allocated - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max_bytes)
                        return -EFBIG;
        }
        buf[size] = '\0';
        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_full_file(const char *path, size_t max_bytes, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;

        if (!path)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return read_full_fd(fd, max_bytes, -1, ret, ret_size);
}
