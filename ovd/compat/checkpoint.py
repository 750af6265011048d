"""Let ``torch.load(weights_only=True)`` (torch >= 2.6's default) read mmengine checkpoints.

An mmengine Runner checkpoint stores, besides tensors, the message hub (``HistoryBuffer`` objects holding
numpy arrays), numpy scalars in runtime info, and plain containers in ``meta``. torch's restricted unpickler
refuses those types, so ``--resume`` fails on torch >= 2.6. The fix registers exactly those types with
``torch.serialization.add_safe_globals``: weights_only stays on, and any other global in a pickle, such as
``os.system`` in a crafted file, is still refused.

One reference needs care: a ``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer,
'mean')``. Allowing ``builtins.getattr`` itself would let a pickle reach any attribute of any allowed object,
so that name is bound to :func:`history_buffer_statistic`, which returns only registered statistics methods of
``HistoryBuffer`` and refuses everything else.

The checkpoint converters read official release files with :func:`load_official_checkpoint`: the same
restricted loader, plus the few plain types those files hold (:data:`OFFICIAL_CHECKPOINT_SAFE_GLOBALS`).
"""
import argparse
import contextlib
import pathlib
import pickle
from typing import Any, List

import numpy as np
import torch


def _numpy_globals() -> List[object]:
    """The numpy callables and classes that pickled arrays, dtypes and scalars refer to."""
    try:  # numpy >= 2 keeps them in numpy._core; pickles written under numpy 1.x name numpy.core
        from numpy._core import multiarray
        legacy_prefix = 'numpy.core.multiarray'
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
        legacy_prefix = None
    items: List[object] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    if legacy_prefix is not None:
        items += [(multiarray._reconstruct, f'{legacy_prefix}._reconstruct'),
                  (multiarray.scalar, f'{legacy_prefix}.scalar')]
    dtype_names = ('bool_', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
                   'float16', 'float32', 'float64', 'longdouble', 'complex64', 'complex128', 'str_')
    items += [type(np.dtype(getattr(np, name))) for name in dtype_names]
    return items


def history_buffer_statistic(owner: Any, name: str) -> Any:
    """Stand-in for ``getattr`` in weights_only unpickling: only ``HistoryBuffer``'s statistics methods.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    from mmengine.logging import HistoryBuffer
    if owner is HistoryBuffer and name in HistoryBuffer._statistics_methods:
        return HistoryBuffer._statistics_methods[name]
    raise pickle.UnpicklingError(
        f'weights_only load refused getattr({owner!r}, {name!r}): only HistoryBuffer statistics methods '
        'may be referenced by an mmengine checkpoint')


def _mmengine_globals() -> List[object]:
    from mmengine.logging import HistoryBuffer
    HistoryBuffer()  # registers the default statistics methods (min, max, current, mean) on the class
    return [HistoryBuffer, (history_buffer_statistic, 'builtins.getattr')]


def mmengine_safe_globals() -> List[object]:
    """Every non-tensor global an mmengine 0.10 Runner checkpoint refers to."""
    return _mmengine_globals() + _numpy_globals()


MMENGINE_SAFE_GLOBALS = mmengine_safe_globals()


def allow_checkpoint_types(types: List[object]) -> None:
    """Allow-list plain data types for weights_only loading (no-op on torch < 2.4).

    For ovd's own records that end up in checkpoints (e.g. the vocabulary in ``meta['dataset_meta']``):
    only types whose construction runs no code beyond setting fields belong here.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(types)


def allow_mmengine_checkpoints() -> None:
    """Allow-list mmengine's checkpoint types for weights_only loading."""
    allow_checkpoint_types(MMENGINE_SAFE_GLOBALS)


#: Non-tensor globals that official method checkpoints hold besides weights, containers and numbers: MDETR's
#: ``main.py`` saves its ``argparse.Namespace`` as ``args`` (a plain attribute bag; unpickling it only sets fields),
#: and its SLURM launcher (``run_with_submitit.py``) puts ``pathlib.PosixPath`` values in it (``output_dir``,
#: ``job_dir``; rebuilding a path does no I/O). Named as the pickles written by Python 3.8-3.12 name them.
OFFICIAL_CHECKPOINT_SAFE_GLOBALS: List[object] = [argparse.Namespace, (pathlib.PosixPath, 'pathlib.PosixPath')]


def load_official_checkpoint(path: str) -> Any:
    """``torch.load`` a released or converted checkpoint with ``weights_only=True``.

    Allowed besides tensors and plain containers: mmengine's checkpoint types and
    :data:`OFFICIAL_CHECKPOINT_SAFE_GLOBALS`, the latter only during this call. Anything else (a crafted pickle
    whose ``__reduce__`` names ``os.system``) is refused before it runs.

    Raises:
        ValueError: naming the file and what the restricted unpickler refused.
    """
    allow_mmengine_checkpoints()
    scoped = getattr(torch.serialization, 'safe_globals', None)
    context = scoped(OFFICIAL_CHECKPOINT_SAFE_GLOBALS) if scoped else contextlib.nullcontext()
    if scoped is None:  # pragma: no cover - torch < 2.5 has no scoped form
        allow_checkpoint_types(OFFICIAL_CHECKPOINT_SAFE_GLOBALS)
    try:
        with context:
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()
        detail = next((line.strip() for line in reason if 'GLOBAL' in line or 'Unsupported' in line),
                      reason[0] if reason else type(err).__name__)
        detail = detail.split(' Please use `torch.serialization')[0]  # torch's advice to trust the file: not ours
        raise ValueError(f'{path}: refused by the weights_only loader (not a plain checkpoint): {detail}') from None
