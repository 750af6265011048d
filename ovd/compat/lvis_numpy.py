"""Make lvis-api 0.5.3 (the PyPI release) run on numpy >= 1.24.

``lvis/eval.py`` calls ``.astype(dtype=np.float)``; numpy 1.24 removed that alias, so every evaluation
crashes. Rather than restoring ``np.float`` on numpy itself (which would hide the same bug in other code),
``lvis.eval`` gets its own view of numpy: a module object that forwards every attribute to numpy and adds
the three removed aliases, with their documented meaning (``np.float is float``). The view is installed the
moment ``lvis.eval`` is imported (a post-import hook), so ``from lvis import LVISEval`` just works after
``import ovd``.
"""
import importlib.abc
import importlib.machinery
import sys
import types

import numpy as np

_REMOVED_ALIASES = {'float': float, 'int': int, 'bool': bool}
_TARGET = 'lvis.eval'


class _NumpyWithAliases(types.ModuleType):
    """numpy, plus the builtin aliases numpy 1.24 removed."""

    def __init__(self) -> None:
        super().__init__('numpy', np.__doc__)
        self.__dict__.update(_REMOVED_ALIASES)

    def __getattr__(self, name: str):
        return getattr(np, name)


def patch_lvis_eval(module: types.ModuleType) -> None:
    """Give an imported ``lvis.eval`` module the numpy view with the removed aliases."""
    if not isinstance(getattr(module, 'np', None), _NumpyWithAliases):
        module.np = _NumpyWithAliases()


class _PatchingLoader(importlib.abc.Loader):

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        patch_lvis_eval(module)


class _LvisEvalFinder(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path, target=None):
        if fullname != _TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def install_lvis_numpy_fix() -> None:
    """Patch ``lvis.eval`` now if it is loaded, else as soon as it is imported. Idempotent."""
    if _TARGET in sys.modules:
        patch_lvis_eval(sys.modules[_TARGET])
    elif not any(isinstance(finder, _LvisEvalFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LvisEvalFinder())
