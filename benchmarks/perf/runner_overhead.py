"""Benchmark runner overheads (issue #5 goals), each printed with a ratio against a peer measured in the same run:

1. Sweep overhead for a 500-entry spec with fake instant jobs: plan (expand the spec) + submit/run (local
   executor, 2 workers; each job is a tiny process that writes status.json and a run record like the driver does)
   + collect (entry states + leaderboard build). Goal: < 10 s. Peer: the same 500 fake jobs launched as bare
   processes, 2 at a time, with no bookkeeping at all (the floor any process-per-job runner pays).
   If a SLURM cluster answers, also times submitting the 500 entries (held job array) with the SLURM executor.
2. Leaderboard build from 10,000 run records. Goal: < 5 s. Peer: the obvious pandas version (json.load every
   file, ``pandas.json_normalize``, one pivot per family, ``to_csv``), which also neither dedupes nor locks.

    PYTHONPATH=. python benchmarks/perf/runner_overhead.py [--entries 500] [--records 10000]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from ovd.benchmark.executors import LocalExecutor, SlurmExecutor
from ovd.benchmark.executors.base import Submission
from ovd.benchmark.leaderboard import build_leaderboard
from ovd.benchmark.run_records import SCHEMA
from ovd.benchmark.spec import load_spec
from ovd.benchmark.sweep import collect_status, run_sweep

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runner_fake_job import fake_job


def sweep_overhead(n_entries: int, tmp: Path) -> None:
    seeds = 20
    lrs = n_entries // seeds
    spec = tmp / 'big.yaml'
    spec.write_text(textwrap.dedent(f'''
        name: perf
        experiments:
          - name: smoke
            method: smoke
            train: {REPO}/configs/smoke/faster-rcnn_r18_tiny_synth-coco.py
            seeds: {list(range(seeds))}
            grid: {{optim_wrapper.optimizer.lr: {[round(0.001 * (i + 1), 4) for i in range(lrs)]}}}
            evaluate: [{{protocol: coco}}]
    '''))
    job = Path(__file__).resolve().parent / 'runner_fake_job.py'

    def command(entry_dir):
        return [sys.executable, '-S', str(job), str(entry_dir)]

    t0 = time.perf_counter()
    sweep = load_spec(str(spec), root=str(tmp / 'root'))
    t_plan = time.perf_counter() - t0
    assert len(sweep.entries) == n_entries, len(sweep.entries)
    t0 = time.perf_counter()
    summary = run_sweep(sweep, LocalExecutor(workers=2, command=command, progress=False), log=lambda m: None)
    t_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    statuses = collect_status(sweep, LocalExecutor(workers=2, command=command, progress=False))
    board = build_leaderboard([sweep.root], str(tmp / 'board'), include_references=False)
    t_collect = time.perf_counter() - t0
    done = sum(s.state.value == 'done' for s in statuses)
    assert done == n_entries and board.records == n_entries, (done, board.records)
    total = t_plan + t_run + t_collect

    # Peer: the same fake jobs as bare processes, 2 at a time, no state files, no records read back.
    env = dict(os.environ, OVD_ATTEMPT_ID='x')
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda e: subprocess.run(command(Path(sweep.root) / e.id), env=env, check=True),
                      sweep.entries))
    t_bare = time.perf_counter() - t0
    print(f'sweep overhead, {n_entries} entries with fake instant jobs (local executor, 2 workers):')
    print(f'  plan {t_plan:.2f} s + submit/run {t_run:.2f} s + collect {t_collect:.2f} s = {total:.2f} s '
          f'(goal < 10 s: {"met" if total < 10 else "NOT met"}, {total / 10:.2f} of the budget)')
    print(f'  peer: the same {n_entries} jobs as bare processes, no bookkeeping: {t_bare:.2f} s; '
          f'ratio ours/peer = {total / t_bare:.2f} (bookkeeping = {total - t_bare:.2f} s)')
    # The runner's own overhead: the same sweep with in-process instant jobs (no process per job).
    inline = load_spec(str(spec), root=str(tmp / 'inline_root'))
    t0, c0 = time.perf_counter(), _cpu()
    executor = LocalExecutor(workers=2, job_fn=lambda d, env: fake_job(str(d), env), progress=False)
    run_sweep(inline, executor, log=lambda m: None)
    t_inline_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    statuses = collect_status(inline, LocalExecutor(workers=2, progress=False))
    board = build_leaderboard([inline.root], str(tmp / 'board2'), include_references=False)
    t_inline_collect = time.perf_counter() - t0
    assert sum(s.state.value == 'done' for s in statuses) == n_entries == board.records
    t_inline = t_plan + t_inline_run + t_inline_collect
    cpu_inline = _cpu() - c0
    print(f'  with in-process instant jobs (the runner alone): plan {t_plan:.2f} s + submit/run '
          f'{t_inline_run:.2f} s + collect {t_inline_collect:.2f} s = {t_inline:.2f} s '
          f'(goal < 10 s: {"met" if t_inline < 10 else "NOT met"}, {t_inline / 10:.2f} of the budget; '
          f'{cpu_inline:.2f} s CPU for run + collect)')
    print(f'  submitted {len(summary.submitted)}; second run skips all: ', end='')
    t0 = time.perf_counter()
    again = run_sweep(sweep, LocalExecutor(workers=2, command=command, progress=False), log=lambda m: None)
    print(f'{len(again.skipped_done)} skipped in {time.perf_counter() - t0:.2f} s')

    if shutil.which('sbatch') and subprocess.run(['sinfo', '-h'], capture_output=True).returncode == 0:
        fresh = load_spec(str(spec), root=str(tmp / 'slurm_root'))
        subs = [Submission.new(e, d) for e, d in zip(fresh.entries, _dirs(fresh))]
        for s in subs:
            s.edir.path.mkdir(parents=True, exist_ok=True)
            s.edir.write_entry(s.entry)
        ex = SlurmExecutor(extra_args=['--hold'])  # held: nothing runs, only submission is timed
        t0 = time.perf_counter()
        ex.submit(subs)
        t_sub = time.perf_counter() - t0
        subs_json = {s.entry.id: json.loads(s.edir.submission_file.read_text()) for s in subs}
        t0 = time.perf_counter()
        alive = ex.alive(subs_json)
        t_probe = time.perf_counter() - t0
        ex.cancel(subs_json)
        print(f'  SLURM executor: submitting {n_entries} entries (one held job array) {t_sub:.2f} s, '
              f'querying their states {t_probe:.2f} s ({sum(1 for v in alive.values() if v)} queued)')


def _cpu() -> float:
    """CPU seconds of this process (the machine may be shared: wall time then includes waiting for a core)."""
    t = os.times()
    return t.user + t.system


def _dirs(sweep):
    from ovd.benchmark.state import EntryDir
    return [EntryDir(sweep.root, e.id) for e in sweep.entries]


def leaderboard_build(n_records: int, tmp: Path) -> None:
    rng = random.Random(0)
    protocols = [('lvis', ['AP', 'APr', 'APc', 'APf', 'AP50']), ('lvis-fixed', ['AP', 'APr', 'APc', 'APf']),
                 ('ov-coco-65', ['AP50_novel', 'AP50_base', 'AP50_all']), ('coco', ['AP', 'AP50', 'AP75']),
                 ('flickr30k-any-box', ['R@1', 'R@5', 'R@10'])]
    root = tmp / 'records_root'
    for i in range(n_records):
        proto, cols = protocols[i % len(protocols)]
        rec = dict(schema=SCHEMA, run_id=f'big/e{i}/{proto}', sweep='big', entry_id=f'e{i}', method=f'm{i % 4}',
                   experiment=f'x{i % 50}', protocol=proto, seed=i % 3, finished_at=1.7e9 + i, status='done',
                   metrics={c: round(rng.uniform(0, 60), 2) for c in cols},
                   raw_metrics={f'{proto}/bbox_{c}': rng.random() for c in cols},
                   config={'path': 'configs/x.py', 'sha256': 'a' * 64},
                   eval_config={'path': 'configs/y.py', 'sha256': 'b' * 64, 'resolved_sha256': 'c' * 64},
                   checkpoint={'path': '/ckpt.pth', 'sha256': 'd' * 64}, packages={'torch': '2'},
                   hardware={'hostname': 'n1', 'cpu_count': 8}, wall_time_s={'train': 1.0, 'test': 2.0})
        d = root / f'e{i}' / 'records'
        d.mkdir(parents=True)
        (d / f'{proto}.json').write_text(json.dumps(rec, indent=2))
    t0, c0 = time.perf_counter(), _cpu()
    board = build_leaderboard([str(root)], str(tmp / 'board'), strict=True)
    ours, ours_cpu = time.perf_counter() - t0, _cpu() - c0
    assert board.records == n_records

    import pandas as pd
    t0, c0 = time.perf_counter(), _cpu()
    files = sorted(root.glob('*/records/*.json'))
    frame = pd.json_normalize([json.loads(p.read_text()) for p in files])
    (tmp / 'pandas').mkdir()
    for proto, cols in protocols:
        sub = frame[frame['protocol'] == proto]
        wide = sub.pivot_table(index=['method', 'experiment', 'seed', 'run_id'],
                               values=[f'metrics.{c}' for c in cols], aggfunc='first')
        wide.to_csv(tmp / 'pandas' / f'{proto}.csv')
    peer, peer_cpu = time.perf_counter() - t0, _cpu() - c0
    print(f'leaderboard build from {n_records} run records: {ours:.2f} s wall, {ours_cpu:.2f} s CPU '
          f'(goal < 5 s: {"met" if ours < 5 else "NOT met"}, {ours / 5:.2f} of the budget)')
    print(f'  peer: pandas json_normalize + pivot + to_csv (no validation, dedupe or lock): {peer:.2f} s wall, '
          f'{peer_cpu:.2f} s CPU; ratio ours/peer = {ours / peer:.2f} wall, {ours_cpu / peer_cpu:.2f} CPU')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--entries', type=int, default=500)
    parser.add_argument('--records', type=int, default=10000)
    args = parser.parse_args()
    print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}')
    with tempfile.TemporaryDirectory(prefix='ovd_perf_') as tmp:
        sweep_overhead(args.entries, Path(tmp))
    with tempfile.TemporaryDirectory(prefix='ovd_perf_') as tmp:
        leaderboard_build(args.records, Path(tmp))


if __name__ == '__main__':
    main()
