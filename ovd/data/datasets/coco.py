"""COCO (80 classes) and open-vocabulary COCO (48 base / 17 novel) datasets.

OV-COCO protocols (both appear in the literature; the evaluation layer names them):

- ``ov-coco-65``: evaluate on the 65 OV classes (48 base + 17 novel), AP50 reported for novel/base/all
  (OVR-CNN, ViLD, Detic, BARON). Dataset: ``OVCocoDataset`` with ``vocabulary='ov_coco'``.
- ``ov-coco-80``: evaluate on all 80 classes with the base/novel marks (the 15 excluded classes count as
  neither). Dataset: ``OVCocoDataset`` with ``vocabulary='ov_coco_80'``.

Training uses ``category_split='base'``: the vocabulary becomes the 48 base classes and every other annotation
is dropped while the images stay (unless ``filter_cfg.filter_empty_gt``).
"""
from ovd.registry import DATASETS

from .coco_style import CocoStyleDetDataset


@DATASETS.register_module()
class CocoDetDataset(CocoStyleDetDataset):
    """COCO detection over the 80 classes (vocabulary ``'coco'``); crowd boxes get ``ignore_flag=1``."""
    DEFAULT_VOCABULARY = 'coco'


@DATASETS.register_module()
class OVCocoDataset(CocoStyleDetDataset):
    """Open-vocabulary COCO: vocabulary ``'ov_coco'`` (65) or ``'ov_coco_80'``; annotations of classes outside
    the vocabulary (the 15 excluded ones) are dropped by default, and ``category_split='base'`` trains on the
    48 base classes only."""
    DEFAULT_VOCABULARY = 'ov_coco'

    def __init__(self, *args, unknown_categories: str = 'drop', **kwargs) -> None:
        super().__init__(*args, unknown_categories=unknown_categories, **kwargs)
