"""Fixtures of the runner tests: a real single-node SLURM cluster (started by scripts/slurm/start_single_node.sh)
and a small synthetic COCO dataset for the smoke config."""
import shutil
import subprocess
from pathlib import Path

import pytest
from runner_helpers import REPO, make_synthetic_coco

START_SCRIPT = REPO / 'scripts' / 'slurm' / 'start_single_node.sh'


@pytest.fixture(scope='session')
def slurm_cluster() -> str:
    """Start (or find running) the single-node cluster; skip LOUDLY where that is impossible here."""
    if shutil.which('bash') is None:
        pytest.skip('!!! SLURM TESTS SKIPPED: no bash to run scripts/slurm/start_single_node.sh !!!')
    proc = subprocess.run(['bash', str(START_SCRIPT)], capture_output=True, text=True, timeout=600)
    if proc.returncode == 3:
        pytest.skip('!!! SLURM TESTS SKIPPED: a single-node SLURM cluster cannot be started on this machine: '
                    f'{proc.stderr.strip().splitlines()[-1]} !!!')
    if proc.returncode != 0:
        pytest.fail(f'scripts/slurm/start_single_node.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}')
    part = subprocess.run(['sinfo', '-h', '-o', '%P'], capture_output=True, text=True).stdout.split()[0]
    return part.rstrip('*')


@pytest.fixture(scope='session')
def synthetic_data_root(tmp_path_factory) -> Path:
    """A data root holding ``synthetic/coco`` (8 train, 4 val images), what OVD_DATA_ROOT points at."""
    root = tmp_path_factory.mktemp('runner_data')
    make_synthetic_coco(root)
    return root
