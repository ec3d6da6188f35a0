# migrate-smoke: tierd's migrate module moves every page of a process from
# node 0 to node 1 and back (tests/vm/tierd-move). After each move the pages
# must be where /proc/PID/numa_maps and a move_pages(nodes=NULL) query say,
# both must agree, and the workload's data must be unchanged.
# Negative control: TIERD_TEST_DISABLE_MIGRATION=1 makes tierd-move skip the
# move, and this scenario must then report CHECK FAIL.
. /mnt/share/scenarios/lib.sh

D=/tmp/migrate-smoke
MIB=${MIGRATE_SMOKE_MIB:-64}
mkdir -p $D
[ -n "${TIERD_TEST_DISABLE_MIGRATION:-}" ] && info "TIERD_TEST_DISABLE_MIGRATION=$TIERD_TEST_DISABLE_MIGRATION: moves are skipped, checks must fail"

workload-anon --mib "$MIB" > $D/workload.out 2>&1 &
WPID=$!
if ! wait_for 60 grep -q '^WORKLOAD pid=' $D/workload.out; then
    fail "workload did not start"; show workload $D/workload.out; finish
fi
LINE=$(grep '^WORKLOAD pid=' $D/workload.out)
field() { echo "$LINE" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
ADDR=$(field addr) BYTES=$(field bytes) PAGES=$(field pages) SUM0=$(field checksum)
END=$(printf '0x%x' $((ADDR + BYTES)))
RANGE=$ADDR-$END
pass "workload pid $WPID: $MIB MiB at $RANGE, $PAGES pages, checksum $SUM0"

# numa_node_pages NODE : pages of the buffer on NODE according to numa_maps
numa_node_pages() {
    local v
    v=$(grep "^${ADDR#0x} " /proc/$WPID/numa_maps | tr ' ' '\n' | sed -n "s/^N$1=//p")
    echo "${v:-0}"
}
# query_pages NODE : pages of the buffer on NODE according to move_pages(nodes=NULL)
query_pages() { sed -n "s/.* node$1=\([0-9]*\).*/\1/p" $D/query.out; }

checksums_seen() { grep -c '^WORKLOAD checksum=' $D/workload.out; }
more_checksums_than() { [ "$(checksums_seen)" -gt "$1" ]; }
checksum_now() {
    local n
    n=$(checksums_seen)
    kill -USR1 $WPID
    wait_for 60 more_checksums_than "$n" || { echo timeout; return; }
    grep '^WORKLOAD checksum=' $D/workload.out | tail -n1 | sed 's/.*checksum=//'
}

vmstat_val() { sed -n "s/^$1 //p" /proc/vmstat; }

# verify STEP NODE : every page of the buffer is on NODE
verify() {
    local step=$1 node=$2 other nm_on nm_off q_on q_off
    other=$((1 - node))
    grep "^${ADDR#0x} " /proc/$WPID/numa_maps | sed 's/^/  numa_maps: /'
    tierd-move --pid $WPID --query --range $RANGE > $D/query.out 2>&1
    sed 's/^/  /' $D/query.out
    nm_on=$(numa_node_pages $node) nm_off=$(numa_node_pages $other)
    q_on=$(query_pages $node) q_off=$(query_pages $other)
    check_eq "$step: numa_maps shows all $PAGES pages on node $node" "$PAGES/0" "$nm_on/$nm_off"
    check_eq "$step: move_pages query shows all $PAGES pages on node $node" "$PAGES/0" "$q_on/$q_off"
    check_eq "$step: numa_maps and move_pages query agree" "$nm_on/$nm_off" "$q_on/$q_off"
    check_eq "$step: workload checksum unchanged" "$SUM0" "$(checksum_now)"
}

verify "initial" 0

MIG0=$(vmstat_val pgmigrate_success)
# move every page of the process (the buffer, its stack, heap and libraries)
tierd-move --pid $WPID --to 1 > $D/move1.out 2>&1
check_eq "move to node 1: tierd-move exit code" 0 $?
sed 's/^/  /' $D/move1.out
verify "after move to node 1" 1

tierd-move --pid $WPID --to 0 > $D/move0.out 2>&1
check_eq "move back to node 0: tierd-move exit code" 0 $?
sed 's/^/  /' $D/move0.out
verify "after move back to node 0" 0

MIG1=$(vmstat_val pgmigrate_success)
info "pgmigrate_success: $MIG0 -> $MIG1"
check "vmstat pgmigrate_success grew by at least 2 x $PAGES" test $((MIG1 - MIG0)) -ge $((2 * PAGES))

kill -TERM $WPID
wait $WPID
check_eq "workload exits cleanly" 0 $?
cp $D/* $OUT/ 2>/dev/null
finish
