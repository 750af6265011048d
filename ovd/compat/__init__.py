"""Compatibility fixes that keep the OpenMMLab 2.x stack working on a modern torch and numpy.

Importing this package applies them; each is narrow and documented in its own module:
- :mod:`ovd.compat.checkpoint`: mmengine checkpoints load under ``torch.load(weights_only=True)``
  by allow-listing exactly the types mmengine stores (weights_only stays on).
- :mod:`ovd.compat.lvis_numpy`: lvis-api 0.5.3 runs on numpy >= 1.24 (it uses the removed ``np.float``).
"""
from .checkpoint import MMENGINE_SAFE_GLOBALS, allow_checkpoint_types, allow_mmengine_checkpoints
from .lvis_numpy import install_lvis_numpy_fix, patch_lvis_eval

allow_mmengine_checkpoints()
install_lvis_numpy_fix()

__all__ = ['MMENGINE_SAFE_GLOBALS', 'allow_checkpoint_types', 'allow_mmengine_checkpoints', 'install_lvis_numpy_fix',
           'patch_lvis_eval']
