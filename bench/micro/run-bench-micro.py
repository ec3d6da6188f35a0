#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs the micro benchmarks in the QEMU guest and writes bench/micro/RESULTS.md.

    run-bench-micro.py --run-vm PATH --build-dir DIR --page-idle BIN --migrate BIN --out RESULTS.md
                       [--idle-mib N] [--idle-rounds N] [--migrate-mib N] [--migrate-reps N] [--from-out DIR]

Boots the two-node guest with the custom kernel (tests/vm/run-vm, scenario tests/vm/scenarios/bench-micro.sh),
which runs micro-page-idle and micro-migrate (base pages and THPs), then turns their output into the RESULTS.md
fragment. --from-out DIR skips the guest and formats the files of an earlier run (BUILD/vm-run/bench-micro/share/
out). Nothing here passes or fails on a timing: the guest's CHECK lines only say that each benchmark ran."""

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time


def machine():
    info = {'cores': os.cpu_count(), 'kernel': platform.release()}
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                info['cpu'] = line.split(':', 1)[1].strip()
                break
        for line in open('/proc/meminfo'):
            if line.startswith('MemTotal:'):
                info['mem_gib'] = int(line.split()[1]) / (1 << 20)
        info['os'] = 'Debian ' + open('/etc/debian_version').read().strip()
    except OSError:
        info.setdefault('os', platform.platform())
    return info


def read(path, default=''):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def lines_of(text, prefix):
    """PREFIX lines -> list of (kind, dict)."""
    out = []
    for line in text.splitlines():
        if not line.startswith(prefix + ' '):
            continue
        words = line.split()[1:]
        kind = words[0] if '=' not in words[0] else 'row'
        out.append((kind, dict(w.split('=', 1) for w in words if '=' in w)))
    return out


def page_idle_section(outdir):
    text = read(os.path.join(outdir, 'micro-page-idle.txt'))
    cmd = read(os.path.join(outdir, 'micro-page-idle.cmd')).strip()
    secs = read(os.path.join(outdir, 'micro-page-idle.seconds')).strip()
    rows = lines_of(text, 'MICRO-PAGE-IDLE')
    cfg = next((d for k, d in rows if k == 'config'), None)
    summ = {d['variant']: d for k, d in rows if k == 'summary'}
    ratio = next((d for k, d in rows if k == 'ratio'), None)
    lines = ['## page_idle scanning: CPU per tracked page', '']
    if not cfg or len(summ) != 2 or not ratio:
        return lines + ['No result: micro-page-idle did not finish; its output:', '', '```', text.strip(), '```', '']
    lines += ['In the guest (as root):', '', '```', f'{cmd}    # {secs} s in the guest', '```', '']
    t, f = summ['tierd'], summ['floor']
    lines.append(f"Target: {cfg['mib']} MiB of base pages ({float(t['pages_per_round']):,.0f} tracked pages with its "
                 f"heap and stack), {cfg['hot_pct']}% of them written every 50 ms; {cfg['rounds']} measured rounds "
                 f"(after {cfg['warmup']} warm-up) of {cfg['passes']} passes, {cfg['interval_ms']} ms pass interval; "
                 f"tierd and the floor alternate round by round. Pages found accessed per pass, on average: "
                 f"{float(t['accessed_per_pass']):,.0f} (tierd), {float(f['accessed_per_pass']):,.0f} (floor); under "
                 f"TCG these counts swing from round to round for both (accessed bits set by the emulated MMU only "
                 f"on a software-TLB miss, see tests/vm/README.md), so they show that both saw accesses, not how "
                 f"many there were.")
    lines.append('')
    lines.append('| CPU (user + system) | tierd | floor | tierd / floor |')
    lines.append('| --- | ---: | ---: | ---: |')
    lines.append(f"| per tracked page and pass (bitmap write + read; tierd: + recording) | "
                 f"{float(t['pass_ns_per_page']):,.0f} ns | {float(f['pass_ns_per_page']):,.0f} ns | "
                 f"{float(ratio['pass']):.2f} |")
    lines.append(f"| per tracked page, round setup (maps, pagemap, kpageflags, plan; tierd: + heat store) | "
                 f"{float(t['setup_ns_per_page']):,.0f} ns | {float(f['setup_ns_per_page']):,.0f} ns | "
                 f"{float(ratio['setup']):.2f} |")
    lines.append(f"| per tracked page, round end (tierd: heat store fold) | {float(t['end_ns_per_page']):,.1f} ns | "
                 f"- | |")
    lines.append(f"| per tracked page, whole round of {cfg['passes']} passes | {float(t['round_ns_per_page']):,.0f} ns | "
                 f"{float(f['round_ns_per_page']):,.0f} ns | {float(ratio['round']):.2f} |")
    tu, ts, fu, fs = (int(t['user_us']), int(t['sys_us']), int(f['user_us']), int(f['sys_us']))
    lines.append(f"| user / system split, all measured rounds | {tu / 1e3:,.0f} / {ts / 1e3:,.0f} ms | "
                 f"{fu / 1e3:,.0f} / {fs / 1e3:,.0f} ms | |")
    lines.append('')
    lines.append('Per round (ns per tracked page, whole round):')
    lines.append('')
    lines.append('| round | tierd | floor |')
    lines.append('| ---: | ---: | ---: |')
    by_round = {}
    warm = int(cfg['warmup'])
    for k, d in rows:
        if k == 'row' and int(d['round']) > warm:
            by_round.setdefault(int(d['round']), {})[d['variant']] = float(d['round_ns_per_page'])
    for r in sorted(by_round):
        v = by_round[r]
        lines.append(f"| {r - warm} | {v.get('tierd', 0):,.0f} | {v.get('floor', 0):,.0f} |")
    lines.append('')
    return lines


def migrate_section(outdir, name, title):
    text = read(os.path.join(outdir, name + '.txt'))
    if not text:
        return []
    cmd = read(os.path.join(outdir, name + '.cmd')).strip()
    secs = read(os.path.join(outdir, name + '.seconds')).strip()
    rows = lines_of(text, 'MICRO-MIGRATE')
    cfg = next((d for k, d in rows if k == 'config'), None)
    summ = {d['variant']: d for k, d in rows if k == 'summary'}
    ratios = {d['variant']: d for k, d in rows if k == 'ratio'}
    lines = [f'## {title}', '']
    if not cfg or len(summ) != 3:
        return lines + ['No result: micro-migrate did not finish; its output:', '', '```', text.strip(), '```', '']
    lines += ['In the guest (as root):', '', '```', f'{cmd}    # {secs} s in the guest', '```', '']
    unit = int(cfg['unit_bytes'])
    thp_note = ''
    if unit > 4096:
        thp_note = f" ({int(cfg.get('anon_huge_kib', 0)) // 1024} MiB of the target in THPs at the start)"
    lines.append(f"{cfg['mib']} MiB = {int(cfg['units']):,} units of {unit // 1024} KiB{thp_note}, moved node 0 -> 1 "
                 f"and back by each variant, {cfg['batch_units']} units per move_pages() call, median of "
                 f"{cfg['reps']} repetitions after {cfg.get('warmup', 0)} warm-up; every move checked (all units on the "
                 f"destination afterwards).")
    lines.append('')
    lines.append('| variant | node 0 -> 1 | node 1 -> 0 | CPU 0 -> 1 | CPU 1 -> 0 | vs raw 0 -> 1 | vs raw 1 -> 0 |')
    lines.append('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for v, doc in [('raw', 'raw move_pages(2)'), ('migrate', 'tierd: migrate_move_pages()'),
                   ('placement', 'tierd: plan executor, limits off')]:
        s = summ[v]
        r = ratios.get(v)
        lines.append(f"| {doc} | {float(s['to1_mib_per_s']):,.0f} MiB/s | {float(s['to0_mib_per_s']):,.0f} MiB/s | "
                     f"{float(s['to1_cpu_ms']):,.0f} ms | {float(s['to0_cpu_ms']):,.0f} ms | "
                     f"{float(r['to1']):.2f} | {float(r['to0']):.2f} |" if r else
                     f"| {doc} | {float(s['to1_mib_per_s']):,.0f} MiB/s | {float(s['to0_mib_per_s']):,.0f} MiB/s | "
                     f"{float(s['to1_cpu_ms']):,.0f} ms | {float(s['to0_cpu_ms']):,.0f} ms | 1 | 1 |")
    lines.append('')
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--run-vm')
    ap.add_argument('--build-dir')
    ap.add_argument('--page-idle')
    ap.add_argument('--migrate')
    ap.add_argument('--out', required=True)
    ap.add_argument('--idle-mib', type=int, default=256)
    ap.add_argument('--idle-rounds', type=int, default=8)
    ap.add_argument('--migrate-mib', type=int, default=256)
    ap.add_argument('--migrate-reps', type=int, default=7)
    ap.add_argument('--from-out')
    a = ap.parse_args()

    m = machine()
    vm_cmd = None
    dt = None
    if a.from_out:
        outdir = a.from_out
    else:
        if not (a.run_vm and a.build_dir and a.page_idle and a.migrate):
            sys.exit('--run-vm, --build-dir, --page-idle and --migrate are needed without --from-out')
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        vm_cmd = [a.run_vm, '--kernel', 'custom', '--hmat', 'on', '--scenario', 'bench-micro',
                  '--build-dir', a.build_dir, '--bin', a.page_idle, '--bin', a.migrate,
                  '--timeout', '1800', '--name', 'bench-micro',
                  '--env', f'BENCH_MICRO_IDLE_MIB={a.idle_mib}', '--env', f'BENCH_MICRO_IDLE_ROUNDS={a.idle_rounds}',
                  '--env', f'BENCH_MICRO_MIGRATE_MIB={a.migrate_mib}',
                  '--env', f'BENCH_MICRO_MIGRATE_REPS={a.migrate_reps}']
        t0 = time.monotonic()
        p = subprocess.run(vm_cmd, cwd=src)
        dt = time.monotonic() - t0
        outdir = os.path.join(a.build_dir, 'vm-run', 'bench-micro', 'share', 'out')
        if p.returncode != 0:
            print(f'run-vm exited with {p.returncode}; writing what there is', file=sys.stderr)

    guest = read(os.path.join(outdir, 'guest-info.txt')).strip()
    doc = ['# Micro benchmarks', '',
           '<!-- written by bench/micro/run-bench-micro.py (ninja -C BUILD bench-micro) -->', '',
           'Each against a floor measured in the same run, in the same guest, interleaved with it. The guest is '
           'QEMU TCG (software emulation): absolute times are many times those of real hardware, only the ratios '
           'within one run mean something.', '',
           '## Machine', '',
           f"Host: {m.get('os')}, kernel {m.get('kernel')}; {m.get('cpu', '?')}, {m.get('cores')} cores, "
           f"{m.get('mem_gib', 0):.0f} GiB RAM (shared with other work while this ran).", '',
           'Guest: QEMU TCG (`-accel tcg,thread=single`), 2 vCPUs, node 0 1 GiB with both CPUs + node 1 1 GiB '
           'memory-only (HMAT: node 1 in a lower memory tier), the custom kernel of tests/vm '
           '(CONFIG_IDLE_PAGE_TRACKING); automatic NUMA balancing off:', '',
           '```', guest, '```', '']
    if vm_cmd:
        shown = [os.path.relpath(c) if os.path.isabs(c) and os.path.exists(c) else c for c in vm_cmd]
        doc += ['Command (on the host, from the build directory; `ninja -C BUILD bench-micro` runs it):', '', '```',
                shlex.join(shown) + f'    # {dt:.0f} s wall, boot and waits for the guest lock included', '```', '']
    doc += page_idle_section(outdir)
    doc += ['What the floor does: per round /proc/PID/maps, the pagemap reads in the backend\'s chunks (up to 64k '
            'pages, ending on 2 MiB boundaries), the kpageflags reads in its spans, the bitmap words grouped into the '
            'same runs of up to 512 words; per pass one pwrite and one pread per run and a popcount. tierd (the real '
            'scan engine with the page_idle backend) also classifies every page, keeps its heat store (sync, THP '
            'units, flags, recording, the fold) and plans with a radix sort. System time (the kernel\'s rmap walks '
            'behind every bitmap write and read) dominates both.', '']
    doc += migrate_section(outdir, 'micro-migrate', 'Migration throughput, base pages: tierd vs raw move_pages(2)')
    doc += migrate_section(outdir, 'micro-migrate-thp', 'Migration throughput, THPs: tierd vs raw move_pages(2)')
    doc += ['Variants: *raw* is move_pages(pid, n, pages, nodes, status, MPOL_MF_MOVE) per batch and nothing else; '
            '*migrate* is src/migrate.c\'s migrate_move_pages() (one move_pages query of all pages first, then the same '
            'batches, skipping pages already in place); *placement* is the daemon\'s plan executor (src/placement.c) '
            'with no rate limit and no round cap over a plan of one move per unit, i.e. migrate_move_pages() per '
            'batch (with its query) plus heat_store_note_move() per unit. "vs raw" is raw time / variant time: above '
            '1 the variant was faster. Throughput is over wall time; CPU is the benchmark process\'s, where the kernel '
            'does the migration work.', '']
    with open(a.out, 'w') as f:
        f.write('\n'.join(doc))
    print(f'wrote {a.out}')


if __name__ == '__main__':
    main()
