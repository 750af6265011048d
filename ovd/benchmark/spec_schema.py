"""The sweep spec file's schema: what each key may hold, as dataclasses (:mod:`ovd.benchmark.schema` reads a
parsed YAML file into them and names the key of any error). :func:`ovd.benchmark.spec.load_spec` expands a checked
:class:`SpecFile` into jobs; :class:`Resources` is both written in specs and kept in each job.
"""
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .schema import Invalid, check

_SLUG = re.compile(r'[^A-Za-z0-9_.=+-]+')
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
# sbatch --time: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S", or no limit
_SLURM_TIME = re.compile(r'\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE|infinite|unlimited')


def slug(value: Any) -> str:
    """``value`` as a folder-name-safe text of at most 40 characters (entry ids, evaluation names)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))
    return _SLUG.sub('_', text).strip('_')[:40]


# -- field rules (see ovd.benchmark.schema): each returns the value to keep or raises Invalid


def _at_least(least: int) -> Callable[[Any], int]:
    def rule(value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise Invalid(f'expected an integer >= {least}, got {value!r}')
        return value
    return rule


def _text(value: Any) -> Optional[str]:
    """A scalar, kept as its text (``mem: 16000`` is '16000')."""
    if isinstance(value, (dict, list)):
        raise Invalid(f'expected a string, got {type(value).__name__} {value!r}')
    return None if value is None else str(value)


def _slurm_time(value: Any) -> Optional[str]:
    if value is not None and (isinstance(value, bool) or not _SLURM_TIME.fullmatch(str(value))):
        raise Invalid(f'expected a SLURM time limit (minutes, [hours:]minutes:seconds, '
                      f'days-hours[:minutes[:seconds]] or UNLIMITED), got {value!r}')
    return None if value is None else str(value)


def _sweep_name(value: Any) -> str:
    # The name is a folder under work_dirs/sweeps: one visible path component ('..' made the sweep root
    # work_dirs/ itself; a hidden folder is skipped by the leaderboard's record search).
    if not isinstance(value, str) or not value or slug(value) != value or value.startswith('.'):
        raise Invalid(f'expected a simple name (letters, digits, _.=+-, not starting with a dot), got {value!r}')
    return value


def _non_empty_str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f'expected a non-empty string, got {value!r}')
    return value


def _non_empty_list(what: str) -> Callable[[Any], list]:
    def rule(value: Any) -> list:
        if not isinstance(value, list) or not value:
            raise Invalid(f'expected a non-empty list{what}')
        return value
    return rule


def _seeds(value: Any) -> List[int]:
    if not isinstance(value, list) or not value:
        raise Invalid(f'expected a non-empty list of integers, got {value!r}')
    for i, seed in enumerate(value):
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise Invalid(f'expected an integer seed, got {seed!r}', f'[{i}]')
    if len(set(value)) != len(value):
        raise Invalid(f'duplicate seeds in {value}')
    return value


def _mapping(value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f'expected a mapping of config keys to values, got {type(value).__name__}')
    return value


def _env(value: Any) -> Dict[str, str]:
    for key, item in _mapping(value).items():
        if not _ENV_NAME.fullmatch(str(key)) or isinstance(item, (dict, list)):
            raise Invalid(f'expected NAME: value (an environment variable), got {item!r}', f'.{key}')
    return {str(k): str(v) for k, v in _mapping(value).items()}


def _grid(value: Any) -> Dict[str, list]:
    for key, values in _mapping(value).items():
        if not isinstance(values, list) or not values:
            raise Invalid(f'expected a non-empty list of values, got {values!r}', f'.{key}')
    return _mapping(value)


def _metric_scale(value: Any) -> str:
    if value not in ('fraction', 'percent'):
        raise Invalid(f"expected 'fraction' or 'percent', got {value!r}")
    return value

@dataclass(frozen=True)
class Resources:
    """What one job asks the executor for.

    ``tasks`` is the number of training processes (the world size); with ``tasks > 1`` training runs
    distributed (SLURM: ``srun`` + mmengine's slurm launcher; locally: ``torch.distributed.run``).
    """
    nodes: int = field(default=1, metadata=check(_at_least(1)))
    tasks: int = field(default=1, metadata=check(_at_least(1)))
    cpus_per_task: int = field(default=1, metadata=check(_at_least(1)))
    gpus_per_node: int = field(default=0, metadata=check(_at_least(0)))
    mem: Optional[str] = field(default=None, metadata=check(_text))
    time: Optional[str] = field(default=None, metadata=check(_slurm_time))
    partition: Optional[str] = field(default=None, metadata=check(_text))
    account: Optional[str] = field(default=None, metadata=check(_text))
    qos: Optional[str] = field(default=None, metadata=check(_text))
    constraint: Optional[str] = field(default=None, metadata=check(_text))
    # SIGUSR1 reaches the job this many seconds before its time limit: checkpoint, then requeue.
    signal_grace_s: int = field(default=120, metadata=check(_at_least(0)))
    sbatch_args: Tuple[str, ...] = ()


# -- the spec file's schema: what a user writes (Resources above is both written and kept)


@dataclass(frozen=True)
class EvaluateSpec:
    """One item of an experiment's ``evaluate`` list."""
    protocol: str = field(metadata=check(_non_empty_str))  # a protocol name, or 'auto'
    name: Optional[str] = field(default=None, metadata=check(_text))
    config: Optional[str] = field(default=None, metadata=check(_text))  # default: the trained config
    dataset: str = field(default='', metadata=check(_text))
    cfg_options: Dict[str, Any] = field(default_factory=dict, metadata=check(_mapping))
    reference: Optional[str] = None
    metric_scale: str = field(default='fraction', metadata=check(_metric_scale))


@dataclass(frozen=True)
class ExperimentSpec:
    """One item of ``experiments``: a method's config to train (or a checkpoint) and its evaluations."""
    method: str = field(metadata=check(_non_empty_str))
    evaluate: List[EvaluateSpec] = field(metadata=check(_non_empty_list(' of evaluations')))
    name: Optional[str] = field(default=None, metadata=check(_text))
    train: Optional[str] = field(default=None, metadata=check(_text))  # a config path or glob
    checkpoint: Optional[str] = field(default=None, metadata=check(_text))
    optional: bool = False  # a train glob without a match or a missing checkpoint skips it, with a note
    training_data: str = field(default='', metadata=check(_text))
    seeds: Optional[List[int]] = field(default=None, metadata=check(_seeds))
    retries: Optional[int] = field(default=None, metadata=check(_at_least(0)))
    resources: Optional[Dict[str, Any]] = None  # checked against Resources on top of the defaults'
    cfg_options: Dict[str, Any] = field(default_factory=dict, metadata=check(_mapping))
    env: Dict[str, str] = field(default_factory=dict, metadata=check(_env))
    grid: Dict[str, List[Any]] = field(default_factory=dict, metadata=check(_grid))


@dataclass(frozen=True)
class DefaultsSpec:
    """``defaults``: what every experiment gets unless it says otherwise."""
    seeds: List[int] = field(default_factory=lambda: [0], metadata=check(_seeds))
    retries: int = field(default=1, metadata=check(_at_least(0)))  # resubmissions of a failed job
    resources: Optional[Dict[str, Any]] = None
    cfg_options: Dict[str, Any] = field(default_factory=dict, metadata=check(_mapping))
    env: Dict[str, str] = field(default_factory=dict, metadata=check(_env))


@dataclass(frozen=True)
class SpecFile:
    """A sweep spec file (the module docstring shows one)."""
    name: str = field(metadata=check(_sweep_name))
    experiments: List[ExperimentSpec] = field(metadata=check(_non_empty_list('')))
    description: Any = None
    root: Optional[str] = field(default=None, metadata=check(_text))
    leaderboard: Optional[str] = field(default=None, metadata=check(_text))
    references: Optional[str] = field(default=None, metadata=check(_text))
    vars: Dict[str, Any] = field(default_factory=dict, metadata=check(_mapping))
    defaults: Optional[DefaultsSpec] = None
