"""Imports go one way: a layer of ovd imports only its own layer and the ones below it, and a method never imports a
sibling method (docs/architecture.md draws the picture; :data:`LAYERS` is its checked form).

Plain Python over the source with ``ast`` (import-linter is not installed): every ``import`` and ``from ... import``
counts, at module level or inside a function (a lazy import is still a dependency), relative ones resolved against
the importing module's package. Names imported by string (registry ``locations``, ``PREPARERS``) are not seen; they
point upward on purpose, which is how a low layer reaches the modules that register into it.
"""
import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

OVD_ROOT = Path(__file__).resolve().parents[2] / 'ovd'

# Low -> high. A module belongs to the layer of the longest prefix listed ('ovd' stands for the package's __init__).
LAYERS: List[Tuple[str, Tuple[str, ...]]] = [
    ('foundation', ('ovd', 'ovd.version', 'ovd.fileio', 'ovd.console', 'ovd.quiet', 'ovd.hints', 'ovd.resources',
                    'ovd.tool_args', 'ovd.compat', 'ovd.registry')),
    ('data/text', ('ovd.data', 'ovd.text')),
    ('process setup', ('ovd.setup',)),
    ('evaluation', ('ovd.evaluation',)),
    ('models', ('ovd.models',)),
    ('benchmark', ('ovd.benchmark',)),
    ('entry points', ('ovd.cli', 'ovd.commands', 'ovd.env_check', 'ovd.testing')),
]
ROOT_PACKAGE = 'ovd'  # listed for its __init__ only, not as a prefix of everything
MODELS = 'ovd.models'
SHARED_MODEL_PARTS = 'ovd.models.common'


def layer_of(module: str) -> Optional[int]:
    """Index in :data:`LAYERS` of the longest listed prefix of ``module``; None if no prefix is listed."""
    best, best_len = None, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix != ROOT_PACKAGE and module.startswith(prefix + '.'))
            if inside and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    return best


def method_of(module: str) -> Optional[str]:
    """``ovd.models.<x>`` for a module inside a model sub-package (``common`` included), else None."""
    parts = module.split('.')
    return '.'.join(parts[:3]) if len(parts) > 2 and module.startswith(MODELS + '.') else None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports_of(path: Path, root: Path) -> Iterator[Tuple[int, str]]:
    """(line, imported module) for every import in the file; ``from a import b`` yields ``a`` and ``a.b`` (``b``
    may be a sub-module), relative imports resolved."""
    module = module_name(path, root)
    package = module if path.name == '__init__.py' else module.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                source = '.'.join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ''
            yield node.lineno, source
            for alias in node.names:
                yield node.lineno, f'{source}.{alias.name}'


def violations(root: Path = OVD_ROOT) -> List[str]:
    """Every import in the package at ``root`` that breaks the direction, as ``file:line: why`` (one message per
    import statement and kind, naming the most specific module it imports)."""
    found: Dict[Tuple[str, int, str], str] = {}
    for path in sorted(root.rglob('*.py')):
        module = module_name(path, root)
        rank = layer_of(module)
        where = f'{path.relative_to(root.parent)}'
        if rank is None:
            found[(where, 0, 'layer')] = f'{where}: module {module} is in no layer of LAYERS (place it)'
            continue
        own_method = method_of(module)
        for line, target in imports_of(path, root):
            if target != 'ovd' and not target.startswith('ovd.'):
                continue
            target_rank = layer_of(target)
            if target_rank is not None and target_rank > rank:
                found[(where, line, 'up')] = (f'{where}:{line}: {LAYERS[rank][0]} module {module} imports {target} '
                                              f'({LAYERS[target_rank][0]}, a higher layer)')
            target_method = method_of(target)
            if own_method and target_method and target_method != own_method and target_method != SHARED_MODEL_PARTS:
                what = 'shared model parts import' if own_method == SHARED_MODEL_PARTS else 'method imports'
                found[(where, line, 'sibling')] = (f'{where}:{line}: {what} {target} '
                                                   f'(method {own_method} -> {target_method})')
    return list(found.values())


def test_ovd_imports_point_down_and_no_method_imports_a_sibling():
    assert violations() == []


def _write(root: Path, rel: str, text: str = '') -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A small package laid out as ovd, with one planted violation of each kind and allowed imports beside them."""
    root = tmp_path / 'ovd'
    for package in ('', 'data', 'evaluation', 'benchmark', 'models', 'models/common', 'models/glip',
                    'models/vild'):
        _write(root, f'{package}/__init__.py'.lstrip('/'))
    _write(root, 'fileio.py')
    _write(root, 'benchmark/report.py', 'from ovd.evaluation import engine\n')           # allowed: down
    _write(root, 'evaluation/engine.py', 'import ovd.fileio\n'                           # allowed: down
                                         'def f():\n    from ovd.benchmark import report\n')  # lazy, upward
    _write(root, 'data/vocab.py', 'from ..evaluation.engine import f\n')                # relative, upward
    _write(root, 'models/glip/head.py', 'from ovd.models.common import x\n'              # allowed: shared part
                                        'from ..vild.loss import y\n')                   # sibling method
    _write(root, 'models/common/x.py', 'from ovd.models.glip import head\n')            # common -> a method
    _write(root, 'models/vild/loss.py')
    _write(root, 'stray.py')                                                            # in no layer
    return root


def test_the_check_reports_each_planted_violation_and_nothing_else(planted: Path):
    found = violations(planted)
    expected = [
        ('ovd/data/vocab.py:1', 'data/text module ovd.data.vocab imports ovd.evaluation.engine'),
        ('ovd/evaluation/engine.py:3', 'evaluation module ovd.evaluation.engine imports ovd.benchmark'),
        ('ovd/models/common/x.py:1', 'shared model parts import ovd.models.glip'),
        ('ovd/models/glip/head.py:2', 'method imports ovd.models.vild.loss'),
        ('ovd/stray.py', 'module ovd.stray is in no layer'),
    ]
    for where, what in expected:
        assert any(v.startswith(where + ':') and what in v for v in found), (where, what, found)
    assert len(found) == len(expected), found  # the allowed imports beside them are not reported
