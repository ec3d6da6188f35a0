#!/bin/busybox sh
# PID 1 of the tierd test initramfs (busybox). Mounts the 9p share that the
# runner prepared, sources its run.conf and runs the scenario, then powers
# off. Markers parsed by tests/vm/run-vm:
#   TIERD-VM: init ready              init started (kernel booted fine)
#   TIERD-VM: INFRA-ERROR <why>       harness problem inside the guest
#   TIERD-VM: scenario exit <rc>      scenario finished
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /mnt/share /usr/bin /usr/sbin /sbin
/bin/busybox --install -s /bin
export PATH=/mnt/share/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /dev/pts /dev/shm /sys/fs/cgroup
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname tierd-vm
grep -q 'tierd\.root=' /proc/cmdline ||
    echo "TIERD-VM: init ready ($(uname -r), $(cut -d' ' -f1 /proc/uptime)s)"

infra() { echo "TIERD-VM: INFRA-ERROR $*"; poweroff -f; sleep 10; }

# Modules (Debian kernel only): listed in load order.
if [ -f /lib/modules/load-order ]; then
    for m in $(cat /lib/modules/load-order); do
        insmod "/lib/modules/$m.ko" || infra "insmod $m failed"
    done
fi

# Root disk mode (systemd scenarios): tierd.root=/dev/vda on the command
# line mounts that ext4 disk and hands over to its systemd.
ROOTDEV=$(sed -n 's/.*tierd\.root=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$ROOTDEV" ]; then
    echo "TIERD-VM: initramfs switching to $ROOTDEV"
    n=50
    while [ ! -b "$ROOTDEV" ] && [ $n -gt 0 ]; do sleep 0.2; n=$((n - 1)); done
    mkdir -p /newroot
    mount -t ext4 -o rw "$ROOTDEV" /newroot || infra "cannot mount root $ROOTDEV"
    umount /dev/pts /tmp /run /sys/fs/cgroup /sys/kernel/tracing /sys/kernel/debug 2>/dev/null
    mount --move /dev /newroot/dev
    umount /sys /proc
    exec switch_root /newroot /lib/systemd/systemd
    infra "switch_root failed"
fi

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none tierdshare /mnt/share \
    || infra "cannot mount 9p share"
[ -f /mnt/share/run.conf ] || infra "no run.conf on share"

# Shared libraries of the host-built binaries live on the share; make the
# standard library paths point there so the binaries run unmodified.
mkdir -p /usr/lib
ln -s /mnt/share/lib /lib/x86_64-linux-gnu
ln -s /mnt/share/lib /usr/lib/x86_64-linux-gnu
ln -s /mnt/share/lib /lib64
# minimal user database for scenarios that need a non-root user
mkdir -p /etc
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
echo 'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >> /etc/passwd
echo 'root:x:0:' > /etc/group
echo 'nogroup:x:65534:' >> /etc/group

SCENARIO_TIMEOUT=300
NUMA_BALANCING=0
set -a; . /mnt/share/run.conf; set +a

# Automatic NUMA balancing moves pages on its own: off unless asked for.
if [ -w /proc/sys/kernel/numa_balancing ] && [ "$NUMA_BALANCING" != keep ]; then
    echo "$NUMA_BALANCING" > /proc/sys/kernel/numa_balancing
fi

echo "TIERD-VM: scenario $SCENARIO start (kernel=$KERNEL_KIND hmat=$HMAT)"
cd /tmp
timeout "$SCENARIO_TIMEOUT" sh /mnt/share/scenarios/"$SCENARIO".sh
rc=$?
[ $rc = 143 ] && echo "CHECK FAIL: scenario timed out in the guest after ${SCENARIO_TIMEOUT}s"
echo "TIERD-VM: scenario exit $rc"
sync
poweroff -f
sleep 10
