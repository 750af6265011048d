"""The cold path of `make setup`: building the mmcv wheel from an sdist, as a fresh machine with no cached wheel does.

The real build takes about 15 minutes, so these tests feed `scripts/build_mmcv_wheel.sh` (the script that
`scripts/setup_env.sh` runs for it) a stand-in sdist named like mmcv's that builds in seconds. Paths are
given relative to the working directory, as `setup_env.sh`'s default `.venv` was when a fresh clone failed
with ".venv/bin/python: No such file or directory" once the build had changed into the unpacked sdist.
"""
import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

SETUP_PY = """\
from setuptools import setup

# mmcv 2.1's setup.py hard-codes this flag; the build script patches it when torch needs C++20.
FLAGS = ['-std=c++17']
setup(name='mmcv', version='2.1.0', description=' '.join(FLAGS), py_modules=[])
"""


def _stand_in_sdist(folder: Path) -> Path:
    src = folder / 'src' / 'mmcv-2.1.0'
    src.mkdir(parents=True)
    (src / 'setup.py').write_text(SETUP_PY)
    sdist = folder / 'mmcv-2.1.0.tar.gz'
    with tarfile.open(sdist, 'w:gz') as tar:
        tar.add(src, arcname='mmcv-2.1.0')
    return sdist


def _build(repo_root: Path, cwd: Path, sdist: Path, sha256: str, wheel_dir: str):
    # The test's own environment, seen as `.venv` inside the working directory: `.venv/bin/python` is the
    # relative interpreter path that broke once the build had changed directory.
    venv = cwd / '.venv'
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix), target_is_directory=True)
    python = os.path.join('.venv', os.path.relpath(sys.executable, sys.prefix))
    return subprocess.run(['bash', str(repo_root / 'scripts' / 'build_mmcv_wheel.sh'), python,
                           os.path.relpath(sdist, cwd), sha256, wheel_dir],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_builds_and_caches_the_wheel_from_relative_paths(tmp_path, repo_root):
    sdist = _stand_in_sdist(tmp_path)
    work = tmp_path / 'checkout'
    work.mkdir()
    result = _build(repo_root, work, sdist, hashlib.sha256(sdist.read_bytes()).hexdigest(), 'cache/wheels')
    assert result.returncode == 0, result.stderr
    wheel = Path(result.stdout.strip())
    assert wheel.parent == work / 'cache' / 'wheels' and wheel.name.startswith('mmcv-2.1.0-')
    assert [p.name for p in wheel.parent.iterdir()] == [wheel.name]  # no partial file left beside it
    metadata = zipfile.ZipFile(wheel).read('mmcv-2.1.0.dist-info/METADATA').decode()
    import torch
    torch_minor = tuple(map(int, torch.__version__.split('.')[:2]))
    expected_flag = '-std=c++20' if torch_minor >= (2, 10) else '-std=c++17'
    assert f'Summary: {expected_flag}' in metadata


def test_checksum_mismatch_builds_nothing(tmp_path, repo_root):
    sdist = _stand_in_sdist(tmp_path)
    result = _build(repo_root, tmp_path, sdist, '0' * 64, 'wheels')
    assert result.returncode == 1
    assert 'checksum mismatch' in result.stderr and 'mmcv-2.1.0.tar.gz' in result.stderr
    assert not (tmp_path / 'wheels').exists()


@pytest.mark.parametrize('script', ['setup_env.sh', 'build_mmcv_wheel.sh'])
def test_scripts_are_valid_bash(repo_root, script):
    subprocess.run(['bash', '-n', str(repo_root / 'scripts' / script)], check=True)


def test_a_failing_build_shows_its_log_and_caches_nothing(tmp_path, repo_root):
    sdist_src = tmp_path / 'src' / 'mmcv-2.1.0'
    sdist_src.mkdir(parents=True)
    (sdist_src / 'setup.py').write_text("raise SystemExit('compiler exploded')\n")
    sdist = tmp_path / 'mmcv-2.1.0.tar.gz'
    with tarfile.open(sdist, 'w:gz') as tar:
        tar.add(sdist_src, arcname='mmcv-2.1.0')
    result = _build(repo_root, tmp_path, sdist, hashlib.sha256(sdist.read_bytes()).hexdigest(), 'wheels')
    assert result.returncode == 1
    assert 'compiler exploded' in result.stderr and 'failed' in result.stderr
    assert not any((tmp_path / 'wheels').glob('*.whl'))
