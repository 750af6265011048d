"""What every executor provides: submit entries, and say which earlier submissions are still alive."""
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from ovd.fileio import atomic_write_json
from ..spec import Entry
from ..state import EntryDir


@dataclass
class Submission:
    """One entry handed to an executor: the entry, its folder and the id of this attempt."""
    entry: Entry
    edir: EntryDir
    attempt_id: str

    @classmethod
    def new(cls, entry: Entry, edir: EntryDir) -> 'Submission':
        return cls(entry, edir, uuid.uuid4().hex[:12])


def driver_command(entry_dir: Path) -> List[str]:
    """The job's command line: the sweep driver on this entry's folder."""
    return [sys.executable, '-m', 'ovd.benchmark.driver', str(entry_dir)]


def python_path() -> str:
    """A PYTHONPATH under which jobs import this same ``ovd`` (a source checkout need not be installed)."""
    root = str(Path(__file__).resolve().parents[3])
    current = os.environ.get('PYTHONPATH', '')
    return root if not current else (current if root in current.split(os.pathsep) else
                                     root + os.pathsep + current)


def write_submission(sub: Submission, **fields) -> None:
    atomic_write_json(sub.edir.submission_file, dict(attempt_id=sub.attempt_id, entry_id=sub.entry.id,
                                                     submitted_at=time.time(), **fields), durable=False)


class Executor:
    """Base class. ``submit`` starts (local: runs) the given entries; ``alive`` maps each entry id whose
    submission is still alive to 'queued' or 'running'."""
    name = 'base'
    blocking = False

    def submit(self, subs: Sequence[Submission]) -> None:
        raise NotImplementedError

    def alive(self, submissions: Mapping[str, Optional[dict]]) -> Dict[str, Optional[str]]:
        raise NotImplementedError

    def cancel(self, submissions: Mapping[str, Optional[dict]]) -> List[str]:
        raise NotImplementedError
