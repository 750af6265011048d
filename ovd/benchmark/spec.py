"""Sweep specs: a YAML file describing methods x evaluation protocols x seeds x config overrides, expanded
into one :class:`Entry` per job (train once, then evaluate every listed protocol).

A spec looks like this (``benchmarks/sweeps/*.yaml`` are complete examples)::

    name: demo
    vars: {data_root: work_dirs/demo/data}     # ${data_root} anywhere below; `--set data_root=...` overrides
    defaults:
      seeds: [0]
      retries: 1                               # failed jobs are resubmitted at most this many times
      resources: {tasks: 1, cpus_per_task: 1, time: '00:30:00'}
      cfg_options: {data_root: '${data_root}/'}
    experiments:
      - name: glip-tiny
        method: glip
        train: configs/glip/*tiny*.py          # a glob; no match + optional: true = skipped, with a note
        optional: true
        training_data: synthetic COCO + Flickr30k
        grid: {optim_wrapper.optimizer.lr: [0.01, 0.02]}   # cartesian product over config overrides
        evaluate:
          - {protocol: lvis-fixed, config: configs/glip/x_lvis.py, reference: glip-t-lvis-minival-last}

``train`` may be replaced by ``checkpoint`` (evaluate an existing checkpoint; each evaluation then needs a
``config``). Errors name the spec file and the field, e.g. ``demo.yaml: experiments[1].seeds[0]: ...``.
"""
import glob
import itertools
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import ovd
from ovd.fileio import sha256_text
from ovd.evaluation.metric_names import protocol_of_evaluator
from ovd.evaluation.protocols import PROTOCOLS
from .strict_yaml import YAMLInputError, load_yaml

_VAR = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')
_SLUG = re.compile(r'[^A-Za-z0-9_.=+-]+')
# sbatch --time: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S", or no limit
_SLURM_TIME = re.compile(r'\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE|infinite|unlimited')


class SpecError(ValueError):
    """A sweep spec is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Resources:
    """What one job asks the executor for.

    ``tasks`` is the number of training processes (the world size); with ``tasks > 1`` training runs
    distributed (SLURM: ``srun`` + mmengine's slurm launcher; locally: ``torch.distributed.run``).
    """
    nodes: int = 1
    tasks: int = 1
    cpus_per_task: int = 1
    gpus_per_node: int = 0
    mem: Optional[str] = None
    time: Optional[str] = None
    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    constraint: Optional[str] = None
    # SIGUSR1 reaches the job this many seconds before its time limit: checkpoint, then requeue.
    signal_grace_s: int = 120
    sbatch_args: Tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalSpec:
    """One evaluation of a trained (or given) checkpoint: a config whose test set and evaluator implement
    ``protocol``."""
    name: str
    protocol: str
    config: str
    dataset: str = ''
    cfg_options: Mapping[str, Any] = field(default_factory=dict)
    reference: Optional[str] = None
    # mmengine metrics (mmdet's and ours) report fractions; the leaderboard shows percentages.
    metric_scale: str = 'fraction'


@dataclass(frozen=True)
class Entry:
    """One job of a sweep: (experiment, grid point, seed) -> train once, then run every evaluation."""
    id: str
    sweep: str
    experiment: str
    method: str
    train_config: Optional[str]
    checkpoint: Optional[str]
    seed: int
    grid: Mapping[str, Any]
    cfg_options: Mapping[str, Any]
    evals: Tuple[EvalSpec, ...]
    resources: Resources
    retries: int
    training_data: str = ''
    env: Mapping[str, str] = field(default_factory=dict)
    leaderboard_dir: Optional[str] = None
    references: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data['hash'] = self.hash
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'Entry':
        data = dict(data)
        data.pop('hash', None)
        res = dict(data['resources'])
        res['sbatch_args'] = tuple(res.get('sbatch_args', ()))
        data['resources'] = Resources(**res)
        data['evals'] = tuple(EvalSpec(**e) for e in data['evals'])
        return cls(**data)

    @property
    def hash(self) -> str:
        """Hash of everything that changes the result (not time limits, partitions or retry counts)."""
        res = self.resources
        key = dict(method=self.method, train_config=self.train_config, checkpoint=self.checkpoint,
                   seed=self.seed, env=self.env, grid=self.grid, cfg_options=self.cfg_options,
                   evals=[asdict(e) for e in self.evals],
                   world=(res.nodes, res.tasks, res.gpus_per_node))
        return sha256_text(json.dumps(key, sort_keys=True, default=str))[:12]


@dataclass
class Sweep:
    """A loaded spec: its name, where its entries live, the expanded entries and notes on skipped parts."""
    name: str
    path: str
    root: str
    entries: List[Entry]
    notes: List[str]
    leaderboard_dir: str
    references: Optional[str]


_RESOURCE_FIELDS = {f: t for f, t in Resources.__annotations__.items()}
_INT_RESOURCES = {'nodes', 'tasks', 'cpus_per_task', 'gpus_per_node', 'signal_grace_s'}
_EXPERIMENT_KEYS = {'name', 'method', 'train', 'checkpoint', 'training_data', 'seeds', 'retries',
                    'resources', 'cfg_options', 'env', 'grid', 'evaluate', 'optional'}
_EVAL_KEYS = {'name', 'protocol', 'config', 'dataset', 'cfg_options', 'reference', 'metric_scale'}
_TOP_KEYS = {'name', 'description', 'root', 'leaderboard', 'references', 'vars', 'defaults', 'experiments'}


def _fail(where: str, msg: str) -> SpecError:
    return SpecError(f'{where}: {msg}')


def _substitute(value: Any, variables: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):
        def repl(m: 're.Match[str]') -> str:
            if m.group(1) not in variables:
                raise _fail(where, f'unknown variable ${{{m.group(1)}}} (defined: {sorted(variables)})')
            return str(variables[m.group(1)])
        return _VAR.sub(repl, value)
    if isinstance(value, list):
        return [_substitute(v, variables, f'{where}[{i}]') for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _substitute(v, variables, f'{where}.{k}') for k, v in value.items()}
    return value


def _check_keys(obj: Any, allowed: set, where: str) -> Dict[str, Any]:
    if not isinstance(obj, dict):
        raise _fail(where, f'expected a mapping, got {type(obj).__name__}')
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _fail(where, f'unknown key(s) {unknown}; allowed: {sorted(allowed)}')
    return obj


def _resources(base: Resources, raw: Any, where: str) -> Resources:
    if raw is None:
        return base
    _check_keys(raw, set(_RESOURCE_FIELDS), where)
    values = {}
    for key, val in raw.items():
        if key in _INT_RESOURCES:
            least = 1 if key in ('nodes', 'tasks', 'cpus_per_task') else 0
            if not isinstance(val, int) or isinstance(val, bool) or val < least:
                raise _fail(f'{where}.{key}', f'expected a positive integer, got {val!r}')
        elif key == 'sbatch_args':
            if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
                raise _fail(f'{where}.{key}', f'expected a list of strings, got {val!r}')
            val = tuple(val)
        elif key == 'time' and val is not None:
            if isinstance(val, bool) or not _SLURM_TIME.fullmatch(str(val)):
                raise _fail(f'{where}.{key}', f'expected a SLURM time limit (minutes, [hours:]minutes:seconds, '
                                              f'days-hours[:minutes[:seconds]] or UNLIMITED), got {val!r}')
            val = str(val)
        elif val is not None:
            val = str(val)
        values[key] = val
    res = replace(base, **values)
    if res.tasks % res.nodes:
        raise _fail(where, f'tasks ({res.tasks}) must be a multiple of nodes ({res.nodes})')
    return res


def _seeds(raw: Any, where: str) -> List[int]:
    if not isinstance(raw, list) or not raw:
        raise _fail(where, f'expected a non-empty list of integers, got {raw!r}')
    for i, s in enumerate(raw):
        if not isinstance(s, int) or isinstance(s, bool):
            raise _fail(f'{where}[{i}]', f'expected an integer seed, got {s!r}')
    if len(set(raw)) != len(raw):
        raise _fail(where, f'duplicate seeds in {raw}')
    return list(raw)


def _mapping(raw: Any, where: str) -> Dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(where, f'expected a mapping of config keys to values, got {type(raw).__name__}')
    return dict(raw)


def _env(raw: Any, where: str) -> Dict[str, str]:
    env = _mapping(raw, where)
    for key, value in env.items():
        if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', str(key)) or isinstance(value, (dict, list)):
            raise _fail(f'{where}.{key}', f'expected NAME: value (an environment variable), got {value!r}')
    return {str(k): str(v) for k, v in env.items()}


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))
    return _SLUG.sub('_', text).strip('_')[:40]


def resolve_path(path: str, base_dirs: Sequence[Path]) -> Optional[Path]:
    """Find ``path`` as given (absolute or relative to the current folder) or under one of ``base_dirs``."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p if p.exists() else None
    for base in base_dirs:
        if (base / p).exists():
            return base / p
    return None


def default_search_dirs(spec_path: Optional[Path] = None) -> List[Path]:
    """Folders relative config paths are looked up in: the current folder, the repository that holds the
    spec (``<repo>/benchmarks/sweeps/x.yaml``), the ovd source checkout and the installed ``ovd/.mim``."""
    pkg = Path(ovd.__file__).resolve().parent
    dirs = [Path.cwd()]
    if spec_path is not None:
        spec_path = spec_path.resolve()
        if spec_path.parent.name == 'sweeps' and spec_path.parent.parent.name == 'benchmarks':
            dirs.append(spec_path.parent.parent.parent)
    dirs += [pkg.parent, pkg / '.mim']
    out = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _expand_config(pattern: str, search: Sequence[Path], where: str) -> List[str]:
    """Expand a (possibly globbed) config path to existing files, keeping the path relative like given."""
    if not glob.has_magic(pattern):
        return [pattern] if resolve_path(pattern, search) is not None else []
    if os.path.isabs(pattern):
        return sorted(glob.glob(pattern))
    for base in search:
        matches = sorted(glob.glob(str(base / pattern)))
        if matches:
            return [os.path.relpath(m, base) for m in matches]
    return []


def load_spec(path: str, variables: Optional[Mapping[str, str]] = None, root: Optional[str] = None) -> Sweep:
    """Load and expand a sweep spec.

    Args:
        path: the YAML file.
        variables: values for ``${name}`` that override the spec's ``vars``.
        root: folder for the entries' state (default: the spec's ``root``, else ``work_dirs/sweeps/<name>``).

    Returns:
        The :class:`Sweep` with one :class:`Entry` per (experiment, config match, grid point, seed).

    Raises:
        SpecError: the spec is malformed (the message names the file and field).
    """
    spec_path = Path(path)
    name_for_errors = str(path)
    try:
        raw = load_yaml(spec_path.read_text(encoding='utf-8'), name_for_errors)
    except FileNotFoundError:
        raise SpecError(f'{path}: sweep spec not found') from None
    except OSError as err:
        raise SpecError(f'{path}: cannot read the sweep spec: {err.strerror}') from None
    except UnicodeDecodeError as err:
        raise SpecError(f'{path}: not UTF-8 text ({err.reason} at byte {err.start})') from None
    except YAMLInputError as err:
        raise SpecError(str(err)) from None
    raw = _check_keys(raw, _TOP_KEYS, name_for_errors)
    sweep_name = raw.get('name')
    # The name is a folder under work_dirs/sweeps: one visible path component ('..' made the sweep root
    # work_dirs/ itself; a hidden folder is skipped by the leaderboard's record search).
    if not isinstance(sweep_name, str) or not sweep_name or _slug(sweep_name) != sweep_name or \
            sweep_name.startswith('.'):
        raise _fail(f'{path}: name', f'expected a simple name (letters, digits, _.=+-, not starting with '
                                     f'a dot), got {sweep_name!r}')
    spec_vars = _mapping(raw.get('vars'), f'{path}: vars')
    spec_vars = {k: str(v) for k, v in spec_vars.items()}
    spec_vars.update({k: str(v) for k, v in (variables or {}).items()})
    raw = {k: (_substitute(v, spec_vars, f'{path}: {k}') if k != 'vars' else v) for k, v in raw.items()}

    search = default_search_dirs(spec_path)
    defaults = _check_keys(raw.get('defaults') or {}, {'seeds', 'retries', 'resources', 'cfg_options', 'env'},
                           f'{path}: defaults')
    default_seeds = _seeds(defaults.get('seeds', [0]), f'{path}: defaults.seeds')
    default_retries = defaults.get('retries', 1)
    default_res = _resources(Resources(), defaults.get('resources'), f'{path}: defaults.resources')
    default_opts = _mapping(defaults.get('cfg_options'), f'{path}: defaults.cfg_options')
    default_env = _env(defaults.get('env'), f'{path}: defaults.env')
    sweep_root = str(root or raw.get('root') or os.path.join('work_dirs', 'sweeps', sweep_name))
    leaderboard_dir = str(raw.get('leaderboard') or os.path.join(sweep_root, 'leaderboard'))
    references = raw.get('references')
    if references is not None:
        found = resolve_path(str(references), search)
        if found is None:
            raise _fail(f'{path}: references', f'file not found: {references}')
        references = str(found)

    experiments = raw.get('experiments')
    if not isinstance(experiments, list) or not experiments:
        raise _fail(f'{path}: experiments', 'expected a non-empty list')
    entries: List[Entry] = []
    notes: List[str] = []
    for i, exp in enumerate(experiments):
        where = f'{path}: experiments[{i}]'
        exp = _check_keys(exp, _EXPERIMENT_KEYS, where)
        method = exp.get('method')
        if not isinstance(method, str) or not method:
            raise _fail(f'{where}.method', f'expected a method name, got {method!r}')
        exp_name = str(exp.get('name') or method)
        train, checkpoint = exp.get('train'), exp.get('checkpoint')
        if (train is None) == (checkpoint is None):
            raise _fail(where, 'give exactly one of `train` (a config to train) or `checkpoint` (to evaluate)')
        seeds = _seeds(exp['seeds'], f'{where}.seeds') if 'seeds' in exp else default_seeds
        retries = exp.get('retries', default_retries)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise _fail(f'{where}.retries', f'expected a non-negative integer, got {retries!r}')
        res = _resources(default_res, exp.get('resources'), f'{where}.resources')
        opts = {**default_opts, **_mapping(exp.get('cfg_options'), f'{where}.cfg_options')}
        env = {**default_env, **_env(exp.get('env'), f'{where}.env')}
        grid = _mapping(exp.get('grid'), f'{where}.grid')
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise _fail(f'{where}.grid.{key}', f'expected a non-empty list of values, got {values!r}')
        evaluate = exp.get('evaluate')
        if not isinstance(evaluate, list) or not evaluate:
            raise _fail(f'{where}.evaluate', 'expected a non-empty list of evaluations')

        if train is not None:
            configs = _expand_config(str(train), search, f'{where}.train')
            if not configs:
                if exp.get('optional'):
                    notes.append(f'{exp_name}: skipped, no config matches {train}')
                    continue
                raise _fail(f'{where}.train', f'no config file matches {train!r} (looked in '
                                              f'{", ".join(str(s) for s in search)})')
        else:
            if resolve_path(str(checkpoint), search) is None and '://' not in str(checkpoint):
                if exp.get('optional'):
                    notes.append(f'{exp_name}: skipped, checkpoint {checkpoint} not found')
                    continue
                raise _fail(f'{where}.checkpoint', f'checkpoint not found: {checkpoint}')
            configs = [None]

        for config in configs:
            evals = _evals(evaluate, config, search, f'{where}.evaluate')
            stem = exp_name if len(configs) == 1 else f'{exp_name}-{Path(config).stem}'
            keys = list(grid)
            for point in itertools.product(*(grid[k] for k in keys)):
                point_map = dict(zip(keys, point))
                for seed in seeds:
                    parts = [stem] + [f'{k.split(".")[-1]}={_slug(v)}' for k, v in point_map.items()]
                    entry_id = _slug('-'.join(parts)) + f'-s{seed}'
                    entries.append(Entry(
                        id=entry_id, sweep=sweep_name, experiment=exp_name, method=method,
                        train_config=config, checkpoint=None if checkpoint is None else str(checkpoint),
                        seed=seed, grid=point_map, cfg_options={**opts, **point_map}, evals=evals,
                        resources=res, retries=retries, env=env,
                        training_data=str(exp.get('training_data', '')),
                        leaderboard_dir=leaderboard_dir, references=references))
    seen: Dict[str, Entry] = {}
    for e in entries:
        if e.id in seen:
            raise SpecError(f'{path}: two entries get the id {e.id!r} (experiments {seen[e.id].experiment!r} '
                            f'and {e.experiment!r}); give the experiments distinct names')
        seen[e.id] = e
    return Sweep(name=sweep_name, path=str(path), root=sweep_root, entries=entries, notes=notes,
                 leaderboard_dir=leaderboard_dir, references=references)


def _evals(raw_list: List[Any], train_config: Optional[str], search: Sequence[Path],
           where: str) -> Tuple[EvalSpec, ...]:
    evals = []
    for j, raw in enumerate(raw_list):
        w = f'{where}[{j}]'
        raw = _check_keys(raw, _EVAL_KEYS, w)
        protocol = raw.get('protocol')
        config = raw.get('config', train_config)
        if protocol == 'auto' and config is not None:
            protocol = _detect_protocol(config, search, f'{w}.protocol')
        if protocol not in PROTOCOLS:
            raise _fail(f'{w}.protocol', f'unknown protocol {protocol!r}; known: {sorted(PROTOCOLS)} or auto')
        if config is None:
            raise _fail(f'{w}.config', 'an evaluation of a given checkpoint needs a config')
        if resolve_path(str(config), search) is None:
            raise _fail(f'{w}.config', f'config file not found: {config}')
        scale = raw.get('metric_scale', 'fraction')
        if scale not in ('fraction', 'percent'):
            raise _fail(f'{w}.metric_scale', f"expected 'fraction' or 'percent', got {scale!r}")
        evals.append(EvalSpec(name=_slug(raw.get('name') or protocol), protocol=protocol, config=str(config),
                              dataset=str(raw.get('dataset', '')),
                              cfg_options=_mapping(raw.get('cfg_options'), f'{w}.cfg_options'),
                              reference=raw.get('reference'), metric_scale=scale))
    names = [e.name for e in evals]
    if len(set(names)) != len(names):
        raise _fail(where, f'evaluation names must be unique, got {names} (set `name:`)')
    return tuple(evals)


def _detect_protocol(config: str, search: Sequence[Path], where: str) -> str:
    """``protocol: auto``: read the protocol off the config's ``test_evaluator``."""
    path = resolve_path(config, search)
    if path is None:
        raise _fail(where, f'config file not found: {config}')
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(str(path), import_custom_modules=False)
    except Exception as err:  # any parse error: reported against the spec field
        raise _fail(where, f'cannot read {config} to detect its protocol: {err}') from None
    protocol = protocol_of_evaluator(cfg.get('test_evaluator'))
    if not protocol:
        raise _fail(where, f'cannot tell the protocol of {config} (test_evaluator '
                           f'{cfg.get("test_evaluator")!r}); name it')
    return protocol
