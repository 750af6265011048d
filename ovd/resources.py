"""Files ovd ships beside its code (``configs/``, ``tools/``, ``benchmarks/``): the source checkout's, else the
copies a wheel carries in ``ovd/.mim`` (see ``setup.py``)."""
import importlib.util
from pathlib import Path
from typing import Optional


def shipped_path(*parts: str) -> Optional[Path]:
    """``<checkout>/<parts>`` if ovd runs from a source checkout, else ``<site-packages>/ovd/.mim/<parts>``;
    None when neither exists. Locates the package through ``find_spec`` (tests point it at a fake install)."""
    spec = importlib.util.find_spec('ovd')
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).resolve().parent
    for root in (package.parent, package / '.mim'):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return None
