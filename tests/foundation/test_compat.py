"""The compatibility fixes: mmengine checkpoints under weights_only, and lvis-api on numpy 2.

``import ovd`` applies nothing; :mod:`ovd.setup` (imported where a process starts) applies the fixes.
"""
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

import ovd.setup  # noqa: F401  (applies the fixes, as the tools and configs do)
from ovd.compat.checkpoint import MMENGINE_SAFE_GLOBALS


class _RunsCode:
    """A pickle payload that would run a shell command when unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def _runner_like_checkpoint() -> dict:
    hub = MessageHub(name='compat-test')
    for step, loss in enumerate([2.5, 1.25, 0.75]):
        hub.update_scalar('train/loss', loss)
        hub.update_scalar('train/lr', np.float32(0.02))
        hub.update_info('iter', step)
    hub.update_info('epoch', np.int64(1))
    return {
        'meta': {'epoch': 1, 'iter': 3, 'seed': np.int64(7), 'mmengine_version': '0.10.7',
                 'dataset_meta': {'classes': ('cat', 'dog')}, 'time': '20261122_070000'},
        'state_dict': {'w': torch.ones(2, 2)},
        'message_hub': hub.state_dict(),
        'param_schedulers': [{'last_step': 3, 'base_values': [0.02]}],
    }


def _save(obj) -> io.BytesIO:
    stream = io.BytesIO()
    torch.save(obj, stream)
    stream.seek(0)
    return stream


def test_runner_checkpoint_loads_with_weights_only():
    loaded = torch.load(_save(_runner_like_checkpoint()), weights_only=True)
    hub_state = loaded['message_hub']
    assert hub_state['log_scalars']['train/loss'].current() == 0.75
    assert hub_state['log_scalars']['train/loss'].mean(3) == pytest.approx((2.5 + 1.25 + 0.75) / 3)
    assert hub_state['runtime_info']['epoch'] == 1
    assert loaded['meta']['seed'] == 7
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2, 2))


@pytest.mark.parametrize('explicit', [True, False], ids=['weights_only=True', 'default'])
def test_code_running_pickle_is_still_refused(tmp_path, explicit):
    marker = tmp_path / 'pwned'
    stream = _save({'state_dict': {}, 'payload': _RunsCode(str(marker))})
    kwargs = {'weights_only': True} if explicit else {}
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(stream, **kwargs)
    assert not marker.exists()


def test_allow_list_is_narrow():
    names = {getattr(item, '__qualname__', str(item)) for item in MMENGINE_SAFE_GLOBALS
             if not isinstance(item, tuple)}
    assert 'HistoryBuffer' in names
    assert not any(name in names for name in ('system', 'eval', 'exec', 'getattr', 'Popen'))


def _lvis_gt_as_detections(lvis_api):
    results = [{'image_id': ann['image_id'], 'category_id': ann['category_id'], 'bbox': ann['bbox'],
                'score': 1.0} for ann in lvis_api.dataset['annotations']]
    return results


def test_lvis_eval_runs_on_numpy2(fixtures_dir):
    from lvis import LVIS, LVISEval, LVISResults
    gt = LVIS(str(fixtures_dir / 'lvis_v0.5_val_100.json'))
    dets = LVISResults(gt, _lvis_gt_as_detections(gt))
    evaluator = LVISEval(gt, dets, iou_type='bbox')
    evaluator.run()
    # Every ground-truth box detected with score 1: AP is 1 over the categories that have ground truth.
    assert evaluator.results['AP'] == pytest.approx(1.0)
    assert not hasattr(np, 'float'), 'the fix must not restore np.float on numpy itself'


def test_lvis_fix_when_lvis_is_imported_first():
    code = ('import lvis.eval; import ovd.setup; import numpy as np; '
            'assert lvis.eval.np.float is float and not hasattr(np, "float")')
    subprocess.run([sys.executable, '-c', code], check=True)


def _fresh_process(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)


def test_import_ovd_applies_no_fix():
    proc = _fresh_process('import ovd, ovd.compat, lvis.eval; print(hasattr(lvis.eval.np, "float"))')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'False'


@pytest.mark.parametrize('setup', [
    'import ovd.setup', 'from ovd.compat import apply_fixes; apply_fixes()',
    "from mmengine.config import Config; Config.fromfile('configs/_base_/default_runtime.py')",
], ids=['ovd.setup', 'apply_fixes', 'config custom_imports'])
def test_each_process_start_applies_the_fixes(setup, repo_root):
    code = ('import io, numpy as np, torch; from mmengine.logging import HistoryBuffer\n'
            f'{setup}\n'
            'import lvis.eval; assert lvis.eval.np.float is float\n'
            'buf = HistoryBuffer(); buf.update(np.float64(1.5)); stream = io.BytesIO()\n'
            'torch.save({"b": buf}, stream); stream.seek(0)\n'
            'assert torch.load(stream, weights_only=True)["b"].current() == 1.5')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=repo_root)
    assert proc.returncode == 0, proc.stderr


def test_checkpoint_with_a_vocabulary_in_dataset_meta_loads_with_weights_only():
    from ovd.data.vocab import get_vocabulary
    vocab = get_vocabulary('ov_lvis:base')
    checkpoint = _runner_like_checkpoint()
    checkpoint['meta']['dataset_meta'] = {'classes': vocab.names if hasattr(vocab, 'names') else (),
                                          'vocabulary': vocab}
    loaded = torch.load(_save(checkpoint), weights_only=True)
    restored = loaded['meta']['dataset_meta']['vocabulary']
    assert restored == vocab and len(restored) == 866
    assert restored[0].prompt_name == vocab[0].prompt_name
