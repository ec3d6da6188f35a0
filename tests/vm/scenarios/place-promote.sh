# place-promote: tierd moves pages. A 256 MiB workload whose first 64 MiB are read continuously is first
# touched entirely on node 1 (the slow tier; its memory policy is reset to the default afterwards, so nothing
# but tierd keeps the pages there). Within DEADLINE seconds at promote_rate = 64M tierd must have moved at least
# 90% of the hot part to node 0 while at least 90% of the cold part stays on node 1, and the data must be intact.
# BACKEND (page_idle or damon) comes from run-vm --env.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-place
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
DEADLINE=${DEADLINE:-240}
mkdir -p $D/run

start_hot_workload $D 256 64 --first-touch-node 1

HOT_PAGES=$((64 * 256))
COLD_PAGES=$((192 * 256))
tierd-move --pid $WPID --query --range $START-$END > $D/query0.txt
show query0 $D/query0.txt
check "workload starts on node 1" test "$(query_pct $START-$END 1 $((256 * 256)))" -ge 99

place_conf_head "$BACKEND" > $D/tierd.conf
cat >> $D/tierd.conf <<EOC

[migrate]
promote_rate = 64M
demote_rate = 64M

[targets]
pid = $WPID
EOC

T0=$(uptime_s)
start_tierd_checked $D $SOCK "$BACKEND"
check_eq "node 1 is the slow tier" 1 "$(jq '[.nodes[] | select(.node == 1) | .tier][0]' $D/status0.json)"

hot_promoted() { [ "$(query_pct $START-$HOT_END 0 $HOT_PAGES)" -ge 90 ]; }
wait_placed $DEADLINE "at least 90% of the hot part on node 0" hot_promoted
# A few more rounds: nothing else may move (the cold part stays, the hot part does not bounce back).
wait_more_rounds 3

HOT_PCT=$(query_pct $START-$HOT_END 0 $HOT_PAGES)
COLD_PCT=$(query_pct $HOT_END-$END 1 $COLD_PAGES)
tierd-move --pid $WPID --query --range $START-$HOT_END > $D/query-hot.txt
tierd-move --pid $WPID --query --range $HOT_END-$END > $D/query-cold.txt
show query-hot $D/query-hot.txt
show query-cold $D/query-cold.txt
info "hot part on node 0: $HOT_PCT%; cold part on node 1: $COLD_PCT%"
check "at least 90% of the hot part on node 0 ($HOT_PCT%)" test "$HOT_PCT" -ge 90
check "at least 90% of the cold part still on node 1 ($COLD_PCT%)" test "$COLD_PCT" -ge 90

tierctl --socket $SOCK status > $D/status.txt
tierctl --socket $SOCK status --json > $D/status.json
tierctl --socket $SOCK metrics > $D/metrics.txt 2>&1 || true
show status $D/status.txt
PROMOTED=$(jq .promoted_bytes $D/status.json)
info "promoted $PROMOTED bytes, demoted $(jq .demoted_bytes $D/status.json) bytes," \
     "ping-pongs $(jq '.migrate.promote.pingpongs + .migrate.demote.pingpongs' $D/status.json)," \
     "time in move_pages $(jq '.migrate.promote.move_time_us' $D/status.json)us"
check "status counts the promoted bytes" test "$PROMOTED" -ge $((HOT_PAGES * 4096 * 90 / 100))
check "no pages failed to move" jq_true '.migrate.promote.failed_pages == 0' $D/status.json
if [ "$BACKEND" = page_idle ]; then
    # page_idle learns each page's node from its PFN (the nodes' spans in /proc/zoneinfo) and then tracks only
    # what is not where its trend wants it, plus a sample: here nearly everything is settled.
    SETTLED=$(jq '.settled_units * 100 / .tracked_units | floor' $D/status.json)
    OBSERVED=$(jq '.observed_pages * 100 / .tracked_pages | floor' $D/status.json)
    info "settled: $SETTLED% of units; the last round observed $OBSERVED% of the tracked pages"
    check "at least 80% of the units settled ($SETTLED%)" test "$SETTLED" -ge 80
    check "the last round observed under 50% of the tracked pages ($OBSERVED%)" test "$OBSERVED" -lt 50
fi
# What holds the event loop longest at the end of a round (the figures BENCHMARKS.md quotes): the last three rounds.
grep -E "ended in a turn|Census of round" $D/tierd.log | tail -n 6 > $D/turns.txt
show turns $D/turns.txt
# Every turn over 50 ms of the run, by what it was doing.
sed -n 's/.*Slow event loop turn: [0-9]*ms (\(.*\))$/\1/p' $D/tierd.log | sort | uniq -c > $D/slow-turns.txt
show slow-turns $D/slow-turns.txt

finish_placement $D
