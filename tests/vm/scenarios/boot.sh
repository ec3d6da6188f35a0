# Boot smoke test: the guest has the expected NUMA/tier layout.
. /mnt/share/scenarios/lib.sh
info "kernel $(uname -r), nodes $(cat /sys/devices/system/node/online)"
check_eq "two NUMA nodes online" "0-1" "$(cat /sys/devices/system/node/online)"
check_eq "node 1 is CPU-less" "" "$(cat /sys/devices/system/node/node1/cpulist)"
check "9p share mounted" grep -q ' /mnt/share 9p ' /proc/mounts
check_eq "automatic NUMA balancing off" 0 "$(cat /proc/sys/kernel/numa_balancing)"
memory_tiers | while read -r t n; do info "$t: nodes $n"; done
if [ "$HMAT" = on ]; then
    t0=$(kernel_tier_of 0); t1=$(kernel_tier_of 1)
    check "HMAT: node 1 (tier $t1) slower than node 0 (tier $t0)" test "$t1" -gt "$t0"
else
    check_eq "no HMAT: both nodes in one kernel tier" "$(kernel_tier_of 0)" "$(kernel_tier_of 1)"
fi
check "DAMON sysfs present" test -d /sys/kernel/mm/damon/admin
if [ "$KERNEL_KIND" = custom ]; then
    check "idle page tracking present" test -e /sys/kernel/mm/page_idle/bitmap
    check "BTF present" test -e /sys/kernel/btf/vmlinux
fi
finish
