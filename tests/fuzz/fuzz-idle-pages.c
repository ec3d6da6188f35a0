/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The idle_pages stream: the decoder on the input as one buffer, then the reader with the input served through its
 * read seam in pieces (the first byte picks the read size), as the kernel would hand it out. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fsroot.h"
#include "idle-pages.h"
#include "log.h"

static int count_run(const struct idle_pages_run *run, void *userdata) {
        (*(uint64_t *) userdata)++;
        return 0;
}

struct stream {
        const uint8_t *data;
        size_t size, piece;
        unsigned calls;
};

/* Every read gets the next piece of the input, wherever it asks; the end of the input is the end of the mappings. */
static ssize_t fake_pread(int fd, void *buf, size_t count, uint64_t offset, void *userdata) {
        struct stream *s = userdata;
        size_t n;

        if (++s->calls > 10000 || s->size == 0) {
                errno = ENXIO;
                return -1;
        }
        n = count < s->piece ? count : s->piece;
        if (n > s->size)
                n = s->size;
        memcpy(buf, s->data, n);
        s->data += n;
        s->size -= n;
        return (ssize_t) n;
}

static char proc_root[] = "/tmp/fuzz-idle-pages-XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        char path[128];
        int fd;

        log_set_max_level(LOG_EMERG);
        /* The reader opens /proc/PID/idle_pages through fsroot before it reads through the seam. */
        if (!mkdtemp(proc_root))
                abort();
        snprintf(path, sizeof(path), "%s/4242", proc_root);
        if (mkdir(path, 0755) < 0)
                abort();
        snprintf(path, sizeof(path), "%s/4242/idle_pages", proc_root);
        fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        close(fd);
        if (fsroot_set(FSROOT_PROC, proc_root) < 0)
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t runs = 0, next = 0, bitmap[64];
        size_t consumed = 0;
        struct stream s;
        struct idle_pages_read_options opts = { .pread_fn = fake_pread, .pread_userdata = &s };
        int r;

        r = idle_pages_decode(data, size, 0x400000, count_run, &runs, &consumed, &next);
        if (consumed > size)
                abort();
        if (r == 0 && consumed != size)
                abort();

        if (size == 0)
                return 0;
        s = (struct stream) { .data = data + 1, .size = size - 1, .piece = (size_t) data[0] % 64 + 1 };
        /* 64 words of bitmap: 4096 pages from 4 MiB. */
        (void) idle_pages_read_range(4242, 0x400000, 0x400000 + 4096 * 4096ULL, bitmap, 64, &opts, NULL);
        return 0;
}
