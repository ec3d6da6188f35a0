# place-budget: a per-workload fast-tier budget. A 256 MiB workload whose first 64 MiB are read continuously
# starts entirely on node 0 (the fast tier, which has room for all of it), in a [target.app] section with
# fast_max = FAST_MAX (72M): more than the hot part, far less than the buffer. Within DEADLINE seconds at
# demote_rate = 64M tierd must bring the workload within its budget by demoting its coldest pages: at least 90%
# of the cold part on node 1, at least 90% of the hot part still on node 0, the status and metrics showing the
# budget, and the data intact. BACKEND (page_idle or damon) comes from run-vm --env.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-budget
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
DEADLINE=${DEADLINE:-240}
FAST_MAX_MIB=${FAST_MAX_MIB:-72}
mkdir -p $D/run

start_hot_workload $D 256 64

HOT_PAGES=$((64 * 256))
COLD_PAGES=$((192 * 256))
tierd-move --pid $WPID --query --range $START-$END > $D/query0.txt
show query0 $D/query0.txt
check "workload starts on node 0" test "$(query_pct $START-$END 0 $((256 * 256)))" -ge 99

place_conf_head "$BACKEND" > $D/tierd.conf
cat >> $D/tierd.conf <<EOC

[migrate]
promote_rate = 64M
demote_rate = 64M

[target.app]
pid = $WPID
fast_max = ${FAST_MAX_MIB}M
EOC

T0=$(uptime_s)
start_tierd_checked $D $SOCK "$BACKEND"
check_eq "the workload is listed with its budget" "app $((FAST_MAX_MIB * 1024 * 1024))" \
    "$(jq -r '.workloads[0] | "\(.name) \(.fast_max_bytes)"' $D/status0.json)"
tierctl --socket $SOCK targets --json > $D/targets.json
check_eq "the target belongs to workload app" "$WPID app" "$(jq -r '.[0] | "\(.pid) \(.workload)"' $D/targets.json)"

cold_demoted() { [ "$(query_pct $HOT_END-$END 1 $COLD_PAGES)" -ge 90 ]; }
wait_placed $DEADLINE "at least 90% of the cold part on node 1" cold_demoted
# A few more rounds: the workload stays within its budget, and nothing comes back up.
wait_more_rounds 3

HOT_PCT=$(query_pct $START-$HOT_END 0 $HOT_PAGES)
COLD_PCT=$(query_pct $HOT_END-$END 1 $COLD_PAGES)
tierd-move --pid $WPID --query --range $START-$HOT_END > $D/query-hot.txt
tierd-move --pid $WPID --query --range $HOT_END-$END > $D/query-cold.txt
show query-hot $D/query-hot.txt
show query-cold $D/query-cold.txt
info "hot part on node 0: $HOT_PCT%; cold part on node 1: $COLD_PCT%"
check "at least 90% of the hot part kept on node 0 ($HOT_PCT%)" test "$HOT_PCT" -ge 90
check "at least 90% of the cold part on node 1 ($COLD_PCT%)" test "$COLD_PCT" -ge 90

tierctl --socket $SOCK status > $D/status.txt
tierctl --socket $SOCK status --json > $D/status.json
tierctl --socket $SOCK metrics > $D/metrics.txt 2>&1 || true
show status $D/status.txt
FAST=$(jq '.workloads[0].fast_bytes' $D/status.json)
info "workload fast bytes $FAST of $((FAST_MAX_MIB * 1024 * 1024)); promoted $(jq .promoted_bytes $D/status.json)," \
     "demoted $(jq .demoted_bytes $D/status.json) bytes"
check "status: the workload is within its budget ($FAST bytes on the fast tier)" \
    jq_true ".workloads[0].over_budget == false and .workloads[0].fast_bytes <= $((FAST_MAX_MIB * 1024 * 1024))" \
    $D/status.json
check "status text shows the budget" grep -q "app: 1 processes, .* fast budget in use" $D/status.txt
check "metrics show the budget" grep -q "^tierd_workload_fast_max_bytes{workload=\"app\"} $((FAST_MAX_MIB * 1024 * 1024))\$" \
    $D/metrics.txt
check "tierd said the workload was over its budget" grep -q "Workload app uses .* over its fast_max" $D/tierd.log
check "nothing was promoted (the hot part never left node 0)" jq_true '.promoted_bytes == 0' $D/status.json
check "no pages failed to move" jq_true '.migrate.demote.failed_pages == 0' $D/status.json

finish_placement $D
