/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>

/* Pure parser for a tracepoint's format file (tracefs events/CATEGORY/NAME/format). What tierd needs from it is
 * the value -> name table that TP_printk() prints with __print_symbolic(), e.g. for migrate:mm_migrate_pages
 *
 *     print fmt: "... reason=%s", ..., __print_symbolic(REC->reason, { 0, "compaction" }, ...,
 *                { 8, "demotion" }, { 9, "damon" })
 *
 * The values are the kernel's enum values on this kernel (they change between versions); the kernel prints
 * them as numbers once it has resolved the enum (TRACE_DEFINE_ENUM), otherwise as the enumerator's name. */

#define TP_SYMBOLS_MAX 64
#define TP_SYMBOL_NAME_MAX 48

struct tp_symbol {
        long long value;
        char name[TP_SYMBOL_NAME_MAX];
};

struct tp_symbol_table {
        size_t n;
        struct tp_symbol entries[TP_SYMBOLS_MAX];
        size_t unresolved; /* entries whose value is not a number (an enumerator the kernel left unresolved) */
};

/* Parses the __print_symbolic() table of REC->field from a format file's text. Entries past TP_SYMBOLS_MAX are
 * dropped, names longer than TP_SYMBOL_NAME_MAX - 1 truncated. Returns 0, -EINVAL (NULL arguments), -ENOENT (no
 * table for that field), -EBADMSG (malformed table). */
int tp_format_parse_symbolic(const char *text, const char *field, struct tp_symbol_table *ret);

/* The name for value, or NULL. */
const char *tp_symbol_table_lookup(const struct tp_symbol_table *t, long long value);
