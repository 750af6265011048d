"""The built wheel carries what openmim and the vocabularies need, and building leaves the checkout alone."""
import subprocess
import sys
import zipfile

import pytest

pytestmark = pytest.mark.slow


def test_wheel_ships_mim_folder_and_metadata(tmp_path, repo_root):
    mim_links_before = sorted(p.name for p in (repo_root / 'ovd' / '.mim').iterdir()) \
        if (repo_root / 'ovd' / '.mim').exists() else None
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
                    '-w', str(tmp_path), str(repo_root)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob('ovd-*.whl')
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {'ovd/.mim/tools/train.py', 'ovd/.mim/tools/test.py',
            'ovd/.mim/configs/smoke/faster-rcnn_r18_tiny_synth-coco.py',
            'ovd/.mim/configs/_base_/default_runtime.py',
            'ovd/.mim/benchmarks/sweeps/demo.yaml', 'ovd/.mim/benchmarks/sweeps/ov_world.yaml',
            'ovd/.mim/benchmarks/reference_results.csv',
            'ovd/data/metadata/lvis_v1_categories.json', 'ovd/data/metadata/coco_categories.json'} <= names
    assert not any('__pycache__' in n for n in names)
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith('entry_points.txt'))).decode()
    assert 'ovd = ovd.cli:main' in entry_points
    mim_dir = repo_root / 'ovd' / '.mim'
    if mim_links_before is not None:  # an editable install's symlinks survive a wheel build
        assert sorted(p.name for p in mim_dir.iterdir()) == mim_links_before
        assert all(p.is_symlink() for p in mim_dir.iterdir())
