#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's test command: installs what is needed, builds, and runs every test suite: unit and fixture, the same
# under AddressSanitizer and UndefinedBehaviorSanitizer, the fuzz targets (briefly), then the VM suite.
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
passed=0
failed=0
# Runs meson test and adds its summary counts to the closing line.
summary_count() { # LOG LABEL
        local n
        n=$(sed -n "s/^$2: *\([0-9][0-9]*\).*/\1/p" "$1" | tail -n1)
        echo "${n:-0}"
}
run_suites() { # builddir args...
        local log rc
        log=$(mktemp)
        set +e
        meson test -C "$@" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        set -e
        passed=$((passed + $(summary_count "$log" Ok) + $(summary_count "$log" "Expected Fail")))
        failed=$((failed + $(summary_count "$log" Fail) + $(summary_count "$log" "Unexpected Pass") \
                + $(summary_count "$log" Timeout)))
        rm -f "$log"
        return "$rc"
}

configure build --werror
meson compile -C build
# The quick suites first: a newcomer sees their result in minutes, before the guest kernels are fetched or built.
run_suites build --print-errorlogs --suite unit --suite fixture || status=1

configure build-sanitize -Db_sanitize=address,undefined -Db_lundef=false -Dvm_tests=false --werror
meson compile -C build-sanitize
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
run_suites build-sanitize --print-errorlogs --suite unit --suite fixture || status=1

# The fuzz targets, each for a short bounded run from its seed corpus (docs/TESTING.md has the long runs).
CC=clang configure build-fuzz -Dfuzz=true -Dtests=false -Dvm_tests=false -Db_sanitize=address,undefined \
        -Db_lundef=false
meson compile -C build-fuzz
run_suites build-fuzz --print-errorlogs --suite fuzz || status=1

if meson test -C build --list 2>/dev/null | grep -q '^tierd:vm'; then
        # Fetched and built in the foreground first, with progress on the terminal (meson shows a test's output
        # only when it ends); the suite's own vm-kernels test then finds them cached.
        tests/vm/kernels all >/dev/null || status=1
        run_suites build --print-errorlogs --suite vm || status=1
fi

if [ $status = 0 ]; then
        echo "tierd: all test suites passed"
else
        echo "tierd: TEST FAILURES (see above; logs in build*/meson-logs/testlog.txt)"
fi
# The plain closing line CI reads: meson prints one summary per build directory.
[ $status = 0 ] || [ $failed -gt 0 ] || failed=1
echo "tierd: $passed passed, $failed failed"
exit $status
