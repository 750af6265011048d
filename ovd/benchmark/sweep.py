"""Sweep orchestration: work out each entry's state, submit what needs to run (new, interrupted, failed within
its retry budget, changed), leave finished and live jobs alone, optionally wait, and rebuild the leaderboard.

Repeating :func:`run_sweep` is always safe: it derives everything from the entries' files and the executor's
queue, never from memory of an earlier call.
"""
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from filelock import FileLock

from .entry_lock import is_locked
from .executors import Executor, Submission
from .spec import Entry, Sweep
from .state import EntryDir, EntryStatus, State, resolve_state


@dataclass
class RunSummary:
    """What one ``ovd sweep run`` did."""
    submitted: List[str] = field(default_factory=list)
    skipped_done: List[str] = field(default_factory=list)
    left_running: List[str] = field(default_factory=list)
    gave_up: List[str] = field(default_factory=list)
    superseded: List[str] = field(default_factory=list)
    broken: List[str] = field(default_factory=list)
    statuses: List[EntryStatus] = field(default_factory=list)


def entry_dirs(sweep: Sweep) -> Dict[str, EntryDir]:
    return {e.id: EntryDir(sweep.root, e.id) for e in sweep.entries}


def _read_or_none(edir: EntryDir, path: Path) -> Optional[dict]:
    try:
        return edir.read(path)
    except (OSError, ValueError):  # resolve_state reports the entry as broken
        return None


def collect_status(sweep: Sweep, executor: Executor) -> List[EntryStatus]:
    """The state of every entry (one executor query for all of them)."""
    dirs = entry_dirs(sweep)
    subs = {eid: _read_or_none(d, d.submission_file) for eid, d in dirs.items()}
    by_executor: Dict[str, Optional[str]] = {}
    relevant = {eid: s for eid, s in subs.items() if s and s.get('executor') == executor.name}
    if relevant:
        by_executor = executor.alive(relevant)
    # A locked entry has a live driver (or a trainer still saving after its driver was killed), whatever the
    # executor says: it counts as running, so nothing starts a second trainer in its work dir.
    return [resolve_state(dirs[e.id], e, by_executor.get(e.id) or
                          ('running' if is_locked(dirs[e.id].path) else None)) for e in sweep.entries]


def _supersede(edir: EntryDir, root: str) -> str:
    """Move an entry folder whose spec changed aside (results are kept, never deleted)."""
    old = edir.read(edir.entry_file) or {}
    dest = Path(root) / '.superseded' / f'{edir.entry_id}-{old.get("hash", "unknown")}-{int(time.time())}'
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(edir.path), str(dest))
    return str(dest)


def run_sweep(sweep: Sweep, executor: Executor, max_retries: Optional[int] = None,
              dry_run: bool = False, log: Callable[[str], None] = print) -> RunSummary:
    """Submit every entry that needs to run.

    Args:
        sweep: the loaded spec.
        executor: where jobs run (a blocking executor returns when they have ended).
        max_retries: overrides each entry's ``retries`` (how often a failed entry is resubmitted).
        dry_run: decide, but submit nothing.
        log: where one-line notes go.

    Returns:
        A :class:`RunSummary`; ``statuses`` is the state after the call.
    """
    Path(sweep.root).mkdir(parents=True, exist_ok=True)
    # Two `ovd sweep run` of one sweep decide (and, for a queueing executor, submit) one after the other, so
    # the second sees the first's submissions as queued or running. A blocking executor runs its jobs after
    # the lock is released; it takes each entry's driver lock before starting it.
    with FileLock(str(Path(sweep.root) / '.run.lock'), timeout=600):
        summary, todo = _decide(sweep, executor, max_retries, dry_run, log)
        if todo and not dry_run and not executor.blocking:
            executor.submit(todo)
    if todo and not dry_run and executor.blocking:
        executor.submit(todo)
    summary.statuses = collect_status(sweep, executor) if not dry_run else []
    return summary


def _decide(sweep: Sweep, executor: Executor, max_retries: Optional[int], dry_run: bool,
            log: Callable[[str], None]) -> Tuple[RunSummary, List[Submission]]:
    summary = RunSummary()
    dirs = entry_dirs(sweep)
    todo: List[Submission] = []
    for entry, st in zip(sweep.entries, collect_status(sweep, executor)):
        edir = dirs[entry.id]
        if st.state == State.DONE:
            summary.skipped_done.append(entry.id)
            continue
        if st.state == State.BROKEN:
            summary.broken.append(entry.id)
            continue
        if st.state in (State.QUEUED, State.RUNNING):
            summary.left_running.append(entry.id)
            continue
        if st.state == State.FAILED:
            budget = entry.retries if max_retries is None else max_retries
            if st.failures > budget:
                summary.gave_up.append(entry.id)
                continue
            log(f'{entry.id}: retrying after failure {st.failures}/{budget + 1}')
        if st.state == State.CHANGED and not dry_run:
            summary.superseded.append(_supersede(edir, sweep.root))
            log(f'{entry.id}: spec changed; earlier results moved to {summary.superseded[-1]}')
        if st.state == State.INTERRUPTED:
            log(f'{entry.id}: resuming ({st.detail})')
        if not dry_run:
            edir.path.mkdir(parents=True, exist_ok=True)
            edir.write_entry(entry)
        todo.append(Submission.new(entry, edir))
    summary.submitted = [s.entry.id for s in todo]
    return summary, todo


def wait_for(sweep: Sweep, executor: Executor, poll_s: float = 5.0, timeout_s: Optional[float] = None,
             on_poll: Optional[Callable[[List[EntryStatus]], None]] = None) -> List[EntryStatus]:
    """Poll until no entry of the sweep is queued or running (or ``timeout_s`` passes).

    Returns:
        The final statuses.
    """
    start = time.time()
    while True:
        statuses = collect_status(sweep, executor)
        if on_poll is not None:
            on_poll(statuses)
        if not any(s.state in (State.QUEUED, State.RUNNING) for s in statuses):
            return statuses
        if timeout_s is not None and time.time() - start > timeout_s:
            return statuses
        time.sleep(poll_s)


def entries_by_id(sweep: Sweep) -> Dict[str, Entry]:
    return {e.id: e for e in sweep.entries}
