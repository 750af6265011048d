"""The command that creates a missing input, for error messages: a tiny config on a clean folder needs
``ovd synth``, a ViLD config needs ``ovd precompute-regions``; an error that names only the missing file leaves
the user to find that out."""
import os
from pathlib import Path
from typing import Union

PathLike = Union[str, os.PathLike]


def synthetic_data_hint(path: PathLike) -> str:
    """``' (synthetic data: create it with `ovd synth --out <dir>`)'`` when ``path`` lies in a ``synthetic``
    folder (where ``ovd synth`` writes and the tiny configs read), else ``''``."""
    parts = Path(path).parts
    if 'synthetic' not in parts:
        return ''
    folder = Path(*parts[:len(parts) - parts[::-1].index('synthetic')])
    return f' (synthetic data: create it with `ovd synth --out {folder}`)'


def region_cache_hint(root: PathLike) -> str:
    """How to create a missing region cache."""
    return (f'create it with `ovd precompute-regions --config CONFIG`, CONFIG being the training config whose '
            f'region_cache.root is {root}')
