/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The one door to the kernel's file interfaces. Every /proc and /sys path tierd touches goes through here, so
 * that --procfs-root and --sysfs-root can point the real code at a fake tree (fixture tests). Paths are always
 * written as the kernel spells them ("/proc/123/maps", "/sys/devices/system/node/online"); the prefix is
 * applied here and nowhere else. */

enum fsroot_kind {
        FSROOT_PROC,
        FSROOT_SYS,
};

/* root is where procfs or sysfs would be mounted ("/proc/1/maps" becomes ROOT/1/maps); NULL or "/" means the real
 * filesystem. */
int fsroot_set(enum fsroot_kind kind, const char *root);
const char *fsroot_get(enum fsroot_kind kind);
void fsroot_reset(void);

/* Maps a kernel path to the path to open. -EINVAL for paths outside /proc and /sys. */
int fsroot_path(const char *path, char *buf, size_t size);

int fsroot_open(const char *path, int flags);
DIR *fsroot_opendir(const char *path);
int fsroot_readlink(const char *path, char **ret);
int fsroot_access(const char *path, int mode);

/* Reads a whole file (procfs and sysfs files report size 0, so this reads until EOF) into a NUL-terminated
 * buffer. max_bytes bounds the read: -EFBIG past it. ret_size may be NULL. */
int fsroot_read_file(const char *path, size_t max_bytes, char **ret, size_t *ret_size);

/* Reads the first line of a file, without the trailing newline. */
int fsroot_read_line(const char *path, char **ret);

/* Writes a string to an existing file (sysfs attribute): one write(2) call, as sysfs expects. */
int fsroot_write_string(const char *path, const char *value);
