"""A failed sweep step hands its exception line to the driver as a file, not through its log."""
import json
import os
import subprocess
import sys

import pytest
from runner_helpers import REPO, SMOKE_CONFIG, write_spec

from ovd.benchmark.step_error import ENV_ERROR_FILE, clear_step_error, read_step_error, write_step_error


def test_the_exception_line_round_trips(tmp_path, monkeypatch):
    path = tmp_path / 'step_error.txt'
    monkeypatch.delenv(ENV_ERROR_FILE, raising=False)
    write_step_error(KeyError('x'))  # no file named: nothing written
    assert not path.exists() and read_step_error(path) == ''
    monkeypatch.setenv(ENV_ERROR_FILE, clear_step_error(path))
    write_step_error(KeyError('NoSuchDetector is not in the model registry'))
    assert read_step_error(path) == "KeyError: 'NoSuchDetector is not in the model registry'"
    clear_step_error(path)
    assert read_step_error(path) == ''


@pytest.mark.slow
def test_a_failing_step_process_writes_its_error(tmp_path):
    path = tmp_path / 'step_error.txt'
    env = dict(os.environ, PYTHONPATH=str(REPO), **{ENV_ERROR_FILE: str(path)})
    proc = subprocess.run([sys.executable, '-m', 'ovd.benchmark.launch', 'test', str(tmp_path / 'missing.py'),
                           str(tmp_path / 'x.pth')], capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode != 0
    error = read_step_error(path)
    assert error.startswith('FileNotFoundError') and 'missing.py' in error, (error, proc.stderr[-2000:])


@pytest.mark.slow
def test_a_failed_training_names_its_exception_in_the_status(tmp_path, synthetic_data_root):
    config = tmp_path / 'bad.py'
    config.write_text(f"_base_ = '{REPO / SMOKE_CONFIG}'\nmodel = dict(type='NoSuchDetector')\n")
    spec = write_spec(tmp_path / 'bad.yaml', f"""
    name: bad
    root: {tmp_path / 'sweep'}
    defaults: {{env: {{OVD_DATA_ROOT: @DATA_ROOT@}}, retries: 0}}
    experiments: [{{name: broken, method: smoke, train: {config}, evaluate: [{{protocol: coco}}]}}]
    """, synthetic_data_root)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'sweep', 'run', str(spec)], capture_output=True,
                          text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert proc.returncode != 0
    status = json.loads((tmp_path / 'sweep' / 'broken-s0' / 'status.json').read_text())
    first = status['error'].splitlines()[0]
    assert first.startswith('training failed with exit status') and 'KeyError' in first, status['error']
    assert 'NoSuchDetector' in first
