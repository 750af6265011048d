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
``config``). What each key may hold is the schema in :mod:`ovd.benchmark.spec_schema`; errors name the spec
file and the key, e.g. ``demo.yaml: experiments[1].seeds[0]: ...``.
"""
import glob
import itertools
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ovd.evaluation.metric_names import protocol_of_evaluator
from ovd.evaluation.protocols import PROTOCOLS
from ovd.fileio import sha256_text
from .schema import SchemaError, parse, parse_fields
from .spec_schema import DefaultsSpec, EvaluateSpec, ExperimentSpec, Resources, SpecFile, slug
from .strict_yaml import YAMLInputError, load_yaml

_VAR = re.compile(r'\$\{([A-Za-z_][A-Za-z0-9_]*)\}')


class SpecError(ValueError):
    """A sweep spec is malformed; the message names the file and the field."""


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
    pkg = Path(__file__).resolve().parents[1]  # the ovd package
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
        SpecError: the spec is malformed (the message names the file and the key).
    """
    spec_path = Path(path)
    spec, resources = _read_spec(str(path), variables)
    defaults = spec.defaults or DefaultsSpec()

    search = default_search_dirs(spec_path)
    sweep_root = str(root or spec.root or os.path.join('work_dirs', 'sweeps', spec.name))
    leaderboard_dir = str(spec.leaderboard or os.path.join(sweep_root, 'leaderboard'))
    references = spec.references
    if references is not None:
        found = resolve_path(references, search)
        if found is None:
            raise _fail(f'{path}: references', f'file not found: {references}')
        references = str(found)

    entries: List[Entry] = []
    notes: List[str] = []
    for i, (exp, res) in enumerate(zip(spec.experiments, resources)):
        where = f'{path}: experiments[{i}]'
        exp_name = str(exp.name or exp.method)
        if (exp.train is None) == (exp.checkpoint is None):
            raise _fail(where, 'give exactly one of `train` (a config to train) or `checkpoint` (to evaluate)')
        configs = _configs(exp, search, where)
        if not configs:
            notes.append(f'{exp_name}: skipped, ' + (f'no config matches {exp.train}' if exp.train is not None
                                                     else f'checkpoint {exp.checkpoint} not found'))
            continue
        opts = {**defaults.cfg_options, **exp.cfg_options}
        keys = list(exp.grid)
        for config in configs:
            evals = _evals(exp.evaluate, config, search, f'{where}.evaluate')
            stem = exp_name if len(configs) == 1 else f'{exp_name}-{Path(config).stem}'
            for point in itertools.product(*(exp.grid[k] for k in keys)):
                point_map = dict(zip(keys, point))
                for seed in exp.seeds if exp.seeds is not None else defaults.seeds:
                    parts = [stem] + [f'{k.split(".")[-1]}={slug(v)}' for k, v in point_map.items()]
                    entries.append(Entry(
                        id=slug('-'.join(parts)) + f'-s{seed}', sweep=spec.name, experiment=exp_name,
                        method=exp.method, train_config=config, checkpoint=exp.checkpoint, seed=seed,
                        grid=point_map, cfg_options={**opts, **point_map}, evals=evals, resources=res,
                        retries=exp.retries if exp.retries is not None else defaults.retries,
                        env={**defaults.env, **exp.env}, training_data=exp.training_data,
                        leaderboard_dir=leaderboard_dir, references=references))
    seen: Dict[str, Entry] = {}
    for e in entries:
        if e.id in seen:
            raise SpecError(f'{path}: two entries get the id {e.id!r} (experiments {seen[e.id].experiment!r} '
                            f'and {e.experiment!r}); give the experiments distinct names')
        seen[e.id] = e
    return Sweep(name=spec.name, path=str(path), root=sweep_root, entries=entries, notes=notes,
                 leaderboard_dir=leaderboard_dir, references=references)


def _read_spec(path: str, variables: Optional[Mapping[str, str]]) -> Tuple[SpecFile, List[Resources]]:
    """The checked spec file (``${name}`` replaced) and each experiment's resources (on top of the defaults')."""
    try:
        raw = load_yaml(Path(path).read_text(encoding='utf-8'), str(path))
    except FileNotFoundError:
        raise SpecError(f'{path}: sweep spec not found') from None
    except OSError as err:
        raise SpecError(f'{path}: cannot read the sweep spec: {err.strerror}') from None
    except UnicodeDecodeError as err:
        raise SpecError(f'{path}: not UTF-8 text ({err.reason} at byte {err.start})') from None
    except YAMLInputError as err:
        raise SpecError(str(err)) from None
    try:
        if not isinstance(raw, dict):
            raise SchemaError(f'{path}: expected a mapping, got {type(raw).__name__}')
        # ${name} is replaced before the rest is read: the values are checked as the run will see them
        spec_vars = parse_fields(SpecFile, {'vars': raw.get('vars')}, str(path))['vars']
        spec_vars = {k: str(v) for k, v in {**spec_vars, **(variables or {})}.items()}
        raw = {k: (_substitute(v, spec_vars, f'{path}: {k}') if k != 'vars' else v) for k, v in raw.items()}
        spec = parse(SpecFile, raw, str(path))
        base = _resources(Resources(), (spec.defaults or DefaultsSpec()).resources, str(path), 'defaults.resources')
        return spec, [_resources(base, exp.resources, str(path), f'experiments[{i}].resources')
                      for i, exp in enumerate(spec.experiments)]
    except SchemaError as err:
        raise SpecError(str(err)) from None


def _resources(base: Resources, raw: Optional[Mapping[str, Any]], source: str, key: str) -> Resources:
    """``base`` with the keys ``raw`` gives (checked against :class:`Resources`' fields)."""
    if raw is None:
        return base
    res = replace(base, **parse_fields(Resources, raw, source, key))
    if res.tasks % res.nodes:
        raise SchemaError(f'{source}: {key}: tasks ({res.tasks}) must be a multiple of nodes ({res.nodes})')
    return res


def _configs(exp: ExperimentSpec, search: Sequence[Path], where: str) -> List[Optional[str]]:
    """The configs an experiment trains (its glob's matches), or ``[None]`` for a given checkpoint; ``[]`` when
    an optional experiment has nothing to run."""
    if exp.train is not None:
        configs: List[Optional[str]] = list(_expand_config(exp.train, search, f'{where}.train'))
        if not configs and not exp.optional:
            raise _fail(f'{where}.train', f'no config file matches {exp.train!r} (looked in '
                                          f'{", ".join(str(s) for s in search)})')
        return configs
    if resolve_path(str(exp.checkpoint), search) is None and '://' not in str(exp.checkpoint):
        if exp.optional:
            return []
        raise _fail(f'{where}.checkpoint', f'checkpoint not found: {exp.checkpoint}')
    return [None]


def _evals(items: Sequence[EvaluateSpec], train_config: Optional[str], search: Sequence[Path],
           where: str) -> Tuple[EvalSpec, ...]:
    evals = []
    for j, item in enumerate(items):
        w = f'{where}[{j}]'
        protocol, config = item.protocol, item.config if item.config is not None else train_config
        if protocol == 'auto' and config is not None:
            protocol = _detect_protocol(config, search, f'{w}.protocol')
        if protocol not in PROTOCOLS:
            raise _fail(f'{w}.protocol', f'unknown protocol {protocol!r}; known: {sorted(PROTOCOLS)} or auto')
        if config is None:
            raise _fail(f'{w}.config', 'an evaluation of a given checkpoint needs a config')
        if resolve_path(config, search) is None:
            raise _fail(f'{w}.config', f'config file not found: {config}')
        evals.append(EvalSpec(name=slug(item.name or protocol), protocol=protocol, config=config,
                              dataset=item.dataset, cfg_options=dict(item.cfg_options), reference=item.reference,
                              metric_scale=item.metric_scale))
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
