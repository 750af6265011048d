"""Every config file in configs/ parses and keeps the README's conventions (ovd scope, at most two ``_base_``
hops); the smoke config builds its model in the ovd scope."""
import ast
from pathlib import Path

import pytest
from mmengine.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p for p in (REPO_ROOT / 'configs').rglob('*.py'))


def _bases(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def _depth(path: Path) -> int:
    """``_base_`` hops to the deepest ancestor; an ``mmdet::`` base counts as one."""
    depths = [1 if base.startswith('mmdet::') else 1 + _depth((path.parent / base).resolve())
              for base in _bases(path)]
    return max(depths, default=0)


@pytest.mark.parametrize('path', CONFIGS, ids=[str(p.relative_to(REPO_ROOT / 'configs')) for p in CONFIGS])
def test_config_parses(path):
    cfg = Config.fromfile(str(path))
    if '_base_' not in str(path):
        assert cfg.get('default_scope') == 'ovd', f'{path} must set default_scope = "ovd"'
        assert 'ovd.setup' in cfg.custom_imports['imports']
        assert _depth(path) <= 2, f'{path.name}: _base_ chain deeper than two hops'


def test_smoke_model_builds_in_ovd_scope():
    from mmengine.registry import DefaultScope

    from ovd.registry import MODELS
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / 'smoke' / 'faster-rcnn_r18_tiny_synth-coco.py'))
    with DefaultScope.overwrite_default_scope('ovd'):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'FasterRCNN'
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
