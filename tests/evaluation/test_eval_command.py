"""`ovd eval`: one JSON object on stdout, --out written atomically, clear errors with exit code 2."""
import json
import os
import subprocess
import sys

import pytest

from ovd.cli import main


def test_eval_command_prints_and_writes_metrics(tmp_path, fixtures_dir, capsys):
    out = tmp_path / 'sub' / 'metrics.json'
    rc = main(['eval', '--protocol', 'coco', '--gt', str(fixtures_dir / 'coco_instances_val2014_100.json'),
               '--pred', str(fixtures_dir / 'coco_val2014_fakebbox100_results.json'), '--out', str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert abs(printed['AP'] - 0.5045806987249628) < 1e-9  # pycocotools' AP on this classic pair
    assert [p.name for p in out.parent.iterdir()] == ['metrics.json']  # no temp file left


def test_eval_command_errors(tmp_path, fixtures_dir, capsys):
    gt = str(fixtures_dir / 'lvis_v0.5_val_100.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]')
    assert main(['eval', '--protocol', 'lvis', '--gt', gt, '--pred', str(bad)]) == 2
    assert 'record 0: image_id 1 is not in the ground truth' in capsys.readouterr().err
    assert main(['eval', '--protocol', 'ov-coco', '--gt', gt, '--pred', str(bad)]) == 2
    assert "'ov-coco-65'" in capsys.readouterr().err


@pytest.mark.slow
def test_ovd_eval_entry_point_in_a_subprocess(tmp_path, fixtures_dir, repo_root):
    out = tmp_path / 'm.json'
    env = dict(os.environ, PYTHONPATH=f'{repo_root}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    _write_results(tmp_path, fixtures_dir)
    proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'eval', '--protocol', 'lvis-fixed',
                           '--gt', str(fixtures_dir / 'lvis_v0.5_val_100.json'),
                           '--pred', str(tmp_path / 'r.json'), '--out', str(out)],
                          capture_output=True, text=True, env=env, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed == json.loads(out.read_text())
    assert set(printed) >= {'AP', 'APr', 'APc', 'APf', 'AR@-1'}
    assert printed['AP'] == pytest.approx(1.0) and printed['AR@-1'] == pytest.approx(1.0)


def _write_results(tmp_path, fixtures_dir) -> None:
    """The ground truth itself as detections (every one a true positive): AP 1 on every category."""
    gt = json.loads((fixtures_dir / 'lvis_v0.5_val_100.json').read_text())
    res = [{'image_id': a['image_id'], 'category_id': a['category_id'], 'bbox': a['bbox'],
            'score': 1.0 / (1 + i % 7)} for i, a in enumerate(gt['annotations'])]
    (tmp_path / 'r.json').write_text(json.dumps(res))
