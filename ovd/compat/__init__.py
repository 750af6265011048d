"""Compatibility fixes that keep the OpenMMLab 2.x stack working on a modern torch and numpy.

Importing this package changes nothing; :func:`apply_fixes` applies them (:mod:`ovd.setup` calls it where a
process starts). Each fix is narrow and documented in its own module:
- :mod:`ovd.compat.checkpoint`: mmengine checkpoints load under ``torch.load(weights_only=True)``
  by allow-listing exactly the types mmengine stores (weights_only stays on).
- :mod:`ovd.compat.lvis_numpy`: lvis-api 0.5.3 runs on numpy >= 1.24 (it uses the removed ``np.float``).
"""


def apply_fixes() -> None:
    """Apply every fix (idempotent). Imports torch and mmengine, so only a process that needs them calls it."""
    from .checkpoint import allow_mmengine_checkpoints
    from .lvis_numpy import install_lvis_numpy_fix
    allow_mmengine_checkpoints()
    install_lvis_numpy_fix()


__all__ = ['apply_fixes']
