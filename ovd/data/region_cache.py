"""A sharded, resumable, checksummed on-disk cache of per-image region arrays (boxes, embeddings, ...).

Precomputing region embeddings with a large teacher (ViLD's CLIP crops) takes days, so the writer must survive
being killed and the reader must never train on half-written or damaged data. The format knows nothing of any
method: a record is a set of named arrays that share their first dimension (the regions of one image).

Layout of a cache directory (``N`` shards, each written by one job, e.g. one SLURM array task)::

    meta.json                        format version, field specs (dtype, width), producer metadata
    shard-00003-of-00008.bin         the records of shard 3, appended back to back (raw little-endian arrays)
    shard-00003-of-00008.idx         one JSON line per *committed* record: key, offset, rows, nbytes, crc32
    shard-00003-of-00008.done        written atomically when the shard is complete: records, bytes, sha256

Commit protocol: a record's bytes are appended to ``.bin`` and flushed to disk first; only then is its line
appended to ``.idx``. A record exists once its index line is complete, so a job killed at any point leaves a
prefix of committed records plus, at most, a torn tail (bytes in ``.bin`` past the last index entry, or an index
line without its newline). Reopening a shard for writing cuts the torn tail and continues after the last committed
record; a shard with a ``.done`` file is finished and skipped. Every record carries a CRC-32 that the reader checks
on each read, and the ``.done`` file carries the SHA-256 of the whole shard (:func:`verify_shard`), so a damaged
shard is reported with the file, the record key and the field instead of feeding garbage to training.

Why our own format: an HDF5/zarr store would add a dependency and does not give per-record commits that survive
``kill -9``; an ``.npz`` per image means millions of small files on cluster file systems.
"""
import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from ovd.fileio import atomic_write_json, sha256_file
from ovd.hints import region_cache_hint

FORMAT_NAME = 'ovd-region-cache'
FORMAT_VERSION = 1
META_FILE = 'meta.json'
_SHARD_RE = re.compile(r'^shard-(\d{5})-of-(\d{5})\.bin$')

PathLike = Union[str, os.PathLike]


class RegionCacheError(RuntimeError):
    """A cache file is missing, incomplete, inconsistent or damaged (the message names file, record and field)."""


@dataclass(frozen=True)
class FieldSpec:
    """One array per record: ``[rows]`` when ``width`` is None, else ``[rows, width]``, stored as ``dtype``."""
    dtype: str
    width: Optional[int] = None

    @property
    def row_nbytes(self) -> int:
        return np.dtype(self.dtype).itemsize * (1 if self.width is None else self.width)

    def to_json(self) -> dict:
        return {'dtype': np.dtype(self.dtype).str, 'width': self.width}

    @classmethod
    def from_json(cls, data: Mapping) -> 'FieldSpec':
        return cls(dtype=np.dtype(data['dtype']).str, width=data.get('width'))


def shard_stem(index: int, num_shards: int) -> str:
    """``shard-00003-of-00008`` for shard 3 of 8."""
    return f'shard-{index:05d}-of-{num_shards:05d}'


def _normalise_fields(fields: Mapping[str, Union[FieldSpec, Mapping]]) -> Dict[str, FieldSpec]:
    out = {}
    for name, spec in fields.items():
        spec = spec if isinstance(spec, FieldSpec) else FieldSpec(**spec)
        out[name] = FieldSpec(dtype=np.dtype(spec.dtype).str, width=spec.width)
    return out


def write_meta(root: PathLike, fields: Mapping[str, Union[FieldSpec, Mapping]], num_shards: int,
               producer: Optional[dict] = None) -> Dict[str, FieldSpec]:
    """Create ``meta.json`` or check that the existing one describes the same cache.

    Several array tasks may start at once: each writes the same content atomically, and a task whose fields,
    shard count or producer differ from what is on disk is refused instead of mixing two caches.

    Args:
        root: cache directory (created if needed).
        fields: field name -> :class:`FieldSpec` (or its keyword dict).
        num_shards: total number of shards of the cache.
        producer: JSON-serialisable description of what produced the arrays (models, crop scales, ...).

    Returns:
        The normalised field specs.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fields = _normalise_fields(fields)
    meta = {'format': FORMAT_NAME, 'version': FORMAT_VERSION, 'num_shards': int(num_shards),
            'fields': [dict(name=name, **spec.to_json()) for name, spec in fields.items()],
            'producer': producer or {}}
    # round-trip through JSON so tuples/lists compare equal to what is read back
    meta = json.loads(json.dumps(meta, sort_keys=True))
    path = root / META_FILE
    if path.exists():
        existing = read_meta(root)
        for key in ('num_shards', 'fields', 'producer'):
            if existing[key] != meta[key]:
                diffs = '; '.join(_differences(existing[key], meta[key], key)[:3])
                raise RegionCacheError(
                    f'{path}: field {key!r} differs from this run ({diffs}); use another cache directory or '
                    f'delete the old cache')
        return fields
    atomic_write_json(path, meta)
    return fields


def _differences(old, new, where: str) -> List[str]:
    """``'<dotted key>: <old> on disk, <new> now'`` for each differing leaf of two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                out += _differences(old.get(key), new.get(key), f'{where}.{key}')
        return out
    return [f'{where}: {json.dumps(old)} on disk, {json.dumps(new)} now']


def read_meta(root: PathLike) -> dict:
    """Read and validate ``meta.json`` of a cache directory."""
    path = Path(root) / META_FILE
    if not path.exists():
        raise RegionCacheError(f'{path}: not found, so {root} is not a region cache yet; {region_cache_hint(root)}')
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RegionCacheError(f'{path}: not valid JSON ({err})') from err
    if meta.get('format') != FORMAT_NAME:
        raise RegionCacheError(f'{path}: field "format" is {meta.get("format")!r}, expected {FORMAT_NAME!r}')
    if meta.get('version') != FORMAT_VERSION:
        raise RegionCacheError(f'{path}: field "version" is {meta.get("version")!r}, this reader knows '
                               f'{FORMAT_VERSION}')
    return meta


def _fields_from_meta(meta: dict) -> Dict[str, FieldSpec]:
    """Field specs in storage order (``meta.json`` keeps them as a list: the order is the byte layout)."""
    return {spec['name']: FieldSpec.from_json(spec) for spec in meta['fields']}


@dataclass
class _IndexEntry:
    key: str
    offset: int
    rows: int
    nbytes: int
    crc32: int


def _parse_index(idx_path: Path) -> Tuple[List[_IndexEntry], int]:
    """Committed entries of an index file and the byte length of its valid prefix (a torn last line is dropped)."""
    entries: List[_IndexEntry] = []
    valid_len = 0
    if not idx_path.exists():
        return entries, 0
    with open(idx_path, 'rb') as f:
        for line_no, line in enumerate(f, 1):
            if not line.endswith(b'\n'):
                break  # torn append: the writer was killed mid-line
            try:
                rec = json.loads(line)
                entry = _IndexEntry(str(rec['key']), int(rec['offset']), int(rec['rows']), int(rec['nbytes']),
                                    int(rec['crc32']))
            except (ValueError, KeyError, TypeError) as err:
                raise RegionCacheError(f'{idx_path}: line {line_no} is not a valid index record ({err})') from err
            entries.append(entry)
            valid_len += len(line)
    return entries, valid_len


class _Shard:
    """Paths and committed state of one shard."""

    def __init__(self, root: Path, index: int, num_shards: int):
        stem = shard_stem(index, num_shards)
        self.index, self.num_shards = index, num_shards
        self.bin = root / f'{stem}.bin'
        self.idx = root / f'{stem}.idx'
        self.done = root / f'{stem}.done'


def _check_entries(shard: _Shard, entries: List[_IndexEntry], row_nbytes: int, data_size: int) -> None:
    expected_offset = 0
    for entry in entries:
        if entry.offset != expected_offset or entry.nbytes != entry.rows * row_nbytes:
            raise RegionCacheError(
                f'{shard.idx}: record {entry.key!r}: offset/nbytes ({entry.offset}/{entry.nbytes}) inconsistent '
                f'with the previous records and the field specs (expected offset {expected_offset}, '
                f'nbytes {entry.rows * row_nbytes})')
        expected_offset += entry.nbytes
    if expected_offset > data_size:
        raise RegionCacheError(f'{shard.bin}: {data_size} bytes but the index commits {expected_offset}; '
                               f'the data file was truncated after its records were committed')


class RegionCacheWriter:
    """Appends records to one shard; reopening an unfinished shard resumes after its last committed record.

    Args:
        root: cache directory.
        shard_index: this shard, ``0 <= shard_index < num_shards``.
        num_shards: total shards.
        fields: field name -> :class:`FieldSpec`; checked against ``meta.json``.
        producer: what produced the arrays (stored in ``meta.json``; must match across shards).
        durable: fsync after every record (the kill-safety guarantee; turn off only for tests/benchmarks).
        verify_on_resume: re-check the CRC of every committed record when resuming, so a damaged prefix is found
            before more work is appended to it.
    """

    def __init__(self, root: PathLike, shard_index: int, num_shards: int,
                 fields: Mapping[str, Union[FieldSpec, Mapping]], producer: Optional[dict] = None,
                 durable: bool = True, verify_on_resume: bool = True):
        if not 0 <= shard_index < num_shards:
            raise ValueError(f'shard index {shard_index} out of range for {num_shards} shards')
        self.root = Path(root)
        self.fields = write_meta(self.root, fields, num_shards, producer)
        self.row_nbytes = sum(spec.row_nbytes for spec in self.fields.values())
        self.shard = _Shard(self.root, shard_index, num_shards)
        self.durable = durable
        self._keys: Dict[str, None] = {}
        self._bin = self._idx = None
        self._offset = 0
        self.finished = self.shard.done.exists()
        if self.finished:
            verify_shard(self.root, shard_index, num_shards, full=False)
            entries, _ = _parse_index(self.shard.idx)
            self._keys = dict.fromkeys(e.key for e in entries)
            return
        self._recover(verify_on_resume)

    def _recover(self, verify: bool) -> None:
        entries, idx_valid_len = _parse_index(self.shard.idx)
        data_size = self.shard.bin.stat().st_size if self.shard.bin.exists() else 0
        _check_entries(self.shard, entries, self.row_nbytes, data_size)
        committed = sum(e.nbytes for e in entries)
        if verify and entries:
            with open(self.shard.bin, 'rb') as f:
                for entry in entries:
                    f.seek(entry.offset)
                    if zlib.crc32(f.read(entry.nbytes)) != entry.crc32:
                        raise RegionCacheError(
                            f'{self.shard.bin}: committed record {entry.key!r} at offset {entry.offset} fails its '
                            f'crc32 check; the shard is damaged: delete {self.shard.bin.name} and '
                            f'{self.shard.idx.name} to recompute it')
        # cut torn tails left by a killed writer
        if self.shard.idx.exists() and self.shard.idx.stat().st_size != idx_valid_len:
            os.truncate(self.shard.idx, idx_valid_len)
        if data_size != committed:
            os.truncate(self.shard.bin, committed)
        self._keys = dict.fromkeys(e.key for e in entries)
        self._offset = committed
        self._bin = open(self.shard.bin, 'ab')
        self._idx = open(self.shard.idx, 'ab')

    @property
    def done_keys(self) -> List[str]:
        """Keys already committed to this shard (in commit order)."""
        return list(self._keys)

    def __contains__(self, key) -> bool:
        return str(key) in self._keys

    def append(self, key, arrays: Mapping[str, np.ndarray]) -> None:
        """Commit one record.

        Args:
            key: record key (an image id); stored as a string, unique within the cache.
            arrays: one array per field, all with the same first dimension ``rows``
                (``[rows]`` or ``[rows, width]`` as in the field spec); cast to the field dtype.
        """
        if self.finished:
            raise RegionCacheError(f'{self.shard.done}: shard is finished; it cannot take record {key!r}')
        key = str(key)
        if key in self._keys:
            raise RegionCacheError(f'{self.shard.idx}: record {key!r} is already committed')
        missing = set(self.fields) - set(arrays)
        extra = set(arrays) - set(self.fields)
        if missing or extra:
            raise ValueError(f'record {key!r}: fields {sorted(arrays)} do not match the cache fields '
                             f'{sorted(self.fields)}')
        rows = None
        chunks = []
        for name, spec in self.fields.items():
            arr = np.asarray(arrays[name])
            if spec.width is None:
                shape_ok = arr.ndim == 1
            else:
                shape_ok = arr.ndim == 2 and arr.shape[1] == spec.width
            if not shape_ok:
                raise ValueError(f'record {key!r}, field {name!r}: shape {arr.shape}, expected '
                                 f'{"[rows]" if spec.width is None else f"[rows, {spec.width}]"}')
            if rows is None:
                rows = arr.shape[0]
            elif arr.shape[0] != rows:
                raise ValueError(f'record {key!r}, field {name!r}: {arr.shape[0]} rows, other fields have {rows}')
            chunks.append(np.ascontiguousarray(arr, dtype=np.dtype(spec.dtype)).tobytes())
        payload = b''.join(chunks)
        self._bin.write(payload)
        self._bin.flush()
        if self.durable:
            os.fsync(self._bin.fileno())
        line = json.dumps({'key': key, 'offset': self._offset, 'rows': rows, 'nbytes': len(payload),
                           'crc32': zlib.crc32(payload)}, separators=(',', ':')) + '\n'
        self._idx.write(line.encode())
        self._idx.flush()
        if self.durable:
            os.fsync(self._idx.fileno())
        self._offset += len(payload)
        self._keys[key] = None

    def finish(self) -> None:
        """Mark the shard complete: writes ``.done`` (record count, size, SHA-256) atomically."""
        if self.finished:
            return
        self.close()
        self.shard.bin.touch(exist_ok=True)
        self.shard.idx.touch(exist_ok=True)
        atomic_write_json(self.shard.done, {'records': len(self._keys), 'bytes': self._offset,
                                             'sha256': sha256_file(self.shard.bin)})
        self.finished = True

    def close(self) -> None:
        for handle in (self._bin, self._idx):
            if handle is not None:
                handle.close()
        self._bin = self._idx = None

    def __enter__(self) -> 'RegionCacheWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def verify_shard(root: PathLike, shard_index: int, num_shards: int, full: bool = True) -> int:
    """Check a finished shard against its ``.done`` file; returns its record count.

    Args:
        root: cache directory.
        shard_index: shard to check.
        num_shards: total shards.
        full: also recompute the SHA-256 of the data file and the CRC of every record (reads the whole shard);
            otherwise only counts and sizes are checked.

    Raises:
        RegionCacheError: naming the file and what is wrong.
    """
    root = Path(root)
    meta = read_meta(root)
    fields = _fields_from_meta(meta)
    row_nbytes = sum(spec.row_nbytes for spec in fields.values())
    shard = _Shard(root, shard_index, num_shards)
    if not shard.done.exists():
        raise RegionCacheError(f'{shard.done}: not found; shard {shard_index} of {num_shards} is incomplete '
                               f'(rerun ovd precompute-regions --shard {shard_index}/{num_shards} to finish it)')
    try:
        done = json.loads(shard.done.read_text())
        n_records, n_bytes, sha = int(done['records']), int(done['bytes']), str(done['sha256'])
    except (ValueError, KeyError, TypeError) as err:
        raise RegionCacheError(f'{shard.done}: not a valid shard summary ({err})') from err
    entries, _ = _parse_index(shard.idx)
    if len(entries) != n_records:
        raise RegionCacheError(f'{shard.idx}: {len(entries)} records, but {shard.done.name} says {n_records}')
    size = shard.bin.stat().st_size if shard.bin.exists() else -1
    if size != n_bytes:
        raise RegionCacheError(f'{shard.bin}: {size} bytes, but {shard.done.name} says {n_bytes}')
    _check_entries(shard, entries, row_nbytes, size)
    if full:
        if sha256_file(shard.bin) != sha:
            raise RegionCacheError(f'{shard.bin}: sha256 differs from {shard.done.name}; the shard is damaged')
        with open(shard.bin, 'rb') as f:
            for entry in entries:
                if zlib.crc32(f.read(entry.nbytes)) != entry.crc32:
                    raise RegionCacheError(f'{shard.bin}: record {entry.key!r} at offset {entry.offset} fails '
                                           f'its crc32 check')
    return n_records


class RegionCache:
    """Read-only access to a region cache by record key (image id).

    Safe to use from dataloader workers: files are opened lazily per process and read with ``os.pread``.

    Args:
        root: cache directory.
        require_complete: refuse a cache with unfinished or missing shards (training must not silently see a
            subset). With False, committed records of unfinished shards are readable too.
        verify: run :func:`verify_shard` with ``full=True`` on every shard when opening (reads everything).
    """

    def __init__(self, root: PathLike, require_complete: bool = True, verify: bool = False):
        self.root = Path(root)
        self.meta = read_meta(self.root)
        self.fields = _fields_from_meta(self.meta)
        self.row_nbytes = sum(spec.row_nbytes for spec in self.fields.values())
        num_shards = int(self.meta['num_shards'])
        self._shards: List[_Shard] = []
        self._entries: Dict[str, Tuple[int, _IndexEntry]] = {}
        incomplete = []
        for index in range(num_shards):
            shard = _Shard(self.root, index, num_shards)
            if shard.done.exists():
                verify_shard(self.root, index, num_shards, full=verify)
            elif require_complete:
                incomplete.append(index)
                continue
            entries, _ = _parse_index(shard.idx)
            size = shard.bin.stat().st_size if shard.bin.exists() else 0
            _check_entries(shard, entries, self.row_nbytes, size)
            self._shards.append(shard)
            for entry in entries:
                if entry.key in self._entries:
                    other = self._shards[self._entries[entry.key][0]]
                    raise RegionCacheError(f'{shard.idx}: record {entry.key!r} also appears in {other.idx.name}')
                self._entries[entry.key] = (len(self._shards) - 1, entry)
        if incomplete:
            listed = ', '.join(f'{i}/{num_shards}' for i in incomplete[:10])
            raise RegionCacheError(
                f'{self.root}: {len(incomplete)} of {num_shards} shards are not finished ({listed}'
                f'{", ..." if len(incomplete) > 10 else ""}); run ovd precompute-regions for them first')
        self._fds: Dict[int, int] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key) -> bool:
        return str(key) in self._entries

    def keys(self) -> Iterator[str]:
        return iter(self._entries)

    def _fd(self, shard_pos: int) -> int:
        if self._pid != os.getpid():  # forked into a dataloader worker: do not share file offsets/handles
            self._fds, self._pid = {}, os.getpid()
        if shard_pos not in self._fds:
            self._fds[shard_pos] = os.open(self._shards[shard_pos].bin, os.O_RDONLY)
        return self._fds[shard_pos]

    def get(self, key) -> Dict[str, np.ndarray]:
        """The arrays of one record.

        Args:
            key: record key (image id; ints are converted to str).

        Returns:
            Field name -> array of shape ``[rows]`` or ``[rows, width]``.

        Raises:
            KeyError: the key is not in the cache (message names the cache directory).
            RegionCacheError: the record fails its CRC check or is cut short.
        """
        key = str(key)
        if key not in self._entries:
            raise KeyError(f'{self.root}: no record for image {key!r} in the region cache '
                           f'({len(self._entries)} records); was the cache built for this dataset?')
        shard_pos, entry = self._entries[key]
        shard = self._shards[shard_pos]
        payload = os.pread(self._fd(shard_pos), entry.nbytes, entry.offset)
        if len(payload) != entry.nbytes:
            raise RegionCacheError(f'{shard.bin}: record {key!r} at offset {entry.offset} is cut short '
                                   f'({len(payload)} of {entry.nbytes} bytes)')
        if zlib.crc32(payload) != entry.crc32:
            raise RegionCacheError(f'{shard.bin}: record {key!r} at offset {entry.offset} fails its crc32 check; '
                                   f'the shard is damaged')
        out = {}
        pos = 0
        for name, spec in self.fields.items():
            n = entry.rows * spec.row_nbytes
            arr = np.frombuffer(payload, dtype=np.dtype(spec.dtype), count=n // np.dtype(spec.dtype).itemsize,
                                offset=pos)
            out[name] = arr if spec.width is None else arr.reshape(entry.rows, spec.width)
            pos += n
        return out

    def close(self) -> None:
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds = {}

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __getstate__(self) -> dict:  # file descriptors do not travel to spawned workers
        state = self.__dict__.copy()
        state['_fds'] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()


def list_shards(root: PathLike) -> List[Tuple[int, int]]:
    """(index, num_shards) of every shard data file present in a cache directory."""
    found = []
    for path in sorted(Path(root).glob('shard-*.bin')):
        match = _SHARD_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2))))
    return found
