"""Run sweep entries on this machine: a bounded pool of worker threads, each running one job process at a time
(the driver), with the job's output in the entry's log."""
import os
import signal
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from ..entry_lock import ENV_FD, try_lock
from ..state import local_pid_alive
from .base import Executor, Submission, driver_command, python_path, write_submission


def _cmdline(pid: int) -> str:
    try:
        return Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return ''


class LocalExecutor(Executor):
    """Runs entries as local processes, at most ``workers`` at a time; :meth:`submit` returns when all ended.

    Args:
        workers: how many jobs run at once.
        command: builds a job's command line from its entry folder (default: the sweep driver).
        progress: show a progress bar.
        job_fn: run each job as this in-process call ``job_fn(entry_dir, env) -> exit status`` instead of a
            process (for measuring the runner's own overhead with instant fake jobs).
    """
    name = 'local'
    blocking = True

    def __init__(self, workers: int = 1, command: Optional[Callable[[Path], List[str]]] = None,
                 progress: bool = True, job_fn: Optional[Callable[[Path, Dict[str, str]], int]] = None) -> None:
        if workers < 1:
            raise ValueError(f'workers must be >= 1, got {workers}')
        self.workers = workers
        self.command = command or driver_command
        self.progress = progress
        self.job_fn = job_fn
        self._procs: Dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self.exit_codes: Dict[str, int] = {}
        self.skipped: Dict[str, str] = {}  # entry id -> why it was not started after all

    def _run_one(self, sub: Submission) -> int:
        edir = sub.edir
        # The entry's lock is taken here, before the driver starts, and handed to it: a second `ovd sweep run`
        # that decided to run the same entry finds it taken and leaves it (and its submission file) alone.
        lock_fd = try_lock(edir.path, wait_s=2.0)
        if lock_fd is None:
            self.skipped[sub.entry.id] = 'another driver is running it'
            return 0
        try:
            if len(edir.finished_evals(sub.entry)) == len(sub.entry.evals):
                self.skipped[sub.entry.id] = 'finished meanwhile'
                return 0
            return self._start(sub, lock_fd)
        finally:
            os.close(lock_fd)

    def _start(self, sub: Submission, lock_fd: int) -> int:
        edir = sub.edir
        edir.logs_dir.mkdir(parents=True, exist_ok=True)
        log = edir.logs_dir / f'local-{sub.attempt_id}.log'
        env = dict(os.environ, OVD_ATTEMPT_ID=sub.attempt_id, OVD_LOG_FILE=str(log), PYTHONPATH=python_path())
        if self.job_fn is not None:
            write_submission(sub, executor='local', job_id=f'{socket.gethostname()}:inline',
                             host=socket.gethostname(), pid=None, log=str(log))
            return self.job_fn(edir.path, env)
        env[ENV_FD] = str(lock_fd)
        with open(log, 'ab') as out:
            proc = subprocess.Popen(self.command(edir.path), stdout=out, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, pass_fds=(lock_fd,))
            with self._lock:
                self._procs[sub.entry.id] = proc
            write_submission(sub, executor='local', job_id=f'{socket.gethostname()}:{proc.pid}',
                             host=socket.gethostname(), pid=proc.pid, log=str(log))
            rc = proc.wait()
        with self._lock:
            self._procs.pop(sub.entry.id, None)
        return rc

    def terminate(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to every job process this executor is running."""
        with self._lock:
            for proc in self._procs.values():
                proc.send_signal(signum)

    def submit(self, subs: Sequence[Submission]) -> None:
        if not subs:
            return
        bar = None
        if self.progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            bar = Progress(TextColumn('[bold]sweep[/]'), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn('{task.description}'))
            bar.start()
            task = bar.add_task('', total=len(subs))
        try:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                futures = {pool.submit(self._run_one, s): s for s in subs}
                for fut in as_completed(futures):
                    sub = futures[fut]
                    rc = fut.result()
                    self.exit_codes[sub.entry.id] = rc
                    if bar is not None:
                        outcome = self.skipped.get(sub.entry.id) or ('ok' if rc == 0 else f'exit {rc}')
                        bar.update(task, advance=1, description=f'{sub.entry.id}: {outcome}')
        except KeyboardInterrupt:
            # Ctrl-C: every job gets SIGTERM, checkpoints and records itself as interrupted.
            self.terminate(signal.SIGTERM)
            raise
        finally:
            if bar is not None:
                bar.stop()

    def alive(self, submissions: Mapping[str, Optional[dict]]) -> Dict[str, Optional[str]]:
        out: Dict[str, Optional[str]] = {}
        for entry_id, sub in submissions.items():
            ok = bool(sub) and sub.get('executor') == 'local' and \
                local_pid_alive(sub.get('host'), sub.get('pid')) and entry_id in _cmdline(int(sub['pid']))
            out[entry_id] = 'running' if ok else None
        return out

    def cancel(self, submissions: Mapping[str, Optional[dict]]) -> List[str]:
        cancelled = []
        for entry_id, state in self.alive(submissions).items():
            if state:
                os.kill(int(submissions[entry_id]['pid']), signal.SIGTERM)
                cancelled.append(entry_id)
        return cancelled
