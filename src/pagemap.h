/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/pagemap: one little 64-bit entry (native endian) per virtual page of the process, at file offset
 * (address / 4096) * 8. A pure decoder for one entry and a thin reader.
 *
 * The bits, as fs/proc/task_mmu.c (6.12) makes them:
 *   0..54  PFN if present (zero unless the file was opened by a task with CAP_SYS_ADMIN in the initial user
 *          namespace: the kernel checks the opener's credentials, file_ns_capable()); for a swapped page the
 *          same bits hold the swap type (0..4) and offset (5..54) instead, never a PFN
 *   55     soft-dirty
 *   56     exclusively mapped: the page's own mapcount is 1 (for a THP, per 4 KiB subpage)
 *   57     userfaultfd write-protected
 *   58     guard region (6.15)
 *   61     file page or shared anonymous (shmem); for a private anonymous VMA this means "not an anonymous page",
 *          which is also what the huge zero page reports
 *   62     swapped (or a migration entry: a page being migrated right now reads as swapped, not present)
 *   63     present
 *
 * A process that exits while its pagemap is open does not make read() fail: the kernel finds its mm gone and
 * returns 0 bytes. The reader turns that into -ESRCH. */

#define PAGEMAP_ENTRY_BYTES 8
#define PAGEMAP_PFN_BITS 55
#define PAGEMAP_PFN_MASK ((UINT64_C(1) << PAGEMAP_PFN_BITS) - 1)
#define PAGEMAP_SOFT_DIRTY (UINT64_C(1) << 55)
#define PAGEMAP_EXCLUSIVE (UINT64_C(1) << 56)
#define PAGEMAP_UFFD_WP (UINT64_C(1) << 57)
#define PAGEMAP_GUARD (UINT64_C(1) << 58)
#define PAGEMAP_FILE (UINT64_C(1) << 61)
#define PAGEMAP_SWAPPED (UINT64_C(1) << 62)
#define PAGEMAP_PRESENT (UINT64_C(1) << 63)

/* Largest read: 64k entries (512 KiB of buffer) cover 256 MiB of address space, a multiple of 2 MiB. */
#define PAGEMAP_READ_MAX_ENTRIES 65536

struct pagemap_entry {
        bool present;
        bool swapped;
        bool file_or_shared; /* bit 61 */
        bool exclusive;      /* bit 56 */
        bool soft_dirty;
        bool uffd_wp;
        uint64_t pfn; /* present pages only; 0 otherwise, and 0 for every page when PFNs are hidden */
};

void pagemap_entry_decode(uint64_t raw, struct pagemap_entry *ret);

static inline bool pagemap_present(uint64_t raw) {
        return raw & PAGEMAP_PRESENT;
}
/* The PFN of a present page, 0 for anything else (a swapped entry's low bits are a swap location). */
static inline uint64_t pagemap_pfn(uint64_t raw) {
        return (raw & PAGEMAP_PRESENT) ? raw & PAGEMAP_PFN_MASK : 0;
}

/* Opens /proc/PID/pagemap (through fsroot). Needs ptrace read access to the process (as root: CAP_SYS_PTRACE)
 * and, for PFNs, CAP_SYS_ADMIN. Returns the fd, or -ESRCH (the process is gone: ESRCH, or ENOENT with /proc/PID
 * missing too), -EOPNOTSUPP (/proc/PID exists but has no pagemap: kernel without CONFIG_PROC_PAGE_MONITOR),
 * -EACCES/-EPERM, other negative errnos. pid 0 means "self". */
int pagemap_open(pid_t pid);

/* Reads the entries of n pages starting at the page-aligned address addr into buf[0..n). Retries EINTR and
 * continues short reads. Returns 0, -ESRCH when the process is gone (ESRCH or ENOENT from read, or end of file
 * below the end of the range: the kernel found the mm gone), -EINVAL for bad arguments, other negative errnos.
 * Regular files (fixture trees) that end early read as zeros (not present) past their end only when
 * allow_short is true; otherwise a short file is -ESRCH as well. */
int pagemap_read(int fd, uint64_t addr, uint64_t *buf, size_t n, bool allow_short);
