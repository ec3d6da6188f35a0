# bench-tier: one run of the placement benchmark (docs/BENCHMARKS.md, driven by tools/bench.sh): tierbench under
# one contender on a two-node guest whose fast node (node 0) leaves CAP_MIB + RESERVE_MIB free to the workload.
#
# Order: node 0's capacity is set, the workload fills its memory by first touch and waits, the contender starts,
# then the measured run (DURATION seconds).
#
# Environment (run-vm --env):
#   CONTENDER     baseline | tierd | damon-schemes | numa-tiering
#   BACKEND       tierd's [scan] backend (damon or page_idle), for CONTENDER=tierd
#   CPU_BUDGET    tierd's [scan] cpu_budget when set (tools/bench.sh passes its TIERD_CPU_BUDGET); tierd's default otherwise
#   EXCHANGE_FEEDBACK  tierd's [policy] exchange_feedback when set (tools/bench.sh passes its TIERD_EXCHANGE_FEEDBACK)
#   PATTERN, WSS_MIB, HOT_MIB, CAP_MIB, DURATION, SHIFT1, SHIFT2, ZIGZAG, THP (0/1), THREADS: tierbench's options
#   FIRST_TOUCH_NODE  the node the workload's memory is first touched on (tierbench --first-touch-node); unset:
#                 the kernel's choice, which fills node 0 first (the hot set, at the buffer's end, spills to node 1)
#   RESERVE_MIB   free memory on node 0 beyond CAP_MIB: what user allocations cannot have anyway (ZONE_DMA behind
#                 lowmem_reserve, about 15 MiB; the watermarks) plus tierbench's heap, so that a first touch puts
#                 about CAP_MIB of the buffer on node 0 (24 MiB: measured 23.5 MiB in a 6.12 guest)
#
# The capacity of node 0: the guest is booted with a small node 0 (run-vm --mem0); what is free after boot beyond
# CAP_MIB + RESERVE_MIB is taken by 2 MiB hugetlb pages reserved on node 0 and never used. Free hugetlb pages are
# not on any LRU list, so no contender can move or reclaim them: to every contender they are memory some other
# tenant holds. Every contender sees the same node sizes, the same free memory and the same workload; the
# workload's vCPU has a busy loop pinned beside it (start_busy_loop, see lib.sh: under TCG a workload alone on its
# vCPU looks idle to accessed-bit scanning).
#
# Output on the share (BUILD/vm-run/NAME/share/out): samples.csv (one line per sample), summary.txt (one line of
# key=value pairs: tierbench's summary plus the contender's own counters), and the contender's status files.
. /mnt/share/scenarios/lib.sh

D=/tmp/bench
SOCK=/tmp/tierd.sock
CONTENDER=${CONTENDER:-baseline}
BACKEND=${BACKEND:-auto}
PATTERN=${PATTERN:-hotset}
WSS_MIB=${WSS_MIB:-256}
HOT_MIB=${HOT_MIB:-32}
CAP_MIB=${CAP_MIB:-128}
RESERVE_MIB=${RESERVE_MIB:-24}
DURATION=${DURATION:-90}
ZIGZAG=${ZIGZAG:-20}
THREADS=${THREADS:-1}
THP=${THP:-0}
mkdir -p $D/run

NODE0=/sys/devices/system/node/node0
HP0=$NODE0/hugepages/hugepages-2048kB/nr_hugepages
DAMON=/sys/kernel/mm/damon/admin

node_total_kib() { sed -n 's/^Node [0-9]* MemTotal: *\([0-9]*\) kB/\1/p' /sys/devices/system/node/node$1/meminfo; }

info "kernel $(uname -r), contender $CONTENDER${BACKEND:+ (backend $BACKEND)}, pattern $PATTERN," \
     "WSS $WSS_MIB MiB, hot $HOT_MIB MiB, C $CAP_MIB MiB (+ $RESERVE_MIB MiB reserve), ${DURATION}s"
info "numa_balancing=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null)," \
     "memory tiers: $(memory_tiers | tr '\n' ' ')"

# ---------------------------------------------------------------- contenders
# DAMON's tiering schemes as the DAMON documentation and damo's memory tiering example (scripts/mem_tier.sh)
# describe them, minus what Linux 6.12 lacks: one kdamond per node with the paddr operations over that node's
# physical range; on node 0 migrate_cold to node 1 for regions with no access (nr_accesses 0) that are not young,
# on node 1 migrate_hot to node 0 for regions accessed in at least 5% of the samples that are young; each at most
# 200 MiB per second, applied every second. Not on 6.12: the quota goals that aim node 0 at 99.7% used / 0.5% free
# (node_mem_used_bp / node_mem_free_bp, 6.16) and the auto-tuned monitoring intervals (6.15); DAMON's default
# intervals are used instead (sample 5 ms, aggregation 100 ms, regions update 1 s, 10 to 1000 regions).
node_phys_range() {   # node_phys_range NODE -> "START END" (bytes) from the populated zones of /proc/zoneinfo
        awk -v n="$1" '
                /^Node/ { node = $2; sub(",", "", node); want = (node == n) }
                want && /spanned/ { spanned = $2 }
                want && /present/ { present = $2 }
                want && /start_pfn:/ { if (present > 0) { s = $2; e = $2 + spanned;
                        if (min == "" || s < min) min = s; if (e > max) max = e } }
                END { if (min != "") printf "%.0f %.0f\n", min * 4096, max * 4096 }' /proc/zoneinfo
}

damon_write() {   # damon_write VALUE FILE (DAMON's sysfs uses trylock: retry on EBUSY)
        local n=20
        while [ $n -gt 0 ]; do
                echo "$1" > "$2" 2>/dev/null && return 0
                n=$((n - 1)); sleep 0.1
        done
        echo "INFO: cannot write '$1' to $2"
        return 1
}

damon_scheme_setup() {   # damon_scheme_setup KDAMOND NODE ACTION TARGET_NID NR_MIN NR_MAX YOUNG_MATCHING
        local k=$DAMON/kdamonds/$1 c range start end s
        c=$k/contexts/0
        range=$(node_phys_range $2)
        start=${range% *}; end=${range#* }
        [ -n "$range" ] || { fail "physical range of node $2"; return 1; }
        info "kdamond $1: $3 from node $2 [$(printf 0x%x $start), $(printf 0x%x $end)) to node $4"
        damon_write 1 $k/contexts/nr_contexts || return 1
        damon_write paddr $c/operations || return 1
        damon_write 5000 $c/monitoring_attrs/intervals/sample_us
        damon_write 100000 $c/monitoring_attrs/intervals/aggr_us
        damon_write 1000000 $c/monitoring_attrs/intervals/update_us
        damon_write 10 $c/monitoring_attrs/nr_regions/min
        damon_write 1000 $c/monitoring_attrs/nr_regions/max
        damon_write 1 $c/targets/nr_targets || return 1
        damon_write 1 $c/targets/0/regions/nr_regions || return 1
        damon_write $start $c/targets/0/regions/0/start || return 1
        damon_write $end $c/targets/0/regions/0/end || return 1
        damon_write 1 $c/schemes/nr_schemes || return 1
        s=$c/schemes/0
        damon_write $3 $s/action || return 1
        damon_write $4 $s/target_nid || return 1
        damon_write 1000000 $s/apply_interval_us
        # every bound explicit: the defaults of the max files are 0
        damon_write 4096 $s/access_pattern/sz/min
        damon_write 18446744073709551615 $s/access_pattern/sz/max
        damon_write $5 $s/access_pattern/nr_accesses/min
        damon_write $6 $s/access_pattern/nr_accesses/max
        damon_write 0 $s/access_pattern/age/min
        damon_write 4294967295 $s/access_pattern/age/max
        damon_write $((200 * 1024 * 1024)) $s/quotas/bytes
        damon_write 1000 $s/quotas/reset_interval_ms
        # 6.12 filters exclude what matches: "young, matching Y" rejects young pages (damo's "reject young"),
        # "young, matching N" rejects pages that are not young (damo's "allow young")
        if damon_write 1 $s/filters/nr_filters; then
                damon_write young $s/filters/0/type && damon_write $7 $s/filters/0/matching ||
                        info "young filter unavailable on this kernel; scheme runs without it"
        fi
}

damon_schemes_start() {
        [ -d $DAMON ] || { fail "DAMON sysfs present"; return 1; }
        [ "$(cat $DAMON/kdamonds/nr_kdamonds)" = 0 ] || { fail "no kdamond exists yet"; return 1; }
        damon_write 2 $DAMON/kdamonds/nr_kdamonds || return 1
        # nr_accesses is counted in samples per aggregation: 100 ms / 5 ms = 20, so 5% is 1 sample
        damon_scheme_setup 0 0 migrate_cold 1 0 0 Y || { fail "kdamond 0 (migrate_cold) set up"; return 1; }
        damon_scheme_setup 1 1 migrate_hot 0 1 20 N || { fail "kdamond 1 (migrate_hot) set up"; return 1; }
        damon_write on $DAMON/kdamonds/0/state && damon_write on $DAMON/kdamonds/1/state
        check_eq "DAMON tiering kdamonds running" "on on" \
                "$(cat $DAMON/kdamonds/0/state) $(cat $DAMON/kdamonds/1/state)"
}

damon_schemes_stats() {   # appends the schemes' applied bytes to the summary line
        local k out=""
        for k in 0 1; do
                damon_write update_schemes_stats $DAMON/kdamonds/$k/state
                out="$out damon${k}_sz_tried=$(cat $DAMON/kdamonds/$k/contexts/0/schemes/0/stats/sz_tried)"
                out="$out damon${k}_sz_applied=$(cat $DAMON/kdamonds/$k/contexts/0/schemes/0/stats/sz_applied)"
                out="$out damon${k}_qt_exceeds=$(cat $DAMON/kdamonds/$k/contexts/0/schemes/0/stats/qt_exceeds)"
        done
        echo "$out"
}

# ---------------------------------------------------------------- node 0 capacity
WANT_KIB=$(( (CAP_MIB + RESERVE_MIB) * 1024 ))
FREE0=$(node_free_kib 0)
info "node 0: MemTotal $(( $(node_total_kib 0) / 1024 )) MiB, free after boot $((FREE0 / 1024)) MiB"
if [ "$FREE0" -lt "$WANT_KIB" ]; then
        fail "node 0 has $((FREE0 / 1024)) MiB free, less than C + reserve = $((WANT_KIB / 1024)) MiB (raise --mem0)"
        finish
fi
# Reserve the surplus in 2 MiB hugetlb pages; the kernel's own allocations move free memory a little while it
# does, so adjust twice.
for i in 1 2 3; do
        FREE0=$(node_free_kib 0)
        HP=$(cat $HP0)
        NEW=$(( HP + (FREE0 - WANT_KIB) / 2048 ))
        [ $NEW -lt 0 ] && NEW=0
        [ $NEW = $HP ] && break
        echo $NEW > $HP0
done
FREE0=$(node_free_kib 0)
info "node 0: $(cat $HP0) hugetlb pages reserved, $((FREE0 / 1024)) MiB free for the workload" \
     "(C = $CAP_MIB MiB + $RESERVE_MIB MiB reserve)"
check "node 0 free memory within 4 MiB of C + reserve" \
        test $(( FREE0 > WANT_KIB ? FREE0 - WANT_KIB : WANT_KIB - FREE0 )) -le 4096
echo "$(cat $NODE0/meminfo)" > $OUT/node0-meminfo-start.txt

# ---------------------------------------------------------------- the workload
set -- --pattern $PATTERN --mib $WSS_MIB --hot-mib $HOT_MIB --fast-capacity-mib $CAP_MIB --duration-sec $DURATION \
       --zigzag-sec $ZIGZAG --threads $THREADS --cpu 0 --out $D/samples.csv --summary $D/summary.txt
[ -n "${SHIFT1:-}" ] && set -- "$@" --shift-sec $SHIFT1
[ -n "${SHIFT2:-}" ] && set -- "$@" --shift2-sec $SHIFT2
[ -n "${FIRST_TOUCH_NODE:-}" ] && set -- "$@" --first-touch-node $FIRST_TOUCH_NODE
[ "$THP" = 1 ] && set -- "$@" --thp
# The workload first touches its memory (node 0 fills first, the rest spills to node 1), then waits; the contender
# starts, and once it is up the measured run begins (t = 0), so every contender starts from the same placement.
BUSY=$(start_busy_loop 0)
tierbench "$@" --start-file $D/go > $D/tierbench.out 2>&1 &
WPID=$!
if ! wait_for $((SCENARIO_TIMEOUT / 2)) grep -q '^TIERBENCH ready' $D/tierbench.out; then
        fail "tierbench did not get ready"; show tierbench $D/tierbench.out; finish
fi
info "node 0 after the first touch: $(( $(node_free_kib 0) / 1024 )) MiB free"

case "$CONTENDER" in
        baseline) ;;
        tierd)
                # tierd's defaults except the target selection (and the control socket path of the guest)
                cat > $D/tierd.conf <<EOC
[scan]
backend = $BACKEND

[targets]
comm = tierbench
EOC
                # tools/bench.sh passes TIERD_CPU_BUDGET from its environment, to measure the budget's trade.
                [ -n "${CPU_BUDGET:-}" ] && printf '\n[scan]\ncpu_budget = %s\n' "$CPU_BUDGET" >> $D/tierd.conf
                # ... and TIERD_EXCHANGE_FEEDBACK, to measure the payoff ledger's verdicts against the fixed rules.
                [ -n "${EXCHANGE_FEEDBACK:-}" ] &&
                        printf '\n[policy]\nexchange_feedback = %s\n' "$EXCHANGE_FEEDBACK" >> $D/tierd.conf
                # Diagnosis only (tools/bench.sh passes its TIERD_LOG_LEVEL): the plan of every round in tierd.log.
                [ -n "${TIERD_LOG_LEVEL:-}" ] && printf '\n[daemon]\nlog_level = %s\n' "$TIERD_LOG_LEVEL" >> $D/tierd.conf
                start_tierd_checked $D $SOCK "$BACKEND"
                ;;
        damon-schemes)
                damon_schemes_start || finish
                ;;
        numa-tiering)
                # NUMA balancing in tiering mode with reclaim demotion; every other knob at its default (hot
                # threshold 1 s, promotion rate limit 65536 MB/s)
                echo 2 > /proc/sys/kernel/numa_balancing
                echo true > /sys/kernel/mm/numa/demotion_enabled
                check_eq "numa_balancing in tiering mode" 2 "$(cat /proc/sys/kernel/numa_balancing)"
                check_eq "demotion enabled" true "$(cat /sys/kernel/mm/numa/demotion_enabled)"
                ;;
        *) fail "unknown contender '$CONTENDER'"; finish ;;
esac


# How long an admin's `tierctl status` waits during the run (issue 12: within 100 ms during a round): every 20 s,
# the wall time of one status request, and beside it of `tierctl --version`, which starts the same binary without
# asking tierd (the floor: exec and start-up under TCG). Hundredths of a second, from /proc/uptime. Not more often:
# sampled every 5 s (two process starts of ~0.5 s each in the guest), tierd-damon runs showed 5.4-7.3 s of the
# workload's system time, counted as tiering CPU, against 0.5-1.1 s without the sampler (2.8 s in one run at 20 s).
uptime_cs() { local u f; read -r u _ < /proc/uptime; f=${u#*.}; f=${f#0}; echo $(( ${u%.*} * 100 + f )); }
status_latency_sampler() {
        local a b c
        while :; do
                a=$(uptime_cs); tierctl --socket $SOCK status --json > /dev/null 2>&1
                b=$(uptime_cs); tierctl --version > /dev/null 2>&1; c=$(uptime_cs)
                echo "$(( (b - a) * 10 )) $(( (c - b) * 10 ))" >> $D/status-ms.txt
                sleep 20
        done
}
SAMPLER=
if [ "$CONTENDER" = tierd ]; then
        status_latency_sampler &
        SAMPLER=$!
fi

touch $D/go
T0=$(uptime_s)
wait $WPID
RC=$?
[ -n "$SAMPLER" ] && { kill $SAMPLER 2>/dev/null; wait $SAMPLER 2>/dev/null; }
info "tierbench exit $RC after $(( $(uptime_s) - T0 ))s"
show tierbench $D/tierbench.out
check "tierbench ran to the end (exit 0: data intact)" test $RC = 0
check "tierbench data checksum" grep -q 'checksum=ok' $D/summary.txt
kill $BUSY 2>/dev/null

EXTRA="contender=$CONTENDER backend=${BACKEND} kernel=$(uname -r) cap_mib=$CAP_MIB wss_mib=$WSS_MIB"
EXTRA="$EXTRA hot_mib=$HOT_MIB reserve_mib=$RESERVE_MIB node0_total_mib=$(( $(node_total_kib 0) / 1024 ))"
case "$CONTENDER" in
        tierd)
                tierctl --socket $SOCK status --json > $D/tierd-status.json
                tierctl --socket $SOCK status > $D/tierd-status.txt
                show status $D/tierd-status.txt
                EXTRA="$EXTRA tierd_promoted_bytes=$(jq .promoted_bytes $D/tierd-status.json)"
                EXTRA="$EXTRA tierd_demoted_bytes=$(jq .demoted_bytes $D/tierd-status.json)"
                EXTRA="$EXTRA tierd_pingpongs=$(jq '.migrate.promote.pingpongs + .migrate.demote.pingpongs' \
                        $D/tierd-status.json)"
                EXTRA="$EXTRA tierd_rounds=$(jq .round $D/tierd-status.json)"
                # The longest event loop turn of the run and what it did (a word per value in the summary).
                EXTRA="$EXTRA tierd_loop_longest_us=$(jq '.loop.longest.us // 0' $D/tierd-status.json)"
                EXTRA="$EXTRA tierd_loop_longest_in=$(jq -r '.loop.longest.in // "none"' $D/tierd-status.json | tr ' ' '_')"
                EXTRA="$EXTRA tierd_loop_slow_turns=$(jq '.loop.slow_turns // 0' $D/tierd-status.json)"
                # tierctl status during the run: requests, the longest and the median wait, and the median of the
                # floor (tierctl --version), in ms.
                if [ -s $D/status-ms.txt ]; then
                        N=$(wc -l < $D/status-ms.txt)
                        # status_col FIELD LINE: the LINE-th smallest of column FIELD
                        status_col() { cut -d' ' -f$1 $D/status-ms.txt | sort -n | sed -n "$2p"; }
                        EXTRA="$EXTRA tierd_status_requests=$N"
                        EXTRA="$EXTRA tierd_status_max_ms=$(status_col 1 $N)"
                        EXTRA="$EXTRA tierd_status_median_ms=$(status_col 1 $(( (N + 1) / 2 )))"
                        EXTRA="$EXTRA tierd_status_floor_ms=$(status_col 2 $(( (N + 1) / 2 )))"
                fi
                kill -TERM $TPID; wait $TPID
                check_eq "tierd exits 0 on SIGTERM" 0 $?
                cp $D/tierd-status.* $D/tierd.log $D/status-ms.txt $OUT/ 2>/dev/null
                ;;
        damon-schemes)
                EXTRA="$EXTRA$(damon_schemes_stats)"
                damon_write off $DAMON/kdamonds/0/state; damon_write off $DAMON/kdamonds/1/state
                ;;
        numa-tiering)
                grep -E '^(numa_|pgpromote|pgdemote|pgmigrate)' /proc/vmstat > $OUT/vmstat-numa.txt
                EXTRA="$EXTRA numa_hint_faults=$(sed -n 's/^numa_hint_faults //p' /proc/vmstat)"
                ;;
esac
echo "$(cat $D/summary.txt) $EXTRA" > $OUT/summary.txt
cp $D/samples.csv $D/tierbench.out $OUT/
info "summary: $(cat $OUT/summary.txt)"
finish
