"""Atomic writes leave the permission bits a plain ``open`` would: ``0o666`` minus the umask for a new file, the
old mode for a replaced one (``mkstemp`` alone gives 0600, which hides results from the team)."""
import os
import stat
from pathlib import Path

import pytest

from ovd.data.prepare.common import commit
from ovd.fileio import atomic_write_bytes, atomic_write_json, current_umask


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


@pytest.mark.parametrize('mask', [0o022, 0o002, 0o077, 0o027])
def test_new_files_get_the_mode_of_a_plain_open(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    with open(tmp_path / 'plain.txt', 'w') as f:
        f.write('x')
    expected = _mode(tmp_path / 'plain.txt')
    assert expected == 0o666 & ~mask
    atomic_write_json(tmp_path / 'record.json', {'a': 1})
    atomic_write_bytes(tmp_path / 'sub' / 'plot.png', b'png', durable=False)
    commit({tmp_path / 'prepared.json': {'images': []}})
    for name in ('record.json', 'sub/plot.png', 'prepared.json'):
        assert _mode(tmp_path / name) == expected, name
    # no temporary file is left behind
    assert not [p for p in tmp_path.rglob('*.tmp')]


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / 'status.json'
    target.write_text('{}')
    target.chmod(0o640)
    atomic_write_json(target, {'state': 'done'})
    assert _mode(target) == 0o640
    commit({target: {'state': 'again'}})
    assert _mode(target) == 0o640
