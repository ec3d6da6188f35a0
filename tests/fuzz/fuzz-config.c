/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Configuration text, as config_load() parses a file, then dumped (the dump must be loadable: round trip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "config.h"
#include "log.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *dump = NULL;
        struct tierd_config *c = NULL, *again = NULL;
        size_t dump_size = 0;
        FILE *f;

        log_set_max_level(LOG_EMERG);
        text = fuzz_text(data, size);
        if (!text)
                return 0;
        if (config_load_string("fuzz", text, &c) < 0)
                return 0;
        f = open_memstream(&dump, &dump_size);
        if (f) {
                if (config_dump(c, f) >= 0 && fflush(f) == 0) {
                        /* What --check-config prints must load to the same configuration. */
                        if (config_load_string("fuzz-dump", dump, &again) < 0 || !config_equal(c, again))
                                abort();
                }
                fclose(f);
        }
        config_free(again);
        config_free(c);
        return 0;
}
