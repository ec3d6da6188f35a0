/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fsroot.h"
#include "macro.h"
#include "vmstat.h"

/* /proc/vmstat has about 200 lines of ~25 bytes. */
#define VMSTAT_MAX_BYTES (256 * 1024)

static const char *const vmstat_field_table[_VMSTAT_FIELD_MAX] = {
        [VMSTAT_PGPROMOTE_SUCCESS] = "pgpromote_success",
        [VMSTAT_PGPROMOTE_CANDIDATE] = "pgpromote_candidate",
        [VMSTAT_PGDEMOTE_KSWAPD] = "pgdemote_kswapd",
        [VMSTAT_PGDEMOTE_DIRECT] = "pgdemote_direct",
        [VMSTAT_PGDEMOTE_KHUGEPAGED] = "pgdemote_khugepaged",
        [VMSTAT_PGDEMOTE_PROACTIVE] = "pgdemote_proactive",
        [VMSTAT_PGMIGRATE_SUCCESS] = "pgmigrate_success",
        [VMSTAT_PGMIGRATE_FAIL] = "pgmigrate_fail",
        [VMSTAT_NUMA_PAGES_MIGRATED] = "numa_pages_migrated",
        [VMSTAT_THP_MIGRATION_SUCCESS] = "thp_migration_success",
        [VMSTAT_THP_MIGRATION_FAIL] = "thp_migration_fail",
        [VMSTAT_THP_MIGRATION_SPLIT] = "thp_migration_split",
};

const char *vmstat_field_to_string(enum vmstat_field f) {
        return f < _VMSTAT_FIELD_MAX ? vmstat_field_table[f] : NULL;
}

static int field_lookup(const char *name, size_t len) {
        for (size_t i = 0; i < _VMSTAT_FIELD_MAX; i++)
                if (strlen(vmstat_field_table[i]) == len && memcmp(vmstat_field_table[i], name, len) == 0)
                        return (int) i;
        return -1;
}

int vmstat_parse(const char *text, struct vmstat_migration *ret) {
        struct vmstat_migration v = {};
        const char *line, *next;

        if (!text || !ret)
                return -EINVAL;

        for (line = text; *line; line = next) {
                const char *nl = strchr(line, '\n'), *p = line, *name;
                size_t name_len;
                int f;

                next = nl ? nl + 1 : line + strlen(line);

                while (p < next && (*p == ' ' || *p == '\t'))
                        p++;
                name = p;
                while (p < next && !isspace((unsigned char) *p))
                        p++;
                name_len = (size_t) (p - name);
                if (name_len == 0)
                        continue;
                f = field_lookup(name, name_len);
                if (f < 0)
                        continue;

                /* "name value\n": one number, nothing else on the line. */
                char buf[32], *end;
                const char *val;
                size_t val_len;

                while (p < next && (*p == ' ' || *p == '\t'))
                        p++;
                val = p;
                while (p < next && isdigit((unsigned char) *p))
                        p++;
                val_len = (size_t) (p - val);
                while (p < next && isspace((unsigned char) *p))
                        p++;
                if (val_len == 0 || val_len >= sizeof(buf) || p != next)
                        return -EBADMSG;
                if (vmstat_has(&v, (enum vmstat_field) f))
                        return -EBADMSG;

                memcpy(buf, val, val_len);
                buf[val_len] = '\0';
                errno = 0;
                v.value[f] = strtoull(buf, &end, 10);
                if (errno != 0 || *end != '\0')
                        return -EBADMSG;
                v.present |= UINT32_C(1) << f;
        }

        *ret = v;
        return 0;
}

int vmstat_read(struct vmstat_migration *ret) {
        _cleanup_free_ char *buf = NULL;
        int r;

        r = fsroot_read_file("/proc/vmstat", VMSTAT_MAX_BYTES, &buf, NULL);
        if (r < 0)
                return r;
        return vmstat_parse(buf, ret);
}

uint64_t vmstat_demoted(const struct vmstat_migration *v) {
        return v->value[VMSTAT_PGDEMOTE_KSWAPD] + v->value[VMSTAT_PGDEMOTE_DIRECT] +
               v->value[VMSTAT_PGDEMOTE_KHUGEPAGED] + v->value[VMSTAT_PGDEMOTE_PROACTIVE];
}

void vmstat_delta(const struct vmstat_migration *now, const struct vmstat_migration *then,
                  struct vmstat_migration *ret) {
        struct vmstat_migration d = { .present = now->present & then->present };

        for (size_t i = 0; i < _VMSTAT_FIELD_MAX; i++)
                if (vmstat_has(&d, (enum vmstat_field) i) && now->value[i] >= then->value[i])
                        d.value[i] = now->value[i] - then->value[i];
        *ret = d;
}
