"""ovd: an open-vocabulary detection benchmark suite built as MMDetection 3.x plugins.

Importing ``ovd`` applies the compatibility fixes (:mod:`ovd.compat`) and registers every dataset,
transform, model and metric into the ``ovd`` registry scope (:mod:`ovd.registry`), which is what configs'
``custom_imports = dict(imports=['ovd'])`` relies on.
"""
from .version import __version__
from . import compat  # noqa: F401  (applies the fixes on import)
from . import registry  # noqa: F401
from . import data, evaluation, models  # noqa: F401  (register their modules)

__all__ = ['__version__']
