"""Helpers for the runner tests: a small synthetic COCO dataset and sweep specs over the smoke config."""
import textwrap
from pathlib import Path
from typing import Optional, Sequence

from ovd.data.synthetic import generate_coco

REPO = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = 'configs/smoke/faster-rcnn_r18_tiny_synth-coco.py'


def make_synthetic_coco(data_root: Path, train: int = 8, val: int = 4) -> Path:
    """``<data_root>/synthetic/coco`` as the smoke config expects it (with OVD_DATA_ROOT=data_root)."""
    coco = data_root / 'synthetic' / 'coco'
    if not (coco / 'annotations' / 'instances_val2017.json').is_file():
        generate_coco(coco, splits={'train2017': train, 'val2017': val}, seed=0)
    return coco


def write_spec(path: Path, body: str, data_root: Optional[Path] = None) -> Path:
    text = textwrap.dedent(body)
    if data_root is not None:
        text = text.replace('@DATA_ROOT@', str(data_root))
    path.write_text(text.replace('@SMOKE@', str(REPO / SMOKE_CONFIG)))
    return path


def cut_spec(spec: Path, expected: Sequence[str], kept: Sequence[str], out: Path) -> Path:
    """A copy of a shipped sweep spec at ``out`` with only the ``kept`` experiments, after checking that the
    spec still lists exactly ``expected`` (so a test notices when the shipped sweep changes)."""
    import yaml
    data = yaml.safe_load(spec.read_text())
    assert [e['name'] for e in data['experiments']] == list(expected)
    data['experiments'] = [e for e in data['experiments'] if e['name'] in kept]
    out.write_text(yaml.safe_dump(data))
    return out
