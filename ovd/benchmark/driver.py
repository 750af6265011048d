"""The program a sweep job runs: ``python -m ovd.benchmark.driver ENTRY_DIR``.

It trains the entry's config (resuming from the work dir's last checkpoint when there is one), evaluates the
final checkpoint with every evaluation of the entry, and writes one run record per evaluation, updating
``status.json`` at each step. Training and testing run as child processes (under ``srun`` for multi-task SLURM
jobs, ``torch.distributed.run`` for multi-task local jobs).

Signals: SIGTERM (cancel, preemption) and SIGUSR1 (SLURM's warning before the time limit, or a manual
"preempt") are forwarded to the child, whose :class:`~ovd.benchmark.hooks.PreemptionCheckpointHook` saves a
checkpoint and exits. After SIGUSR1 under SLURM the driver requeues its own job (``scontrol requeue``); the
requeued job resumes from that checkpoint. After SIGTERM it records the entry as interrupted, and the next
``ovd sweep run`` resubmits it with ``--resume``.

One driver per entry: the driver holds the entry's lock (:mod:`~ovd.benchmark.entry_lock`) for its life and
hands it to its trainer, which gets SIGTERM (and so checkpoints and exits) when the driver dies, even by
``kill -9``. A driver that finds the lock taken exits at once without touching the entry.
"""
import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ovd.evaluation.metric_names import normalize_metrics
from ovd.evaluation.metrics_file import read_metrics
from ovd.evaluation.protocols import PROTOCOLS
from ovd.fileio import atomic_write_json, sha256_file, sha256_text
from .entry_lock import ENV_FD, LOCK_NAME, inherited_lock, try_lock
from .run_records import (
    SCHEMA,
    annotation_files,
    git_info,
    hardware_info,
    hash_files,
    package_versions,
    write_record,
)
from .spec import Entry, EvalSpec, default_search_dirs, resolve_path
from .state import EXIT_CHECKPOINTED, EntryDir, log_tail
from .step_error import ENV_ERROR_FILE, clear_step_error, read_step_error


class Interrupted(Exception):
    """The job was asked to stop (signal); it can be resumed."""


class StepFailed(Exception):
    """A training or evaluation step failed; the message says which and why."""


def format_cfg_options(options: Mapping[str, Any]) -> List[str]:
    """``--cfg-options`` arguments (``key=value``) that mmengine's DictAction parses back to ``options``.

    Nested mappings become dotted keys; lists and tuples use DictAction's bracket syntax.

    Args:
        options: config key -> value (numbers, strings, booleans, None, lists, mappings).

    Returns:
        One ``key=value`` string per leaf.
    """
    def fmt(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, (list, tuple)):
            inner = ','.join(fmt(v) for v in value)
            return f'[{inner}]' if isinstance(value, list) else f'({inner})'
        if isinstance(value, Mapping):
            raise TypeError('nested mappings are flattened before formatting')
        text = str(value)
        if isinstance(value, str) and (',' in text or text in ('True', 'False', 'None')):
            return f'"{text}"'
        return text

    out: List[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(f'{prefix}.{k}' if prefix else str(k), v)
        else:
            out.append(f'{prefix}={fmt(value)}')

    for key, value in options.items():
        walk(str(key), value)
    return out


_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int):
    """A ``preexec_fn``: the child gets SIGTERM when the driver dies (Linux ``prctl(PR_SET_PDEATHSIG)``), so a
    killed driver never leaves an orphaned trainer; SIGTERM makes the trainer checkpoint and exit."""
    def set_signal() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # not Linux: the entry lock still stops a second driver
            return
        if os.getppid() != parent_pid:  # the driver died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)
    return set_signal


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Driver:
    """Runs one entry to completion (or to a clean interruption)."""

    def __init__(self, entry_dir: str, attempt_id: str, lock_fd: Optional[int] = None) -> None:
        path = Path(entry_dir).resolve()
        self.lock_fd = lock_fd
        self.edir = EntryDir(str(path.parent), path.name)
        self.entry: Entry = self.edir.load_entry()
        os.environ.update(self.entry.env)  # configs read them at parse time ({{$VAR:default}})
        self.attempt_id = attempt_id
        self.child: Optional[subprocess.Popen] = None
        self.signal: Optional[int] = None
        self.in_slurm = 'SLURM_JOB_ID' in os.environ
        self.search = default_search_dirs()
        res = self.entry.resources
        self.distributed = res.tasks > 1
        self.cpu_only = res.gpus_per_node == 0

    # -- signals ---------------------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        print(f'[ovd driver] received {signal.Signals(signum).name}', flush=True)
        if self.signal is None or signum == signal.SIGUSR1:
            self.signal = signum
        if self.child is not None and self.child.poll() is None:
            try:
                self.child.send_signal(signum)
            except ProcessLookupError:
                pass

    def _install_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    # -- helpers ---------------------------------------------------------------------------------------------
    def _resolve(self, path: str) -> str:
        found = resolve_path(path, self.search)
        if found is None:
            raise StepFailed(f'{self.edir.entry_file}: file not found: {path}')
        return str(found.resolve())

    def _launcher(self, step_args: List[str]) -> List[str]:
        """The command that runs ``ovd.benchmark.launch`` with the right launcher for this job."""
        res = self.entry.resources
        py = [sys.executable, '-m', 'ovd.benchmark.launch']
        if not self.distributed:
            return py + step_args + ['--launcher', 'none']
        if self.in_slurm:
            srun = ['srun', f'--ntasks={res.tasks}', f'--ntasks-per-node={res.tasks // res.nodes}',
                    f'--nodes={res.nodes}', '--kill-on-bad-exit=1', f'--cpus-per-task={res.cpus_per_task}']
            return srun + py + step_args + ['--launcher', 'slurm']
        return [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={res.tasks}',
                f'--master_port={_free_port()}', '-m', 'ovd.benchmark.launch'] + step_args + \
            ['--launcher', 'pytorch']

    def _dist_options(self) -> Dict[str, Any]:
        if not self.distributed or not self.cpu_only:
            return {}
        return {'env_cfg.dist_cfg.backend': 'gloo', 'model_wrapper_cfg.type': 'CPUDistributedDataParallel'}

    def _env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.entry.env)
        repo = str(Path(__file__).resolve().parents[2])
        env['PYTHONPATH'] = repo + (os.pathsep + env['PYTHONPATH'] if env.get('PYTHONPATH') else '')
        env.setdefault('OMP_NUM_THREADS', str(self.entry.resources.cpus_per_task))
        if self.in_slurm and self.distributed:
            job = int(os.environ.get('SLURM_JOB_ID', '0'))
            env.setdefault('MASTER_PORT', str(20000 + job % 20000))
        return env

    def _run_step(self, phase: str, cmd: List[str]) -> int:
        if self.signal is not None:
            raise Interrupted(f'{signal.Signals(self.signal).name} received before {phase}')
        self.edir.update_status(phase=phase)
        print(f'[ovd driver] {phase}: {" ".join(cmd)}', flush=True)
        env = self._env()
        env[ENV_ERROR_FILE] = clear_step_error(self.edir.step_error_file)
        keep: tuple = ()
        if self.lock_fd is not None:  # the trainer keeps the entry locked until it has ended too
            keep, env[ENV_FD] = (self.lock_fd,), str(self.lock_fd)
        self.child = subprocess.Popen(cmd, env=env, pass_fds=keep, preexec_fn=_die_with_parent(os.getpid()))
        while True:
            try:
                rc = self.child.wait()
                break
            except InterruptedError:  # pragma: no cover (PEP 475 retries; kept for old interpreters)
                continue
        self.child = None
        if rc == EXIT_CHECKPOINTED or (self.signal is not None and rc != 0):
            why = signal.Signals(self.signal).name if self.signal else 'a signal'
            raise Interrupted(f'{phase} stopped by {why} (exit status {rc})')
        return rc

    def _fail(self, phase: str, rc: int) -> StepFailed:
        tail = log_tail(os.environ.get('OVD_LOG_FILE'), lines=12)
        error = read_step_error(self.edir.step_error_file)
        return StepFailed(f'{phase} failed with exit status {rc}' + (f': {error}' if error else '')
                          + (f'\nlog tail:\n{tail}' if tail else ''))

    # -- steps -----------------------------------------------------------------------------------------------
    def train(self, status: Dict[str, Any]) -> str:
        work = self.edir.work_dir
        marker = work / 'train_done.json'
        if marker.is_file():
            return json.loads(marker.read_text())['checkpoint']
        config = self._resolve(self.entry.train_config)
        options = {**self.entry.cfg_options, 'randomness.seed': self.entry.seed, **self._dist_options()}
        args = ['train', config, '--work-dir', str(work)]
        resume = (work / 'last_checkpoint').is_file()
        if resume:
            args.append('--resume')
        args += ['--cfg-options'] + format_cfg_options(options)
        start = time.time()
        try:
            rc = self._run_step('train (resumed)' if resume else 'train', self._launcher(args))
        finally:
            status['train_seconds'] = status.get('train_seconds', 0.0) + time.time() - start
            self.edir.update_status(train_seconds=status['train_seconds'])
        if rc != 0:
            raise self._fail('training', rc)
        pointer = work / 'last_checkpoint'
        if not pointer.is_file():
            raise StepFailed(f'training finished but wrote no checkpoint ({pointer} is missing): does '
                             f'{self.entry.train_config} have a CheckpointHook?')
        checkpoint = pointer.read_text().strip()
        atomic_write_json(marker, {'checkpoint': checkpoint, 'finished_at': time.time()})
        return checkpoint

    def evaluate(self, ev: EvalSpec, checkpoint: str, status: Dict[str, Any]) -> None:
        config = self._resolve(ev.config)
        options = {**self.entry.cfg_options, **ev.cfg_options, **self._dist_options()}
        test_dir = self.edir.work_dir / f'test_{ev.name}' / f'attempt-{status["attempts"]}'
        args = ['test', config, checkpoint, '--work-dir', str(test_dir)]
        if options:  # an empty --cfg-options is an argparse error
            args += ['--cfg-options'] + format_cfg_options(options)
        start = time.time()
        rc = self._run_step(f'evaluate {ev.name}', self._launcher(args))
        seconds = time.time() - start
        if rc != 0:
            raise self._fail(f'evaluation {ev.name!r}', rc)
        raw = read_metrics(test_dir)  # what tools/test.py wrote from runner.test()
        metrics = normalize_metrics(raw, ev.protocol, ev.metric_scale)
        if not metrics:
            raise StepFailed(f'evaluation {ev.name!r} ({ev.protocol}) returned {sorted(raw)}, none of which is a '
                             f'{PROTOCOLS[ev.protocol].family} leaderboard metric')
        record = self._record(ev, config, checkpoint, raw, metrics, status, seconds, options)
        write_record(str(self.edir.record_file(ev.name)), record)
        print(f'[ovd driver] {ev.name}: {metrics}', flush=True)

    def _record(self, ev: EvalSpec, config: str, checkpoint: str, raw: Dict[str, float],
                metrics: Dict[str, float], status: Dict[str, Any], test_seconds: float,
                options: Dict[str, Any]) -> Dict[str, Any]:
        from mmengine.config import Config
        cfg = Config.fromfile(config, import_custom_modules=False)
        cfg.merge_from_dict({k: v for k, v in options.items()})
        resolved = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
        annotations = annotation_files(cfg.get('test_dataloader', {}).get('dataset', {}))
        train_cfg = None
        if self.entry.train_config:
            path = self._resolve(self.entry.train_config)
            train_cfg = {'path': self.entry.train_config, 'sha256': sha256_file(path)}
        entry = self.entry
        wall = {'train': round(status.get('train_seconds', 0.0), 3), 'test': round(test_seconds, 3)}
        wall['total'] = round(wall['train'] + wall['test'], 3)
        return {
            'schema': SCHEMA,
            'run_id': f'{entry.sweep}/{entry.id}/{ev.name}',
            'sweep': entry.sweep, 'entry_id': entry.id, 'entry_hash': entry.hash, 'eval_name': ev.name,
            'method': entry.method, 'experiment': entry.experiment, 'protocol': ev.protocol,
            'dataset': ev.dataset, 'training_data': entry.training_data, 'seed': entry.seed,
            'grid': dict(entry.grid), 'cfg_options': options,
            'config': train_cfg,
            'eval_config': {'path': ev.config, 'sha256': sha256_file(config),
                            'resolved_sha256': sha256_text(resolved)},
            'checkpoint': {'path': checkpoint, 'sha256': sha256_file(checkpoint)
                           if os.path.isfile(checkpoint) else None},
            'annotations': hash_files(annotations),
            'metrics': metrics, 'raw_metrics': raw, 'metric_scale': ev.metric_scale,
            'reference': ev.reference,
            'git': git_info(str(Path(__file__).resolve().parent)),
            'packages': package_versions(),
            'hardware': {**hardware_info(), 'tasks': entry.resources.tasks, 'nodes': entry.resources.nodes},
            'wall_time_s': wall,
            'attempts': status['attempts'],
            'started_at': status.get('first_started_at'), 'finished_at': time.time(),
            'status': 'done',
        }

    # -- main ------------------------------------------------------------------------------------------------
    def run(self) -> int:
        self._install_handlers()
        prev = self.edir.status()
        if prev.get('state') == 'done' and len(self.edir.finished_evals(self.entry)) == len(self.entry.evals):
            print(f'[ovd driver] {self.edir.path}: already done (a second submission); nothing to run', flush=True)
            return 0
        status = dict(prev)
        status.update(state='running', phase='starting', attempt_id=self.attempt_id,
                      attempts=int(prev.get('attempts', 0)) + 1, pid=os.getpid(), host=socket.gethostname(),
                      slurm_job_id=os.environ.get('SLURM_JOB_ID'), started_at=time.time(),
                      log=os.environ.get('OVD_LOG_FILE'), reason='', error='')
        status.setdefault('first_started_at', status['started_at'])
        self.edir.update_status(**status)
        try:
            if self.entry.train_config:
                checkpoint = self.train(status)
            else:
                checkpoint = self._resolve(self.entry.checkpoint)
            for ev in self.entry.evals:
                if self.edir.record_file(ev.name).is_file():
                    continue
                self.evaluate(ev, checkpoint, status)
        except Interrupted as why:
            return self._interrupted(str(why))
        except Exception as err:  # any failure ends in status.json, with the reason
            if self.signal is not None:
                return self._interrupted(f'{err} (after {signal.Signals(self.signal).name})')
            message = str(err) if isinstance(err, StepFailed) else ''.join(
                traceback.format_exception_only(type(err), err)).strip()
            print(f'[ovd driver] FAILED: {message}', flush=True)
            if not isinstance(err, StepFailed):
                traceback.print_exc()
            self.edir.update_status(state='failed', phase='failed', error=message,
                                    failures=int(prev.get('failures', 0)) + 1, finished_at=time.time())
            return 1
        self.edir.update_status(state='done', phase='done', finished_at=time.time())
        self._update_leaderboard()
        return 0

    def _interrupted(self, reason: str) -> int:
        requeue = self.signal == signal.SIGUSR1 and self.in_slurm
        self.edir.update_status(state='interrupted', phase='interrupted',
                                reason=reason + ('; requeued' if requeue else ''), interrupted_at=time.time())
        print(f'[ovd driver] interrupted: {reason}', flush=True)
        if requeue:
            job = os.environ.get('SLURM_JOB_ID')
            if os.environ.get('SLURM_ARRAY_JOB_ID'):
                job = f'{os.environ["SLURM_ARRAY_JOB_ID"]}_{os.environ["SLURM_ARRAY_TASK_ID"]}'
            out = subprocess.run(['scontrol', 'requeue', job], capture_output=True, text=True)
            print(f'[ovd driver] scontrol requeue {job}: status {out.returncode} {out.stderr.strip()}',
                  flush=True)
            if out.returncode == 0:
                time.sleep(30)  # SLURM ends this instance of the job now; do not report an exit status first
        return EXIT_CHECKPOINTED

    def _update_leaderboard(self) -> None:
        out = self.entry.leaderboard_dir
        if not out:
            return
        try:
            from .leaderboard import build_leaderboard
            build_leaderboard([str(self.edir.path.parent)], out, references=self.entry.references)
        except Exception as err:  # the run record is written; the table can be rebuilt
            print(f'[ovd driver] leaderboard update failed (records are safe; rerun `ovd leaderboard build`): '
                  f'{err}', flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description='Run one sweep entry (used by the executors).')
    parser.add_argument('entry_dir')
    parser.add_argument('--attempt-id', default=os.environ.get('OVD_ATTEMPT_ID', ''))
    args = parser.parse_args(argv)
    entry_path = Path(args.entry_dir).resolve()
    lock_fd = inherited_lock(entry_path)
    if lock_fd is None:
        lock_fd = try_lock(entry_path, wait_s=5.0)
    if lock_fd is None:
        print(f'[ovd driver] {entry_path}: another driver holds {LOCK_NAME} (the entry is running); this one '
              f'exits without touching it', flush=True)
        return 0
    os.environ.pop(ENV_FD, None)
    return Driver(args.entry_dir, args.attempt_id, lock_fd=lock_fd).run()


if __name__ == '__main__':
    sys.exit(main())
