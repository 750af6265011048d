"""`mim train ovd` / `mim test ovd` with the tiny BARON config on synthetic OV-COCO: loss falls, AP50 reported."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ovd.data.synthetic import generate_coco

pytestmark = pytest.mark.slow

CONFIG = str(Path(__file__).resolve().parents[2] / 'configs' / 'baron' / 'baron-kd_r18-tiny_synth-ov-coco.py')
ITERS = 20
SMALL = [f'train_cfg.max_iters={ITERS}', f'train_cfg.val_interval={ITERS}',
         f'default_hooks.checkpoint.interval={ITERS}', 'default_hooks.logger.interval=2',
         'train_dataloader.dataset.indices=16', 'val_dataloader.dataset.indices=8',
         'test_dataloader.dataset.indices=8']


def _run(args, data_root: Path, cwd: Path) -> str:
    env = dict(os.environ, OVD_DATA_ROOT=str(data_root), PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1',
               MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'mim', *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'mim {" ".join(args)} failed:\n{out[-4000:]}'
    return out


def test_tiny_baron_trains_and_reports_novel_base_ap50(tmp_path):
    data_root = tmp_path / 'data'
    generate_coco(data_root / 'synthetic' / 'coco', seed=0)
    work = tmp_path / 'work'
    log = _run(['train', 'ovd', CONFIG, '--work-dir', str(work), '--gpus', '0', '--cfg-options', *SMALL],
               data_root, tmp_path)
    losses = [float(v) for v in re.findall(r'Iter\(train\).*? loss: ([0-9.]+)', log)]
    bag = [float(v) for v in re.findall(r'loss_bag: ([0-9.]+)', log)]
    assert len(losses) == ITERS // 2 and len(bag) == len(losses)
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses
    assert bag[-1] < bag[0], bag
    checkpoint = work / f'iter_{ITERS}.pth'
    assert checkpoint.is_file()

    test = _run(['test', 'ovd', CONFIG, '--checkpoint', str(checkpoint), '--gpus', '0', '--work-dir',
                 str(tmp_path / 'test'), '--cfg-options', *SMALL], data_root, tmp_path)
    metrics = dict(re.findall(r'ov-coco-65/bbox_(AP50_novel|AP50_base|AP50_all): (-?[0-9.]+)', test))
    assert set(metrics) == {'AP50_novel', 'AP50_base', 'AP50_all'}, test[-3000:]
    assert all(0.0 <= float(v) <= 1.0 for v in metrics.values())
