# demo: human-readable tour of tierd in the two-node guest (tests/vm/demo).
. /mnt/share/scenarios/lib.sh

banner() { echo; echo "=============================================================="; echo "== $*"; echo "=============================================================="; }
D=/tmp/demo
mkdir -p $D

banner "Guest: 2 NUMA nodes, node 1 is CPU-less 'slow' memory (HMAT $HMAT)"
for n in 0 1; do
    echo "node $n: cpus '$(cat /sys/devices/system/node/node$n/cpulist)', $(sed -n 's/.*MemTotal: *//p' /sys/devices/system/node/node$n/meminfo)"
done
echo "kernel memory tiers (smaller number = faster):"
memory_tiers | sed 's/^/  /'

banner "A workload: 64 MiB of anonymous memory, on node 0"
workload-anon --mib 64 > $D/workload.out 2>&1 &
WPID=$!
wait_for 60 grep -q '^WORKLOAD pid=' $D/workload.out
cat $D/workload.out
LINE=$(grep '^WORKLOAD pid=' $D/workload.out)
ADDR=$(echo "$LINE" | sed -n 's/.* addr=\([^ ]*\).*/\1/p')
BYTES=$(echo "$LINE" | sed -n 's/.* bytes=\([^ ]*\).*/\1/p')
PAGES=$(echo "$LINE" | sed -n 's/.* pages=\([^ ]*\).*/\1/p')
SUM0=$(echo "$LINE" | sed -n 's/.* checksum=\([^ ]*\).*/\1/p')
RANGE=$ADDR-$(printf '0x%x' $((ADDR + BYTES)))

banner "tierd: started with [targets] comm = workload-anon"
printf '[scan]\npass_interval = 1s\n[targets]\ncomm = workload-anon\n' > $D/tierd.conf
sed 's/^/  tierd.conf: /' $D/tierd.conf
tierd --config $D/tierd.conf --control-socket /tmp/tierd.sock > $D/tierd.log 2>&1 &
TPID=$!
wait_for 60 test -S /tmp/tierd.sock
sleep 4   # let a round or two run so the target shows up
echo "\$ tierctl status"
tierctl --socket /tmp/tierd.sock status
check_eq "tierctl status works" 0 $?
echo
echo "\$ tierctl targets"
tierctl --socket /tmp/tierd.sock targets

where() {
    echo "  numa_maps : $(grep "^${ADDR#0x} " /proc/$WPID/numa_maps | tr ' ' '\n' | grep -E '^(N[0-9]+|anon)=' | tr '\n' ' ')"
    echo "  move_pages: $(tierd-move --pid $WPID --query --range $RANGE)"
}
on_node() { tierd-move --pid $WPID --query --range $RANGE | grep -q " node$1=$PAGES "; }
checksum() {
    local n; n=$(grep -c 'checksum=' $D/workload.out)
    kill -USR1 $WPID
    sleep 1
    grep 'checksum=' $D/workload.out | tail -n1 | sed 's/.*checksum=//'
}

banner "Page locations before moving"
where
check "all $PAGES pages on node 0" on_node 0

banner "Demote: tierd's migrate module moves the process to node 1"
echo "\$ tierd-move --pid $WPID --to 1"
tierd-move --pid $WPID --to 1 | sed 's/^/  /'
where
check "all $PAGES pages on node 1" on_node 1
check_eq "data intact" "$SUM0" "$(checksum)"

banner "Promote: and back to node 0"
echo "\$ tierd-move --pid $WPID --to 0"
tierd-move --pid $WPID --to 0 | sed 's/^/  /'
where
check "all $PAGES pages back on node 0" on_node 0
check_eq "data intact" "$SUM0" "$(checksum)"

banner "vmstat"
grep -E '^(pgmigrate_success|pgmigrate_fail|pgdemote_|pgpromote_success)' /proc/vmstat | sed 's/^/  /'

kill -TERM $TPID $WPID
wait $TPID
check_eq "tierd stops cleanly" 0 $?
cp $D/* $OUT/ 2>/dev/null
[ $NFAIL -ne 0 ] && show tierd.log $D/tierd.log
finish
