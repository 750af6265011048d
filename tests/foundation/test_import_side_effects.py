"""``import ovd`` defines names only, and registration is lazy (issue 17 item 1).

Each check runs in a fresh interpreter, because the test process itself has long imported torch and mmdet:
- ``import ovd``, ``import ovd.evaluation``, ``ovd --help`` and ``ovd eval`` import neither torch, mmengine,
  mmdet nor transformers (those cost seconds of CPU per process);
- every module that registers into an ``ovd`` registry is imported by that registry's ``locations``, so a
  config's types resolve without an eager import.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

import pytest

from ovd import registry

HEAVY = ('torch', 'mmengine', 'mmdet', 'mmcv', 'transformers')
REPO = Path(__file__).resolve().parents[2]

REPORT_HEAVY = f'''
import sys
print("HEAVY=" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
'''


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's ovd."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in os.environ.get(
        'PYTHONPATH', '').split(os.pathsep) if p]))
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=cwd, env=env)


def _heavy_modules_after(code: str, cwd: Path) -> Set[str]:
    proc = _python(code + REPORT_HEAVY, cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith('HEAVY=')][-1]
    return {m for m in line[len('HEAVY='):].split(',') if m}


@pytest.mark.parametrize('code', ['import ovd', 'import ovd.evaluation', 'import ovd.compat', 'import ovd.cli',
                                  'from ovd.evaluation.protocols import evaluate_files',
                                  'import ovd.data.vocab'])
def test_import_loads_no_heavy_framework(code, tmp_path):
    assert _heavy_modules_after(code, tmp_path) == set()


def _cli(args: list) -> str:
    return ('from ovd.cli import main\n'
            'try:\n'
            f'    rc = main({args!r})\n'
            'except SystemExit as stop:\n'
            '    rc = stop.code\n'
            'assert rc in (0, None), rc\n')


@pytest.mark.parametrize('args', [['--help'], ['--version'], ['eval', '--help']], ids=' '.join)
def test_cli_help_loads_no_heavy_framework(args, tmp_path):
    assert _heavy_modules_after(_cli(args), tmp_path) == set()


def test_ovd_eval_loads_no_heavy_framework(tmp_path):
    from ovd.data.synthetic.eval_cases import make_lvis_like
    gt, res = make_lvis_like(3, dets_per_image=20, seed=1)
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    (tmp_path / 'res.json').write_text(json.dumps(res))
    code = _cli(['eval', '--protocol', 'lvis', '--gt', str(tmp_path / 'gt.json'), '--pred',
                 str(tmp_path / 'res.json'), '--out', str(tmp_path / 'metrics.json')])
    assert _heavy_modules_after(code, tmp_path) == set()
    assert 0 <= json.loads((tmp_path / 'metrics.json').read_text())['AP'] <= 1


def test_the_check_sees_heavy_imports(tmp_path):
    """The checks above can fail: a module that does import mmdet is reported."""
    assert {'mmdet', 'mmengine', 'torch'} <= _heavy_modules_after('import ovd.registry', tmp_path)


def _registering_modules() -> Dict[str, Set[str]]:
    """ovd module -> names of the ovd registries it calls ``register_module`` on (from the source)."""
    out: Dict[str, Set[str]] = {}
    for path in sorted((REPO / 'ovd').rglob('*.py')):
        tree = ast.parse(path.read_text(), str(path))
        from_ovd_registry = {alias.asname or alias.name for node in ast.walk(tree)
                             if isinstance(node, ast.ImportFrom) and node.module == 'ovd.registry'
                             for alias in node.names}
        used = {node.value.id for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and node.attr == 'register_module'
                and isinstance(node.value, ast.Name) and node.value.id in from_ovd_registry}
        if used:
            module = '.'.join(path.relative_to(REPO).with_suffix('').parts)
            out[module.removesuffix('.__init__')] = used
    return out


def test_the_source_scan_finds_the_registering_modules():
    found = _registering_modules()
    assert found['ovd.evaluation.metrics'] == {'METRICS'}
    assert 'DATASETS' in found['ovd.data.datasets.lvis']
    assert 'MODELS' in found['ovd.models.glip.detector']


@pytest.mark.parametrize('locations', sorted({tuple(r._locations) for r in registry.ALL_REGISTRIES if r._locations}),
                         ids='+'.join)
def test_each_registering_module_is_imported_by_its_registrys_locations(locations, tmp_path):
    """In a fresh process, importing a registry's ``locations`` (nothing else of ovd) imports every module that
    registers into that registry."""
    names = [name for name in dir(registry) if getattr(registry, name) in registry.ALL_REGISTRIES
             and tuple(getattr(registry, name)._locations) == locations]
    expected = sorted(module for module, used in _registering_modules().items() if used & set(names))
    code = ('import sys\n'
            'from mmengine.registry import Registry\n'
            'from ovd import registry\n'
            f'for name in {names!r}:\n'
            '    Registry.import_from_location(getattr(registry, name))  # its own locations, not mmdet\'s\n'
            f'missing = [m for m in {expected!r} if m not in sys.modules]\n'
            f'assert not missing, f"registering modules not reached from {names}: {{missing}}"\n')
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_lazy_lookup_finds_ovd_and_mmdet_types(tmp_path):
    """A fresh process finds ovd's and mmdet's types by name in scope 'ovd' without importing ovd's layers."""
    code = ('from mmengine.registry import init_default_scope, VISUALIZERS as ROOT_VISUALIZERS\n'
            'from ovd.registry import DATASETS, METRICS, MODELS, TRANSFORMS\n'
            'init_default_scope("ovd")\n'
            'assert METRICS.get("OVDetectionMetric").__module__ == "ovd.evaluation.metrics"\n'
            'assert METRICS.get("CocoMetric").__module__.startswith("mmdet.evaluation")\n'
            'assert DATASETS.get("OVLVISDataset").__module__.startswith("ovd.data.datasets")\n'
            'assert TRANSFORMS.get("PackDetInputs").__module__.startswith("mmdet.datasets.transforms")\n'
            'assert MODELS.get("GLIPDetector").__module__.startswith("ovd.models.glip")\n'
            'assert MODELS.get("RetinaNet").__module__.startswith("mmdet.models")\n'
            'vis = ROOT_VISUALIZERS.build(dict(type="DetLocalVisualizer", name="lazy-test"))\n'
            'assert type(vis).__module__.startswith("mmdet.visualization")\n')
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
