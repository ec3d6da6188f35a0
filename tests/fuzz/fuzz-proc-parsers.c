/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The /proc and tracefs text parsers, each on the same input: maps, numa_maps, zoneinfo, vmstat, stat, and a
 * tracepoint format's __print_symbolic() table. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "log.h"
#include "maps.h"
#include "numa-maps.h"
#include "proc-stat.h"
#include "tp-format.h"
#include "vmstat.h"
#include "zoneinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct zoneinfo zi;
        struct vma *vmas = NULL;
        struct numa_maps_entry *entries = NULL;
        struct vmstat_migration vm;
        struct tp_symbol_table table;
        size_t n = 0;
        char *text, comm[17];
        bool kthread;
        uint64_t ticks;

        log_set_max_level(LOG_EMERG);
        text = fuzz_text(data, size);
        if (!text)
                return 0;

        if (maps_parse(text, size, &vmas, &n) >= 0) {
                for (size_t i = 0; i < n; i++)
                        if (vmas[i].end < vmas[i].start)
                                abort();
                vmas_free(vmas, n);
        }
        n = 0;
        if (numa_maps_parse(text, size, &entries, &n) >= 0)
                free(entries);
        (void) zoneinfo_parse(text, 4096, &zi);
        (void) vmstat_parse(text, &vm);
        (void) proc_stat_parse(text, comm, &kthread);
        (void) proc_stat_cpu_parse(text, &ticks);
        if (tp_format_parse_symbolic(text, "reason", &table) >= 0 && table.n > TP_SYMBOLS_MAX)
                abort();
        free(text);
        return 0;
}
