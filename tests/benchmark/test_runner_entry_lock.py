"""One driver per sweep entry: two ``ovd sweep run`` of one spec at once start each entry once; a driver killed
with ``kill -9`` takes its trainer with it (the trainer checkpoints), the entry counts as running until the
trainer has ended, no second trainer starts meanwhile, and the next run resumes to the planned iteration."""
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from runner_helpers import REPO, write_spec

from ovd.benchmark.entry_lock import is_locked, try_lock
from ovd.benchmark.executors import LocalExecutor
from ovd.benchmark.spec import load_spec
from ovd.benchmark.state import State
from ovd.benchmark.sweep import collect_status, run_sweep
from ovd.evaluation.metric_names import normalize_metrics
from ovd.evaluation.metrics_file import METRICS_FILE, read_metrics

# Stand-in job: notes its start, runs a while, writes its record and status like the driver.
SLOW_JOB = textwrap.dedent('''
    import json, os, pathlib, sys, time
    d = pathlib.Path(sys.argv[1])
    with open(d.parent / 'launches.txt', 'a') as f:
        f.write(d.name + '\\n')
    entry = json.loads((d / 'entry.json').read_text())
    time.sleep(1.5)
    rec = dict(schema='ovd.run_record/1', run_id=entry['sweep'] + '/' + entry['id'] + '/coco',
               method=entry['method'], protocol='coco', metrics={'AP': 1.0}, status='done',
               finished_at=time.time(), seed=entry['seed'])
    (d / 'records').mkdir(exist_ok=True)
    (d / 'records' / 'coco.json').write_text(json.dumps(rec))
    (d / 'status.json').write_text(json.dumps(dict(state='done', attempt_id=os.environ['OVD_ATTEMPT_ID'],
                                                   attempts=1)))
''')
SPEC = """
name: twice
experiments:
  - {name: a, method: smoke, train: @SMOKE@, seeds: [0, 1, 2], evaluate: [{protocol: coco}]}
"""


def _run_sweep_process(spec, root, script, barrier):
    sweep = load_spec(spec, root=root)
    ex = LocalExecutor(workers=3, command=lambda d: [sys.executable, '-S', script, str(d)], progress=False)
    barrier.wait()
    run_sweep(sweep, ex, log=lambda m: None)


def test_two_sweep_runs_at_once_start_each_entry_once(tmp_path):
    spec = str(write_spec(tmp_path / 's.yaml', SPEC))
    root = str(tmp_path / 'root')
    script = tmp_path / 'slow_job.py'
    script.write_text(SLOW_JOB)
    ctx = mp.get_context('fork')
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_run_sweep_process, args=(spec, root, str(script), barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    launches = (Path(root) / 'launches.txt').read_text().split()
    assert sorted(launches) == ['a-s0', 'a-s1', 'a-s2']
    sweep = load_spec(spec, root=root)
    assert {s.state for s in collect_status(sweep, LocalExecutor(progress=False))} == {State.DONE}


def test_a_locked_entry_counts_as_running(tmp_path):
    sweep = load_spec(str(write_spec(tmp_path / 's.yaml', SPEC)), root=str(tmp_path / 'root'))
    ex = LocalExecutor(progress=False, command=lambda d: [sys.executable, '-c', 'raise SystemExit(3)'])
    held = try_lock(Path(sweep.root) / 'a-s1')
    try:
        assert is_locked(Path(sweep.root) / 'a-s1') and not is_locked(Path(sweep.root) / 'a-s0')
        states = {s.entry_id: s.state for s in collect_status(sweep, ex)}
        assert states == {'a-s0': State.PENDING, 'a-s1': State.RUNNING, 'a-s2': State.PENDING}
        summary = run_sweep(sweep, ex, log=lambda m: None)
        assert summary.left_running == ['a-s1'] and sorted(summary.submitted) == ['a-s0', 'a-s2']
    finally:
        os.close(held)
    assert not is_locked(Path(sweep.root) / 'a-s1')


# Real training (smoke config, 6 epochs of 2 iterations, no periodic checkpoint).
REAL = """
name: killed
root: @ROOT@
defaults:
  env: {OVD_DATA_ROOT: @DATA_ROOT@}
  cfg_options: {train_cfg.max_epochs: 6, train_cfg.val_interval: 100, default_hooks.checkpoint.interval: 100}
experiments:
  - {name: k, method: smoke, train: @SMOKE@, evaluate: [{protocol: coco}]}
"""


def _trainers(work_dir: Path):
    """pids of training processes (ovd.benchmark.launch train) of this work dir."""
    found = []
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / 'cmdline').read_bytes().split(b'\0')
        except OSError:
            continue
        if b'ovd.benchmark.launch' in cmd and b'train' in cmd and str(work_dir).encode() in cmd:
            found.append(int(proc.name))
    return found


def _final_iteration(edir: Path) -> int:
    import torch
    checkpoint = json.loads((edir / 'work_dir' / 'train_done.json').read_text())['checkpoint']
    return torch.load(checkpoint, map_location='cpu', weights_only=False)['meta']['iter']


@pytest.mark.slow
def test_killed_driver_takes_its_trainer_and_no_second_trainer_starts(tmp_path, synthetic_data_root):
    root = tmp_path / 'sweep'
    spec = str(write_spec(tmp_path / 'k.yaml', REAL.replace('@ROOT@', str(root)), synthetic_data_root))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'ovd.cli', 'sweep', 'run', spec]
    edir = root / 'k-s0'
    work = edir / 'work_dir'
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    deadline = time.time() + 300
    while time.time() < deadline:  # until the trainer has trained an iteration
        logs = list((edir / 'logs').glob('*.log')) if (edir / 'logs').is_dir() else []
        if logs and 'Epoch(train) [1][1/' in logs[0].read_text(errors='replace'):
            break
        time.sleep(0.5)
    else:
        first.kill()
        raise AssertionError('training did not start')
    driver = json.loads((edir / 'status.json').read_text())['pid']
    trainers = _trainers(work)
    assert len(trainers) == 1
    # The trainer is paused so that it cannot finish before the second run looks: only the lock it holds
    # (inherited from the driver) can then tell that the entry is still busy.
    os.kill(trainers[0], signal.SIGSTOP)
    os.kill(driver, signal.SIGKILL)
    first.communicate(timeout=120)
    assert is_locked(edir)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO), timeout=300)
    assert 'submitted 0' in second.stdout and 'left running 1' in second.stdout, second.stdout + second.stderr
    assert _trainers(work) == trainers
    os.kill(trainers[0], signal.SIGCONT)  # it got SIGTERM when its driver died: checkpoint, then exit
    deadline = time.time() + 120
    while _trainers(work) and time.time() < deadline:
        time.sleep(0.5)
    assert not _trainers(work), 'the trainer outlived its driver'
    assert list(work.glob('iter_*.pth')), 'the trainer did not checkpoint on its way out'
    assert not is_locked(edir)

    third = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO), timeout=600)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert 'k-s0: resuming' in third.stdout
    assert (edir / 'records' / 'coco.json').is_file()
    assert _final_iteration(edir) == 12  # 6 epochs x 2 iterations: no batch trained twice, none skipped


@pytest.mark.slow
def test_two_real_sweep_runs_at_once_train_once(tmp_path, synthetic_data_root):
    root = tmp_path / 'sweep'
    spec = str(write_spec(tmp_path / 'd.yaml', REAL.replace('@ROOT@', str(root)).replace(
        'train_cfg.max_epochs: 6', 'train_cfg.max_epochs: 1'), synthetic_data_root))
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'ovd.cli', 'sweep', 'run', spec]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             cwd=str(REPO)) for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], '\n'.join(outs)
    edir = root / 'k-s0'
    logs = '\n'.join(p.read_text() for p in (edir / 'logs').glob('*.log'))
    assert logs.count('[ovd driver] train:') == 1, logs[-3000:]  # one trainer, started once
    status = json.loads((edir / 'status.json').read_text())
    assert status['state'] == 'done' and status['attempts'] == 1
    # status points at the log of the run that trained
    assert '[ovd driver] train:' in Path(status['log']).read_text()
    record = json.loads((edir / 'records' / 'coco.json').read_text())
    assert record['attempts'] == 1
    # the record's metrics are the ones tools/test.py wrote from runner.test(), as leaderboard columns
    written = list((edir / 'work_dir').glob(f'test_coco/attempt-1/*/{METRICS_FILE}'))
    assert len(written) == 1 and record['raw_metrics'] == read_metrics(written[0].parent.parent)
    assert record['metrics'] == normalize_metrics(record['raw_metrics'], 'coco') and 'AP50' in record['metrics']
