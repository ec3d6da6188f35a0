/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The policy stage: reads only the heat store and decides what to promote and demote. Not built yet;
 * policy_describe() says so in status. */

const char *policy_describe(void);
