#!/bin/bash
# Build the custom tierd guest kernel from Debian's linux-source-6.12.
#   build-custom-kernel.sh FRAGMENT OUTDIR WORKDIR
# Produces OUTDIR/bzImage and OUTDIR/config. The config is verified against
# the "# required" sections of FRAGMENT: any required option that did not
# end up in .config fails the build.
# The cache key of the result is a hash of this file, FRAGMENT and the
# linux-source package version (see lib.sh), so keep build logic here.
set -euo pipefail

frag=$(readlink -f "$1")
out=$2
work=$3
src_tar=/usr/src/linux-source-6.12.tar.xz
jobs=${TIERD_VM_KERNEL_JOBS:-$(nproc)}

[ -r "$src_tar" ] || { echo "missing $src_tar (install linux-source-6.12)" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
echo "== unpacking $src_tar"
tar -xf "$src_tar" -C "$work" --strip-components=1
cd "$work"

echo "== configuring: x86_64_defconfig + kvm_guest.config + $(basename "$frag")"
make -s x86_64_defconfig
scripts/kconfig/merge_config.sh -m .config kernel/configs/kvm_guest.config "$frag" >/dev/null
make -s olddefconfig

# ---- verify the resulting .config ------------------------------------
verify_config() {
    local cfg=$1 section="" bad=0 warn=0 line opt want have
    while IFS= read -r line; do
        case "$line" in
            "# required"*) section=required; continue ;;
            "# off"*) section=off; continue ;;
        esac
        if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
            opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
        elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set ]]; then
            opt=${BASH_REMATCH[1]} want=n
        else
            continue
        fi
        have=$(grep -E "^${opt}=" "$cfg" | cut -d= -f2- || true)
        [ -n "$have" ] || have=n
        if [ "$have" != "$want" ]; then
            if [ "$section" = required ]; then
                echo "CONFIG CHECK FAILED: $opt wanted '$want', got '$have'" >&2
                bad=$((bad + 1))
            else
                echo "config note: $opt wanted '$want', got '$have' (not required)" >&2
                warn=$((warn + 1))
            fi
        fi
    done < "$frag"
    if [ $bad -ne 0 ]; then
        echo "== $bad required kernel options missing from .config: refusing to build" >&2
        return 1
    fi
    echo "== config verified: all required options set ($warn optional differences)"
}
verify_config .config

echo "== building bzImage with -j$jobs"
start=$(date +%s)
make -j"$jobs" bzImage
echo "== kernel built in $(( $(date +%s) - start ))s"

mkdir -p "$out"
cp arch/x86/boot/bzImage "$out/bzImage.tmp"
cp .config "$out/config"
mv "$out/bzImage.tmp" "$out/bzImage"
make -s kernelrelease > "$out/release"
