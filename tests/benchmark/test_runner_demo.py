"""``ovd demo`` end to end (what ``make demo`` runs): synthetic data, the demo sweep on the local executor with the
real entry points, run records, leaderboard CSVs and the report."""
import json
import os
import subprocess
import sys

import pytest
from runner_helpers import REPO

from ovd.benchmark.leaderboard import read_table_csv

pytestmark = pytest.mark.slow


def test_ovd_demo_end_to_end(tmp_path):
    out = tmp_path / 'demo'
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'demo', '--out', str(out), '--num-images', '8'],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    for name in ('coco', 'lvis', 'flickr30k', 'objects365'):
        assert (out / 'data' / 'synthetic' / name / 'synthetic_manifest.json').is_file()
    record = json.loads((out / 'sweep' / 'smoke-faster-rcnn-s0' / 'records' / 'coco.json').read_text())
    assert record['protocol'] == 'coco' and set(record['metrics']) >= {'AP', 'AP50', 'AP75'}
    assert record['checkpoint']['sha256'] and record['annotations'][0]['sha256']
    assert record['annotations'][0]['path'].endswith('synthetic/coco/annotations/instances_val2017.json')
    assert record['packages']['mmdet'] and record['wall_time_s']['train'] > 0
    rows = read_table_csv(str(out / 'leaderboard' / 'leaderboard_coco.csv'))
    ours = [r for r in rows if r['source'] == 'ours']
    assert [r['run_id'] for r in ours] == ['demo/smoke-faster-rcnn-s0/coco']
    assert any(r['source'] == 'paper' and r['method'] == 'glip' for r in rows)  # published rows alongside
    html = (out / 'leaderboard' / 'leaderboard.html').read_text()
    assert 'faster-rcnn (smoke)' in html and 'sortable' in html
    assert f'report:       {out / "leaderboard" / "leaderboard.html"}' in proc.stdout
    # Re-running finds everything done and trains nothing.
    again = subprocess.run([sys.executable, '-m', 'ovd.cli', 'demo', '--out', str(out), '--num-images', '8'],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert json.loads((out / 'sweep' / 'smoke-faster-rcnn-s0' / 'status.json').read_text())['attempts'] == 1
