"""ViLD end to end on synthetic OV-LVIS: `ovd precompute-regions` builds the region cache, `mim train ovd` trains
the tiny config with ViLD-image distillation from it, and `mim test ovd` reports LVIS APr/AP (real entry points,
in subprocesses)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = 'configs/vild/vild_tiny_synth-ov-lvis.py'


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    from ovd.data.synthetic import generate_lvis
    from ovd.data.synthetic.tiny_text import save_tiny_clip
    root = tmp_path_factory.mktemp('ovd_data')
    generate_lvis(root / 'synthetic' / 'lvis', seed=0)
    save_tiny_clip(root / 'synthetic' / 'tiny_clip')
    return root


def _run(cmd, data_root: Path, repo_root: Path, timeout: int = 600) -> str:
    env = dict(os.environ, OVD_DATA_ROOT=str(data_root), PYTHONUNBUFFERED='1',
               PYTHONPATH=os.pathsep.join([str(repo_root), os.environ.get('PYTHONPATH', '')]))
    env.pop('CUDA_VISIBLE_DEVICES', None)
    proc = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(map(str, cmd))} failed:\n{out[-4000:]}'
    return out


def test_precompute_train_and_test(data_root, repo_root, tmp_path):
    cache = data_root / 'ovd_cache' / 'vild_tiny_synth-ov-lvis'
    # build the cache in two runs: the second resumes after the images the first committed
    out = _run([sys.executable, '-m', 'ovd.cli', 'precompute-regions', '--config', CONFIG, '--limit', '5'],
               data_root, repo_root)
    assert '5 new images (0 resumed)' in out and 'images left' in out
    out = _run([sys.executable, '-m', 'ovd.cli', 'precompute-regions', '--config', CONFIG], data_root, repo_root)
    assert '(5 resumed)' in out and 'finished' in out
    out = _run([sys.executable, '-m', 'ovd.cli', 'precompute-regions', '--config', CONFIG], data_root, repo_root)
    assert 'already finished' in out
    out = _run([sys.executable, '-m', 'ovd.cli', 'precompute-regions', '--config', CONFIG, '--verify'],
               data_root, repo_root)
    assert re.search(r'1 shards, \d+ records, all checks passed', out)
    assert (cache / 'shard-00000-of-00001.done').is_file()

    work_dir = tmp_path / 'work'
    mim = [sys.executable, '-m', 'mim']
    log = _run(mim + ['train', 'ovd', CONFIG, '--work-dir', str(work_dir), '--gpus', '0'], data_root, repo_root)
    distill = [float(v) for v in re.findall(r'loss_distill: ([0-9.]+)', log)]
    assert len(distill) >= 2, log[-3000:]  # the distillation term is trained from the cache
    checkpoint = work_dir / 'iter_12.pth'
    assert checkpoint.is_file()

    out = _run(mim + ['test', 'ovd', CONFIG, '--checkpoint', str(checkpoint), '--gpus', '0',
                      '--work-dir', str(tmp_path / 'test')], data_root, repo_root)
    for key in ('bbox_APr', 'bbox_AP', 'segm_APr', 'segm_AP'):
        match = re.search(rf'lvis/{key}: (-?[0-9.]+)', out)
        assert match, f'mim test printed no lvis/{key}:\n{out[-3000:]}'
        assert -1.0 <= float(match.group(1)) <= 1.0
