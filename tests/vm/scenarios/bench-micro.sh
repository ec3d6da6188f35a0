# bench-micro: the micro benchmarks of bench/micro (issue #6), run in the two-node guest with the custom kernel
# (page_idle). Needs --bin for micro-page-idle and micro-migrate. Results go to $OUT; bench/micro/run-bench-micro
# turns them into bench/micro/RESULTS.md. CHECK lines only say whether each benchmark ran to the end: timings
# are figures, never pass/fail criteria.
# vm-min-timeout: 900
. /mnt/share/scenarios/lib.sh

D=/tmp/bench-micro
mkdir -p $D
IDLE_MIB=${BENCH_MICRO_IDLE_MIB:-128}
IDLE_ROUNDS=${BENCH_MICRO_IDLE_ROUNDS:-5}
IDLE_PASSES=${BENCH_MICRO_IDLE_PASSES:-3}
IDLE_INTERVAL_MS=${BENCH_MICRO_IDLE_INTERVAL_MS:-200}
MIG_MIB=${BENCH_MICRO_MIGRATE_MIB:-128}
MIG_REPS=${BENCH_MICRO_MIGRATE_REPS:-5}
MIG_THP=${BENCH_MICRO_MIGRATE_THP:-1}

# run_bench NAME COMMAND... : runs a benchmark into $D/NAME.txt, noting the command and its duration
run_bench() {
    local name=$1 t0 rc
    shift
    echo "$*" > $D/$name.cmd
    t0=$(uptime_s)
    "$@" > $D/$name.txt 2>&1
    rc=$?
    echo "$(( $(uptime_s) - t0 ))" > $D/$name.seconds
    check_eq "$name ran ($(cat $D/$name.seconds) s)" 0 $rc
    show $name $D/$name.txt
}

{
    echo "kernel: $(uname -r)"
    echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
    for n in /sys/devices/system/node/node[0-9]*; do
        echo "$(basename $n): cpus=$(cat $n/cpulist) $(grep MemTotal $n/meminfo | sed 's/.*MemTotal: *//')"
    done
    echo "thp: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
    echo "numa_balancing: $(cat /proc/sys/kernel/numa_balancing 2>/dev/null)"
} > $D/guest-info.txt
show guest $D/guest-info.txt

check "page_idle bitmap present" test -e /sys/kernel/mm/page_idle/bitmap

# The benchmark on CPU 0, its target on CPU 1 (the target sleeps most of the time: see micro-common.h).
run_bench micro-page-idle micro-page-idle --mib "$IDLE_MIB" --rounds "$IDLE_ROUNDS" --passes "$IDLE_PASSES" \
    --interval-ms "$IDLE_INTERVAL_MS" --cpu 0 --target-cpu 1
run_bench micro-migrate micro-migrate --mib "$MIG_MIB" --reps "$MIG_REPS" --cpu 0 --target-cpu 1
if [ "$MIG_THP" = 1 ] && grep -q '\[always\]\|\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
    run_bench micro-migrate-thp micro-migrate --thp --mib "$MIG_MIB" --reps "$MIG_REPS" --cpu 0 --target-cpu 1
else
    info "THP not available in the guest: micro-migrate --thp skipped"
fi

cp $D/* $OUT/ 2>/dev/null
finish
