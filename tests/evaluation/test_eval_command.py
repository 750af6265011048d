"""`ovd eval`: a table (or with --json one JSON object) on stdout, --out written atomically and checked before
evaluating, clear errors with exit code 2."""
import json
import os
import re
import subprocess
import sys

import pytest

from ovd.cli import main


def test_eval_command_prints_and_writes_metrics(tmp_path, fixtures_dir, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')
    out = tmp_path / 'sub' / 'metrics.json'
    args = ['eval', '--protocol', 'coco', '--gt', str(fixtures_dir / 'coco_instances_val2014_100.json'),
            '--pred', str(fixtures_dir / 'coco_val2014_fakebbox100_results.json'), '--out', str(out)]
    assert main(args + ['--json']) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert abs(printed['AP'] - 0.5045806987249628) < 1e-9  # pycocotools' AP on this classic pair
    assert [p.name for p in out.parent.iterdir()] == ['metrics.json']  # no temp file left

    # By default: a readable table (4 decimals, every metric, within 80 columns) and where the JSON went.
    out.unlink()
    assert main(args) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0] == 'coco (bbox): coco_val2014_fakebbox100_results.json'
    assert max(len(line) for line in lines[:-1]) <= 80
    assert lines[-1] == f'metrics JSON: {out}' and json.loads(out.read_text()) == printed
    for name, value in printed.items():
        assert re.search(rf'(^|\s){re.escape(name)}\s+{value:.4f}(\s|$)', table, re.M), name


@pytest.mark.parametrize('case', ['folder', 'file as parent', 'read-only folder'])
def test_bad_out_is_found_before_evaluating(tmp_path, fixtures_dir, capsys, monkeypatch, case):
    import ovd.evaluation.protocols as protocols
    if case == 'folder':
        out, expect = tmp_path, 'is a folder; give a file name'
    elif case == 'file as parent':
        (tmp_path / 'f.json').write_text('{}')
        out, expect = tmp_path / 'f.json' / 'm.json', 'is a file, not a folder'
    else:
        if os.geteuid() == 0:
            pytest.skip('root writes anywhere')
        (tmp_path / 'ro').mkdir(mode=0o555)
        out, expect = tmp_path / 'ro' / 'sub' / 'm.json', 'is not writable'
    monkeypatch.setattr(protocols, 'evaluate_files', lambda *a, **k: pytest.fail('evaluated before --out check'))
    assert main(['eval', '--protocol', 'coco', '--gt', str(fixtures_dir / 'coco_instances_val2014_100.json'),
                 '--pred', str(fixtures_dir / 'coco_val2014_fakebbox100_results.json'), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('ovd eval: error: --out ') and expect in err, err


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
    proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'eval', '--json', '--protocol', 'lvis-fixed',
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
