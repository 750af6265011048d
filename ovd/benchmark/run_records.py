"""Run records: one JSON file per finished (method, config, checkpoint, dataset, protocol) evaluation, holding
the metrics and their provenance (ARCHITECTURE.md). The leaderboard is derived from them.

Fields (schema ``ovd.run_record/1``):
    run_id, sweep, entry_id, entry_hash, eval_name, method, experiment, protocol, dataset, training_data, seed,
    grid, cfg_options, config {path, sha256}, eval_config {path, sha256, resolved_sha256}, checkpoint {path,
    sha256}, annotations [{path, sha256}], metrics {column: percent}, raw_metrics {metric key: value},
    reference, git {commit, dirty}, packages {name: version}, hardware {...}, wall_time_s {train, test, total},
    started_at, finished_at, status ('done').

``raw_metrics`` are the numbers of the metrics dict ``tools/test.py`` wrote (:mod:`ovd.evaluation.metrics_file`);
``metrics`` are their leaderboard columns (:mod:`ovd.evaluation.metric_names`).
"""
import json
import os
import platform
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ovd.evaluation.protocols import PROTOCOLS
from ovd.fileio import atomic_write_json, sha256_file

SCHEMA = 'ovd.run_record/1'
REQUIRED = {'schema': str, 'run_id': str, 'method': str, 'protocol': str, 'metrics': dict, 'status': str,
            'finished_at': (int, float), 'seed': int}
PACKAGES = ('ovd', 'torch', 'torchvision', 'mmcv', 'mmengine', 'mmdet', 'transformers', 'open_clip_torch',
            'numpy', 'pycocotools', 'lvis', 'faster-coco-eval')


class RecordError(ValueError):
    """A run record is malformed; the message names the file and the field."""


def validate_record(record: Any, path: str) -> Dict[str, Any]:
    """Check a loaded record's required fields and types.

    Args:
        record: the parsed JSON.
        path: the file it came from (for the error message).

    Returns:
        The record.

    Raises:
        RecordError: naming the file and the offending field.
    """
    if not isinstance(record, dict):
        raise RecordError(f'{path}: a run record must be a JSON object, got {type(record).__name__}')
    for key, typ in REQUIRED.items():
        if key not in record:
            raise RecordError(f'{path}: missing field {key!r}')
        if not isinstance(record[key], typ) or isinstance(record[key], bool):
            raise RecordError(f'{path}: field {key!r} has type {type(record[key]).__name__}')
    if record['schema'] != SCHEMA:
        raise RecordError(f'{path}: field \'schema\' is {record["schema"]!r}, expected {SCHEMA!r}')
    if record['protocol'] not in PROTOCOLS:
        raise RecordError(f'{path}: field \'protocol\' is {record["protocol"]!r}, not a leaderboard protocol '
                          f'({", ".join(sorted(PROTOCOLS))})')
    for name, value in record['metrics'].items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecordError(f'{path}: field \'metrics.{name}\' is not a number: {value!r}')
    return record


_SKIP_DIRS = {'work_dir', 'logs', 'leaderboard'}


def find_record_files(dirs: Iterable[str], max_depth: int = 4) -> List[str]:
    """All ``records/*.json`` files under the given folders (a ``records`` folder, or a single file, is taken as
    is). The search does not enter work dirs, logs or hidden folders, and stops ``max_depth`` levels down (a
    sweep root is ``<root>/<entry>/records``; a folder of sweeps one level more). Subfolders are searched by a
    few threads: listing thousands of small folders is I/O-bound."""
    out: List[str] = []
    for d in dirs:
        if os.path.isfile(d):
            out.append(d)
            continue
        if os.path.basename(d) == 'records':
            _scan_into(d, 0, max_depth, out)
            continue
        try:
            children = [e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False)
                        and not e.name.startswith('.') and e.name not in _SKIP_DIRS]
        except (FileNotFoundError, NotADirectoryError):
            continue

        def scan_child(path: str) -> List[str]:
            found: List[str] = []
            _scan_into(path, 1, max_depth, found)
            return found

        with ThreadPoolExecutor(max_workers=8) as pool:
            for found in pool.map(scan_child, children):
                out.extend(found)
    return sorted(out)


def _scan_into(path: str, depth: int, max_depth: int, out: List[str]) -> None:
    try:
        entries = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return
    if os.path.basename(path) == 'records':
        out.extend(e.path for e in entries if e.name.endswith('.json') and not e.name.startswith('.')
                   and e.is_file())
        return
    if depth >= max_depth:
        return
    for e in entries:
        if e.name.startswith('.') or e.name in _SKIP_DIRS or not e.is_dir(follow_symlinks=False):
            continue
        _scan_into(e.path, depth + 1, max_depth, out)


def _read_bytes(path: str) -> Tuple[str, Optional[bytes], Optional[OSError]]:
    try:
        with open(path, 'rb') as f:
            return path, f.read(), None
    except OSError as err:
        return path, None, err


def load_records(files: Iterable[str], strict: bool = True) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Load and validate run records (files are read by a few threads: opening many small files is I/O-bound).

    Args:
        files: record paths.
        strict: raise on the first malformed record; otherwise skip it and report it.

    Returns:
        (records, problems): each record gets ``_path``; ``problems`` lists skipped files with the reason.
    """
    records, problems = [], []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for path, data, error in pool.map(_read_bytes, list(files)):
            try:
                if error is not None:
                    raise RecordError(f'{path}: cannot read ({error})')
                try:
                    rec = json.loads(data.decode('utf-8'))
                except UnicodeDecodeError as err:
                    raise RecordError(f'{path}: not UTF-8 text ({err.reason} at byte {err.start})') from None
                except json.JSONDecodeError as err:
                    raise RecordError(f'{path}: not valid JSON ({err.msg} at line {err.lineno})') from None
                except RecursionError:
                    raise RecordError(f'{path}: not valid JSON (nested too deeply)') from None
                validate_record(rec, path)
            except RecordError as err:
                if strict:
                    raise
                problems.append(str(err))
                continue
            rec['_path'] = path
            records.append(rec)
    return records, problems


def annotation_files(dataset_cfg: Any) -> List[str]:
    """Annotation files a dataset config reads (``data_root`` + ``ann_file``), following wrapped and
    concatenated datasets."""
    found: List[str] = []

    def walk(node: Any, data_root: str) -> None:
        if isinstance(node, Mapping):
            root = node.get('data_root', data_root) or ''
            ann = node.get('ann_file')
            if isinstance(ann, str) and ann:
                found.append(ann if os.path.isabs(ann) else os.path.join(root, ann))
            for key, value in node.items():
                if key not in ('ann_file', 'pipeline'):
                    walk(value, root)
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, data_root)

    walk(dataset_cfg, '')
    return list(dict.fromkeys(found))


def hash_files(paths: Iterable[str]) -> List[Dict[str, Optional[str]]]:
    """[{path, sha256}] for each path (sha256 is None for a file that does not exist)."""
    return [{'path': p, 'sha256': sha256_file(p) if os.path.isfile(p) else None} for p in paths]


def git_info(path: str) -> Dict[str, Any]:
    """The commit of the git checkout containing ``path`` and whether tracked files differ from it."""
    def git(*args: str) -> Optional[str]:
        try:
            out = subprocess.run(['git', '-C', path, *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git('rev-parse', 'HEAD')
    if commit is None:
        return {'commit': None, 'dirty': None}
    return {'commit': commit, 'dirty': bool(git('status', '--porcelain', '--untracked-files=no'))}


def package_versions() -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {'python': platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def hardware_info() -> Dict[str, Any]:
    cpu = platform.processor() or ''
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info: Dict[str, Any] = {'hostname': socket.gethostname(), 'platform': platform.platform(), 'cpu': cpu,
                            'cpu_count': os.cpu_count(), 'gpus': []}
    try:
        import torch
        if torch.cuda.is_available():
            info['gpus'] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info['cuda'] = torch.version.cuda
    except ImportError:
        pass
    for key in ('SLURM_JOB_ID', 'SLURM_ARRAY_JOB_ID', 'SLURM_ARRAY_TASK_ID', 'SLURM_JOB_NODELIST',
                'SLURM_NTASKS', 'SLURM_RESTART_COUNT', 'SLURM_JOB_PARTITION'):
        if key in os.environ:
            info[key.lower()] = os.environ[key]
    return info


def write_record(path: str, record: Dict[str, Any]) -> None:
    """Validate ``record`` and write it atomically."""
    validate_record(record, path)
    atomic_write_json(path, record)


__all__ = ['SCHEMA', 'RecordError', 'validate_record', 'find_record_files', 'load_records',
           'annotation_files', 'hash_files', 'git_info', 'package_versions', 'hardware_info', 'write_record']
