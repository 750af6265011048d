"""``ovd demo --plumbing`` end to end: synthetic data, the plumbing sweep on the local executor with the real entry
points, run records, leaderboard CSVs with the published rows beside ours, and the report.

The sweep is ``benchmarks/sweeps/demo.yaml`` cut to the smoke model: every method's tiny config is trained and
tested by ``mim`` in its own tests, and the demo's region-cache phase (ViLD) runs in the world demo's test
(``test_ov_world_learning.py``, what ``make demo`` runs), so training them again here would cost minutes of the
suite for no new code path. The full spec is checked to list all five experiments.
"""
import json
import os
import re
import subprocess
import sys

import pytest
from runner_helpers import REPO, cut_spec

from ovd.benchmark.leaderboard import read_table_csv

pytestmark = pytest.mark.slow


DEMO_SPEC = REPO / 'benchmarks' / 'sweeps' / 'demo.yaml'
KEPT = ('smoke-faster-rcnn',)


def test_ovd_demo_end_to_end(tmp_path):
    out = tmp_path / 'demo'
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', ''), COLUMNS='80')
    env.pop('OVD_VERBOSE', None)
    demo = [sys.executable, '-m', 'ovd.cli', 'demo', '--plumbing', '--out', str(out), '--num-images', '8',
            '--spec', str(cut_spec(DEMO_SPEC, ('smoke-faster-rcnn', 'glip-tiny', 'mdetr-tiny', 'vild-tiny',
                                               'baron-tiny'), KEPT, tmp_path / 'demo_cut.yaml'))]
    proc = subprocess.run(demo, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900)
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
    # What the user reads: tables within 80 columns with no row wrapped onto a second line, and no library
    # warnings or mmengine INFO lines.
    table_lines = [line for line in proc.stdout.splitlines() if line[:1] in '┏┃┡│└']
    assert table_lines and max(len(line) for line in table_lines) <= 80, proc.stdout
    assert not [line for line in table_lines if re.match(r'^│\s+│', line)], proc.stdout
    assert 'pkg_resources' not in proc.stdout + proc.stderr and ' - mmengine - INFO - ' not in proc.stdout
    # Re-running finds everything done and trains nothing.
    again = subprocess.run(demo, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert json.loads((out / 'sweep' / 'smoke-faster-rcnn-s0' / 'status.json').read_text())['attempts'] == 1
