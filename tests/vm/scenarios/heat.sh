# heat: tierd's access tracking on a real kernel. A 256 MiB workload whose first quarter is read
# continuously and the rest never after first touch; within 3 rounds tierd must rate at least 75% of the
# hot quarter hot and at least 75% of the rest cold. BACKEND (page_idle or damon) comes from run-vm --env;
# with damon, DAMON_RESULTS (tried_regions or tracepoint, default auto) picks how DAMON's regions are read, and
# with tracepoint the passes must have gone through it.
. /mnt/share/scenarios/lib.sh

D=/tmp/tierd-heat
SOCK=/tmp/tierd.sock
BACKEND=${BACKEND:-auto}
DAMON_RESULTS=${DAMON_RESULTS:-auto}
mkdir -p $D/run

# Under TCG the accessed bits of a process alone on its vCPU are not refreshed; a busy loop on the same
# vCPU (its context switches flush QEMU's TLB) makes them exact.
start_hot_workload $D 256 64

cat > $D/tierd.conf <<EOC
[daemon]
log_level = debug

[scan]
# Under TCG CPU work costs 10-50 times what it does on hardware: the budget is cpu-budget.sh's subject.
cpu_budget = off
backend = $BACKEND
passes = 3
pass_interval = 500ms
damon_results = $DAMON_RESULTS

[policy]
# The scenario measures classification at a fixed interval; tuning is place-*'s business.
pass_interval_auto = no

[targets]
pid = $WPID
EOC

start_tierd_checked $D $SOCK "$BACKEND"

# Round 1 starts at start-up; three full rounds of 3 x 500ms take ~5 s, far more under TCG.
check "three rounds completed" wait_for 180 round_at_least 3

tierctl --socket $SOCK pages $WPID --range $START-$HOT_END --json > $D/hot.json
tierctl --socket $SOCK pages $WPID --range $HOT_END-$END --json > $D/cold.json
tierctl --socket $SOCK pages $WPID > $D/pages.txt
tierctl --socket $SOCK status > $D/status.txt
show pages $D/pages.txt
show status $D/status.txt

HOT=$(jq '.range.class_bytes.hot' $D/hot.json)
COLD=$(jq '.range.class_bytes.cold' $D/cold.json)
HOT_PCT=$((HOT * 100 / (64 * 1024 * 1024)))
COLD_PCT=$((COLD * 100 / (192 * 1024 * 1024)))
info "hot quarter: $HOT bytes hot ($HOT_PCT%); rest: $COLD bytes cold ($COLD_PCT%)"
check "at least 75% of the hot quarter rated hot ($HOT_PCT%)" test "$HOT_PCT" -ge 75
check "at least 75% of the rest rated cold ($COLD_PCT%)" test "$COLD_PCT" -ge 75
check "status reports hot bytes in a tier" jq_true '[.tiers[].hot_bytes] | add > 0' "$(tierctl --socket $SOCK status --json > $D/status.json; echo $D/status.json)"
if [ "$BACKEND" = damon ]; then
    info "DAMON results: $(jq -c '.damon_results, .bpf.damon_results' $D/status.json)"
    case "$DAMON_RESULTS" in
    tracepoint)
        check "the damon_results BPF feature is active" jq_true '.bpf.damon_results.active' $D/status.json
        check "the last pass read DAMON through the tracepoint" jq_true '.damon_results.last_path == "tracepoint"' $D/status.json
        # Only a pass right after a (re)start or commit may lack a whole window (the first window has none).
        check "the passes went through the tracepoint" jq_true \
            '.damon_results.passes_tracepoint >= 6 and .damon_results.fallbacks <= 3' $D/status.json
        ;;
    tried_regions)
        check "DAMON results through tried regions only" jq_true \
            '.damon_results.passes_tracepoint == 0 and .damon_results.passes_tried_regions >= 6 and (.bpf.damon_results.active | not)' $D/status.json
        ;;
    esac
fi

kill -TERM $TPID; wait $TPID
check_eq "tierd exits 0 on SIGTERM" 0 $?
if [ "$BACKEND" = damon ]; then
    check_eq "tierd turned its kdamond off and removed it" 0 "$(cat /sys/kernel/mm/damon/admin/kdamonds/nr_kdamonds)"
fi
kill $WPID $BUSY 2>/dev/null
if [ $NFAIL -ne 0 ]; then show tierd $D/tierd.log; fi
cp $D/*.json $D/*.txt $D/tierd.log $OUT/ 2>/dev/null
finish
