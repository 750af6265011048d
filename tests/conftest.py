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
