"""Library noise off by default in what ovd prints; ``--verbose`` (or ``OVD_VERBOSE=1``) brings it back.

The noise: setuptools' "pkg_resources is deprecated" warning, which mmengine and openmim re-trigger each time
they reload ``pkg_resources`` (several per config load); mmengine's INFO lines outside a training run (one per
``{{$VAR:default}}`` substituted in a config, "Loads checkpoint by local backend"); libraries' warnings logged
through the root logger; and warnings printed with the path of the library line that raised them. What remains
is what the user must act on: errors, and ovd's own warnings as one ``<prog>: warning: <message>`` line each.
Training logs (a Runner's logger) are untouched.
"""
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from typing import Optional, Sequence

VERBOSE_ENV = 'OVD_VERBOSE'
VERBOSE_HELP = 'also print the library warnings and mmengine INFO lines that are hidden by default'
# (message regex, category) of warnings that tell an ovd user nothing they can act on
LIBRARY_WARNINGS = (
    (r'pkg_resources is deprecated', UserWarning),
    (r'Deprecated call to `pkg_resources\.declare_namespace', DeprecationWarning),
)


def is_verbose(argv: Optional[Sequence[str]] = None) -> bool:
    """``--verbose`` among ``argv`` or ``OVD_VERBOSE`` set (to anything but 0)."""
    return os.environ.get(VERBOSE_ENV, '0') not in ('', '0') or '--verbose' in (argv or ())


def quiet_warnings(prog: str = 'ovd') -> None:
    """Hide :data:`LIBRARY_WARNINGS` (here and in child processes) and print other warnings as one line."""
    for message, category in LIBRARY_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category)
    inherited = 'ignore:pkg_resources is deprecated:UserWarning'
    current = os.environ.get('PYTHONWARNINGS', '')
    if inherited not in current:
        os.environ['PYTHONWARNINGS'] = f'{current},{inherited}' if current else inherited

    def one_line(message, category, filename, lineno, line=None) -> str:
        return f'{prog}: warning: {message}\n'

    warnings.formatwarning = one_line  # (not showwarning: recording warnings, as pytest does, keeps working)


def quiet_loggers() -> None:
    """mmengine's current logger (outside a Runner) at WARNING, and libraries' records on the root logger at
    ERROR; ovd's own loggers keep WARNING (set on ``ovd``, so they do not inherit the root's level)."""
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger('ovd').setLevel(logging.WARNING)
    _after_import('mmengine.logging', lambda module: module.MMLogger.get_current_instance().setLevel(logging.WARNING))


def _after_import(name: str, action) -> None:
    """Run ``action(module)`` once ``name`` is imported (now if it already is): quieting mmengine must not import
    it, as commands such as ``ovd eval`` never load it."""
    if name in sys.modules:
        action(sys.modules[name])
        return

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            if spec is not None and spec.loader is not None:
                execute = spec.loader.exec_module

                def exec_module(module):
                    execute(module)
                    action(module)

                spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Finder())


def quiet_by_default(argv: Optional[Sequence[str]] = None, prog: str = 'ovd') -> bool:
    """Apply :func:`quiet_warnings` and :func:`quiet_loggers` unless verbose; returns whether it did."""
    if is_verbose(argv):
        return False
    quiet_warnings(prog)
    quiet_loggers()
    return True
