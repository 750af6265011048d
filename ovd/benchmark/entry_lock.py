"""One driver per sweep entry: an exclusive lock on ``<entry>/.driver.lock``, held for the driver's life.

The lock is a ``flock`` on an open file, so the kernel releases it when the last process holding the open file
ends, however it ends (``kill -9`` included); no stale lock survives a crash. Who holds it:

* the local executor takes it before it starts a driver and hands the open file to the driver (``pass_fds`` and
  :data:`ENV_FD`), so a second ``ovd sweep run`` finds the entry taken even before the driver has started;
* a driver started without it (a SLURM job, a driver run by hand) takes it itself, and exits without touching
  the entry when another driver holds it;
* the driver hands the same open file to its trainer and evaluation processes, so the entry stays locked until
  the trainer has also ended (a trainer whose driver was killed first saves a checkpoint and exits).

``ovd sweep status`` and ``run`` treat a locked entry as running. Why not :mod:`filelock`: its lock cannot be
handed to a child process, which is what keeps the entry locked across driver -> trainer.
"""
import fcntl
import os
import time
from pathlib import Path
from typing import Optional

LOCK_NAME = '.driver.lock'
#: environment variable naming the inherited file descriptor that holds the entry's lock
ENV_FD = 'OVD_DRIVER_LOCK_FD'


def lock_path(entry_path: Path) -> Path:
    return Path(entry_path) / LOCK_NAME


def try_lock(entry_path: Path, wait_s: float = 0.0) -> Optional[int]:
    """Take the entry's lock.

    Args:
        entry_path: the entry folder (created if missing).
        wait_s: keep trying this long (a status probe holds the lock for microseconds).

    Returns:
        The open file descriptor that holds the lock (close it to release), or None when another process holds it.
    """
    path = lock_path(entry_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def inherited_lock(entry_path: Path) -> Optional[int]:
    """The descriptor named by :data:`ENV_FD` if it is open on this entry's lock file and holds the lock."""
    value = os.environ.get(ENV_FD, '')
    if not value.isdigit():
        return None
    fd = int(value)
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(lock_path(entry_path)))
        if same:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a no-op when this open file holds it already
            return fd
    except OSError:
        pass
    return None


def is_locked(entry_path: Path) -> bool:
    """Whether a driver (or its trainer) holds the entry's lock now."""
    path = lock_path(entry_path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


__all__ = ['LOCK_NAME', 'ENV_FD', 'lock_path', 'try_lock', 'inherited_lock', 'is_locked']
