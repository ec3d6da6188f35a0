/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A control request line, as the server parses what a client sent. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct control_request req;
        const char *error = NULL;
        char *buf;

        buf = fuzz_text(data, size);
        if (!buf)
                return 0;
        if (control_request_parse(buf, size, &req, &error) >= 0) {
                if ((unsigned) req.command >= _CONTROL_COMMAND_MAX)
                        abort();
                (void) control_authorize(req.command, 1000);
        } else if (!error)
                abort(); /* a refusal always says why */
        free(buf);
        return 0;
}
