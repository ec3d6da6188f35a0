#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's test command: installs what is needed, builds, and runs every test suite (unit, fixture, vm), then
# the unit and fixture suites again under AddressSanitizer and UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."

./tools/install-deps.sh
if [ -x tests/vm/install-deps.sh ]; then
        ./tests/vm/install-deps.sh
fi

configure() { # builddir options...
        local dir=$1; shift
        if [ -d "$dir/meson-private" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi
}

status=0

configure build --werror
meson compile -C build
suites=(--suite unit --suite fixture)
if meson test -C build --list 2>/dev/null | grep -q '^tierd:vm'; then
        suites+=(--suite vm)
fi
meson test -C build --print-errorlogs "${suites[@]}" || status=1

configure build-sanitize -Db_sanitize=address,undefined -Db_lundef=false -Dvm_tests=false --werror
meson compile -C build-sanitize
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
        meson test -C build-sanitize --print-errorlogs --suite unit --suite fixture || status=1

if [ $status = 0 ]; then
        echo "tierd: all test suites passed"
else
        echo "tierd: TEST FAILURES (see above; logs in build*/meson-logs/testlog.txt)"
fi
exit $status
