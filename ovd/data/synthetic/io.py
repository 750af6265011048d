"""Atomic file writes for the synthetic generators: a killed run never leaves a complete-looking half file.

Every file is written to a temporary name in the same folder and moved into place with ``os.replace``; each
generator writes its manifest last, so a manifest on disk means the whole dataset beside it is complete.
"""
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Union

PathLike = Union[str, os.PathLike]


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (parents are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write UTF-8 ``text`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: PathLike, obj: Any, indent: Union[int, None] = None) -> None:
    """Write ``obj`` as JSON atomically; compact like the real COCO/LVIS files unless ``indent`` is given."""
    separators = (',', ':') if indent is None else (',', ': ')
    atomic_write_text(path, json.dumps(obj, indent=indent, separators=separators, ensure_ascii=False))
