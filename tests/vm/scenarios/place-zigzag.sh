# place-zigzag: the hysteresis bounds the moves of a workload whose hot set keeps changing. A 128 MiB workload,
# first touched on node 1, reads its first 64 MiB for ZIGZAG seconds, then its second 64 MiB for ZIGZAG
# seconds, and so on (workload-anon --zigzag-sec), with ZIGZAG = 3 s, shorter than the hysteresis window
# (pingpong_window_rounds = 8 rounds of passes = 3 x 500 ms, >= 12 s; min_residency_rounds = 2).
# Bound: over RUN = 60 s, moved bytes (promote + demote) <= MAX_FACTOR x 128 MiB, MAX_FACTOR = 4, i.e. on
# average each 4 KiB page moves at most 4 times. Why 4: the fast tier has room for all 128 MiB and the default
# fast_free_target (5%) asks for no demotion, so each page should be promoted once (measured: 1 x 128 MiB,
# 0 demoted, 0 ping-pongs). Were pages demoted in a cold phase, a page could only come back after
# min_residency_rounds (2 rounds, >= 3 s) and each move back within the window doubles its wait (2, 4, 8, ...
# rounds), so in ~30 rounds a page fits at most ~4 moves (up, down, up after 4, down after 8, ...): 4 x the
# buffer bounds that too. The data must be intact. BACKEND comes from run-vm --env.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-zigzag
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
RUN=${RUN:-60}
ZIGZAG=${ZIGZAG:-3}
MAX_FACTOR=${MAX_FACTOR:-4}
MIB=128
mkdir -p $D/run

start_hot_workload $D $MIB 64 --first-touch-node 1 --zigzag-sec $ZIGZAG

query_node_pages() {
    tierd-move --pid $WPID --query --range "$1" | sed -n "s/.* node$2=\([0-9]*\).*/\1/p"
}
tierd-move --pid $WPID --query --range $START-$END > $D/query0.txt
show query0 $D/query0.txt
N1=$(query_node_pages $START-$END 1)
check "workload starts on node 1 (${N1:-0} of $((MIB * 256)) pages)" test "${N1:-0}" -ge $((MIB * 256 * 99 / 100))

cat > $D/tierd.conf <<EOC
[daemon]
log_level = debug

[scan]
backend = $BACKEND
passes = 3
pass_interval = 500ms

[policy]
pass_interval_auto = no
min_residency_rounds = 2
pingpong_window_rounds = 8

[migrate]
promote_rate = 64M
demote_rate = 64M

[targets]
pid = $WPID
EOC

T0=$(uptime_s)
start_tierd_checked $D $SOCK "$BACKEND"

# Sample every ~10 s for RUN seconds (wall time in the guest).
while [ $(( $(uptime_s) - T0 )) -lt $RUN ]; do
    sleep 10
    tierctl --socket $SOCK status --json > $D/status-now.json 2>/dev/null || continue
    info "t=$(( $(uptime_s) - T0 ))s round $(jq .round $D/status-now.json):" \
         "promoted $(jq .migrate.promote.bytes $D/status-now.json)," \
         "demoted $(jq .migrate.demote.bytes $D/status-now.json) bytes," \
         "node0 $(query_node_pages $START-$END 0) node1 $(query_node_pages $START-$END 1) pages"
done

tierctl --socket $SOCK status > $D/status.txt
tierctl --socket $SOCK status --json > $D/status.json
show status $D/status.txt
tierd-move --pid $WPID --query --range $START-$END > $D/query-end.txt
show query-end $D/query-end.txt
PROM=$(jq .migrate.promote.bytes $D/status.json)
DEM=$(jq .migrate.demote.bytes $D/status.json)
PP=$(jq '.migrate.promote.pingpongs + .migrate.demote.pingpongs' $D/status.json)
MOVED=$((PROM + DEM))
LIMIT=$((MAX_FACTOR * MIB * 1024 * 1024))
info "after $(( $(uptime_s) - T0 ))s, $(jq .round $D/status.json) rounds: promoted $PROM bytes," \
     "demoted $DEM bytes, moved $MOVED bytes = $((MOVED * 100 / (MIB * 1024 * 1024)))% of the buffer," \
     "ping-pongs $PP (promote $(jq .migrate.promote.pingpongs $D/status.json)," \
     "demote $(jq .migrate.demote.pingpongs $D/status.json))," \
     "residency skips $(jq '.migrate.skipped.residency.bytes' $D/status.json) bytes"
check "tierd moved something (promoted $PROM bytes)" test "$PROM" -gt 0
check "moved bytes $MOVED <= $MAX_FACTOR x $MIB MiB ($LIMIT)" test "$MOVED" -le "$LIMIT"
check "no pages failed to move" jq_true '.migrate.promote.failed_pages == 0 and .migrate.demote.failed_pages == 0' $D/status.json

kill -USR1 $WPID
check "workload checksum after the moves" wait_for 30 grep -q "^WORKLOAD checksum=$SUM0\$" $D/workload.out

kill -TERM $TPID; wait $TPID
check_eq "tierd exits 0 on SIGTERM" 0 $?
kill $WPID $BUSY 2>/dev/null
if [ $NFAIL -ne 0 ]; then show tierd $D/tierd.log; show workload $D/workload.out; fi
cp $D/*.json $D/*.txt $D/tierd.log $OUT/ 2>/dev/null
finish
