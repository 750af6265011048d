"""Process setup: what a process that trains, tests, loads checkpoints or runs lvis-api does once at start.

``import ovd`` has no side effects, so the places where a process starts import this module, and importing it
runs :func:`setup_process` (idempotent): tools/train.py and tools/test.py, ``python -m ovd.benchmark.launch`` (the
jobs of ``ovd sweep`` and ``ovd demo``), ``ovd env``'s checks, and every config through
``custom_imports = dict(imports=['ovd.setup'])`` in ``configs/_base_/default_runtime.py`` (so ``mim train ovd``,
``ovd precompute-regions`` and any mmengine script that loads an ovd config are covered). It

- applies the compatibility fixes (:func:`ovd.compat.apply_fixes`): mmengine checkpoints load under
  ``weights_only=True``; lvis-api runs on numpy >= 1.24;
- allow-lists the ovd records a checkpoint carries in ``meta['dataset_meta']`` (:class:`~ovd.data.vocab.Category`,
  :class:`~ovd.data.vocab.Vocabulary`: frozen dataclasses whose construction runs no code) for weights_only
  loading.

Registration needs nothing here: an ``ovd`` registry imports the modules that register into it on its first
lookup (:mod:`ovd.registry`).
"""
_done = False


def setup_process() -> None:
    """Apply the compatibility fixes and allow-list ovd's checkpoint records, once per process."""
    global _done
    if _done:
        return
    from ovd.compat import apply_fixes
    from ovd.compat.checkpoint import allow_checkpoint_types
    from ovd.data.vocab import Category, Vocabulary
    apply_fixes()
    allow_checkpoint_types([Category, Vocabulary])
    _done = True


setup_process()
