/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdio.h>

#include "status.h"

/* Prometheus text exposition format (version 0.0.4): "tierd_" prefix, base units in names (_bytes, _seconds),
 * counters end in _total, and labels stay low-cardinality (tier, node; never pids or addresses). */
int metrics_write(const struct tierd_status *s, FILE *f);
/* Same, into a malloc()ed string. */
int metrics_format(const struct tierd_status *s, char **ret);
