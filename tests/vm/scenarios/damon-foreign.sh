# damon-foreign: a kdamond that is not tierd's must survive tierd untouched. The scenario starts kdamond 0
# on another process before tierd, then runs tierd with DAMON twice: without damon_kdamond (it must refuse
# DAMON and say why) and with damon_kdamond = 1 (it must use kdamond 1 only). Afterwards kdamond 0 must
# still run with the same pid and every one of its files must be byte-for-byte unchanged.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-damon-foreign
SOCK=/tmp/tierd.sock
A=/sys/kernel/mm/damon/admin/kdamonds
mkdir -p $D/run

sleep 100000 &
OTHER=$!

# The foreign kdamond 0, set up as an admin or damo would; kdamond 1 is left off for tierd.
echo 2 > $A/nr_kdamonds
echo 1 > $A/0/contexts/nr_contexts
echo vaddr > $A/0/contexts/0/operations
echo 1 > $A/0/contexts/0/targets/nr_targets
echo $OTHER > $A/0/contexts/0/targets/0/pid_target
echo on > $A/0/state
check_eq "foreign kdamond 0 is on" on "$(cat $A/0/state)"
FOREIGN_PID=$(cat $A/0/pid)

snapshot() { # every readable file of kdamond 0, path and content
    find $A/0 -type f | sort | while read -r f; do
        printf '%s: ' "$f"; cat "$f" 2>/dev/null | tr '\n' ' '; echo
    done
}
snapshot > $D/before.txt
info "kdamond 0 (pid $FOREIGN_PID) has $(wc -l < $D/before.txt) files"

BUSY=$(start_busy_loop 0)
workload-anon --mib 64 --hot-mib 16 --cpu 0 --busy > $D/workload.out 2>&1 &
WPID=$!
wait_for 60 grep -q '^WORKLOAD pid=' $D/workload.out || { fail "workload did not start"; finish; }

run_tierd() { # extra config lines
    cat > $D/tierd.conf <<EOC
[scan]
# Under TCG CPU work costs 10-50 times what it does on hardware: the budget is cpu-budget.sh's subject.
cpu_budget = off
backend = damon
passes = 2
pass_interval = 500ms
$1

[targets]
pid = $WPID
EOC
    tierd --config $D/tierd.conf --control-socket $SOCK --runtime-dir $D/run > $D/tierd.log 2>&1 &
    TPID=$!
    wait_for 60 test -S $SOCK || { fail "tierd did not start"; show tierd $D/tierd.log; finish; }
}
# DAMON's sysfs takes its lock with trylock: a read while tierd updates its kdamond fails with EBUSY.
read_retry() {
    local v i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        v=$(cat "$1" 2>/dev/null) && { echo "$v"; return 0; }
        sleep 0.2
    done
    return 1
}

# 1. No damon_kdamond: DAMON must be refused, nothing written.
run_tierd ""
tierctl --socket $SOCK status --json > $D/status1.json
check_eq "without damon_kdamond the backend is none" none "$(jq -r .backend $D/status1.json)"
REASON=$(jq -r '.backends[] | select(.backend == "damon") | .reason' $D/status1.json)
info "damon reason: $REASON"
case "$REASON" in
    *damon_kdamond*) pass "the reason tells the admin about damon_kdamond" ;;
    *) fail "the reason does not mention damon_kdamond: $REASON" ;;
esac
kill -TERM $TPID; wait $TPID
check_eq "nr_kdamonds untouched" 2 "$(cat $A/nr_kdamonds)"

# 2. damon_kdamond = 1: tierd uses kdamond 1 and gives it back.
run_tierd "damon_kdamond = 1"
check_eq "with damon_kdamond = 1 the backend is damon" damon "$(tierctl --socket $SOCK status --json | jq -r .backend)"
check "two rounds completed on kdamond 1" wait_for 180 round_at_least 2
check_eq "kdamond 1 runs for tierd" on "$(read_retry $A/1/state)"
tierctl --socket $SOCK status > $D/status2.txt; show status $D/status2.txt
kill -TERM $TPID; wait $TPID
check_eq "tierd exits 0" 0 $?
check_eq "tierd turned kdamond 1 off" off "$(read_retry $A/1/state)"

# 3. The foreign kdamond.
check_eq "kdamond 0 still on" on "$(read_retry $A/0/state)"
check_eq "kdamond 0 has the same pid" "$FOREIGN_PID" "$(read_retry $A/0/pid)"
snapshot > $D/after.txt
if cmp -s $D/before.txt $D/after.txt; then
    pass "every file of kdamond 0 is byte-for-byte unchanged"
else
    fail "kdamond 0 files changed"; diff $D/before.txt $D/after.txt | head -20
fi
check_eq "nr_kdamonds still 2" 2 "$(cat $A/nr_kdamonds)"

echo off > $A/0/state
kill $WPID $BUSY $OTHER 2>/dev/null
if [ $NFAIL -ne 0 ]; then show tierd $D/tierd.log; fi
cp $D/* $OUT/ 2>/dev/null
finish
