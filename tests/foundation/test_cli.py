"""The `ovd` command line: dispatch, a broken command module reported, and `ovd env`."""
import json
import subprocess
import sys

import pytest

from ovd import cli


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(['--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name, _ in cli.COMMANDS:
        assert name in out


def test_broken_command_module_is_not_hidden(monkeypatch, tmp_path):
    (tmp_path / 'broken_cmd.py').write_text('import module_that_does_not_exist\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, 'COMMANDS', [('broken', 'broken_cmd')])
    with pytest.raises(ModuleNotFoundError, match='module_that_does_not_exist'):
        cli.main(['broken'])


def test_env_reports_versions_and_passing_checks():
    proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'env', '--json'], capture_output=True, text=True)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report['checks']
    assert report['versions']['mmcv'] == '2.1.0'
    checks = {check['name']: check for check in report['checks']}
    assert checks['mmcv ops compiled']['ok']
    assert checks['weights_only resume fix']['ok']
    assert checks['lvis-api on numpy']['ok']
