"""Both checkpoint converters, run as commands, refuse a crafted pickle and still read the official formats.

The converters load with ``torch.load(weights_only=True)`` and ovd's allow-list: a file whose pickle makes
``os.system`` run a command is refused before the command runs, while the official MDETR format (weights plus
``optimizer``, ``epoch`` and an ``argparse.Namespace`` holding paths, as its SLURM launcher leaves them) and the
official GLIP format (``model``, ``optimizer``, ``scheduler``, ``iteration``) convert.
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CONVERTERS = ['convert_mdetr_checkpoint.py', 'convert_glip_checkpoint.py']


class RunsACommand:
    """Unpickling this calls ``os.system(command)``: what an attacker's checkpoint would do."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def run_converter(script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    return subprocess.run([sys.executable, str(REPO / 'scripts' / script), *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.mark.parametrize('script', CONVERTERS)
def test_crafted_pickle_is_refused_and_nothing_runs(tmp_path, script):
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    # hidden next to real-looking weights, where the official MDETR files keep their argparse.Namespace
    torch.save({'model': {'backbone.0.body.conv1.weight': torch.zeros(1)},
                'args': RunsACommand(f'touch {marker}')}, evil)
    proc = run_converter(script, str(evil), str(tmp_path / 'out.pth'))
    assert proc.returncode != 0
    assert not marker.exists(), f'{script} ran the pickled command'
    assert not (tmp_path / 'out.pth').exists()
    assert 'refused' in proc.stderr and str(evil) in proc.stderr
    assert 'Traceback' not in proc.stderr
    torch.load(evil, weights_only=False)  # the control: the same file does run its command when trusted
    assert marker.exists()


def test_official_mdetr_format_with_training_state_converts(tmp_path):
    weights = {'input_proj.weight': torch.randn(4, 8, 1, 1), 'input_proj.bias': torch.randn(4)}
    args = argparse.Namespace(lr=1e-4, batch_size=4, backbone='resnet101', dataset_config='configs/flickr.json',
                              ema=True, masks=False, load='', coco_path=None, lr_drop=35, combine_datasets=['flickr'],
                              output_dir=Path('/checkpoint/mdetr/12345'), job_dir=Path('/checkpoint/mdetr/%j'))
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-4).state_dict()
    src = tmp_path / 'checkpoint.pth'
    torch.save({'model': weights, 'model_ema': weights, 'optimizer': optimizer, 'epoch': 39, 'args': args}, src)
    proc = run_converter('convert_mdetr_checkpoint.py', str(src), str(tmp_path / 'out.pth'))
    assert proc.returncode == 0, proc.stderr
    out = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert torch.equal(out['neck.convs.0.conv.weight'], weights['input_proj.weight'])


def test_official_glip_format_with_training_state_converts(tmp_path):
    weights = {'module.backbone.fpn.fpn_inner2.weight': torch.randn(4, 8, 1, 1),
               'module.rpn.head.bbox_pred.bias': torch.randn(4)}
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=0.9).state_dict()
    src = tmp_path / 'glip.pth'
    torch.save({'model': weights, 'optimizer': optimizer, 'scheduler': {'last_epoch': 3, 'milestones': (10, 20)},
                'iteration': 1000}, src)
    proc = run_converter('convert_glip_checkpoint.py', str(src), str(tmp_path / 'out.pth'))
    assert proc.returncode == 0, proc.stderr
    out = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert set(out) == {'neck.lateral_convs.0.conv.weight', 'bbox_head.head.bbox_pred.bias'}
