"""MDETR end to end on synthetic data: `mim train` (falling loss), `mim test` (Recall@k, LVIS Fixed AP).

Runs the real entry points in subprocesses, hence slow. One thread per process: on a shared CPU, OpenMP
threads that wait for each other make a tiny model tens of times slower.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from ovd.data.synthetic import generate_flickr30k, generate_lvis
from ovd.registry import DATASETS, MODELS
from ovd.data.synthetic.tiny_text import save_tiny_roberta

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FLICKR = REPO / 'configs' / 'mdetr' / 'mdetr_tiny_synth-flickr30k.py'
LVIS = REPO / 'configs' / 'mdetr' / 'mdetr_tiny_synth-lvis.py'
MIM = [sys.executable, '-m', 'mim']


@pytest.fixture(scope='module')
def env(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp('mdetr_data')
    generate_flickr30k(root / 'synthetic' / 'flickr30k', seed=0)
    generate_lvis(root / 'synthetic' / 'lvis', seed=0, splits={'train': 8, 'val': 4})
    tiny = save_tiny_roberta(root / 'tiny-roberta')
    python_path = os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])
    env = dict(os.environ, OVD_DATA_ROOT=str(root), OVD_TINY_ROBERTA=str(tiny), OMP_NUM_THREADS='1',
               PYTHONUNBUFFERED='1', PYTHONPATH=python_path)
    env.pop('CUDA_VISIBLE_DEVICES', None)
    return env


def mim(args, env, cwd, timeout=400) -> str:
    proc = subprocess.run(MIM + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'mim {" ".join(args)} failed:\n{out[-4000:]}'
    return out


def test_train_on_synthetic_flickr30k_then_recall_and_lvis_fixed_ap(env, tmp_path):
    work = tmp_path / 'work'
    log = mim(['train', 'ovd', str(FLICKR), '--work-dir', str(work), '--gpus', '0'], env, tmp_path)
    losses = [float(v) for v in re.findall(r'Epoch\(train\).*? loss: ([0-9.]+)', log)]
    assert len(losses) >= 6, log[-3000:]
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.85 * first, f'loss did not fall: {losses}'
    checkpoint = sorted(work.glob('epoch_*.pth'))[-1]

    out = mim(['test', 'ovd', str(FLICKR), '--checkpoint', str(checkpoint), '--gpus', '0',
               '--work-dir', str(tmp_path / 'test_flickr')], env, tmp_path)
    for k in (1, 5, 10):
        match = re.search(rf'flickr30k-any-box/R@{k}: ([0-9.]+)', out)
        assert match and 0.0 <= float(match.group(1)) <= 1.0, out[-3000:]

    # the same weights answer one caption per LVIS class name (all 1203) on synthetic LVIS val
    out = mim(['test', 'ovd', str(LVIS), '--checkpoint', str(checkpoint), '--gpus', '0',
               '--work-dir', str(tmp_path / 'test_lvis')], env, tmp_path)
    for key in ('bbox_AP', 'bbox_APr', 'bbox_APc', 'bbox_APf'):
        match = re.search(rf'lvis-fixed/{key}: (-?[0-9.]+)', out)
        assert match and -1.0 <= float(match.group(1)) <= 1.0, out[-3000:]


def test_lvis_detection_as_grounding_training_step(env):
    """LVIS samples become captions of their classes plus negatives; the loss trains on them."""
    os.environ.update({k: env[k] for k in ('OVD_DATA_ROOT', 'OVD_TINY_ROBERTA')})
    init_default_scope('ovd')
    cfg = Config.fromfile(str(LVIS))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(2)]), True)
    sample = batch['data_samples'][0]
    assert isinstance(sample.text, str) and len(sample.tokens_positive) >= 1
    losses = model.loss(batch['inputs'], batch['data_samples'])
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
