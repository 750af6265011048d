"""Atomic file writes for the synthetic generators: a killed run never leaves a complete-looking half file.

Every file is written to a temporary name in the same folder and moved into place with ``os.replace``; each
generator writes its manifest last, so a manifest on disk means the whole dataset beside it is complete.
"""
import json
import shutil
from pathlib import Path
from typing import Any, Callable, Union

from ovd.fileio import PathLike
from ovd.fileio import atomic_write_bytes as _durable_atomic_write_bytes


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (parents are created). No fsync:
    generated data is cheap to regenerate, and the manifest written last marks a complete dataset."""
    _durable_atomic_write_bytes(path, data, durable=False)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: PathLike, obj: Any, indent: Union[int, None] = None) -> None:
    """Write ``obj`` as JSON atomically; compact like the real COCO/LVIS files unless ``indent`` is given."""
    separators = (',', ':') if indent is None else (',', ': ')
    atomic_write_text(path, json.dumps(obj, indent=indent, separators=separators, ensure_ascii=False))


def write_folder_once(folder: Path, write: Callable[[Path], Any]) -> Path:
    """``folder``, written by ``write(partial_folder)`` and renamed into place when it has no ``config.json`` yet
    (a Hugging Face model folder), else kept as it is."""
    if (folder / 'config.json').is_file():
        return folder
    partial = folder.parent / f'.{folder.name}.partial'
    shutil.rmtree(partial, ignore_errors=True)
    write(partial)
    partial.replace(folder)
    return folder
