/* SPDX-License-Identifier: GPL-2.0-or-later */
/* damon:damon_aggregated records assembled into windows: each 16 bytes of input is one record (time step, target,
 * nr_regions, region), as the tracepoint delivers them in any order and with any gaps. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "damon-burst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct damon_bursts b = {};
        uint64_t t = 1000000;

        if (size < 1 || damon_bursts_reset(&b, (size_t) data[0] % 4 + 1, 100000) < 0)
                return 0;
        for (size_t off = 1; off + 16 <= size; off += 16) {
                const uint8_t *r = data + off;
                struct damon_region reg = {
                        .start = (uint64_t) r[3] << 16,
                        .end = ((uint64_t) r[3] << 16) + ((uint64_t) r[4] << 12),
                        .nr_accesses = r[5],
                        .age = r[6],
                };
                const struct damon_burst *burst;

                t += (uint64_t) r[0] * 1000; /* up to 255 us: some records close, some a window apart */
                if (damon_bursts_add(&b, t, r[1] % 6, r[2] % 8, &reg) < 0)
                        break;
                burst = damon_bursts_take(&b, r[7] & 1 ? t : 0);
                if (burst && burst->n_records == 0)
                        abort();
        }
        damon_bursts_done(&b);
        return 0;
}
