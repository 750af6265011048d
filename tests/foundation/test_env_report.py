"""`ovd env` tells the truth: real versions of every package (from the installed metadata), a CUDA line that
reads right on a CPU machine, and a registry check that fails when a module configs name cannot be built."""
import os
import subprocess
import sys
from importlib import metadata

from ovd.env_check import DISTRIBUTIONS, PACKAGES, check_cuda, check_registries, package_versions


def test_versions_come_from_the_package_metadata():
    versions = package_versions()
    for name in PACKAGES:
        assert versions[name] == metadata.version(DISTRIBUTIONS.get(name, name)), name
    for name in ('pycocotools', 'lvis', 'mim'):  # no __version__ attribute: 'unknown' before
        assert versions[name][0].isdigit(), versions[name]


def test_cuda_line_reads_right():
    import torch
    name, ok, detail = check_cuda()
    assert name == 'CUDA devices' and ok
    if torch.cuda.is_available():
        assert detail.startswith(f'{torch.cuda.device_count()}: ')
    else:
        assert detail.startswith('none visible: runs on CPU')


def test_preemption_hook_builds_after_import_ovd_alone(repo_root):
    """The sweep launcher registers nothing extra: a config naming the hook builds after `import ovd`."""
    code = ('import ovd\n'
            'from mmengine.registry import HOOKS, DefaultScope\n'
            'DefaultScope.get_instance("t", scope_name="ovd")\n'
            'print(type(HOOKS.build(dict(type="PreemptionCheckpointHook"))).__name__)\n'
            'from ovd.env_check import check_registries\n'
            'print(check_registries())\n')
    env = dict(os.environ, PYTHONPATH=f'{repo_root}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, cwd=repo_root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == 'PreemptionCheckpointHook'
    assert lines[1].startswith('("registries (scope \'ovd\')", True') and 'hooks 0' not in lines[1]


def test_registry_check_fails_when_a_module_is_missing(monkeypatch):
    from ovd import env_check
    monkeypatch.setitem(env_check.REGISTERED, 'HOOKS', 'NoSuchHook')
    name, ok, detail = check_registries()
    assert not ok and 'not found: hooks: NoSuchHook' in detail
