#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what building and testing tierd needs from Debian 12's archive. Idempotent: apt runs only when a
# package is missing.
set -eu

packages=(
        gcc meson ninja-build pkg-config
        libnuma-dev libsystemd-dev libbpf-dev libinih-dev libjson-c-dev libcmocka-dev
        clang libclang-rt-14-dev bpftool linux-libc-dev
        scdoc systemd jq util-linux
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
        exit 0
fi

if [ "$(id -u)" != 0 ]; then
        echo "Missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
