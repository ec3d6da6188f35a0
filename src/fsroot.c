/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fsroot.h"
#include "macro.h"
#include "read-full.h"

static char *fsroot_roots[2];

int fsroot_set(enum fsroot_kind kind, const char *root) {
        char *copy = NULL;

        if (root && !streq(root, "/") && root[0] != '\0') {
                size_t len = strlen(root);

                copy = strdup(root);
                if (!copy)
                        return -ENOMEM;
                /* Strip trailing slashes so joining with "/proc/..." never yields "//". */
                while (len > 1 && copy[len - 1] == '/')
                        copy[--len] = '\0';
        }

        free(fsroot_roots[kind]);
        fsroot_roots[kind] = copy;
        return 0;
}

const char *fsroot_get(enum fsroot_kind kind) {
        return fsroot_roots[kind];
}

void fsroot_reset(void) {
        fsroot_roots[FSROOT_PROC] = mfree(fsroot_roots[FSROOT_PROC]);
        fsroot_roots[FSROOT_SYS] = mfree(fsroot_roots[FSROOT_SYS]);
}

static bool path_under(const char *path, const char *top) {
        size_t n = strlen(top);
        return strncmp(path, top, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int fsroot_path(const char *path, char *buf, size_t size) {
        const char *root, *rest;
        int n;

        /* The root stands for the mount point itself: with --procfs-root=DIR, /proc/1/maps is DIR/1/maps. */
        if (path_under(path, "/proc")) {
                root = fsroot_roots[FSROOT_PROC];
                rest = path + strlen("/proc");
        } else if (path_under(path, "/sys")) {
                root = fsroot_roots[FSROOT_SYS];
                rest = path + strlen("/sys");
        } else
                return -EINVAL;

        if (root)
                n = snprintf(buf, size, "%s%s", root, rest);
        else
                n = snprintf(buf, size, "%s", path);
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        return 0;
}

int fsroot_open(const char *path, int flags) {
        char p[PATH_MAX];
        int r, fd;

        r = fsroot_path(path, p, sizeof(p));
        if (r < 0)
                return r;
        fd = open(p, flags | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

DIR *fsroot_opendir(const char *path) {
        char p[PATH_MAX];
        int r;

        r = fsroot_path(path, p, sizeof(p));
        if (r < 0) {
                errno = -r;
                return NULL;
        }
        return opendir(p);
}

int fsroot_readlink(const char *path, char **ret) {
        char p[PATH_MAX], target[PATH_MAX];
        ssize_t n;
        int r;

        r = fsroot_path(path, p, sizeof(p));
        if (r < 0)
                return r;
        n = readlink(p, target, sizeof(target) - 1);
        if (n < 0)
                return negative_errno();
        target[n] = '\0';
        *ret = strdup(target);
        return *ret ? 0 : -ENOMEM;
}

int fsroot_access(const char *path, int mode) {
        char p[PATH_MAX];
        int r;

        r = fsroot_path(path, p, sizeof(p));
        if (r < 0)
                return r;
        return access(p, mode) < 0 ? negative_errno() : 0;
}

int fsroot_read_file(const char *path, size_t max_bytes, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;

        fd = fsroot_open(path, O_RDONLY);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, max_bytes, -1, ret, ret_size);
}

int fsroot_read_line(const char *path, char **ret) {
        char *buf;
        int r;

        r = fsroot_read_file(path, 64 * 1024, &buf, NULL);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = '\0';
        *ret = buf;
        return 0;
}

int fsroot_write_string(const char *path, const char *value) {
        _cleanup_close_ int fd = -1;
        size_t len = strlen(value);
        ssize_t n;

        fd = fsroot_open(path, O_WRONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        n = write(fd, value, len);
        if (n < 0)
                return negative_errno();
        return (size_t) n == len ? 0 : -EIO;
}
