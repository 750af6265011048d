"""A sweep step's failure handed over as data: the step's process (:mod:`ovd.benchmark.launch`) writes the
exception that ended it, as one line (``KeyError: 'NoSuchDetector is not in the model registry'``), to the file the
driver names in ``$OVD_STEP_ERROR_FILE``; the driver puts that line in the entry's status. Nothing is recovered from
the log text (whose tail is still shown beside it).
"""
import os
import traceback
from pathlib import Path
from typing import Optional, Union

from ovd.fileio import atomic_write_text

ENV_ERROR_FILE = 'OVD_STEP_ERROR_FILE'


def write_step_error(err: BaseException) -> None:
    """Write ``err`` as one line to ``$OVD_STEP_ERROR_FILE`` (nothing when it is not set)."""
    path = os.environ.get(ENV_ERROR_FILE)
    if not path:
        return
    lines = traceback.format_exception_only(type(err), err)
    atomic_write_text(path, ' '.join(line.strip() for line in lines if line.strip()) + '\n', durable=False)


def read_step_error(path: Union[str, os.PathLike, None]) -> str:
    """The line a failed step wrote, or '' when it wrote none (killed, or it failed before Python ran)."""
    try:
        return Path(path).read_text(encoding='utf-8', errors='replace').strip() if path else ''
    except OSError:
        return ''


def clear_step_error(path: Union[str, os.PathLike]) -> Optional[str]:
    """Remove a previous step's error file; returns the path as a string (for the step's environment)."""
    Path(path).unlink(missing_ok=True)
    return str(path)
