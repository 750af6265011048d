"""``ovd sweep run --executor slurm`` on a real single-node SLURM cluster, with the smoke config on synthetic COCO.

One module fixture plays the whole scenario (the jobs run side by side to keep the wall time short), and each test
checks one part of it:

* a 2-entry sweep, one entry a 2-task distributed training run (srun + gloo), completes;
* a job cancelled mid-training (``scancel``) and a job preempted (``scancel --signal=USR1 --batch``: what SLURM's
  ``--signal=B:USR1@grace`` sends before a time limit): the preempted job checkpoints and requeues itself, the
  cancelled one checkpoints and is resumed by re-running the sweep; both complete and the leaderboard has exactly
  one row per entry;
* a job with a bad config fails, ``ovd sweep status`` says so with the error, and nothing else is affected.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runner_helpers import REPO, write_spec

from ovd.benchmark.entry_lock import is_locked
from ovd.benchmark.leaderboard import read_table_csv

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

PAIR = """
name: pair
root: @ROOT@/pair
defaults:
  env: {OVD_DATA_ROOT: @DATA_ROOT@}
  cfg_options: {train_cfg.max_epochs: 1}
  resources: {time: '00:15:00'}
experiments:
  - {name: single, method: smoke, train: @SMOKE@, evaluate: [{protocol: coco}]}
  - {name: dist, method: smoke, train: @SMOKE@, resources: {tasks: 2}, evaluate: [{protocol: coco}]}
"""
# Long enough (12 iterations, no periodic checkpoint) to be stopped mid-training.
RESUME = """
name: resume
root: @ROOT@/resume
defaults:
  env: {OVD_DATA_ROOT: @DATA_ROOT@}
  cfg_options: {train_cfg.max_epochs: 6, train_cfg.val_interval: 100, default_hooks.checkpoint.interval: 100}
  resources: {time: '00:15:00'}
experiments:
  - {name: cancelled, method: smoke, train: @SMOKE@, evaluate: [{protocol: coco}]}
  - {name: preempted, method: smoke, train: @SMOKE@, evaluate: [{protocol: coco}]}
"""
BAD = """
name: bad
root: @ROOT@/bad
defaults:
  env: {OVD_DATA_ROOT: @DATA_ROOT@}
  retries: 0
experiments:
  - {name: broken, method: smoke, train: @BAD_CONFIG@, evaluate: [{protocol: coco}]}
"""
BAD_CONFIG = f"""_base_ = '{REPO}/configs/smoke/faster-rcnn_r18_tiny_synth-coco.py'
model = dict(type='NoSuchDetector')
"""


def ovd(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run([sys.executable, '-m', 'ovd.cli', *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=str(REPO))


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _wait(predicate, timeout: float, what: str, poll: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f'timed out after {timeout:.0f}s waiting for {what}')


def _training_started(entry_dir: Path):
    def check():
        sub = entry_dir / 'submission.json'
        if not sub.is_file():
            return None
        log = Path(_json(sub)['log'])
        return _json(sub)['job_id'] if log.is_file() and 'Epoch(train) [1][1/' in log.read_text() else None
    return check


@pytest.fixture(scope='module')
def scenario(slurm_cluster, synthetic_data_root, tmp_path_factory):
    root = tmp_path_factory.mktemp('slurm_sweeps')
    bad_config = root / 'bad_config.py'
    bad_config.write_text(BAD_CONFIG)
    specs = {}
    for name, body in (('pair', PAIR), ('resume', RESUME), ('bad', BAD)):
        body = body.replace('@ROOT@', str(root)).replace('@BAD_CONFIG@', str(bad_config))
        specs[name] = str(write_spec(root / f'{name}.yaml', body, synthetic_data_root))
    start = time.time()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    # The three sweeps are submitted at once; their jobs share the node.
    procs = {n: subprocess.Popen([sys.executable, '-m', 'ovd.cli', 'sweep', 'run', s, '--executor', 'slurm',
                                  '--partition', slurm_cluster], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env, cwd=str(REPO))
             for n, s in specs.items()}
    first_runs = {n: p.communicate(timeout=300)[0] for n, p in procs.items()}
    for n, p in procs.items():
        assert p.returncode == 0, f'ovd sweep run {n} failed:\n{first_runs[n]}'

    resume_root = root / 'resume'
    cancelled_job = _wait(_training_started(resume_root / 'cancelled-s0'), 240, 'the job to cancel to train')
    subprocess.run(['scancel', cancelled_job], check=True)
    preempted_job = _wait(_training_started(resume_root / 'preempted-s0'), 240, 'the job to preempt to train')
    # What SLURM sends before a time limit with --signal=B:USR1@grace: the driver checkpoints and requeues.
    subprocess.run(['scancel', '--signal=USR1', '--batch', preempted_job], check=True)
    _wait(lambda: _json(resume_root / 'cancelled-s0' / 'status.json').get('state') == 'interrupted', 120,
          'the cancelled job to record itself as interrupted')
    # ... and to be gone: its driver's lock released and SLURM no longer listing the job (a loaded machine
    # recorded the state while the job was still completing, and the rerun then left it "running").
    _wait(lambda: not is_locked(resume_root / 'cancelled-s0') and not subprocess.run(
        ['squeue', '-h', '-j', cancelled_job], capture_output=True, text=True).stdout.strip(), 120,
        'the cancelled job to leave SLURM')

    # Re-running the sweep resubmits the cancelled entry (resume) and leaves the requeued one alone; the other
    # sweeps are re-run at the same time (their entries are running or done: nothing is submitted twice).
    calls = {'resume': ['sweep', 'run', specs['resume'], '--partition', slurm_cluster, '--timeout', '480'],
             'pair': ['sweep', 'run', specs['pair'], '--timeout', '480'],
             'bad': ['sweep', 'run', specs['bad'], '--timeout', '480']}
    procs = {n: subprocess.Popen([sys.executable, '-m', 'ovd.cli', *args, '--executor', 'slurm', '--wait',
                                  '--poll', '2'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env, cwd=str(REPO)) for n, args in calls.items()}
    waits = {}
    for n, p in procs.items():
        out, err = p.communicate(timeout=600)
        waits[n] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    rerun = waits.pop('resume')
    status_bad = ovd('sweep', 'status', specs['bad'], '--executor', 'slurm')
    return dict(root=root, specs=specs, first_runs=first_runs, rerun=rerun, waits=waits, status_bad=status_bad,
                cancelled_job=cancelled_job, preempted_job=preempted_job, seconds=time.time() - start)


def test_two_entry_sweep_with_distributed_training_completes(scenario):
    root = scenario['root'] / 'pair'
    out = scenario['waits']['pair']
    assert out.returncode == 0, out.stdout + out.stderr
    single = _json(root / 'single-s0' / 'records' / 'coco.json')
    dist = _json(root / 'dist-s0' / 'records' / 'coco.json')
    assert single['hardware']['tasks'] == 1 and dist['hardware']['tasks'] == 2
    assert set(dist['metrics']) >= {'AP', 'AP50', 'AP75'}
    assert dist['hardware']['slurm_job_id'] and dist['checkpoint']['sha256']
    log = Path(_json(root / 'dist-s0' / 'submission.json')['log']).read_text()
    assert 'srun --ntasks=2' in log and 'env_cfg.dist_cfg.backend=gloo' in log
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # mmengine's runtime summary
    # Both jobs rebuilt the sweep's leaderboard as they finished: one row each, never duplicated.
    rows = [r for r in read_table_csv(str(root / 'leaderboard' / 'leaderboard_coco.csv')) if r['source'] == 'ours']
    assert sorted(r['run_id'] for r in rows) == ['pair/dist-s0/coco', 'pair/single-s0/coco']


def test_cancelled_and_preempted_jobs_resume_from_their_checkpoint(scenario):
    root = scenario['root'] / 'resume'
    assert scenario['rerun'].returncode == 0, scenario['rerun'].stdout + scenario['rerun'].stderr
    assert 'cancelled-s0: resuming' in scenario['rerun'].stdout
    for name in ('cancelled', 'preempted'):
        edir = root / f'{name}-s0'
        status = _json(edir / 'status.json')
        assert status['state'] == 'done' and status['attempts'] == 2 and status.get('failures', 0) == 0, status
        # The hook's mid-training checkpoint (periodic checkpoints are off) and mmengine's resume from it.
        assert list((edir / 'work_dir').glob('iter_*.pth')), f'{name}: no checkpoint saved on the signal'
        log_text = '\n'.join(p.read_text() for p in (edir / 'logs').glob('*.log'))
        assert 'train (resumed)' in log_text and 'resumed epoch' in log_text.lower(), log_text[-3000:]
        assert _json(edir / 'records' / 'coco.json')['attempts'] == 2
        # Resumed at the iteration where it stopped, with the epoch's remaining batches (ExactResumeHook): the
        # run ends at 6 epochs x 2 iterations, as an uninterrupted one does (it ended past it before).
        checkpoint = _json(edir / 'work_dir' / 'train_done.json')['checkpoint']
        import torch
        assert torch.load(checkpoint, map_location='cpu', weights_only=False)['meta']['iter'] == 12, name
        assert 'skipping the' in log_text, log_text[-3000:]
    pre_log = (root / 'preempted-s0' / 'logs' / f'slurm-{scenario["preempted_job"]}.log').read_text()
    assert f'scontrol requeue {scenario["preempted_job"]}: status 0' in pre_log
    assert 'restart 1' in pre_log  # the same SLURM job ran again after requeueing itself
    # The cancelled entry ran as a new job; the preempted one kept its job id.
    assert _json(root / 'cancelled-s0' / 'submission.json')['job_id'] != scenario['cancelled_job']
    assert _json(root / 'preempted-s0' / 'submission.json')['job_id'] == scenario['preempted_job']
    board = ovd('leaderboard', 'build', str(root), '--out', str(root / 'board'))
    assert board.returncode == 0, board.stderr
    rows = [r for r in read_table_csv(str(root / 'board' / 'leaderboard_coco.csv')) if r['source'] == 'ours']
    assert sorted(r['run_id'] for r in rows) == ['resume/cancelled-s0/coco', 'resume/preempted-s0/coco']


def test_failed_job_is_reported_and_affects_nothing_else(scenario):
    root = scenario['root'] / 'bad'
    status = _json(root / 'broken-s0' / 'status.json')
    assert status['state'] == 'failed' and status['failures'] == 1
    assert 'NoSuchDetector' in status['error'] and 'training failed with exit status' in status['error']
    shown = scenario['status_bad'].stdout
    assert 'failed' in shown and 'NoSuchDetector' in shown
    assert scenario['waits']['bad'].returncode == 1  # the sweep reports the failure
    assert not (root / 'broken-s0' / 'records').exists()
    # The other sweeps, running beside it, completed.
    assert (scenario['root'] / 'pair' / 'dist-s0' / 'records' / 'coco.json').is_file()
    assert (scenario['root'] / 'resume' / 'preempted-s0' / 'records' / 'coco.json').is_file()
