"""No library warnings or mmengine INFO lines in what ovd commands and the mim tools print by default;
--verbose / OVD_VERBOSE=1 brings them back. Real processes: the settings are per process."""
import os
import subprocess
import sys

import pytest

CONFIG = 'configs/smoke/faster-rcnn_r18_tiny_synth-coco.py'


def _run(args, repo_root, tmp_path, **env):
    env = dict(os.environ, PYTHONPATH=f'{repo_root}{os.pathsep}{os.environ.get("PYTHONPATH", "")}',
               OVD_DATA_ROOT=str(tmp_path), COLUMNS='80', **env)
    env.pop('PYTHONWARNINGS', None)
    env.setdefault('OVD_VERBOSE', '0')
    proc = subprocess.run([sys.executable, *args], cwd=repo_root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_ovd_command_quiet_by_default_verbose_on_request(repo_root, tmp_path):
    plan = ['-m', 'ovd.cli', 'sweep', 'plan', 'benchmarks/sweeps/demo.yaml', '--set', f'out={tmp_path}']
    out = _run(plan, repo_root, tmp_path)
    assert 'pkg_resources' not in out and 'Warning' not in out
    verbose = _run(plan + ['--verbose'], repo_root, tmp_path)
    assert 'pkg_resources is deprecated' in verbose


@pytest.mark.parametrize('verbose', ['0', '1'])
def test_tools_load_configs_quietly(repo_root, tmp_path, verbose):
    """What tools/train.py and tools/test.py (run by `mim train/test ovd`) do before building the Runner."""
    code = ('from ovd.quiet import quiet_by_default\n'
            'quiet_by_default()\n'
            'from mmengine.config import Config\n'
            f'Config.fromfile({CONFIG!r})\n'
            'print("loaded")\n')
    out = _run(['-c', code], repo_root, tmp_path, OVD_VERBOSE=verbose)
    noisy = 'Using env variable `OVD_DATA_ROOT`' in out and 'pkg_resources is deprecated' in out
    assert noisy == (verbose == '1'), out
    assert 'loaded' in out


def test_ovd_warnings_still_show_library_ones_do_not(repo_root, tmp_path):
    code = ('import logging, warnings\n'
            'from ovd.quiet import quiet_by_default\n'
            'quiet_by_default()\n'
            'logging.getLogger("ovd.text.cache").warning("ovd says")\n'
            'logging.warning("a library says")\n'
            'warnings.warn("a plain warning")\n')
    out = _run(['-c', code], repo_root, tmp_path)
    assert 'ovd says' in out and 'a library says' not in out
    assert 'ovd: warning: a plain warning' in out and 'UserWarning' not in out
