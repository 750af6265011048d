"""LVIS v1, open-vocabulary LVIS and LVIS v0.5 datasets.

Image paths come from ``coco_url`` (``<coco split>/<file>``, e.g. ``val2017/000000266409.jpg``), so
``data_prefix=dict(img=...)`` points at the COCO image root. Each sample also carries the LVIS federated
annotation lists: ``neg_category_ids`` and ``not_exhaustive_category_ids`` are LVIS **category ids**
(exactly as in the file, what lvis-api uses); ``neg_labels`` and ``not_exhaustive_labels`` are the same
categories as **indices into the dataset's vocabulary** (ids outside the vocabulary are left out of the label
lists).

OV-LVIS trains with ``category_split='base'`` (866 common + frequent classes; rare annotations dropped, images
kept) and evaluates on all 1203 with APr on the 337 rare ones. "minival" is a derived file (``ovd prepare
lvis-minival``): the LVIS v1 val images that are not COCO train2017 images.
"""
from ovd.registry import DATASETS

from .coco_style import CocoStyleDetDataset


@DATASETS.register_module()
class LVISV1Dataset(CocoStyleDetDataset):
    """LVIS v1 (1203 classes, vocabulary ``'lvis_v1'``), paths from ``coco_url``."""
    DEFAULT_VOCABULARY = 'lvis_v1'
    DEFAULT_PATH_SOURCE = 'coco_url'
    LVIS_STYLE = True


@DATASETS.register_module()
class OVLVISDataset(CocoStyleDetDataset):
    """Open-vocabulary LVIS v1 (vocabulary ``'ov_lvis'``: 866 base = c+f, 337 novel = r)."""
    DEFAULT_VOCABULARY = 'ov_lvis'
    DEFAULT_PATH_SOURCE = 'coco_url'
    LVIS_STYLE = True


@DATASETS.register_module()
class LVISV05Dataset(CocoStyleDetDataset):
    """LVIS v0.5 (1230 classes, vocabulary ``'lvis_v0.5'``), paths from ``coco_url`` (COCO 2017 layout)."""
    DEFAULT_VOCABULARY = 'lvis_v0.5'
    DEFAULT_PATH_SOURCE = 'coco_url'
    LVIS_STYLE = True
