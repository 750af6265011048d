"""``generate_all``: every synthetic dataset under one root (``coco/``, ``lvis/``, ``flickr30k/``,
``objects365/``) plus a top-level manifest naming them."""
from pathlib import Path
from typing import Dict, Optional, Union

from .coco import generate_coco
from .common import MANIFEST_NAME, ProgressFn, write_manifest
from .flickr30k import generate_flickr30k
from .lvis import generate_lvis
from .objects365 import generate_objects365

GENERATORS = {'coco': generate_coco, 'lvis': generate_lvis, 'flickr30k': generate_flickr30k,
              'objects365': generate_objects365}


def generate_all(root: Union[str, Path], seed: int = 0, *, num_images: Optional[int] = None,
                 progress: Optional[ProgressFn] = None) -> Dict[str, Dict]:
    """Write all four synthetic datasets under ``root/<name>`` with each generator's defaults.

    Args:
        root: output folder.
        seed: the seed of every dataset.
        num_images: if given, the number of images of every split of every dataset.
        progress: optional ``progress(done, total, label)`` callback (``total`` is per dataset).

    Returns:
        ``{name: manifest}`` for coco, lvis, flickr30k and objects365; ``root/synthetic_manifest.json`` lists
        their folders and counts.
    """
    root = Path(root)
    (root / MANIFEST_NAME).unlink(missing_ok=True)  # a rerun killed half-way must not look complete
    manifests = {name: generate(root / name, seed=seed, num_images=num_images, progress=progress)
                 for name, generate in GENERATORS.items()}
    write_manifest(root, {'dataset': 'all', 'generator': 'ovd.data.synthetic.generate_all', 'seed': seed,
                          'datasets': {name: {'root': name, 'splits': m['splits']}
                                       for name, m in manifests.items()}})
    return manifests
