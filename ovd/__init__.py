"""ovd: an open-vocabulary detection benchmark suite built as MMDetection 3.x plugins.

Importing ``ovd`` only defines names: it imports neither torch, mmengine, mmdet nor any layer of ovd
(tests/foundation/test_import_side_effects.py holds it to that). The parts that change a process are applied
where a process starts (:mod:`ovd.setup`: tools/train.py, tools/test.py, the CLI commands that need it, and
every config through ``custom_imports``), and datasets, transforms, models and metrics register themselves when
an ``ovd`` registry is first searched (``locations`` in :mod:`ovd.registry`, as mmdet 3.x does).
"""
from .version import __version__

__all__ = ['__version__']
