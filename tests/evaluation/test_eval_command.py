"""`ovd eval`: one JSON object on stdout, --out written atomically, clear errors with exit code 2."""
import json

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
