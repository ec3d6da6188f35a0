#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The placement benchmark (docs/BENCHMARKS.md): every scenario under every contender, one QEMU guest per run,
# all on this machine in one go, then the results table.
#
#   tools/bench.sh [--set small|large] [--quick] [--build-dir DIR] [--no-build] [--doc FILE] [--csv FILE]
#                  [--no-doc] [--scenarios LIST] [--contenders LIST]
#
# --set small (the default): a 256 MiB workload in a guest of 384 + 1024 MiB, seven scenarios.
# --set large: where cost shows: a 1536 MiB workload (hot set 192 MiB, 1/8 of it) in a guest of 1024 + 2304 MiB
# (node 1 holds all of it), started on the slow node, started with node 0 full of its cold pages, and with the
# hot set moving twice, and (large-fill) a 640 MiB workload that fits node 0's free memory; its table (separate
# CPU columns) goes between the tierbench-large markers of docs/BENCHMARKS.md and into docs/benchmarks-large.csv.
# About 5 minutes a run, 100 minutes for all of it.
#
# Without --quick: all scenarios x all contenders (about 65 minutes on the 2-core build machine); rewrites the
# part of docs/BENCHMARKS.md between the tierbench markers and docs/benchmarks.csv.
# --quick: the hotset scenario at C:WSS 1:2 under every contender (about 11 minutes when no other guest waits for
# the machine-wide guest lock); writes its results under
# BUILD_DIR/bench/ only, unless --doc or --csv name a file.
# --scenarios / --contenders: comma-separated subsets (names as in the tables below).
# --no-build: use the binaries as they are (the meson 'bench' target has built them already).
# TIERD_CPU_BUDGET (environment): tierd's [scan] cpu_budget for this run (default: tierd's own default), to compare
# what the budget costs in placement against what it saves in CPU.
# TIERD_EXCHANGE_FEEDBACK (environment): tierd's [policy] exchange_feedback for this run (yes or no; default:
# tierd's own default), to measure the payoff ledger's verdicts against the fixed rules.
# TIERD_LOG_LEVEL (environment): tierd's [daemon] log_level, for diagnosis (debug logs every round's plan and every
# loop turn over 50 ms to BUILD_DIR/bench/SCENARIO/CONTENDER/tierd.log); figures for the tables are taken without it.
# Every run's serial log is BUILD_DIR/vm-logs/bench-SCENARIO-CONTENDER.log, its samples
# BUILD_DIR/bench/SCENARIO/CONTENDER/samples.csv.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$ROOT/build
QUICK=0 DOC="" CSV="" NO_DOC=0 ONLY_SCEN="" ONLY_CONT="" BUILD=1 SET=small
usage() { awk 'NR > 2 && !/^#/ {exit} NR > 2 {sub(/^# ?/, ""); print}' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
        case "$1" in
                --quick) QUICK=1; shift ;;
                --set) SET=$2; shift 2 ;;
                --build-dir) BUILD_DIR=$2; shift 2 ;;
                --no-build) BUILD=0; shift ;;
                --doc) DOC=$2; shift 2 ;;
                --csv) CSV=$2; shift 2 ;;
                --no-doc) NO_DOC=1; shift ;;
                --scenarios) ONLY_SCEN=$2; shift 2 ;;
                --contenders) ONLY_CONT=$2; shift 2 ;;
                -h|--help) usage ;;
                *) echo "bench.sh: unknown argument '$1'" >&2; usage ;;
        esac
done
case "$SET" in
        small) MARKER=tierbench CSV_NAME=benchmarks.csv ;;
        large) MARKER=tierbench-large CSV_NAME=benchmarks-large.csv ;;
        *) echo "bench.sh: --set is small or large, not '$SET'" >&2; exit 2 ;;
esac
if [ $QUICK = 0 ] && [ $NO_DOC = 0 ]; then
        DOC=${DOC:-$ROOT/docs/BENCHMARKS.md}
        CSV=${CSV:-$ROOT/docs/$CSV_NAME}
fi
[ $NO_DOC = 1 ] && DOC="" CSV=""

# Scenarios: NAME|ENV (space-separated VAR=VALUE for the guest scenario). The workload is 256 MiB (65536 pages of
# 4 KiB), one thread; C is the fast node's capacity the oracle gets. Hot sets are 32 MiB with 90% of the accesses.
# fill: the whole workload fits into node 0's free memory above tierd's headroom (fast_free_target, 5% of the
# node: the reserve grows by it) but is first touched on node 1 (issue 13: free fast memory beyond the headroom is
# for warm pages too).
WSS=256
SCENARIOS_ALL=(
        "hotset-1:2|PATTERN=hotset CAP_MIB=128 DURATION=90"
        "hotset-1:4|PATTERN=hotset CAP_MIB=64 DURATION=90"
        "move-1:2|PATTERN=move CAP_MIB=128 DURATION=150 SHIFT1=50 SHIFT2=100"
        "zipf-1:2|PATTERN=zipf CAP_MIB=128 DURATION=90"
        "zigzag-1:2|PATTERN=zigzag CAP_MIB=128 DURATION=90 ZIGZAG=20"
        "uniform-1:2|PATTERN=uniform CAP_MIB=128 DURATION=60"
        "fill-1:1|PATTERN=hotset CAP_MIB=256 DURATION=90 FIRST_TOUCH_NODE=1 RESERVE_MIB=44"
)
SCENARIOS_QUICK=("${SCENARIOS_ALL[0]}")
# Node sizes: node 0 (CPUs, fast) small enough that its size means something to every contender's percentages,
# large enough for the kernel and C + reserve on both kernels; the rest of it is held by unused hugetlb pages.
# The reserve is what user allocations cannot get from node 0 anyway (ZONE_DMA behind lowmem_reserve, the
# watermarks): with it, a first touch puts about C of the buffer on node 0.
MEM0=384 MEM1=1024 RESERVE=24
# Guest time beyond DURATION: boot, the first touch, the contender's start, the collection.
SLACK=240
if [ "$SET" = large ]; then
        # Node 1 holds the whole workload; C = 512 MiB (1:3) is the hot set and 320 MiB of room beside it.
        # large-fill: a 640 MiB workload that fits node 0's free memory, first touched on node 1 (issue 13).
        WSS=1536 MEM0=1024 MEM1=2304 SLACK=600
        SCENARIOS_ALL=(
                "large-slow|PATTERN=hotset HOT_MIB=192 CAP_MIB=512 DURATION=240 FIRST_TOUCH_NODE=1"
                "large-coldfast|PATTERN=hotset HOT_MIB=192 CAP_MIB=512 DURATION=240"
                "large-move|PATTERN=move HOT_MIB=192 CAP_MIB=512 DURATION=300 SHIFT1=100 SHIFT2=200"
                "large-fill|PATTERN=hotset HOT_MIB=192 WSS_MIB=640 CAP_MIB=640 DURATION=240 FIRST_TOUCH_NODE=1 RESERVE_MIB=76"
        )
        SCENARIOS_QUICK=("${SCENARIOS_ALL[0]}")
fi
# Contenders: NAME|KERNEL|NUMA_BALANCING at boot|ENV (the scenario turns NUMA balancing on for numa-tiering only
# once the workload has placed its memory, like every other contender starts then)
CONTENDERS=(
        "baseline|debian|0|CONTENDER=baseline"
        "tierd-damon|debian|0|CONTENDER=tierd BACKEND=damon"
        "tierd-page_idle|custom|0|CONTENDER=tierd BACKEND=page_idle"
        "damon-schemes|debian|0|CONTENDER=damon-schemes"
        "numa-tiering|debian|0|CONTENDER=numa-tiering"
)
if [ $QUICK = 1 ]; then SCENARIOS=("${SCENARIOS_QUICK[@]}"); else SCENARIOS=("${SCENARIOS_ALL[@]}"); fi
in_list() { [ -z "$2" ] && return 0; case ",$2," in *",$1,"*) return 0 ;; esac; return 1; }

cd "$ROOT" || exit 2
if [ $BUILD = 1 ]; then
        if [ ! -d "$BUILD_DIR/meson-private" ]; then
                meson setup "$BUILD_DIR" >/dev/null || { echo "bench.sh: meson setup failed" >&2; exit 2; }
        fi
        meson compile -C "$BUILD_DIR" tierd tierctl tierbench >/dev/null || { echo "bench.sh: build failed" >&2; exit 2; }
fi
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
BINS=(--bin "$BUILD_DIR/tierd" --bin "$BUILD_DIR/tierctl" --bin "$BUILD_DIR/bench/tierbench/tierbench")
RES=$BUILD_DIR/bench
mkdir -p "$RES"
CMDLINE="tools/bench.sh$([ $SET = large ] && echo " --set large")$([ $QUICK = 1 ] && echo " --quick")"
[ -n "$ONLY_SCEN" ] && CMDLINE="$CMDLINE --scenarios $ONLY_SCEN"
[ -n "$ONLY_CONT" ] && CMDLINE="$CMDLINE --contenders $ONLY_CONT"

START=$(date +%s)
echo "bench.sh: ${#SCENARIOS[@]} scenario(s) x ${#CONTENDERS[@]} contender(s); results in $RES"
for s in "${SCENARIOS[@]}"; do
        sname=${s%%|*} senv=${s#*|}
        in_list "$sname" "$ONLY_SCEN" || continue
        dur=$(echo "$senv" | sed -n 's/.*DURATION=\([0-9]*\).*/\1/p')
        for c in "${CONTENDERS[@]}"; do
                IFS='|' read -r cname kernel nb cenv <<< "$c"
                in_list "$cname" "$ONLY_CONT" || continue
                tag=bench-${sname/:/-}-$cname
                dir=$RES/$sname/$cname
                rm -rf "$dir"; mkdir -p "$dir"
                envs=()
                # A scenario may size its own workload and reserve (WSS_MIB, RESERVE_MIB in its env); the set's
                # sizes are the default.
                wss_env=WSS_MIB=$WSS reserve_env=RESERVE_MIB=$RESERVE
                case " $senv " in *" WSS_MIB="*) wss_env= ;; esac
                case " $senv " in *" RESERVE_MIB="*) reserve_env= ;; esac
                for e in $senv $cenv $wss_env $reserve_env; do envs+=(--env "$e"); done
                case "$cenv" in
                        *CONTENDER=tierd*)
                                [ -z "${TIERD_CPU_BUDGET:-}" ] || envs+=(--env "CPU_BUDGET=$TIERD_CPU_BUDGET")
                                [ -z "${TIERD_EXCHANGE_FEEDBACK:-}" ] ||
                                        envs+=(--env "EXCHANGE_FEEDBACK=$TIERD_EXCHANGE_FEEDBACK")
                                [ -z "${TIERD_LOG_LEVEL:-}" ] || envs+=(--env "TIERD_LOG_LEVEL=$TIERD_LOG_LEVEL") ;;
                esac
                t0=$(date +%s)
                "$ROOT/tests/vm/run-vm" --kernel "$kernel" --hmat on --scenario bench-tier \
                        --build-dir "$BUILD_DIR" "${BINS[@]}" "${envs[@]}" --numa-balancing "$nb" \
                        --mem0 $MEM0 --mem1 $MEM1 --timeout $((dur + SLACK)) --name "$tag" > "$dir/run-vm.out" 2>&1
                rc=$?
                out=$BUILD_DIR/vm-run/$tag/share/out
                cp "$out"/* "$dir/" 2>/dev/null
                echo "$rc" > "$dir/status"
                echo "bench.sh: $sname / $cname: exit $rc, $(( $(date +%s) - t0 ))s" \
                     "$(sed -n 's/.* q_steady=\([^ ]*\).*/(Q = \1)/p' "$dir/summary.txt" 2>/dev/null)"
                [ $rc = 0 ] || tail -n 5 "$dir/run-vm.out" | sed 's/^/    /'
        done
done
ELAPSED=$(( $(date +%s) - START ))
echo "bench.sh: all runs took ${ELAPSED}s"

# ---------------------------------------------------------------- table, CSV, document
HOST_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
HOST_INFO="$HOST_CPU, $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME"), $(qemu-system-x86_64 --version | head -n1)"
python3 - "$RES" "$DOC" "$CSV" "$CMDLINE" "$ELAPSED" "$HOST_INFO" "$MEM0" "$MEM1" "$RESERVE" "$WSS" \
        "$(printf '%s\n' "${SCENARIOS[@]}")" "$(printf '%s\n' "${CONTENDERS[@]}")" "$SET" "$MARKER" "$CSV_NAME" <<'EOF'
import csv, datetime, io, os, statistics, sys

res, doc, csv_path, cmdline, elapsed, host, mem0, mem1, reserve, wss, scen_s, cont_s, bench_set, marker, csv_name = \
    sys.argv[1:16]
large = bench_set == 'large'
scenarios = [l.split('|', 1) for l in scen_s.splitlines() if l]
contenders = [l.split('|') for l in cont_s.splitlines() if l]

def summary(d):
    try:
        with open(os.path.join(d, 'summary.txt')) as f:
            return dict(kv.split('=', 1) for kv in f.read().split() if '=' in kv)
    except OSError:
        return None

def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None

def t90_of(pattern, s):
    n = int(s.get('events', '1'))
    ts = [num(s.get(f't90_{i}')) for i in range(n)]
    if pattern in ('hotset', 'zipf', 'uniform'):
        return ts[0], 'from start'
    if pattern == 'move':
        return (ts[1] if n > 1 else None), 'whole move' + (f'; 25% move: {fmt(ts[2], "s")}' if n > 2 else '')
    # zigzag: median over the phase changes, unreached counted as never
    rest = [t if t is not None else float('inf') for t in ts[1:]]
    if not rest:
        return None, ''
    m = statistics.median(rest)
    reached = sum(1 for t in rest if t != float('inf'))
    return (None if m == float('inf') else m), f'median of {len(rest)} swaps, {reached} reached'

def fmt(v, unit='', nd=1):
    return '—' if v is None else f'{v:.{nd}f}{unit}'

rows = []
for sname, senv in scenarios:
    env = dict(kv.split('=', 1) for kv in senv.split())
    base_ops = None
    for cname, kernel, nb, cenv in contenders:
        d = os.path.join(res, sname, cname)
        if not os.path.isdir(d):
            continue
        st = open(os.path.join(d, 'status')).read().strip() if os.path.exists(os.path.join(d, 'status')) else '?'
        s = summary(d)
        r = {'scenario': sname, 'pattern': env['PATTERN'], 'cap_mib': env['CAP_MIB'],
             'wss_mib': env.get('WSS_MIB', wss),
             'hot_mib': env.get('HOT_MIB', '32'), 'first_touch_node': env.get('FIRST_TOUCH_NODE', ''),
             'contender': cname, 'kernel': (s or {}).get('kernel', kernel), 'run_status': st}
        if s:
            t90, t90_note = t90_of(env['PATTERN'], s)
            cpu = sum(num(s.get(k)) or 0 for k in ('tierd_cpu_s', 'kdamond_cpu_s', 'kswapd_cpu_s'))
            # Everything tiering costs, the same sum for every contender: the daemon, its kdamond, kswapd and the
            # workload's system time (NUMA balancing's hinting faults are charged there).
            tiering = cpu + (num(s.get('worker_sys_s')) or 0)
            ops = num(s['ops_per_s'])
            if cname == 'baseline':
                base_ops = ops
            pp_tierd = s.get('tierd_pingpongs', '')
            r.update({
                'q_steady': s['q_steady'], 'f_steady': s['f_steady'], 'f_star': s['f_star'],
                'precision': s['precision_steady'], 'recall': s['recall_steady'],
                't90_s': '' if t90 is None else f'{t90:.1f}', 't90_note': t90_note,
                'migrated_mib': f"{int(s['pgmigrate_success']) * 4096 / 2**20:.1f}",
                'pingpongs_seen': s['pingpongs'], 'page_moves_seen': s['moves'], 'tierd_pingpongs': pp_tierd,
                'daemon_cpu_s': f'{cpu:.2f}', 'tiering_cpu_s': f'{tiering:.2f}',
                'tierd_cpu_s': s['tierd_cpu_s'], 'kdamond_cpu_s': s['kdamond_cpu_s'],
                'kswapd_cpu_s': s['kswapd_cpu_s'], 'worker_sys_s': s['worker_sys_s'],
                'ops_per_s': s['ops_per_s'],
                'ops_vs_baseline': '' if not base_ops or ops is None else f'{ops / base_ops:.3f}',
                'checksum': s['checksum'], 'duration_s': s['duration_s'],
                'loop_longest_ms': '' if not s.get('tierd_loop_longest_us') else
                f"{int(s['tierd_loop_longest_us']) / 1000:.0f}",
                'loop_longest_in': s.get('tierd_loop_longest_in', '').replace('_', ' '),
                'loop_slow_turns': s.get('tierd_loop_slow_turns', ''),
                'status_requests': s.get('tierd_status_requests', ''),
                'status_max_ms': s.get('tierd_status_max_ms', ''),
                'status_median_ms': s.get('tierd_status_median_ms', ''),
                'status_floor_ms': s.get('tierd_status_floor_ms', ''),
            })
        rows.append(r)
    # Tiering CPU against NUMA tiering's in the same scenario, the anchor the cost goal is set against.
    anchor = next((num(r.get('tiering_cpu_s')) for r in rows
                   if r['scenario'] == sname and r['contender'] == 'numa-tiering'), None)
    for r in rows:
        if r['scenario'] == sname and anchor and num(r.get('tiering_cpu_s')) is not None:
            r['tiering_vs_numa'] = f"{num(r['tiering_cpu_s']) / anchor:.2f}"

fields = ['scenario', 'pattern', 'cap_mib', 'wss_mib', 'hot_mib', 'first_touch_node', 'contender', 'kernel', 'run_status', 'q_steady', 'f_steady',
          'f_star', 'precision', 'recall', 't90_s', 't90_note', 'migrated_mib', 'pingpongs_seen', 'page_moves_seen',
          'tierd_pingpongs', 'daemon_cpu_s', 'tierd_cpu_s', 'kdamond_cpu_s', 'kswapd_cpu_s', 'worker_sys_s',
          'tiering_cpu_s', 'tiering_vs_numa', 'ops_per_s', 'ops_vs_baseline', 'checksum', 'duration_s',
          'loop_longest_ms', 'loop_longest_in', 'loop_slow_turns', 'status_requests', 'status_max_ms',
          'status_median_ms', 'status_floor_ms']
buf = io.StringIO()
w = csv.DictWriter(buf, fieldnames=fields, extrasaction='ignore', lineterminator='\n')
w.writeheader()
for r in rows:
    w.writerow(r)
with open(os.path.join(res, 'results.csv'), 'w') as f:
    f.write(buf.getvalue())
if csv_path:
    with open(csv_path, 'w') as f:
        f.write(buf.getvalue())

md = []
md.append(f'Produced by `{cmdline}` on {datetime.date.today().isoformat()} (all runs: {int(elapsed) // 60} min '
          f'{int(elapsed) % 60} s). CSV beside this file: [{csv_name}]({csv_name})'
          + ('' if csv_path else ' (not written by this run)') + '.')
md.append('')
md.append(f'- Host: {host}.')
kernels = sorted({r['kernel'] for r in rows})
md.append(f'- Guests: QEMU TCG (one host thread for both vCPUs), 2 vCPUs, node 0 = CPUs + {mem0} MiB, node 1 = '
          f'CPU-less {mem1} MiB, HMAT on (node 1 in a lower memory tier); kernels: {", ".join(kernels)}.')
md.append(f'- Workload: tierbench, {wss} MiB of 4 KiB pages, one thread pinned to CPU 0 beside a busy loop; '
          f'node 0 left with C + {reserve} MiB free (the rest reserved as unused hugetlb pages).')
if large:
    md.append('- Scenarios: the hot set (192 MiB, 1/8 of the workload) takes 90% of the accesses. large-slow: every '
              'page first touched on node 1; large-coldfast: first touch fills node 0 with cold pages and the hot '
              'set lands on node 1; large-move: as large-coldfast, and the hot set moves at 100 s and again (a '
              'quarter of it) at 200 s; large-fill: a 640 MiB workload (the same hot set) that fits node 0\'s free '
              'memory above tierd\'s headroom (its reserve is 76 MiB: 24 MiB and 5% of the node), first touched on '
              'node 1.')
    md.append('- Tiering CPU: the contender\'s daemon, its kdamond(s), kswapd and the workload\'s system time (NUMA '
              'balancing\'s hinting faults), in seconds over the measured run; "vs NUMA" divides it by NUMA '
              'tiering\'s in the same scenario.')
    md.append('- Longest turn: tierd\'s longest event loop turn of the run (`tierctl status`: Loop), what it was doing, '
              'and how many turns took over 50 ms; a control request arriving during a turn waits for it.')
    md.append('- tierctl status: every 20 s of the run, the wall time of `tierctl status --json` in the guest, the '
              'longest and the median, against the median of `tierctl --version` timed the same way (the same '
              'binary\'s exec and start-up without asking tierd); 10 ms resolution.')
md.append('')
if large:
    md.append('| scenario | C:WSS | contender | Q steady | precision / recall | T90 | migrated | ping-pongs '
              '(seen / tierd) | tierd | kdamond | kswapd | worker sys | tiering CPU (vs NUMA) | ops/s (vs baseline) '
              '| longest turn (over 50 ms) | tierctl status: longest / median (tierctl alone) |')
    md.append('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
else:
    md.append('| scenario | C:WSS | contender | Q steady | precision / recall | T90 | migrated | ping-pongs '
              '(seen / tierd) | daemon CPU | worker sys | ops/s (vs baseline) |')
    md.append('|---|---|---|---|---|---|---|---|---|---|---|')
for r in rows:
    ratio = f"1:{int(r['wss_mib']) // int(r['cap_mib'])}"
    # The small set's names are pattern-ratio, but fill is a hotset started on the slow node: its own name.
    label = r['scenario'] if large else r['scenario'].rsplit('-', 1)[0]
    if 'q_steady' not in r:
        md.append(f"| {label} | {ratio} | {r['contender']} | run failed (exit {r['run_status']}) "
                  + '| ' * (13 if large else 8))
        continue
    t90 = ('not reached' if r['t90_s'] == '' else r['t90_s'] + ' s') + (f" ({r['t90_note']})" if r['t90_note'] else '')
    pp = r['pingpongs_seen'] + (f" / {r['tierd_pingpongs']}" if r['tierd_pingpongs'] else '')
    ops = f"{float(r['ops_per_s']) / 1e6:.2f} M" + (f" ({r['ops_vs_baseline']})" if r['ops_vs_baseline'] else '')
    if r['kernel'] != rows[0]['kernel'] and r['ops_vs_baseline']:
        ops += ' ¹'
    bad = '' if r['checksum'] == 'ok' else ' **checksum BAD**'
    cells = (f"| {label} | {ratio} | {r['contender']} | {float(r['q_steady']):.3f}{bad} | "
             f"{float(r['precision']):.2f} / {float(r['recall']):.2f} | {t90} | {r['migrated_mib']} MiB | {pp} | ")
    if large:
        vs = f" ({r['tiering_vs_numa']})" if r.get('tiering_vs_numa') else ''
        turn = (f"{r['loop_longest_ms']} ms, {r['loop_longest_in']} ({r['loop_slow_turns']})"
                if r.get('loop_longest_ms') else '')
        cells += (f"{r['tierd_cpu_s']} s | {r['kdamond_cpu_s']} s | {r['kswapd_cpu_s']} s | {r['worker_sys_s']} s | "
                  f"{r['tiering_cpu_s']} s{vs} | {ops} | {turn} | ")
        cells += (f"{r['status_max_ms']} / {r['status_median_ms']} ms ({r['status_floor_ms']} ms) |"
                  if r.get('status_max_ms') else '|')
    else:
        cells += f"{r['daemon_cpu_s']} s | {r['worker_sys_s']} s | {ops} |"
    md.append(cells)
md.append('')
md.append('¹ different kernel from the baseline\'s (ops/s ratios across kernels compare kernels too).')
md.append('')
# Ranking by steady-state Q, per scenario: facts only, the reasons are in the analysis below the table.
for sname, _ in scenarios:
    rs = [r for r in rows if r['scenario'] == sname and 'q_steady' in r]
    if not rs:
        continue
    rs.sort(key=lambda r: -float(r['q_steady']))
    md.append(f"- **{sname}** by Q: " + ', '.join(f"{r['contender']} {float(r['q_steady']):.3f}" for r in rs) + '.')
text = '\n'.join(md) + '\n'
with open(os.path.join(res, 'results.md'), 'w') as f:
    f.write(text)
print(text)

if doc:
    begin, end = f'<!-- {marker}:begin -->', f'<!-- {marker}:end -->'
    try:
        old = open(doc).read()
    except FileNotFoundError:
        old = f'# Benchmarks\n\n{begin}\n{end}\n'
    if begin not in old or end not in old or old.index(begin) > old.index(end):
        sys.exit(f'bench.sh: {doc} has no {begin} ... {end} section; not touching it')
    head, rest = old.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(doc + '.tmp', 'w') as f:
        f.write(head + begin + '\n' + text + end + tail)
    os.replace(doc + '.tmp', doc)
    print(f'bench.sh: rewrote the {marker} section of {doc}')
EOF
