# Helpers for scenario scripts (busybox ash inside the guest).
# Scenarios print CHECK PASS / CHECK FAIL lines; run-vm counts them.
SHARE=/mnt/share
OUT=$SHARE/out
NFAIL=0

pass() { echo "CHECK PASS: $*"; }
fail() { echo "CHECK FAIL: $*"; NFAIL=$((NFAIL + 1)); }
info() { echo "INFO: $*"; }

# check DESCRIPTION COMMAND... : PASS if the command succeeds
check() {
    local desc=$1; shift
    if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then pass "$1 ($3)"; else fail "$1: expected '$2', got '$3'"; fi
}

uptime_s() { cut -d. -f1 /proc/uptime; }

# wait_for SECONDS COMMAND... : poll every 0.2s until the command succeeds
# (deadline in wall time: under TCG a poll iteration can take a second)
wait_for() {
    local deadline=$(( $(uptime_s) + $1 )); shift
    while :; do
        "$@" 2>/dev/null && return 0
        [ "$(uptime_s)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# show a file with a prefix (for the log)
show() { sed "s|^|  $1: |" "$2"; }

# Nodes of memory tier directories, one "tierN nodelist" per line
memory_tiers() {
    local d
    for d in /sys/devices/virtual/memory_tiering/memory_tier*; do
        [ -d "$d" ] && echo "$(basename "$d") $(cat "$d/nodelist")"
    done
}

finish() {
    if [ $NFAIL -ne 0 ]; then exit 1; fi
    exit 0
}

# in_nodelist N LIST : is node N in a kernel nodelist such as "0-1,3"?
in_nodelist() {
    local n=$1 r a b
    for r in $(echo "$2" | tr ',' ' '); do
        case "$r" in
            *-*) a=${r%-*}; b=${r#*-}; [ "$n" -ge "$a" ] && [ "$n" -le "$b" ] && return 0 ;;
            *) [ "$n" = "$r" ] && return 0 ;;
        esac
    done
    return 1
}

# kernel_tier_of N : number of the kernel memory tier holding node N
kernel_tier_of() {
    memory_tiers | while read -r t l; do
        if in_nodelist "$1" "$l"; then echo "${t#memory_tier}"; break; fi
    done
}

# jq_true FILTER FILE : jq -e without printing the result
jq_true() { jq -e "$@" >/dev/null; }

# start_busy_loop CPU : start a busy-loop process pinned to CPU, print its pid.
# Under TCG a workload alone on a vCPU looks idle to accessed-bit scanning; a
# busy loop pinned to the workload's vCPU (workload-anon --cpu N) makes the
# accessed bits exact.
start_busy_loop() {
    taskset -c "$1" sh -c 'while :; do :; done' >/dev/null 2>&1 &
    echo $!
}

# start_hot_workload OUT_DIR MIB HOT_MIB [workload-anon options...]: starts workload-anon on CPU 0 (with a busy
# loop on the same vCPU, see start_busy_loop) reading its first HOT_MIB continuously, and sets WPID, BUSY,
# SUM0 (first checksum) and START, HOT_END, END (hexadecimal addresses with 0x). Finishes the scenario if the
# workload does not start.
start_hot_workload() {
    local dir=$1 mib=$2 hot=$3 line addr
    shift 3
    BUSY=$(start_busy_loop 0)
    workload-anon --mib "$mib" --hot-mib "$hot" --cpu 0 --busy "$@" > "$dir/workload.out" 2>&1 &
    WPID=$!
    if ! wait_for 60 grep -q '^WORKLOAD pid=' "$dir/workload.out"; then
        fail "workload did not start"; show workload "$dir/workload.out"; finish
    fi
    line=$(grep -m1 '^WORKLOAD pid=' "$dir/workload.out")
    addr=$(echo "$line" | sed 's/.*addr=0x\([0-9a-f]*\).*/\1/')
    SUM0=$(echo "$line" | sed 's/.*checksum=\([0-9a-f]*\).*/\1/')
    START=$(printf "0x%x" $((0x$addr)))
    HOT_END=$(printf "0x%x" $((0x$addr + hot * 1024 * 1024)))
    END=$(printf "0x%x" $((0x$addr + mib * 1024 * 1024)))
    info "workload pid $WPID, buffer $START-$END, hot part $START-$HOT_END"
}

# start_tierd_checked DIR SOCK BACKEND: starts tierd with DIR/tierd.conf on SOCK (runtime dir DIR/run, log
# DIR/tierd.log), sets TPID, finishes the scenario if the socket does not appear, saves the first status as
# DIR/status0.json and checks that BACKEND is the backend in use.
start_tierd_checked() {
    tierd --config "$1/tierd.conf" --control-socket "$2" --runtime-dir "$1/run" > "$1/tierd.log" 2>&1 &
    TPID=$!
    if ! wait_for 60 test -S "$2"; then
        fail "tierd did not start"; show tierd "$1/tierd.log"; finish
    fi
    tierctl --socket "$2" status --json > "$1/status0.json"
    check_eq "backend in use" "$3" "$(jq -r .backend "$1/status0.json")"
}

# query_pct RANGE NODE PAGES: percentage of the PAGES pages of WPID's RANGE (A-B) that are on NODE.
query_pct() {
    local n
    n=$(tierd-move --pid $WPID --query --range "$1" | sed -n "s/.* node$2=\([0-9]*\).*/\1/p")
    echo $(( ${n:-0} * 100 / $3 ))
}

# place_conf_head BACKEND: how the place-* scenarios' tierd.conf starts: debug logs, BACKEND, 3 passes of 500 ms,
# no CPU budget (under TCG CPU work costs 10-50 times what it does on hardware: the budget is cpu-budget.sh's
# subject), and a fixed pass interval; it ends inside [policy], so that the scenario's own lines can follow.
place_conf_head() {
    printf '%s\n' '[daemon]' 'log_level = debug' '' '[scan]' 'cpu_budget = off' "backend = $1" 'passes = 3' \
        'pass_interval = 500ms' '' '[policy]' 'pass_interval_auto = no'
}

# wait_more_rounds N: checks that tierd (on SOCK) completes N more rounds within 120 s.
wait_more_rounds() {
    local round
    round=$(tierctl --socket $SOCK status --json | jq .round)
    check "$1 more rounds" wait_for 120 round_at_least $((round + $1))
}
round_at_least() { [ "$(tierctl --socket $SOCK status --json | jq .round)" -ge "$1" ]; }

# node_free_kib NODE: the node's free memory in KiB.
node_free_kib() { sed -n 's/^Node [0-9]* MemFree: *\([0-9]*\) kB/\1/p' /sys/devices/system/node/node$1/meminfo; }

# wait_placed SECONDS WHAT CONDITION...: waits up to SECONDS for CONDITION (a placement goal) and passes or fails
# "WHAT within SECONDS s"; on success notes how long it took since tierd started (T0) and in which round.
wait_placed() {
    local secs=$1 what=$2
    shift 2
    if wait_for "$secs" "$@"; then
        pass "$what within ${secs}s"
        info "converged after $(( $(uptime_s) - T0 ))s (round $(tierctl --socket $SOCK status --json | jq .round))"
    else
        fail "$what within ${secs}s"
    fi
}

# finish_placement DIR: the common end of the place-* scenarios: the workload's checksum must be unchanged
# (SUM0), tierd (TPID) must exit 0 on SIGTERM; logs are shown on failure and DIR's results copied to $OUT.
finish_placement() {
    kill -USR1 $WPID
    check "workload checksum after the moves" wait_for 30 grep -q "^WORKLOAD checksum=$SUM0\$" "$1/workload.out"
    kill -TERM $TPID; wait $TPID
    check_eq "tierd exits 0 on SIGTERM" 0 $?
    kill $WPID $BUSY 2>/dev/null
    if [ $NFAIL -ne 0 ]; then show tierd "$1/tierd.log"; show workload "$1/workload.out"; fi
    cp "$1"/*.json "$1"/*.txt "$1/tierd.log" $OUT/ 2>/dev/null
    finish
}
