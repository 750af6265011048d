"""The on-disk state of a sweep entry and how a re-run decides what to do with it.

Each entry owns one folder ``<sweep root>/<entry id>/``::

    entry.json          the expanded entry (written when the sweep is run)
    submission.json     the executor's handle for the latest attempt (SLURM job id, or local pid)
    status.json         written by the job itself: running / interrupted / failed / done, attempt counters
    .driver.lock        held (flock) by the entry's driver and its trainer while they live: the entry is running
    records/<eval>.json one run record per finished evaluation (the results)
    logs/attempt-<n>.log
    step_error.txt      the exception line that ended the last failed step (written by the step's process)
    work_dir/           mmengine's work dir (checkpoints, ``last_checkpoint``); test_<eval>/ for evaluations

Every file is replaced atomically. The state of an entry is derived from these files plus the executor's view of
whether the job is still alive (or its lock held), so ``ovd sweep run`` can be repeated at any time. An entry whose
state files cannot be read is reported as broken and left alone; the rest of the sweep goes on.
"""
import enum
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ovd.fileio import atomic_write_json, read_json
from .spec import Entry

#: exit status of a training process that saved a checkpoint because it was asked to stop (EX_TEMPFAIL): set by
#: :class:`~ovd.benchmark.hooks.PreemptionCheckpointHook`, read by the driver
EXIT_CHECKPOINTED = 75


class State(str, enum.Enum):
    PENDING = 'pending'          # never submitted (or its submission vanished before it started)
    QUEUED = 'queued'            # submitted, alive, not started yet
    RUNNING = 'running'          # alive and running
    INTERRUPTED = 'interrupted'  # stopped by a signal / killed: resumes from its checkpoint when resubmitted
    FAILED = 'failed'            # the job failed; retried while its retry budget lasts
    DONE = 'done'                # every evaluation has its run record
    CHANGED = 'changed'          # the spec changed this entry since it ran: it runs again (old results kept)
    BROKEN = 'broken'            # a state file of the entry cannot be read: reported, left alone until fixed


@dataclass
class EntryStatus:
    entry_id: str
    state: State
    attempts: int = 0
    failures: int = 0
    job_id: Optional[str] = None
    error: str = ''
    log: Optional[str] = None
    detail: str = ''


class EntryDir:
    """Paths and file access for one entry's folder."""

    def __init__(self, root: str, entry_id: str) -> None:
        self.path = Path(root) / entry_id
        self.entry_id = entry_id

    entry_file = property(lambda self: self.path / 'entry.json')
    submission_file = property(lambda self: self.path / 'submission.json')
    status_file = property(lambda self: self.path / 'status.json')
    records_dir = property(lambda self: self.path / 'records')
    logs_dir = property(lambda self: self.path / 'logs')
    work_dir = property(lambda self: self.path / 'work_dir')
    step_error_file = property(lambda self: self.path / 'step_error.txt')

    def record_file(self, eval_name: str) -> Path:
        return self.records_dir / f'{eval_name}.json'

    def log_file(self, attempt: int) -> Path:
        return self.logs_dir / f'attempt-{attempt}.log'

    def read(self, path: Path) -> Optional[Dict[str, Any]]:
        """A state file's JSON object, or None when the file does not exist.

        Raises:
            ValueError: the file is not a JSON object (the message names it).
            OSError: it cannot be read.
        """
        try:
            data = read_json(path)
        except FileNotFoundError:
            return None
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected a JSON object, got {type(data).__name__}')
        return data

    def write_entry(self, entry: Entry) -> None:
        atomic_write_json(self.entry_file, entry.to_dict(), durable=False)

    def load_entry(self) -> Entry:
        data = self.read(self.entry_file)
        if data is None:
            raise FileNotFoundError(f'{self.entry_file}: entry not found')
        try:
            return Entry.from_dict(data)
        except (KeyError, TypeError) as err:
            raise ValueError(f'{self.entry_file}: malformed entry ({err})') from None

    def status(self) -> Dict[str, Any]:
        return self.read(self.status_file) or {}

    def update_status(self, **fields: Any) -> Dict[str, Any]:
        """Merge ``fields`` into status.json (only the job writes it, so read-modify-replace is safe)."""
        data = self.status()
        data.update(fields, updated=time.time())
        atomic_write_json(self.status_file, data)
        return data

    def finished_evals(self, entry: Entry) -> List[str]:
        return [e.name for e in entry.evals if self.record_file(e.name).is_file()]


def log_tail(path: Optional[str], lines: int = 15, max_chars: int = 4000) -> str:
    """The last ``lines`` lines of a log file (at most ``max_chars``), or '' if it cannot be read."""
    if not path:
        return ''
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode('utf-8', errors='replace')
    except OSError:
        return ''
    return '\n'.join(text.rstrip('\n').splitlines()[-lines:])[-max_chars:]


def local_pid_alive(host: Optional[str], pid: Optional[int]) -> bool:
    """Whether a local process (started on this host) still runs."""
    if not pid or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def state_file_error(err: BaseException) -> str:
    """``<file>: <reason>`` for an error reading an entry's state files."""
    if isinstance(err, OSError) and err.filename is not None:
        return f'{err.filename}: {err.strerror or err}'
    return str(err)


def resolve_state(edir: EntryDir, entry: Entry, alive: Optional[str]) -> EntryStatus:
    """Derive an entry's state from its files and the executor's answer.

    Args:
        edir: the entry's folder.
        entry: the entry as the spec expands it now.
        alive: the executor's view of the latest submission: 'queued', 'running', or None (not alive).

    Returns:
        The :class:`EntryStatus`; for failed entries ``error`` holds the reason and ``log`` the log file.
    """
    try:
        old = edir.read(edir.entry_file)
        status = edir.status()
        sub = edir.read(edir.submission_file) or {}
        common = dict(attempts=int(status.get('attempts', 0)), failures=int(status.get('failures', 0)),
                      job_id=sub.get('job_id'), log=status.get('log') or sub.get('log'))
    except (OSError, ValueError, TypeError) as err:  # one damaged entry must not stop the whole sweep
        return EntryStatus(entry.id, State.BROKEN, error=state_file_error(err),
                           detail='a state file cannot be read: fix or delete it, then run again')
    if old is not None and old.get('hash') != entry.hash:
        return EntryStatus(entry.id, State.CHANGED, detail=f'spec changed (was {old.get("hash")}, now '
                                                           f'{entry.hash})', **common)
    finished = edir.finished_evals(entry)
    if len(finished) == len(entry.evals):
        return EntryStatus(entry.id, State.DONE, detail=f'{len(finished)} record(s)', **common)
    if alive == 'queued':
        return EntryStatus(entry.id, State.QUEUED, **common)
    if alive == 'running':
        return EntryStatus(entry.id, State.RUNNING, detail=status.get('phase', ''), **common)
    if sub and status.get('attempt_id') != sub.get('attempt_id'):
        return EntryStatus(entry.id, State.PENDING, detail='submitted but never started', **common)
    job_state = status.get('state')
    if job_state == 'failed':
        return EntryStatus(entry.id, State.FAILED, error=status.get('error', ''), **common)
    if job_state in ('running', 'interrupted', 'done'):
        reason = status.get('reason') or ('the job vanished (killed, or its node failed)'
                                          if job_state == 'running' else 'records missing')
        return EntryStatus(entry.id, State.INTERRUPTED, detail=reason, **common)
    return EntryStatus(entry.id, State.PENDING, **common)
