# cpu-budget: tierd keeps to its CPU budget. The place-promote workload (MIB = 256 MiB read in its first
# HOT_MIB = 64 MiB, first touched on node 1; both can be set for a larger guest) under BACKEND with [scan]
# cpu_budget = BUDGET (10% unless the environment says otherwise). Unbudgeted, tierd costs several times that under
# TCG (page_idle ~45% of a vCPU, DAMON's kdamond ~25% and tierd ~10%: docs/BENCHMARKS.md), so the budget binds.
# Over RUN seconds from tierd's start, tierd's CPU time (utime + stime of the process) plus every kdamond's must
# stay within 1.2 x BUDGET of the wall time; status must show the spend against the budget and say that the budget
# sets the pace; and tierd must still do its work (rounds go on, the hot part ends on node 0, data intact). With
# BUDGET=off (negative control) the CPU check fails.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-budget
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
BUDGET=${BUDGET:-10%}
RUN=${RUN:-150}
MIB=${MIB:-256}
HOT_MIB=${HOT_MIB:-64}
mkdir -p $D/run

start_hot_workload $D $MIB $HOT_MIB --first-touch-node 1
HOT_PAGES=$((HOT_MIB * 256))

cat > $D/tierd.conf <<EOC
[scan]
backend = $BACKEND
cpu_budget = $BUDGET
pass_interval = 500ms

[policy]
pass_interval_auto = no

[targets]
pid = $WPID
EOC

HZ=100 # USER_HZ, the unit of /proc/PID/stat's times on x86 (the guest has no getconf)
# ticks PID...: utime + stime of the tasks, in clock ticks (fields 14 and 15, counted after the comm's ')').
ticks() {
    local pid sum=0 f
    for pid in "$@"; do
        f=$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null) || continue
        set -- $f
        sum=$((sum + ${12} + ${13}))
    done
    echo $sum
}
kdamond_pids() {
    local c
    for c in /proc/[0-9]*/comm; do
        case "$(cat "$c" 2>/dev/null)" in kdamond*) c=${c%/comm}; echo "${c#/proc/}" ;; esac
    done
}
kdamond_ticks() { ticks $(kdamond_pids); }

K0=$(kdamond_ticks)
T0_MS=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
start_tierd_checked $D $SOCK "$BACKEND"
sleep "$RUN"
# Status first: tierd counts up to its last round's end, which must not fall after the kernel's figures are read.
tierctl --socket $SOCK status > $D/status.txt
tierctl --socket $SOCK status --json > $D/status.json
tierctl --socket $SOCK metrics > $D/metrics.txt
T1_MS=$(awk '{ printf "%d", $1 * 1000 }' /proc/uptime)
OWN=$(ticks $TPID)
KD=$(( $(kdamond_ticks) - K0 ))
WALL_MS=$((T1_MS - T0_MS))
USED_BP=$(( (OWN + KD) * 1000 * 10000 / HZ / WALL_MS ))
show status $D/status.txt
info "over ${WALL_MS}ms: tierd $((OWN * 1000 / HZ))ms, kdamond $((KD * 1000 / HZ))ms of CPU:" \
     "$((USED_BP / 100)).$(printf %02d $((USED_BP % 100)))% of one CPU against a budget of $BUDGET;" \
     "tierd's own figure $(jq .cpu.used_total_bp $D/status.json) bp over $(jq .cpu.wall_us $D/status.json)us," \
     "slowdown $(jq .cpu.slowdown_permille $D/status.json)/1000, DAMON sample scale $(jq .cpu.damon_sample_scale $D/status.json)," \
     "$(jq .round $D/status.json) rounds"

BUDGET_BP=$(echo "$BUDGET" | awk -F% '{ printf "%d", $1 * 100 }')
if [ "$BUDGET" = off ]; then BUDGET_BP=1000; fi  # the negative control is held to the 10% it does not have
check "tierd + kdamond CPU within 1.2 x the budget ($USED_BP bp against $BUDGET_BP)" \
    test "$USED_BP" -le $((BUDGET_BP * 12 / 10))
if [ "$BUDGET" != off ]; then
    check "status: the budget and tierd's own count of the spend" \
        jq_true ".cpu.budget_bp == $BUDGET_BP and .cpu.tierd_us > 0 and .cpu.wall_us > 0" $D/status.json
    if [ "$BACKEND" = damon ]; then
        check "status: the kdamond's CPU is counted" jq_true '.cpu.kdamond_counted and .cpu.kdamond_us > 0' $D/status.json
    fi
    # tierd counts up to its last round's end, so never more than the kernel reports (10 ms: one tick).
    check "status: tierd's own count is no more than the kernel's" \
        test "$(jq .cpu.tierd_us $D/status.json)" -le $((OWN * 1000000 / HZ + 10000))
    check "status: the budget sets the pace" jq_true '.cpu.limiting' $D/status.json
    check "status text says so" grep -q "the budget, not the workload, sets the pace" $D/status.txt
    check "metrics: spend and budget" grep -q "^tierd_cpu_budget_ratio 0.1000" $D/metrics.txt
fi
check "rounds go on under the budget" jq_true '.round >= 4' $D/status.json
HOT_PCT=$(query_pct $START-$HOT_END 0 $HOT_PAGES)
info "hot part on node 0: $HOT_PCT%"
check "at least 90% of the hot part on node 0 ($HOT_PCT%)" test "$HOT_PCT" -ge 90

finish_placement $D
