# place-parked: cold memory on the fast tier is parked (left to samples and the re-verification slice), and still
# demoted when room is needed (heat.h, "Parked units"). A 320 MiB workload whose first 64 MiB are read continuously
# is first touched on node 0; its hot part is then moved to node 1 and a filler bound to node 0 leaves node 0 with
# 40 MiB free, below fast_free_target (5%), so bringing the hot part back needs demotions. demote_round_max = 4M
# makes a round's demotion budget (1024 pages) smaller than an eighth of the cold part on node 0 (65536 pages):
# page_idle parks the cold part. Within DEADLINE seconds at least 90% of the hot part must be on node 0 (room made
# by demoting parked units), the status must have shown parked units, and in at least 3 of the 4 rounds that follow
# at least 80% of the cold part still on node 0 must be parked and under 50% of the tracked pages observed (the
# cold part alone is 80% of them). Not all 4: a round whose re-verification slice holds few parked units offers too few of them for a
# round's demotions, and the policy then holds parking for one round (heat.h, "Parked units"). PARKING=off (negative control) gives tierd the
# default 1G demote_round_max instead: nothing parks, every cold page is observed every round, and the parking
# checks fail. BACKEND (page_idle) comes from run-vm --env.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-parked
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-page_idle}
DEADLINE=${DEADLINE:-300}
PARKING=${PARKING:-on}
mkdir -p $D/run


start_hot_workload $D 320 64 --first-touch-node 0
HOT_PAGES=$((64 * 256))
COLD_PAGES=$((256 * 256))
tierd-move --pid $WPID --to 1 --range $START-$HOT_END > $D/move0.txt
show move0 $D/move0.txt
check "hot part starts on node 1" test "$(query_pct $START-$HOT_END 1 $HOT_PAGES)" -ge 95
check "cold part starts on node 0" test "$(query_pct $HOT_END-$END 0 $COLD_PAGES)" -ge 95

FILL=$(( $(node_free_kib 0) / 1024 - 40 ))
workload-anon --mib $FILL --node 0 > $D/filler.out 2>&1 &
FILLER=$!
check "filler of $FILL MiB on node 0 started" wait_for 120 grep -q '^WORKLOAD pid=' $D/filler.out
info "node 0 free after the filler: $(( $(node_free_kib 0) / 1024 )) MiB"

ROUND_MAX=4M
[ "$PARKING" = off ] && ROUND_MAX=1G
place_conf_head "$BACKEND" > $D/tierd.conf
cat >> $D/tierd.conf <<EOC

[migrate]
promote_rate = 64M
demote_rate = 64M
demote_round_max = $ROUND_MAX

[targets]
pid = $WPID
EOC

T0=$(uptime_s)
start_tierd_checked $D $SOCK "$BACKEND"

# Parked units are counted per round: keep the largest count seen while the hot part comes back.
MAX_PARKED=0
hot_promoted() {
    local p
    p=$(tierctl --socket $SOCK status --json | jq .parked_units)
    [ "${p:-0}" -gt "$MAX_PARKED" ] && MAX_PARKED=$p
    [ "$(query_pct $START-$HOT_END 0 $HOT_PAGES)" -ge 90 ]
}
wait_placed $DEADLINE "at least 90% of the hot part on node 0" hot_promoted

# The 4 rounds after convergence, each read once it has ended: parked units and observed pages are the last
# folded round's.
PARKED_ROUNDS=0
LIGHT_ROUNDS=0
PER_ROUND=""
ROUND=$(tierctl --socket $SOCK status --json | jq .round)
for i in 1 2 3 4; do
    ROUND=$((ROUND + 1))
    wait_for 120 round_at_least $ROUND || break
    tierctl --socket $SOCK status --json > $D/status.json
    COLD_FAST=$(( $(query_pct $HOT_END-$END 0 $COLD_PAGES) * COLD_PAGES / 100 ))
    PARKED=$(jq .parked_units $D/status.json)
    OBSERVED=$(jq '.observed_pages * 100 / .tracked_pages | floor' $D/status.json)
    PER_ROUND="$PER_ROUND round $(jq .round $D/status.json): $PARKED units parked of $COLD_FAST cold on node 0,"
    PER_ROUND="$PER_ROUND $OBSERVED% of pages observed;"
    [ "$PARKED" -ge $((COLD_FAST * 8 / 10)) ] && PARKED_ROUNDS=$((PARKED_ROUNDS + 1))
    [ "$OBSERVED" -lt 50 ] && LIGHT_ROUNDS=$((LIGHT_ROUNDS + 1))
done
info "after convergence:$PER_ROUND"

tierctl --socket $SOCK status > $D/status.txt
tierctl --socket $SOCK status --json > $D/status.json
show status $D/status.txt
HOT_PCT=$(query_pct $START-$HOT_END 0 $HOT_PAGES)
DEMOTED=$(jq .demoted_pages $D/status.json)
info "hot part on node 0: $HOT_PCT%; demoted $DEMOTED pages; at most $MAX_PARKED units parked while it came back"
check "at least 90% of the hot part on node 0 ($HOT_PCT%)" test "$HOT_PCT" -ge 90
check "room was made by demotions ($DEMOTED pages)" test "$DEMOTED" -ge 1024
check "over half of the cold part was parked while the hot part came back ($MAX_PARKED units)" \
    test "$MAX_PARKED" -ge $((COLD_PAGES / 2))
check "80% of the cold part on node 0 parked in 3 or more of 4 rounds ($PARKED_ROUNDS)" test "$PARKED_ROUNDS" -ge 3
check "under 50% of the tracked pages observed in 3 or more of 4 rounds ($LIGHT_ROUNDS)" test "$LIGHT_ROUNDS" -ge 3
check "no pages failed to move" jq_true '.migrate.promote.failed_pages == 0 and .migrate.demote.failed_pages == 0' \
    $D/status.json

kill $FILLER 2>/dev/null
finish_placement $D
