"""`make lint` stays clean: ruff (a dev dependency) with the rules pinned in pyproject.toml."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _ruff():
    local = Path(sys.executable).with_name('ruff')
    return str(local) if local.exists() else shutil.which('ruff')


@pytest.mark.skipif(_ruff() is None, reason='ruff is not installed (pip install -e .[dev])')
def test_ruff_is_clean(repo_root):
    proc = subprocess.run([_ruff(), 'check', 'ovd', 'tests', 'scripts', 'benchmarks', 'tools', 'configs'],
                          cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
