# topology: tierd detects the memory tiers of the guest.
# hmat=on : kernel memory_tiering puts node 1 in memory_tier67, node 0 in tier4
# hmat=off: both nodes share one kernel tier; tierd's fallback ranks nodes
#           with CPUs (node 0) before CPU-less ones (node 1)
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-topology
SOCK=/tmp/tierd.sock
mkdir -p $D
: > $D/tierd.conf            # empty config: all defaults

memory_tiers | while read -r t n; do info "kernel $t: nodes $n"; done

tierd --config $D/tierd.conf --control-socket $SOCK > $D/tierd.log 2>&1 &
TPID=$!
if wait_for 60 test -S $SOCK; then
    pass "tierd started and created its control socket"
else
    fail "tierd did not create $SOCK"
    show tierd $D/tierd.log
    finish
fi

tierctl --socket $SOCK status > $D/status.txt 2>&1
check_eq "tierctl status exit code" 0 $?
show status $D/status.txt
tierctl --socket $SOCK status --json > $D/status.json 2>$D/status.err
check_eq "tierctl status --json exit code" 0 $?
info "status: $(tr -d '\n' < $D/status.json | cut -c1-400)"

check "status JSON parses and has a tiers array" \
    jq_true '.tiers | type == "array" and length >= 2' $D/status.json
FAST=$(jq -r '[.tiers[].tier] | min' $D/status.json)
T0=$(jq -r '[.tiers[] | select(.nodes | index(0) != null) | .tier][0]' $D/status.json)
T1=$(jq -r '[.tiers[] | select(.nodes | index(1) != null) | .tier][0]' $D/status.json)
check_eq "node 0 is in the fastest tier" "$FAST" "$T0"
check "node 1 is in a slower tier (tier $T1 > tier $T0)" test "$T1" -gt "$T0" 2>/dev/null
check "every tier reports total_bytes > 0 and free_bytes <= total_bytes" \
    jq_true 'all(.tiers[]; .total_bytes > 0 and .free_bytes <= .total_bytes)' $D/status.json

SRC=$(jq -r '.tier_source // "absent"' $D/status.json)
if [ "$HMAT" = on ]; then
    check_eq "tiers come from the kernel's memory_tiering" memory_tiering "$SRC"
    check "kernel memory_tiering has node 1 below node 0" \
        test "$(kernel_tier_of 1)" -gt "$(kernel_tier_of 0)"
else
    check_eq "tiers come from the CPU-less fallback" cpus "$SRC"
    check_eq "kernel memory_tiering has both nodes in one tier" "$(kernel_tier_of 0)" "$(kernel_tier_of 1)"
fi

kill -TERM $TPID
wait $TPID
check_eq "tierd exits 0 on SIGTERM" 0 $?
if [ $NFAIL -ne 0 ]; then show tierd $D/tierd.log; fi
cp $D/* $OUT/ 2>/dev/null
finish
