"""Integration: `mim train` / `mim test` of the tiny GLIP config on synthetic detection + grounding data."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MIM = [sys.executable, '-m', 'mim']


def _run(cmd, env, timeout=900):
    out = subprocess.run([str(c) for c in cmd], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    return out


@pytest.mark.slow
def test_tiny_glip_trains_on_mixed_data_and_reports_lvis_and_flickr30k(tmp_path):
    data = tmp_path / 'synthetic'
    env = dict(os.environ, OVD_DATA_ROOT=str(tmp_path),
               PYTHONPATH=f'{REPO}{os.pathsep}' + os.environ.get('PYTHONPATH', ''))
    for name, n in (('coco', 8), ('flickr30k', 4), ('lvis', 4)):
        _run([sys.executable, '-m', 'ovd.cli', 'synth', '--dataset', name, '--out', data / name, '--num-images', n],
             env)
    _run([sys.executable, '-c',
          f'from ovd.data.synthetic.tiny_text import save_tiny_bert; save_tiny_bert({str(data / "tiny_bert")!r})'],
         env)
    work = tmp_path / 'work'
    _run([*MIM, 'train', 'ovd', 'configs/glip/glip_tiny_synth.py', '--work-dir', work,
          '--cfg-options', 'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None'], env)
    scalars = sorted(work.glob('*/vis_data/scalars.json'))[-1]
    losses = [json.loads(line)['loss'] for line in scalars.read_text().splitlines() if '"loss"' in line]
    assert len(losses) == 12  # 3 epochs x 4 iterations of 4 mixed samples
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    ckpt = work / 'epoch_3.pth'
    out = _run([*MIM, 'test', 'ovd', 'configs/glip/glip_tiny_synth.py', '--checkpoint', ckpt, '--work-dir',
                tmp_path / 'test'], env)
    log = out.stdout + out.stderr
    for key in ('lvis/lvis/bbox_AP', 'lvis/lvis/bbox_APr', 'flickr30k/flickr30k-any-box/R@1'):
        assert key.split('/')[-1] in log, log[-3000:]
