"""A content-addressed cache of text embeddings, safe to share between concurrent jobs.

The key is a SHA-256 of everything the embeddings depend on: the encoder's identity (model name, pretrained
tag and a hash of its weights), the templates and the names, plus a recipe tag. Entries live under
``$OVD_CACHE_DIR/embeddings`` (default ``~/.cache/ovd/embeddings``) as ``<key[:2]>/<key>.pt``.

Concurrency: an entry is written once, to a temporary file in the same directory then ``os.replace``-d into
place, so a reader never sees a half-written file and a killed job leaves at most a stray ``.tmp`` behind. A
per-key file lock (``filelock``) makes concurrent jobs that miss on the same key compute it once: the others
wait and then read the entry.
"""

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import torch
from filelock import FileLock

from ovd.fileio import atomic_torch_save

logger = logging.getLogger(__name__)

CACHE_ENV = 'OVD_CACHE_DIR'
# Bump when the way embeddings are computed changes, so that old entries are not reused.
RECIPE_VERSION = 'class-embeddings-v1'


def cache_root() -> Path:
    """``$OVD_CACHE_DIR`` if set, else ``~/.cache/ovd``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / '.cache' / 'ovd'


def cache_key(
    encoder_identity: str,
    templates: Sequence[str],
    names: Sequence[str],
    extra: Optional[Dict[str, Any]] = None,
) -> str:
    """SHA-256 hex digest of the encoder identity, the templates, the names and ``extra``
    (JSON-serialisable)."""
    payload = {
        'recipe': RECIPE_VERSION,
        'encoder': encoder_identity,
        'templates': list(templates),
        'names': list(names),
        'extra': extra or {},
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    return hashlib.sha256(blob).hexdigest()


class EmbeddingCache:
    """Get-or-compute store of tensors by content key.

    Args:
        root: Cache directory; :func:`cache_root` if ``None``.
        lock_timeout: Seconds to wait for another job computing the same key (-1 waits forever).

    Attributes:
        hits, misses: Counters of this instance's lookups (a miss is a computation done by this process).
    """

    def __init__(self, root: Optional[Union[str, Path]] = None, lock_timeout: float = -1):
        self.root = Path(root).expanduser() if root is not None else cache_root()
        self.lock_timeout = lock_timeout
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / 'embeddings' / key[:2] / f'{key}.pt'

    def get(self, key: str) -> Optional[torch.Tensor]:
        """The cached tensor, or ``None`` if absent (or unreadable, which is logged and treated as absent)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            entry = torch.load(path, map_location='cpu', weights_only=True)
            return entry['embeddings']
        except Exception as err:  # a corrupt entry (e.g. disk full at write time) is recomputed, not fatal
            logger.warning('ignoring unreadable embedding cache entry %s: %s', path, err)
            return None

    def put(self, key: str, embeddings: torch.Tensor, meta: Optional[Dict[str, Any]] = None) -> Path:
        """Write an entry atomically (an existing entry with the same key is replaced by identical
        content)."""
        path = self.path(key)
        atomic_torch_save({'embeddings': embeddings.detach().cpu().contiguous(), 'meta': meta or {}}, path)
        return path

    def get_or_compute(
        self, key: str, compute: Callable[[], torch.Tensor], meta: Optional[Dict[str, Any]] = None
    ) -> torch.Tensor:
        """Return the entry for ``key``, computing and storing it once if missing.

        Args:
            key: Content key (see :func:`cache_key`).
            compute: Called with no argument on a miss; returns the tensor to store.
            meta: JSON-like provenance stored beside the tensor (model name, number of names, ...).

        Returns:
            The tensor (on CPU).
        """
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + '.lock', timeout=self.lock_timeout):
            cached = self.get(key)  # another job may have written it while we waited
            if cached is not None:
                self.hits += 1
                return cached
            self.misses += 1
            value = compute().detach().cpu()
            self.put(key, value, meta)
        return value
