"""Where an annotation file's image lives, relative to the image root: the path rules of COCO-derived files.

- LVIS (v0.5, v1) images are COCO images; their path is ``<coco split>/<file>`` read from ``coco_url``.
- Objects365 v2 lists ``images/v1/patchN/<file>`` or ``images/v2/patchN/<file>`` while the release unpacks
  to ``patchN/<file>`` under the split's folder (the rule mmdet also uses).
"""
import posixpath

# Listed in zhiyuan_objv2_train.json but absent from the released patches (mmdet skips the same three).
# Objects365 v1 train images listed in objects365_train.json but absent from the release: mmdet 3.3's converter
# (tools/dataset_converters/coco2odvg.py:276, ``--dataset o365v1``) skips image ids 6, 19 and 23. v1 file names
# are ``obj365_train_<id as 12 digits>.jpg``.
OBJECTS365_V1_MISSING_IMAGES = tuple(f'obj365_train_{i:012d}.jpg' for i in (6, 19, 23))
OBJECTS365_V2_MISSING_IMAGES = (
    'patch16/objects365_v2_00908726.jpg',
    'patch6/objects365_v1_00320532.jpg',
    'patch6/objects365_v1_00320534.jpg',
)


def image_relpath_from_coco_url(url: str) -> str:
    """``http://images.cocodataset.org/val2017/000000266409.jpg`` -> ``val2017/000000266409.jpg``."""
    parts = url.rstrip('/').split('/')
    return '/'.join(parts[-2:])


def objects365_v2_relpath(file_name: str) -> str:
    """``images/v1/patch8/objects365_v1_00420917.jpg`` -> ``patch8/objects365_v1_00420917.jpg``."""
    parts = file_name.replace('\\', '/').split('/')
    return posixpath.join(*parts[-2:]) if len(parts) >= 2 else file_name
