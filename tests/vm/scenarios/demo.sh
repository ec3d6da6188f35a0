# demo: human-readable tour of tierd in the two-node guest (tests/vm/demo): a hot set found on the slow node
# and promoted, with tierctl status and page locations before and after.
. /mnt/share/scenarios/lib.sh

banner() { echo; echo "=============================================================="; echo "== $*"; echo "=============================================================="; }
D=/tmp/demo
SOCK=/tmp/tierd.sock
mkdir -p $D/run

banner "Guest: 2 NUMA nodes, node 1 is CPU-less 'slow' memory (HMAT $HMAT)"
for n in 0 1; do
    echo "node $n: cpus '$(cat /sys/devices/system/node/node$n/cpulist)', $(sed -n 's/.*MemTotal: *//p' /sys/devices/system/node/node$n/meminfo)"
done
echo "kernel memory tiers (smaller number = faster):"
memory_tiers | sed 's/^/  /'

banner "A workload: 256 MiB placed on the slow node 1; it reads its first 64 MiB all the time"
start_hot_workload $D 256 64 --first-touch-node 1

# pct_on RANGE NODE PAGES: share of the range's pages on NODE
pct_on() {
    local n
    n=$(tierd-move --pid $WPID --query --range "$1" | sed -n "s/.* node$2=\([0-9]*\).*/\1/p")
    echo $(( ${n:-0} * 100 / $3 ))
}
where() {
    echo "  hot  64 MiB: $(tierd-move --pid $WPID --query --range $START-$HOT_END | sed 's/.*\(node0=[0-9]* node1=[0-9]*\).*/\1/') (pages)"
    echo "  cold 192 MiB: $(tierd-move --pid $WPID --query --range $HOT_END-$END | sed 's/.*\(node0=[0-9]* node1=[0-9]*\).*/\1/') (pages)"
}
checksum() {
    kill -USR1 $WPID
    sleep 1
    grep 'checksum=' $D/workload.out | tail -n1 | sed 's/.*checksum=//'
}

banner "Page locations before tierd"
where

banner "tierd, told to manage processes named workload-anon"
cat > $D/tierd.conf <<EOC
[scan]
# This guest is emulated (QEMU TCG): CPU work costs 10-50 times what it does on hardware, so no CPU budget here.
cpu_budget = off
passes = 3
pass_interval = 500ms

[policy]
pass_interval_auto = no

[migrate]
promote_rate = 64M

[targets]
comm = workload-anon
EOC
sed 's/^/  tierd.conf: /' $D/tierd.conf
tierd --config $D/tierd.conf --control-socket $SOCK --runtime-dir $D/run > $D/tierd.log 2>&1 &
TPID=$!
wait_for 60 test -S $SOCK
wait_for 60 round_at_least 1
echo "\$ tierctl status    # after the first round"
tierctl --socket $SOCK status
check_eq "tierctl status works" 0 $?

T0=$(uptime_s)
hot_promoted() { [ "$(pct_on $START-$HOT_END 0 $((64 * 256)))" -ge 90 ]; }
check "tierd promoted the hot 64 MiB to node 0" wait_for 180 hot_promoted
info "took $(( $(uptime_s) - T0 )) s of guest time at promote_rate = 64M"

banner "Page locations with tierd"
where
check "the cold part stayed on node 1" test "$(pct_on $HOT_END-$END 1 $((192 * 256)))" -ge 90
check_eq "data intact" "$SUM0" "$(checksum)"

echo
echo "\$ tierctl status"
tierctl --socket $SOCK status
echo
echo "\$ tierctl pages $WPID --range $START-$HOT_END"
tierctl --socket $SOCK pages $WPID --range $START-$HOT_END | head -4

banner "vmstat"
grep -E '^(pgmigrate_success|pgmigrate_fail|pgdemote_|pgpromote_success)' /proc/vmstat | sed 's/^/  /'

kill -TERM $TPID
wait $TPID
check_eq "tierd stops cleanly" 0 $?
kill $WPID $BUSY 2>/dev/null
cp $D/*.conf $D/*.log $OUT/ 2>/dev/null
[ $NFAIL -ne 0 ] && show tierd.log $D/tierd.log
finish
