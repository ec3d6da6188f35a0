/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The scan stage: rounds of N accessed-bit passes over the targets through one backend (idle_pages, page_idle
 * or DAMON), feeding the heat store. No backend is built yet: scan_backend_describe() says so, and nothing
 * pretends to scan. */

struct scan_backend_info {
        const char *name;   /* "none" until a backend exists */
        const char *reason; /* why this backend (or why none) */
};

void scan_backend_describe(struct scan_backend_info *ret);
