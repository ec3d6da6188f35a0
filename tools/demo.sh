#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's demo command: builds tierd and boots the bundled two-node QEMU guest to show it at work.
set -eu
cd "$(dirname "$0")/.."

./tools/install-deps.sh
./tests/vm/install-deps.sh
if [ -d build/meson-private ]; then
        meson setup --reconfigure build >/dev/null
else
        meson setup build >/dev/null
fi
meson compile -C build >/dev/null
exec ./tests/vm/demo "$PWD/build"
