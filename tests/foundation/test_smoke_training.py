"""The whole stack end to end: `mim train ovd` / `mim test ovd` on synthetic COCO, and resume after a kill.

These run the real entry points in subprocesses (from a directory outside the repository), so they are slow.
"""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ovd.data.synthetic import generate_coco

pytestmark = pytest.mark.slow

CONFIG_NAME = 'faster-rcnn_r18_tiny_synth-coco.py'
MIM = [sys.executable, '-m', 'mim']
# Few images keep an epoch to a few iterations; the code path is the one `make demo` runs on the full set.
SMALL = ['train_dataloader.dataset.indices=8', 'val_dataloader.dataset.indices=4',
         'test_dataloader.dataset.indices=4']


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('ovd_data')
    generate_coco(root / 'synthetic' / 'coco', seed=0)
    return root


def _env(data_root: Path) -> dict:
    env = dict(os.environ, OVD_DATA_ROOT=str(data_root), PYTHONUNBUFFERED='1')
    env.pop('CUDA_VISIBLE_DEVICES', None)
    return env


def _mim(args, data_root: Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(MIM + args, cwd=cwd, env=_env(data_root), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'mim {" ".join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc


def test_train_test_and_resume_after_kill(data_root, tmp_path):
    work_dir = tmp_path / 'work'
    # Train by config name only, from a directory that is not the repository: mim finds it in ovd/.mim.
    _mim(['train', 'ovd', CONFIG_NAME, '--work-dir', str(work_dir), '--gpus', '0',
          '--cfg-options', 'train_cfg.max_epochs=1', *SMALL], data_root, cwd=tmp_path)
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()

    test = _mim(['test', 'ovd', CONFIG_NAME, '--checkpoint', str(checkpoint), '--gpus', '0',
                 '--work-dir', str(tmp_path / 'test'), '--cfg-options', *SMALL], data_root, cwd=tmp_path)
    match = re.search(r'coco/bbox_AP: (-?[0-9.]+)', test.stdout + test.stderr)
    assert match, 'mim test printed no COCO bbox AP'
    assert 0.0 <= float(match.group(1)) <= 1.0

    # Start a 3-epoch run that resumes from epoch 1, kill it hard once epoch 2 is saved, then resume again.
    proc = subprocess.Popen(
        MIM + ['train', 'ovd', CONFIG_NAME, '--work-dir', str(work_dir), '--gpus', '0', '--resume',
               '--cfg-options', 'train_cfg.max_epochs=3', 'train_cfg.val_interval=10', *SMALL],
        cwd=tmp_path, env=_env(data_root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.time() + 300
    while not (work_dir / 'epoch_2.pth').exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert (work_dir / 'epoch_2.pth').exists(), proc.stdout.read().decode()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    resumed = _mim(['train', 'ovd', CONFIG_NAME, '--work-dir', str(work_dir), '--gpus', '0', '--resume',
                    '--cfg-options', 'train_cfg.max_epochs=3', 'train_cfg.val_interval=10', *SMALL],
                   data_root, cwd=tmp_path)
    log = resumed.stdout + resumed.stderr
    assert re.search(r'resumed epoch: 2, iter: \d+', log), log[-3000:]
    assert (work_dir / 'epoch_3.pth').is_file()


def test_config_also_runs_as_mim_train_mmdet(data_root, tmp_path, repo_root):
    config = repo_root / 'configs' / 'smoke' / CONFIG_NAME
    _mim(['train', 'mmdet', str(config), '--work-dir', str(tmp_path / 'w'), '--gpus', '0',
          '--cfg-options', 'train_cfg.max_epochs=1', *SMALL],
         data_root, cwd=tmp_path)
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file()
