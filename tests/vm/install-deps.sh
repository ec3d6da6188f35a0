#!/bin/bash
# Install (idempotently) the host packages the QEMU test harness needs.
# Safe to re-run: only missing packages are installed. Never installs a
# kernel image on the host (kernels are fetched with apt-get download).
set -euo pipefail

PKGS=(
    qemu-system-x86 busybox-static xz-utils cpio zstd
    linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev
    dwarves rsync kmod debootstrap e2fsprogs fakeroot
    pkg-config meson ninja-build jq
    libsystemd-dev libnuma-dev libbpf-dev libinih-dev libjson-c-dev
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PKGS[@]} packages present"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages (need root to install): ${missing[*]}" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt lists may be absent or stale on a fresh machine
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi
