/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* The one reader for whatever tierd reads whole: configuration files, kernel files under fsroot, its own runtime
 * files and control responses. Every caller names a limit, so that a file that never ends (/dev/zero given as the
 * configuration, a FIFO, a peer that keeps sending) costs a bounded amount of memory and ends in a clear error
 * rather than ENOMEM. */

/* Reads fd to its end into a NUL-terminated buffer (*ret, freed by the caller; *ret_size without the NUL, may be
 * NULL). More than max_bytes: -EFBIG. timeout_ms >= 0: waits at most that long for each read to have data
 * (sockets and pipes), -ETIMEDOUT after; negative: blocks. Returns 0 or a negative errno. */
int read_full_fd(int fd, size_t max_bytes, int timeout_ms, char **ret, size_t *ret_size);

/* Opens path (read-only, close-on-exec, no controlling terminal) and reads it whole, as read_full_fd() without a
 * timeout. */
int read_full_file(const char *path, size_t max_bytes, char **ret, size_t *ret_size);
