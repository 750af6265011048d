"""The metrics hand-over: ``tools/test.py`` writes the metrics dict ``runner.test()`` returns to
``<work_dir>/<timestamp>/metrics.json`` (beside mmengine's logs of that run), and the benchmark runner builds its
run records from that file. Nothing reads metrics back from log lines.
"""
import os
from pathlib import Path
from typing import Any, Dict, Mapping, Union

from ovd.fileio import atomic_write_json, read_json

METRICS_FILE = 'metrics.json'
PathLike = Union[str, os.PathLike]


def _jsonable(value: Any) -> Any:
    """numpy and torch scalars (and arrays) as plain numbers (lists); containers element by element."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, 'tolist'):
        return value.tolist()
    return str(value)


def write_metrics(log_dir: PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write an evaluation's metrics dict as JSON (atomically) into ``log_dir``; returns the file."""
    path = Path(log_dir) / METRICS_FILE
    atomic_write_json(path, {str(k): _jsonable(v) for k, v in metrics.items()})
    return path


def read_metrics(work_dir: PathLike) -> Dict[str, float]:
    """The numeric metrics the latest test run under ``work_dir`` wrote (``<work_dir>/<timestamp>/metrics.json``).

    Returns:
        metric key -> value (the numbers; other values are not metrics of a leaderboard).

    Raises:
        FileNotFoundError: no test run under ``work_dir`` wrote its metrics.
        ValueError: the file does not hold a JSON object.
    """
    found = sorted(Path(work_dir).glob(f'*/{METRICS_FILE}')) if Path(work_dir).is_dir() else []
    if not found:
        raise FileNotFoundError(f'{work_dir}: no test metrics written (no <timestamp>/{METRICS_FILE}; '
                                f'tools/test.py writes it after runner.test())')
    data = read_json(found[-1])  # run folders are named by their start time: the last one is the latest
    if not isinstance(data, dict):
        raise ValueError(f'{found[-1]}: expected a JSON object of metrics, got {type(data).__name__}')
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
