# Shared helpers for the tierd QEMU harness. Source it; do not execute.
# shellcheck shell=bash

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${TIERD_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/tierd}

vm_log() { echo "[vm] $*" >&2; }
vm_die() { echo "[vm] ERROR: $*" >&2; exit 1; }

# Run "$@" holding an exclusive lock named $1 under the cache dir.
with_lock() {
    local name=$1; shift
    mkdir -p "$CACHE_DIR/locks"
    (
        flock -x 9
        "$@"
    ) 9>"$CACHE_DIR/locks/$name.lock"
}

ensure_deps() {
    local need=0 t
    for t in qemu-system-x86_64 xz cpio /bin/busybox flock; do
        command -v "$t" >/dev/null 2>&1 || need=1
    done
    [ -r /usr/src/linux-source-6.12.tar.xz ] || need=1
    command -v pahole >/dev/null 2>&1 || need=1
    command -v debootstrap >/dev/null 2>&1 || need=1
    command -v mkfs.ext4 >/dev/null 2>&1 || need=1
    if [ $need = 1 ]; then
        "$VM_DIR/install-deps.sh" >&2 || vm_die "install-deps.sh failed"
    fi
}

# ---------------------------------------------------------------- kernels
# Debian stock kernel: resolve linux-image-6.12-amd64 to its versioned
# package, apt-get download + dpkg -x it into the cache. Prints the dir
# (contains vmlinuz, modules/, release).
debian_kernel_pkg() {
    local meta=${TIERD_VM_DEBIAN_META:-linux-image-6.12-amd64} dep
    dep=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-6/ {print $2; exit}')
    if [ -z "$dep" ]; then
        apt-get update >&2 || true
        dep=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-6/ {print $2; exit}')
    fi
    [ -n "$dep" ] || vm_die "cannot resolve $meta to a versioned kernel package"
    echo "$dep"
}

_fetch_debian_kernel() {
    local pkg=$1 dir=$2 tmp
    [ -f "$dir/vmlinuz" ] && return 0
    vm_log "fetching Debian kernel package $pkg"
    tmp=$(mktemp -d "$CACHE_DIR/tmp.XXXXXX")
    ( cd "$tmp" && apt-get download "$pkg" >&2 ) || { rm -rf "$tmp"; vm_die "apt-get download $pkg failed"; }
    dpkg -x "$tmp"/*.deb "$tmp/root"
    local rel
    rel=$(ls "$tmp/root/lib/modules" | head -n1)
    mkdir -p "$tmp/out"
    cp "$tmp/root/boot/vmlinuz-$rel" "$tmp/out/vmlinuz"
    cp "$tmp/root/boot/config-$rel" "$tmp/out/config"
    mv "$tmp/root/lib/modules/$rel" "$tmp/out/modules"
    echo "$rel" > "$tmp/out/release"
    echo "$pkg" > "$tmp/out/package"
    rm -rf "$dir"
    mv "$tmp/out" "$dir"
    rm -rf "$tmp"
    vm_log "Debian kernel $rel cached in $dir"
    # older Debian kernels (superseded package versions) only take space
    local old
    for old in "$CACHE_DIR"/kernels/debian-*; do
        if [ "$old" != "$dir" ]; then rm -rf "$old"; fi
    done
    return 0
}

ensure_debian_kernel() {
    mkdir -p "$CACHE_DIR/kernels"
    local pkg dir
    # Offline / already cached: reuse the newest cached one if apt can't answer.
    pkg=$(debian_kernel_pkg) || pkg=""
    if [ -z "$pkg" ]; then
        dir=$(ls -d "$CACHE_DIR"/kernels/debian-* 2>/dev/null | tail -n1)
        [ -n "$dir" ] || vm_die "no Debian kernel available"
        echo "$dir"; return
    fi
    dir=$CACHE_DIR/kernels/debian-$pkg
    if [ ! -f "$dir/vmlinuz" ]; then
        with_lock kernel-debian _fetch_debian_kernel "$pkg" "$dir" || return 1
    fi
    [ -f "$dir/vmlinuz" ] || return 1
    echo "$dir"
}

custom_kernel_key() {
    local ver
    ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown)
    { cat "$VM_DIR/kernel-custom.config" "$VM_DIR/build-custom-kernel.sh"; echo "$ver"; } \
        | sha256sum | cut -c1-16
}

_build_custom_kernel() {
    local dir=$1 key=$2 work log
    [ -f "$dir/bzImage" ] && return 0
    work=$CACHE_DIR/build/custom-$key
    log=$CACHE_DIR/kernels/custom-$key.build.log
    vm_log "building custom kernel (key $key): 20-45 min on 2 cores, once (cached); log: $log"
    # stale trees of other keys (an interrupted or failed build) only take space
    local stale
    for stale in "$CACHE_DIR"/build/custom-*; do
        [ -d "$stale" ] && [ "$stale" != "$work" ] && rm -rf "$stale"
    done
    # The build runs in the background so that its progress can be shown every few minutes: a cold run must not
    # look hung.
    "$VM_DIR/build-custom-kernel.sh" "$VM_DIR/kernel-custom.config" "$dir.tmp" "$work" >"$log" 2>&1 &
    local pid=$! started=$SECONDS rc=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        if [ $(( (SECONDS - started) % 120 )) -lt 5 ] && kill -0 "$pid" 2>/dev/null; then
            vm_log "custom kernel: $(( (SECONDS - started) / 60 )) min, $(grep -c '^  CC' "$log" || true) of about 1,900 files compiled; log: $log"
        fi
    done
    wait "$pid" || rc=$?
    if [ "$rc" != 0 ]; then
        tail -n 40 "$log" >&2
        rm -rf "$dir.tmp"
        [ -n "${TIERD_VM_KEEP_KBUILD:-}" ] || rm -rf "$work"
        vm_die "custom kernel build failed (full log: $log)"
    fi
    grep -E '^== (config verified|kernel built)' "$log" | sed 's/^/[vm] /' >&2 || true
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    # The source/object tree is large (~3 GB) and not needed any more.
    [ -n "${TIERD_VM_KEEP_KBUILD:-}" ] || rm -rf "$work"
    vm_log "custom kernel cached in $dir"
}

ensure_custom_kernel() {
    mkdir -p "$CACHE_DIR/kernels"
    local key dir
    key=$(custom_kernel_key)
    dir=$CACHE_DIR/kernels/custom-$key
    if [ ! -f "$dir/bzImage" ]; then
        with_lock kernel-custom _build_custom_kernel "$dir" "$key" || return 1
    elif [ -d "$CACHE_DIR/build/custom-$key" ] && [ -z "${TIERD_VM_KEEP_KBUILD:-}" ]; then
        # tree left by an interrupted build (the kernel got cached since)
        with_lock kernel-custom rm -rf "$CACHE_DIR/build/custom-$key"
    fi
    [ -f "$dir/bzImage" ] || return 1
    echo "$dir"
}

# Prints "KERNEL_IMAGE" path for kind debian|custom (after ensuring it).
kernel_dir() {
    case "$1" in
        debian) ensure_debian_kernel ;;
        custom) ensure_custom_kernel ;;
        *) vm_die "unknown kernel kind '$1' (debian|custom)" ;;
    esac
}

kernel_image() {
    local d
    d=$(kernel_dir "$1") || return 1
    if [ -f "$d/bzImage" ]; then echo "$d/bzImage"
    elif [ -f "$d/vmlinuz" ]; then echo "$d/vmlinuz"
    else return 1; fi
}

# ---------------------------------------------------------------- initramfs
# Module names (as in modinfo) wanted from the Debian kernel, dependencies
# are resolved with modinfo -F depends and emitted in load order.
GUEST_MODULES_DEBIAN="9p 9pnet_virtio virtio_blk crc32c_generic ext4 autofs4"

# resolve_modules MODDIR NAME... -> prints relative .ko.xz paths in load order
resolve_modules() {
    local moddir=$1; shift
    declare -A path=() seen=()
    local f n
    while IFS= read -r f; do
        n=$(basename "$f"); n=${n%.ko*}
        path[$n]=$f; path[${n//-/_}]=$f
    done < <(cd "$moddir" && find kernel -name '*.ko*')
    _visit() {
        local m=$1 d
        [ -n "${seen[$m]:-}" ] && return 0
        seen[$m]=1
        [ -n "${path[$m]:-}" ] || vm_die "module $m not found in $moddir"
        for d in $(modinfo -F depends "$moddir/${path[$m]}" | tr ',' ' '); do
            _visit "$d"
        done
        echo "${path[$m]}"
    }
    for n in "$@"; do _visit "$n"; done
}

# ensure_initramfs KIND [EXTRA_MODULES...] -> prints path of the cached
# initramfs for that kernel kind. Keyed by busybox, init.sh, kernel and
# module list.
ensure_initramfs() {
    local kind=$1; shift
    local kdir mods=() key out
    kdir=$(kernel_dir "$kind") || return 1
    if [ "$kind" = debian ]; then
        mapfile -t mods < <(resolve_modules "$kdir/modules" $GUEST_MODULES_DEBIAN "$@")
    fi
    key=$( { sha256sum /bin/busybox "$VM_DIR/init.sh"; cat "$kdir/release"; printf '%s\n' "${mods[@]}"; echo v1; } \
           | sha256sum | cut -c1-16)
    out=$CACHE_DIR/initramfs/$kind-$key.cpio.gz
    if [ ! -f "$out" ]; then
        with_lock initramfs _build_initramfs "$out" "$kdir" "${mods[@]}" || return 1
    fi
    echo "$out"
}

_build_initramfs() {
    local out=$1 kdir=$2; shift 2
    [ -f "$out" ] && return 0
    mkdir -p "$(dirname "$out")"
    local st m n
    st=$(mktemp -d "$CACHE_DIR/tmp.initramfs.XXXXXX")
    mkdir -p "$st"/{bin,sbin,dev,proc,sys,tmp,run,mnt/share,lib/modules,etc,root}
    cp /bin/busybox "$st/bin/busybox"
    cp "$VM_DIR/init.sh" "$st/init"
    chmod 755 "$st/init"
    mknod "$st/dev/console" c 5 1 2>/dev/null || true
    mknod "$st/dev/null" c 1 3 2>/dev/null || true
    : > "$st/lib/modules/load-order.tmp"
    for m in "$@"; do
        n=$(basename "$m"); n=${n%.ko*}
        case "$m" in
            *.xz) xz -dc "$kdir/modules/$m" > "$st/lib/modules/$n.ko" ;;
            *.zst) zstd -qdc "$kdir/modules/$m" > "$st/lib/modules/$n.ko" ;;
            *) cp "$kdir/modules/$m" "$st/lib/modules/$n.ko" ;;
        esac
        echo "$n" >> "$st/lib/modules/load-order.tmp"
    done
    if [ -s "$st/lib/modules/load-order.tmp" ]; then
        mv "$st/lib/modules/load-order.tmp" "$st/lib/modules/load-order"
    else
        rm -f "$st/lib/modules/load-order.tmp"
    fi
    ( cd "$st" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0 ) | gzip -9 > "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$st"
    vm_log "initramfs built: $out"
}

# ---------------------------------------------------------------- share
# copy_with_libs DEST_BIN DEST_LIB FILE... : copy executables and every
# shared library they need (via ldd), including the dynamic loader.
copy_with_libs() {
    local bindir=$1 libdir=$2; shift 2
    mkdir -p "$bindir" "$libdir"
    local f lib
    for f in "$@"; do
        [ -x "$f" ] || vm_die "not an executable: $f"
        cp -f "$f" "$bindir/"
        while read -r lib; do
            [ -n "$lib" ] && [ -e "$lib" ] || continue
            [ -e "$libdir/$(basename "$lib")" ] || cp -L "$lib" "$libdir/"
        done < <(ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/[^ ]*ld-linux/ {print $1}')
    done
}

# ---------------------------------------------------------------- Debian root
# A minimal Debian bookworm with systemd and tierd's libraries, made by
# debootstrap from the host's Debian mirror; cached as a tarball.
ROOTFS_SUITE=bookworm
ROOTFS_PACKAGES="systemd,systemd-sysv,libsystemd0,libnuma1,libbpf1,libinih1,libjson-c5,jq,procps,util-linux,kmod"

rootfs_mirror() {
    if [ -n "${TIERD_VM_MIRROR:-}" ]; then echo "$TIERD_VM_MIRROR"; return; fi
    local m
    m=$(grep -rhoE '^(deb |URIs:)[^#]*https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -oE 'https?://[^ ]*/debian/?' | grep -v security | head -n1)
    echo "${m:-http://deb.debian.org/debian}"
}

ensure_rootfs_tar() {
    local key out
    key=$( { echo "$ROOTFS_SUITE $ROOTFS_PACKAGES"; echo v1; } | sha256sum | cut -c1-16)
    out=$CACHE_DIR/rootfs/debian-$ROOTFS_SUITE-$key.tar
    if [ ! -f "$out" ]; then
        with_lock rootfs _build_rootfs_tar "$out" || return 1
    fi
    [ -f "$out" ] || return 1
    echo "$out"
}

_build_rootfs_tar() {
    local out=$1 st mirror log
    [ -f "$out" ] && return 0
    mkdir -p "$(dirname "$out")"
    mirror=$(rootfs_mirror)
    st=$(mktemp -d "$CACHE_DIR/tmp.rootfs.XXXXXX")
    log=$out.log
    vm_log "debootstrap $ROOTFS_SUITE from $mirror (a few minutes; log: $log)"
    if ! debootstrap --variant=minbase --include="$ROOTFS_PACKAGES" "$ROOTFS_SUITE" "$st/root" "$mirror" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        rm -rf "$st"
        vm_die "debootstrap failed (log: $log)"
    fi
    rm -rf "$st/root/var/cache/apt/archives/"*.deb "$st/root/var/lib/apt/lists/"* \
           "$st/root/usr/share/doc" "$st/root/usr/share/man" "$st/root/usr/share/locale" "$st/root/usr/share/info"
    tar -C "$st/root" --numeric-owner -cf "$out.tmp" .
    mv "$out.tmp" "$out"
    rm -rf "$st"
    vm_log "root filesystem cached: $out ($(du -h "$out" | cut -f1))"
}

# make_root_disk STAGING_DIR IMAGE : customise an unpacked root and make an
# ext4 image from it (mkfs.ext4 -d: no loop mount, no root needed for it)
make_root_disk() {
    local st=$1 img=$2 mb
    # console, no gettys, no timers that would run during the test
    ln -sf /dev/null "$st/etc/systemd/system/serial-getty@ttyS0.service"
    ln -sf /dev/null "$st/etc/systemd/system/getty@tty1.service"
    local u
    for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer \
             systemd-tmpfiles-clean.timer dpkg-db-backup.timer systemd-timesyncd.service; do
        ln -sf /dev/null "$st/etc/systemd/system/$u"
    done
    echo "tierd-vm" > "$st/etc/hostname"
    echo "/dev/vda / ext4 rw,relatime 0 0" > "$st/etc/fstab"
    : > "$st/etc/machine-id"
    # unprivileged test user (uid 1000)
    grep -q '^tester:' "$st/etc/passwd" || {
        echo 'tester:x:1000:1000:tierd test user:/home/tester:/bin/bash' >> "$st/etc/passwd"
        echo 'tester:!:19000:0:99999:7:::' >> "$st/etc/shadow"
        echo 'tester:x:1000:' >> "$st/etc/group"
        mkdir -p "$st/home/tester" && chown 1000:1000 "$st/home/tester"
    }
    install -m 0755 "$VM_DIR/guest-systemd/tierd-vm-init" "$st/usr/local/sbin/tierd-vm-init"
    install -m 0644 "$VM_DIR/guest-systemd/tierd-vm-scenario.service" "$st/etc/systemd/system/"
    mkdir -p "$st/etc/systemd/system/multi-user.target.wants" "$st/mnt/share"
    ln -sf ../tierd-vm-scenario.service "$st/etc/systemd/system/multi-user.target.wants/tierd-vm-scenario.service"
    mb=$(( $(du -sm "$st" | cut -f1) + 256 ))
    rm -f "$img"
    mkfs.ext4 -q -F -L tierdroot -d "$st" "$img" "${mb}M" >/dev/null || vm_die "mkfs.ext4 -d failed"
}
