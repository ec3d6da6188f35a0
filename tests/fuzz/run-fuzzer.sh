#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run-fuzzer.sh FUZZER SEED_DIR SECONDS: runs a libFuzzer target for SECONDS from a copy of its seed corpus (new
# inputs it finds stay in the copy); fails on a crash, leak or sanitizer report, which libFuzzer saves as
# crash-*/leak-* in the working directory.
set -eu
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/tierd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work"
