"""Shared pytest fixtures: paths to the real annotation fixtures and the repository."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real annotation files live beside the checkout (../shared/fixtures, see its README); OVD_FIXTURES overrides.
FIXTURES_DIR = Path(os.environ.get('OVD_FIXTURES', REPO_ROOT.parent / 'shared' / 'fixtures'))


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.fail(f'real annotation fixtures not found at {FIXTURES_DIR} (set OVD_FIXTURES)')
    return FIXTURES_DIR


def pytest_collection_modifyitems(config, items) -> None:
    """Under pytest-xdist (``make test`` runs ``-n auto --dist loadgroup``) the SLURM tests share one worker: they
    use the one-node cluster, whose CPUs a second SLURM test would queue behind, and its start script is not
    meant to run twice at once."""
    for item in items:
        if item.get_closest_marker('slurm') is not None:
            item.add_marker(pytest.mark.xdist_group('slurm'))
