"""Shipped files are found in a source checkout first, else in an installed wheel's ``ovd/.mim``."""
import types

import ovd.resources as resources


def _fake_package(monkeypatch, root):
    package = root / 'ovd'
    package.mkdir(parents=True)
    (package / '__init__.py').write_text('')
    monkeypatch.setattr(resources.importlib.util, 'find_spec',
                        lambda name: types.SimpleNamespace(origin=str(package / '__init__.py')))
    return package


def test_checkout_copy_wins(tmp_path, monkeypatch):
    package = _fake_package(monkeypatch, tmp_path)
    (tmp_path / 'benchmarks').mkdir()
    (tmp_path / 'benchmarks' / 'reference_results.csv').write_text('checkout')
    (package / '.mim' / 'benchmarks').mkdir(parents=True)
    (package / '.mim' / 'benchmarks' / 'reference_results.csv').write_text('wheel')
    assert resources.shipped_path('benchmarks', 'reference_results.csv').read_text() == 'checkout'


def test_wheel_copy_when_there_is_no_checkout(tmp_path, monkeypatch):
    package = _fake_package(monkeypatch, tmp_path / 'site-packages')
    (package / '.mim' / 'benchmarks' / 'sweeps').mkdir(parents=True)
    (package / '.mim' / 'benchmarks' / 'sweeps' / 'demo.yaml').write_text('wheel')
    assert resources.shipped_path('benchmarks', 'sweeps', 'demo.yaml').read_text() == 'wheel'
    assert resources.shipped_path('benchmarks', 'missing.csv') is None


def test_repository_defaults_resolve(repo_root):
    from ovd.benchmark.references import default_references_path
    from ovd.commands.demo import PLUMBING_SPEC, default_spec
    assert default_spec() == repo_root / 'benchmarks' / 'sweeps' / 'ov_world.yaml'
    assert default_spec(PLUMBING_SPEC) == repo_root / 'benchmarks' / 'sweeps' / 'demo.yaml'
    assert default_references_path() == repo_root / 'benchmarks' / 'reference_results.csv'
