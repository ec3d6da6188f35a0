# place-zigzag: the hysteresis bounds the moves of a workload whose hot set keeps changing. A 128 MiB workload,
# first touched on node 1, reads its first 64 MiB for ZIGZAG seconds, then its second 64 MiB for ZIGZAG
# seconds, and so on (workload-anon --zigzag-sec). Rounds are 3 passes x 500 ms = 1.5 s; the hysteresis window
# is pingpong_window_rounds = 8 rounds (>= 12 s) with min_residency_rounds = 2.
#
# Two set-ups (environment from run-vm --env):
#   default: ZIGZAG = 3 s and the default fast_free_target (5%): the fast tier has room for all 128 MiB and
#     asks for no demotion, so each page should be promoted once (measured: 1 x 128 MiB, 0 demoted, 0
#     ping-pongs). Bound: MAX_FACTOR = 4 x 128 MiB over RUN = 60 s.
#   FAST_FREE_TARGET=95% ZIGZAG=12 RUN=240: tierd must keep 95% of the fast tier free, so every page that turns
#     cold (idle for cold_rounds = 3 rounds, within a 12 s quiet half) is demoted, and promoted again once it is
#     hot (promote_rounds = 2) in its next busy half. Without hysteresis a page moves up to twice per 24 s cycle.
#     With it, each move back doubles the page's wait and the window counts from the end of the wait, so a page
#     that moves as soon as it may moves at rounds t, t + 2, t + 6, t + 14, t + 30, t + 62, t + 126, then every
#     64 (max_backoff_rounds): at most 7 moves in the first t + 189 rounds, more than 240 s holds (rounds take
#     1.5 to 2 s under TCG). A page left in place for its wait plus max(wait, window) rounds is forgiven and
#     starts over, which adds up to two moves more: MAX_FACTOR = 10, set by tests/vm/meson.build. Measured
#     (2026-12-06): 6.0 x with hysteresis, 19.5 x for the negative control. The half period is 12 s because
#     page_idle now leaves settled pages to samples (heat.h, "Partial observation"): a half that turns hot is
#     found a round or two later than when every page was looked at every round, and with 6 s halves that delay
#     alone kept pages from chasing the zigzag (7.1 x with hysteresis, 7.4 x without), so the run no longer
#     showed what the hysteresis does. BACKOFF=off (min_residency_rounds = pingpong_window_rounds =
#     max_backoff_rounds = 0) is the negative control: the same run must break it.
# The data must be intact. BACKEND comes from run-vm --env.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-zigzag
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
RUN=${RUN:-60}
ZIGZAG=${ZIGZAG:-3}
MAX_FACTOR=${MAX_FACTOR:-4}
FAST_FREE_TARGET=${FAST_FREE_TARGET:-5%}
BACKOFF=${BACKOFF:-on}
if [ "$BACKOFF" = on ]; then
    HYSTERESIS="min_residency_rounds = 2
pingpong_window_rounds = 8"
else
    HYSTERESIS="min_residency_rounds = 0
pingpong_window_rounds = 0
max_backoff_rounds = 0"
fi
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

place_conf_head "$BACKEND" > $D/tierd.conf
cat >> $D/tierd.conf <<EOC
fast_free_target = $FAST_FREE_TARGET
$HYSTERESIS

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
if [ "$FAST_FREE_TARGET" != 5% ]; then
    check "tierd demoted pages that turned cold (demoted $DEM bytes)" test "$DEM" -gt 0
    [ "$BACKOFF" = on ] && check "ping-pongs were detected ($PP)" test "$PP" -gt 0
fi
check "moved bytes $MOVED <= $MAX_FACTOR x $MIB MiB ($LIMIT)" test "$MOVED" -le "$LIMIT"
check "no pages failed to move" jq_true '.migrate.promote.failed_pages == 0 and .migrate.demote.failed_pages == 0' $D/status.json

finish_placement $D
