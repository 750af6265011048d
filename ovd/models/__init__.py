"""Detectors: one sub-package per method (a method never imports another) plus ``common`` for shared parts."""
from . import common, glip, vild, baron, mdetr  # noqa: F401  (register their modules)
