#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Runs the scale simulation (bench/scale/scale-sim) and writes bench/scale/RESULTS.md.

    run-bench-scale.py --sim PATH --out RESULTS.md [--buildtype T] [--quick] [--no-callgrind]

Runs, in this order: 1 TiB of 4 KiB pages, 1 TiB of THPs, 1 TiB of 4 KiB pages placed by region, then (unless --no-callgrind) both again at 2^22 pages
(16 GiB) under callgrind for instruction counts, which do not depend on what else the machine is doing. --quick
runs everything at 2^22 pages (a check, not figures to publish). Every figure in the file comes with the command
that produced it. Nothing here passes or fails on a timing."""

import argparse
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

PHASES = ['begin', 'upkeep_thp', 'upkeep_flags', 'upkeep_place', 'record', 'end', 'census', 'plan', 'execute']
PHASE_DOC = {
    'begin': 'heat_store_sync_target() of every target + heat_store_begin_round()',
    'upkeep_thp': "page_idle's heat_store_set_thp() per 2 MiB window",
    'upkeep_flags': "page_idle's two heat_store_set_flags_bitmap() per 64k-page chunk",
    'upkeep_place': "page_idle's heat_store_settle_bitmap() + heat_store_observed_bitmap() per 64k-page chunk "
                    '(the tier bitmaps built from the simulated placement, as page_idle builds them from PFNs)',
    'record': 'heat_store_begin_pass() + heat_store_record_bitmap() over 32768-page windows, all passes '
              '(the observed pages only)',
    'end': 'heat_store_end_round()',
    'census': 'census_take() (move_pages queries answered by the simulator; sampled past 2^14 units)',
    'plan': 'policy_plan() with placement_locate() (queries answered by the simulator)',
    'execute': 'placement_run() with no rate limit: moves (simulated) + heat_store_note_move()',
}
CALLGRIND_FUNCS = [
    ('begin', ['heat_store_sync_target', 'heat_store_begin_round']),
    ('upkeep_thp', ['heat_store_set_thp']),
    ('upkeep_flags', ['heat_store_set_flags_bitmap']),
    ('upkeep_place', ['heat_store_settle_bitmap', 'heat_store_observed_bitmap']),
    ('record', ['heat_store_record_bitmap', 'heat_store_begin_pass']),
    ('end', ['heat_store_end_round']),
    ('census', ['census_take']),
    ('plan', ['policy_plan']),
    ('execute', ['placement_run']),
    ('source (not tierd)', ['source_fill']),
    ('simulated move_pages (not tierd; inside census, plan, execute)', ['fake_move_pages']),
]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)


def machine():
    info = {}
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                info['cpu'] = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    info['cores'] = os.cpu_count()
    try:
        for line in open('/proc/meminfo'):
            if line.startswith('MemTotal:'):
                info['mem_gib'] = int(line.split()[1]) / (1 << 20)
    except OSError:
        pass
    try:
        info['os'] = 'Debian ' + open('/etc/debian_version').read().strip()
    except OSError:
        info['os'] = platform.platform()
    info['kernel'] = platform.release()
    cc = sh(['cc', '--version'])
    info['cc'] = cc.stdout.splitlines()[0] if cc.returncode == 0 and cc.stdout else 'cc'
    return info


def parse(text):
    """SCALE lines -> dict: config, setup, rounds (list), steady, memory."""
    out = {'rounds': []}
    for line in text.splitlines():
        if not line.startswith('SCALE '):
            continue
        words = line.split()[1:]
        kind = words[0] if '=' not in words[0] else 'round'
        kv = dict(w.split('=', 1) for w in words if '=' in w)
        if kind == 'round':
            out['rounds'].append(kv)
        else:
            out[kind] = kv
    return out


def run_sim(cmd, log):
    t0 = time.monotonic()
    p = sh(cmd)
    dt = time.monotonic() - t0
    log.write('$ ' + shlex.join(cmd) + '\n' + p.stdout + p.stderr + '\n')
    if p.returncode != 0:
        sys.exit(f'{shlex.join(cmd)} failed ({p.returncode}):\n{p.stderr}')
    return parse(p.stdout), dt, p.stdout


def run_callgrind(cmd, log, tmp):
    out = os.path.join(tmp, 'callgrind.out')
    full = ['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}'] + cmd
    t0 = time.monotonic()
    p = sh(full)
    dt = time.monotonic() - t0
    log.write('$ ' + shlex.join(full) + '\n' + p.stdout + p.stderr[-2000:] + '\n')
    if p.returncode != 0:
        sys.exit(f'{shlex.join(full)} failed ({p.returncode}):\n{p.stderr[-2000:]}')
    ann = sh(['callgrind_annotate', '--inclusive=yes', '--threshold=100', out])
    log.write(ann.stdout[:20000] + '\n')
    incl = {}
    total = None
    for line in ann.stdout.splitlines():
        m = re.match(r'\s*([\d,]+)\s.*PROGRAM TOTALS', line)
        if m:
            total = int(m.group(1).replace(',', ''))
            continue
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+\S*:(\w+)\s', line + ' ')
        if m and m.group(2) not in incl:
            incl[m.group(2)] = int(m.group(1).replace(',', ''))
    return parse(p.stdout), dt, incl, total, shlex.join(full)


def fmt_bytes(b):
    b = float(b)
    for unit in ['B', 'KiB', 'MiB', 'GiB', 'TiB']:
        if b < 1024 or unit == 'TiB':
            return f'{b:.1f} {unit}' if unit != 'B' else f'{int(b)} B'
        b /= 1024


def section_run(title, cmd, res, dt):
    cfg, st, mem, rounds = res['config'], res['steady'], res['memory'], res['rounds']
    lines = [f'### {title}', '', '```', f'{cmd}    # {dt:.0f} s wall', '```', '']
    units = int(cfg['units'])
    lines.append(f"{int(cfg['pages']):,} tracked 4 KiB pages ({fmt_bytes(int(cfg['pages']) * 4096)}) as "
                 f"{units:,} units of {fmt_bytes(cfg['unit_bytes'])}, {cfg['targets']} processes x {cfg['vmas']} "
                 f"VMA of {fmt_bytes(cfg['vma_bytes'])}; {cfg['rounds']} rounds of {cfg['passes']} passes; "
                 f"node 0 {fmt_bytes(cfg['node0_total'])}, node 1 {fmt_bytes(cfg['node1_total'])}; "
                 f"tierd defaults (promote_rounds {cfg['promote_rounds']}, cold_rounds {cfg['cold_rounds']}, "
                 f"round caps {fmt_bytes(cfg['round_max'])} each way).")
    lines.append('')
    lines.append(f"CPU per round, mean over the {st['rounds']} steady rounds (from round "
                 f"{len(rounds) - int(st['rounds']) + 1} on, once streaks and idle ages have filled):")
    lines.append('')
    lines.append('| phase | CPU ms / round | ns / tracked page |')
    lines.append('| --- | ---: | ---: |')
    pages = int(cfg['pages'])
    for p in PHASES:
        ms = float(st[p + '_ms'])
        lines.append(f'| {p} | {ms:.1f} | {ms * 1e6 / pages:.2f} |')
    lines.append(f"| **tierd total** | **{float(st['tierd_ms']):.1f}** | **{float(st['tierd_ns_per_page']):.2f}** |")
    lines.append(f"| synthetic source (not tierd) | {float(st['source_ms']):.1f} | "
                 f"{float(st['source_ms']) * 1e6 / pages:.2f} |")
    if 'kernel_ms' in st:
        lines.append(f"| simulated move_pages (not tierd) | {float(st['kernel_ms']):.1f} | "
                     f"{float(st['kernel_ms']) * 1e6 / pages:.2f} |")
    lines.append('')
    lines.append('`census`, `plan` and `execute` leave out the time inside the simulator\'s move_pages() (a bit lookup '
                 'per unit, standing in for the kernel, whose real cost these figures cannot show): it is the '
                 '"simulated move_pages" row.')
    lines.append('')
    lines.append(f"Memory: heat store {fmt_bytes(mem['heat_store_bytes'])} (heat_store_memory_bytes(), move table "
                 f"included); peak RSS (VmHWM) {fmt_bytes(mem['peak_hwm_bytes'])}, of which the synthetic source's "
                 f"own state {fmt_bytes(mem['source_bytes'])} (a bit per unit for its placement, a bit per page for "
                 f"what it observes) and {fmt_bytes(mem['baseline_hwm_bytes'])} before anything was allocated: "
                 f"**tierd's peak {fmt_bytes(int(mem['peak_hwm_bytes']) - int(mem['source_bytes']))}**, first reached "
                 f"after `{mem.get('peak_phase', '?')}` of round {mem.get('peak_round', '?')} (beyond the heat store: "
                 f"the plan, the policy's candidate sets, the census). Setup (first sync"
                 f"{', THP units formed' if int(cfg['unit_bytes']) > 4096 else ''}): {float(res['setup']['cpu_ms']):.0f} "
                 f"ms CPU.")
    if 'floor' in res:
        fl = res['floor']
        rmw = float(fl['rmw_ms'])
        lines.append('')
        lines.append(f"Floor, measured in the same run after the rounds: one pass over an array the size of the heat "
                     f"store's entries ({fmt_bytes(int(fl['entries_bytes']))}) takes {float(fl['read_ms']):.1f} ms "
                     f"reading a word per cache line and {rmw:.1f} ms rewriting every entry 8 at a time (SSE2). "
                     f"The round above costs {float(st['tierd_ms']) / rmw:.1f} such rewrite passes.")
    lines.append('')
    lines.append('Per round (CPU ms; classes after the round; moves planned):')
    lines.append('')
    lines.append('| round | ' + ' | '.join(PHASES) + ' | tierd | hot | cold | promote | demote | located '
                 '| observed | settled | parked | move table |')
    lines.append('|' + ' ---: |' * (len(PHASES) + 11))
    for r in rounds:
        lines.append(f"| {r['round']} | " + ' | '.join(f"{float(r[p + '_ms']):.0f}" for p in PHASES) +
                     f" | {float(r['tierd_ms']):.0f} | {int(r['hot']):,} | {int(r['cold']):,} | "
                     f"{int(r['promote']):,} | {int(r['demote']):,} | {int(r['located']):,} | "
                     f"{int(r['observed']):,} | {int(r['settled']):,} | {int(r.get('parked', 0)):,} | "
                     f"{int(r['move_table']):,} |")
    lines.append('')
    return lines


def section_callgrind(title, cmd, res, incl, total, dt):
    cfg = res['config']
    rounds = int(cfg['rounds'])
    pages = int(cfg['pages'])
    lines = [f'### {title}', '', '```', f'{cmd}    # {dt:.0f} s wall', '```', '']
    lines.append(f"Instructions (callgrind Ir, inclusive) per round and per tracked 4 KiB page, averaged over all "
                 f"{rounds} rounds (the first rounds, with fewer cold pages, plan less); {pages:,} pages as "
                 f"{int(cfg['units']):,} units. Program total {total:,} Ir.")
    lines.append('')
    lines.append('| phase | functions | Ir / round | Ir / page / round |')
    lines.append('| --- | --- | ---: | ---: |')
    for name, funcs in CALLGRIND_FUNCS:
        ir = sum(incl.get(f, 0) for f in funcs)
        lines.append(f"| {name} | {', '.join(funcs)} | {ir / rounds:,.0f} | {ir / rounds / pages:.1f} |")
    lines.append('')
    return lines


def observations(results):
    """Notes that follow from the figures: the largest phases, and a move table that filled up."""
    lines = ['## Observations', '']
    for title, res in results:
        st, rounds = res['steady'], res['rounds']
        top = sorted(PHASES, key=lambda p: -float(st[p + '_ms']))[:2]
        total = float(st['tierd_ms'])
        lines.append(f"- {title}: {total / 1e3:.1f} s of CPU per round in the steady state; the largest phases are "
                     + ' and '.join(f"`{p}` ({100 * float(st[p + '_ms']) / total:.0f}%)" for p in top) + '.')
        last = rounds[-1]
        lines.append(f"  The last round observed {int(last['observed']):,} of {int(res['config']['pages']):,} pages "
                     f"({100 * int(last['observed']) / int(res['config']['pages']):.0f}%; the rest were settled and "
                     f"left to their samples) and ended with {int(last['settled']):,} units settled, "
                     f"{int(last.get('parked', 0)):,} of them parked (cold on the fast tier).")
        evicted = [r for r in rounds if int(r['move_table_evictions']) > 0]
        if evicted:
            lines.append(f"  The move table filled and forgot early in {int(last['move_table_evictions'])} rounds "
                         f"(from round {evicted[0]['round']}; {int(last['move_table']):,} entries at the end): "
                         f"entries past their residency wait go first, then those older than the round, so no "
                         f"move is refused.")
    lines.append('')
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sim', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--buildtype', default='?')
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--no-callgrind', action='store_true')
    a = ap.parse_args()

    pages = 1 << 22 if a.quick else 1 << 28
    small = 1 << 22
    rounds = 8
    m = machine()
    logpath = a.out + '.log'
    doc = ['# Scale simulation: heat store and policy at 1 TiB', '',
           '<!-- written by bench/scale/run-bench-scale.py (ninja -C BUILD bench-scale); raw output in '
           'RESULTS.md.log next to it -->', '',
           "tierd's real heat store (src/heat.c), census (src/census.c), policy (src/policy.c) and plan executor "
           '(src/placement.c), driven by a synthetic access source for 1 TiB of tracked memory, once as 2^28 pages '
           'of 4 KiB and once as 2^19 THPs of 2 MiB. No kernel is involved: move_pages(2) is replaced (migrate.c\'s '
           'testing seam) by a fake that answers queries and moves from a bit per unit. A round is what the daemon '
           'and the page_idle backend do to the heat store in one round; the phases are listed below. The page_idle '
           "backend's own kernel work (pagemap, kpageflags, bitmap I/O) is not in these figures: see "
           'bench/micro for its cost per page.', '',
           'Access source: per pass, units of a hot 2 MiB region are accessed with probability 7/8, all others with '
           '1/64; 5% of the regions are hot, and each region re-draws its hotness every 4 rounds at its own phase, '
           'so every round some regions turn hot (promotions) and some go cold (demotions). At the start 25% of the '
           'units are on node 0, which has 4% free (between fast_free_min 2% and fast_free_target 5%), spread by unit '
           '(as interleaving or scattered reclaim leaves memory: every 64-unit word mixes both nodes) except in the '
           'third run, where node 0 holds whole 2 MiB regions (as first touch leaves it). As with '
           'page_idle, the source records only the pages the heat store asks it to observe (heat.h, "Partial '
           'observation"), and tells the store where every unit is from its placement bits, as page_idle does from '
           'PFNs (`scale-sim --observe-all --no-pfn-map` is the DAMON-like case: everything observed, nothing '
           'known).', '',
           '## Machine', '',
           f"{m.get('os')}, kernel {m.get('kernel')}; {m.get('cpu', '?')}, {m.get('cores')} cores, "
           f"{m.get('mem_gib', 0):.0f} GiB RAM; {m.get('cc')}, meson buildtype {a.buildtype}. CPU time is "
           'CLOCK_PROCESS_CPUTIME_ID of the single-threaded simulator; the machine was shared with other '
           'builds, so wall-clock CPU figures vary by some 10-30% between runs (the callgrind counts do not).', '',
           '## Phases', '']
    for p in PHASES:
        doc.append(f'- `{p}`: {PHASE_DOC[p]}')
    doc.append('- `source` (not tierd): filling the bitmaps, measured apart and left out of the totals')
    doc.append('')
    doc.append('## Results')
    doc.append('')

    t_all = time.monotonic()
    results = []
    with open(logpath, 'w') as log, tempfile.TemporaryDirectory() as tmp:
        for title, extra in [('4 KiB pages', []), ('THPs', ['--thp']),
                             ("4 KiB pages, node 0's share in whole 2 MiB regions", ['--fast-regions'])]:
            cmd = [a.sim, '--pages', str(pages), '--rounds', str(rounds)] + extra
            res, dt, _ = run_sim(cmd, log)
            shown = ['bench/scale/scale-sim' if c == a.sim else c for c in cmd]
            doc += section_run(f"{fmt_bytes(pages * 4096)} in {title}", shlex.join(shown), res, dt)
            results.append((f"{fmt_bytes(pages * 4096)} in {title}", res))
        if not a.no_callgrind and shutil.which('valgrind') and shutil.which('callgrind_annotate'):
            for title, extra in [('4 KiB pages', []), ('THPs', ['--thp'])]:
                cmd = [a.sim, '--pages', str(small), '--rounds', str(rounds)] + extra
                res, dt, incl, total, full = run_callgrind(cmd, log, tmp)
                full = full.replace(a.sim, 'bench/scale/scale-sim')
                full = re.sub(r'--callgrind-out-file=\S+', '--callgrind-out-file=callgrind.out', full)
                doc += section_callgrind(f'Instruction counts, {fmt_bytes(small * 4096)} in {title}', full, res,
                                         incl, total, dt)
    doc += observations(results)
    doc.append(f'Whole benchmark: {time.monotonic() - t_all:.0f} s wall.')
    doc.append('')
    with open(a.out, 'w') as f:
        f.write('\n'.join(doc))
    print(f'wrote {a.out} (raw output: {logpath})')


if __name__ == '__main__':
    main()
