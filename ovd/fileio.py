"""Crash-safe file writing and hashing, for every layer: a file is written to a temporary file in the same
folder, flushed (and by default fsync-ed) and moved into place with ``os.replace``, so a killed job leaves
either the old file or the new one, never half of one."""
import hashlib
import json
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Union

PathLike = Union[str, os.PathLike]

#: a temporary file whose writer cannot be checked (another host, or named before writers were recorded) is
#: taken as abandoned once it has not been modified for this long
STALE_TMP_AFTER_S = 3600.0


def tmp_prefix(path: Path) -> str:
    """``.<name>.<pid>@<host>.``: the writer is in the name, so a later write can tell a killed one's file."""
    return f'.{path.name}.{os.getpid()}@{socket.gethostname()}.'


def remove_stale_tmps(path: PathLike) -> None:
    """Delete the temporary files that killed writes of ``path`` left behind.

    A file whose writer ran on this host and no longer exists is removed at once; one whose writer cannot be
    checked is removed when it has not changed for :data:`STALE_TMP_AFTER_S`. Live writers' files are kept.
    """
    path = Path(path)
    pattern = re.compile(re.escape(f'.{path.name}.') + r'(?:(\d+)@(.+)\.)?[^.]+\.tmp')
    host = socket.gethostname()
    try:
        candidates = [e for e in os.scandir(path.parent) if e.name.startswith(f'.{path.name}.')]
    except OSError:
        return
    for entry in candidates:
        m = pattern.fullmatch(entry.name)
        if m is None:
            continue
        pid, writer_host = m.group(1), m.group(2)
        if pid is not None and writer_host == host:
            stale = int(pid) != os.getpid() and not _pid_alive(int(pid))
        else:
            try:
                stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_AFTER_S
            except OSError:
                continue
        if stale:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def current_umask() -> int:
    """The process umask, read without changing it where the kernel reports it (``os.umask`` can only be
    read by setting it, which races with threads creating files)."""
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(path: PathLike) -> int:
    """The permission bits a plain ``open(path, 'w')`` would leave: an existing file keeps its mode, a new one
    gets ``0o666`` minus the umask. ``mkstemp`` creates 0600 files, so atomic writers apply this instead
    (results on a shared cluster must stay readable by the team)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], Any], durable: bool = True) -> None:
    """Write ``path`` atomically: ``write(binary_file)`` fills a temp file in the same folder, then
    (fsync and) ``os.replace``. A failure or kill leaves the old file, and no temp file on failure; the temp
    file of a killed write is removed by the next write of the same file (:func:`remove_stale_tmps`). The
    file gets the mode a plain ``open`` would give (see :func:`new_file_mode`).

    Args:
        path: destination file; its folder is created if missing.
        write: writes the complete new content to the open binary file.
        durable: fsync before the rename (survives a power cut, not only a killed process); bookkeeping files
            that are rewritten often skip it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmps(path)
    mode = new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(path), suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(err, OSError) and err.errno is not None and err.filename is None:  # ENOSPC, EIO: name the output
            err.filename = str(path)
        raise


def atomic_write_bytes(path: PathLike, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: f.write(data), durable)


def atomic_torch_save(obj: Any, path: PathLike, durable: bool = True) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically (see :func:`atomic_write`): checkpoints, embeddings."""
    import torch
    atomic_write(path, lambda f: torch.save(obj, f), durable)


def atomic_write_text(path: PathLike, text: str, durable: bool = True) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode('utf-8'), durable)


def atomic_write_json(path: PathLike, obj: Any, durable: bool = True) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + '\n', durable)


def read_json(path: PathLike) -> Any:
    """Read a JSON file, raising a ``ValueError`` that names the file (and position) when it is malformed or
    not UTF-8.

    Args:
        path: the JSON file.

    Returns:
        The parsed object.
    """
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})') from None
    except UnicodeDecodeError as err:
        raise ValueError(f'{path}: not UTF-8 text ({err.reason} at byte {err.start})') from None


def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (checkpoints can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """Hex SHA-256 of a UTF-8 string."""
    return hashlib.sha256(text.encode('utf-8')).hexdigest()
