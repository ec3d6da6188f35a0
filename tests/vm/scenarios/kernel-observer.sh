# kernel-observer: tierd's view of the kernel's own migrations (issue #7), on a kernel with BTF.
#   1. tierd promotes the hot quarter of a 256 MiB workload first touched on node 1; the BPF observer must count
#      tierd's own moves (class tierd, reason syscall_or_cpuset) within 1% of tierd's own page counters.
#   2. Reclaim demotion on (demotion_enabled), node 0 under pressure from a filler bound to it: the observer
#      counts demotions and status reports them.
#   3. A fight: NUMA balancing in tiering mode (numa_balancing = 2, promotion rate limit 1 MB/s so that tierd
#      does the promoting), a second workload whose hot part sits on node 1, node 0 full, and a job bound to
#      node 0 that comes and goes (128 MiB, every couple of seconds): each time it comes the kernel demotes to
#      make room, each time it goes tierd promotes into the room; tierd must detect it and report it (log,
#      status, metrics). The job is what makes the fight certain: tierd never promotes into the free memory
#      kswapd keeps (watermarks, boost, lowmem reserve), so with node 0 merely full the two sides only meet
#      when kswapd happens to overshoot, and a run could end without a fight.
# BACKEND comes from run-vm --env (damon on Debian's kernel).
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-kobs
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
mkdir -p $D/run $D/w2

st() { tierctl --socket $SOCK status --json; }
stq() { st | jq "$@"; }

start_hot_workload $D 256 64 --first-touch-node 1
W1=$WPID; BUSY1=$BUSY

place_conf_head "$BACKEND" > $D/tierd.conf
cat >> $D/tierd.conf <<EOC
# Promote whenever node 0 has anything free and never demote to make room: the kernel is the one that
# demotes here, which is the point of part 3.
fast_free_min = 0
fast_free_target = 0

[migrate]
promote_rate = 32M
demote_rate = 32M

[targets]
comm = workload-anon
EOC

start_tierd_checked $D $SOCK "$BACKEND"
check "json: BPF migration observer active" jq_true '.bpf.migrations.active and .kernel_migrations.source == "bpf"' $D/status0.json
info "observer: $(jq -c '.bpf' $D/status0.json)"
info "reason names from $(jq -r .kernel_migrations.reason_names_source $D/status0.json)"

# --- 1. tierd's own moves ---
query_pct() {
    local n
    n=$(tierd-move --pid $W1 --query --range "$1" | sed -n "s/.* node$2=\([0-9]*\).*/\1/p")
    echo $(( ${n:-0} * 100 / $3 ))
}
hot_promoted() { [ "$(query_pct $START-$HOT_END 0 $((64 * 256)))" -ge 90 ]; }
check "hot part of workload 1 promoted within 240s" wait_for 240 hot_promoted

# The observer samples at round ends, tierd counts as it moves: compare once a round has passed with no move.
settled() {
    local a b
    a=$(st) || return 1
    sleep 3.2
    b=$(st) || return 1
    [ "$(echo "$a" | jq '.promoted_pages + .demoted_pages')" = "$(echo "$b" | jq '.promoted_pages + .demoted_pages')" ] &&
        [ "$(echo "$b" | jq .migrate.active)" = false ] &&
        [ "$(echo "$b" | jq .kernel_migrations.rounds)" -gt "$(echo "$a" | jq .kernel_migrations.rounds)" ]
}
# Under load tierd may go on moving a trickle for longer than that wait; the counts are then compared at the first
# status whose last round end followed the last move (a miscounting observer never gets within 1%).
counts_agree() {
        st > $D/status1.json || return 1
        local own seen
        own=$(jq '.promoted_pages + .demoted_pages' $D/status1.json)
        seen=$(jq '.kernel_migrations.pages.tierd' $D/status1.json)
        [ $(( (seen > own ? seen - own : own - seen) * 100 )) -le "$own" ]
}
if wait_for 120 settled; then
        st > $D/status1.json
else
        wait_for 120 counts_agree || true
fi
OWN=$(jq '.promoted_pages + .demoted_pages' $D/status1.json)
SEEN=$(jq '.kernel_migrations.pages.tierd' $D/status1.json)
SYSCALL=$(jq '.kernel_migrations.reason_pages.syscall_or_cpuset // 0' $D/status1.json)
info "tierd's counters: $OWN pages moved; observer: class tierd $SEEN pages, reason syscall_or_cpuset $SYSCALL pages"
info "kernel classes: $(jq -c .kernel_migrations.pages $D/status1.json)"
check "tierd moved pages" test "$OWN" -gt 0
DIFF=$(( SEEN > OWN ? SEEN - OWN : OWN - SEEN ))
check "observer counts tierd's moves within 1% ($SEEN vs $OWN)" test $((DIFF * 100)) -le "$OWN"
check "syscall_or_cpuset covers tierd's moves ($SYSCALL >= $SEEN)" test "$SYSCALL" -ge "$SEEN"

# --- 2. demotion under memory pressure on node 0 ---
DEM0=$(jq .kernel_migrations.pages.demotion $D/status1.json)
VM0=$(awk '/^pgdemote_(kswapd|direct|khugepaged|proactive) /{s += $2} END {print s + 0}' /proc/vmstat)
echo 1 > /sys/kernel/mm/numa/demotion_enabled
info "demotion_enabled = $(cat /sys/kernel/mm/numa/demotion_enabled)"
# Under another name, so that it is no target: only the kernel may move its pages.
cp "$(command -v workload-anon)" /tmp/filler
/tmp/filler --mib 900 --node 0 > $D/filler.out 2>&1 &
FILLER=$!
wait_for 120 grep -q '^WORKLOAD pid=' $D/filler.out || info "filler did not report (it may still be filling)"
demoted() { [ "$(stq .kernel_migrations.pages.demotion)" -gt "$DEM0" ]; }
check "observer counts kernel demotions within 60s" wait_for 60 demoted
sleep 4
st > $D/status2.json
tierctl --socket $SOCK status > $D/status2.txt
VM1=$(awk '/^pgdemote_(kswapd|direct|khugepaged|proactive) /{s += $2} END {print s + 0}' /proc/vmstat)
DEM=$(( $(jq .kernel_migrations.pages.demotion $D/status2.json) - DEM0 ))
info "kernel demotions: observer $DEM pages, /proc/vmstat pgdemote_* grew by $((VM1 - VM0)) pages"
check "status text reports kernel demotions" grep -q "Kernel moves: from bpf (tracepoint): .*demotion [1-9]" $D/status2.txt
show status2 $D/status2.txt

# --- 3. a fight ---
echo 2 > /proc/sys/kernel/numa_balancing
[ -w /proc/sys/kernel/numa_balancing_promote_rate_limit_MBps ] && echo 1 > /proc/sys/kernel/numa_balancing_promote_rate_limit_MBps
info "numa_balancing = $(cat /proc/sys/kernel/numa_balancing)," \
     "promote rate limit $(cat /proc/sys/kernel/numa_balancing_promote_rate_limit_MBps 2>/dev/null) MB/s"
BUSY2=$(start_busy_loop 1)
workload-anon --mib 384 --hot-mib 384 --cpu 1 --busy --first-touch-node 1 > $D/w2/workload.out 2>&1 &
W2=$!
# The job that comes and goes: under its own name, so that it is no target.
cp "$(command -v workload-anon)" /tmp/node0-job
node0_job_loop() {
    local job i
    while :; do
        /tmp/node0-job --mib 128 --node 0 > $D/node0-job.out 2>&1 &
        job=$!
        for i in $(seq 100); do grep -q '^WORKLOAD pid=' $D/node0-job.out && break; sleep 0.1; done
        kill $job 2>/dev/null; wait $job 2>/dev/null
        sleep 1
    done
}
node0_job_loop &
JOBLOOP=$!
fighting() { [ "$(stq '.kernel_migrations.fights.demotion.fights + .kernel_migrations.fights.promotion.fights')" -ge 1 ]; }
if wait_for 240 fighting; then pass "fight with the kernel detected"; else fail "fight with the kernel detected"; fi
kill $JOBLOOP 2>/dev/null; wait $JOBLOOP 2>/dev/null; pkill -x node0-job
st > $D/status3.json
tierctl --socket $SOCK status > $D/status3.txt
tierctl --socket $SOCK metrics > $D/metrics3.txt
show status3 $D/status3.txt
info "fights: $(jq -c '.kernel_migrations.fights | map_values({fights, rounds, kernel_pages, tierd_pages})' $D/status3.json)"
info "kernel classes: $(jq -c .kernel_migrations.pages $D/status3.json); tierd promoted $(jq .promoted_pages $D/status3.json) demoted $(jq .demoted_pages $D/status3.json) pages"
check "the fight is logged with its remedy" grep -q "The kernel .* pages while tierd .* them: .*Remedies: .*demotion_enabled" $D/tierd.log
check "the fight is logged once" test "$(grep -c 'pages cross the tiers twice' $D/tierd.log)" -le 2
check "status text reports the fight" grep -q "fight with the kernel" $D/status3.txt
check "metrics count the fight" grep -Eq '^tierd_kernel_fights_total\{kind="(demotion|promotion)"\} [1-9]' $D/metrics3.txt

kill -TERM $TPID; wait $TPID
check_eq "tierd exits 0 on SIGTERM" 0 $?
kill $W1 $W2 $BUSY1 $BUSY2 $FILLER 2>/dev/null
grep -E "Kernel|fight|BPF|Process events" $D/tierd.log | head -20 | sed 's/^/  log: /'
if [ $NFAIL -ne 0 ]; then show tierd $D/tierd.log | tail -80; fi
cp $D/*.json $D/*.txt $D/tierd.log $OUT/ 2>/dev/null
finish
