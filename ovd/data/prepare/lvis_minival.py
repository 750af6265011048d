"""``ovd prepare lvis-minival``: LVIS v1 "minival", the val images that are not COCO train2017 images.

LVIS v1 val (19,809 images) is drawn from COCO train2017 and val2017; models pre-trained on COCO train2017 (or
on datasets built from it) have seen part of it, so zero-shot LVIS results are often reported on the rest
(MDETR, GLIP: "minival", ~5k images). An image's COCO split is read from its ``coco_url``; with
``--coco-train-ann`` the ids of that COCO train2017 file are excluded instead (same result on official files,
and a check when the URLs are unreliable). Writes ``<root>/annotations/lvis_v1_minival.json`` with the kept
images, their annotations and all 1203 categories.
"""
import argparse
from pathlib import Path

import numpy as np

from ..coco_index import load_coco_index
from ..image_paths import image_relpath_from_coco_url
from ..validation import AnnotationError
from ..vocab import get_vocabulary
from .common import Rewrite, SplitCounts, load_validated, require_file
from .lvis_ov import coco_image_root

NAME = 'lvis-minival'
VERSION = 1
HELP = 'LVIS v1 minival: the LVIS v1 val images that are not in COCO train2017'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--val-ann', default='annotations/lvis_v1_val.json',
                        help='LVIS v1 val annotations, relative to --root (default: %(default)s)')
    parser.add_argument('--coco-train-ann', default=None,
                        help='COCO train2017 instances file: exclude its image ids instead of reading '
                             'coco_url')
    parser.add_argument('--image-root', default=None,
                        help='COCO image root for --check-images (default: <root>/../coco)')


def inputs(args: argparse.Namespace):
    paths = [require_file(Path(args.root) / args.val_ann, 'LVIS v1 val annotations')]
    if args.coco_train_ann:
        paths.append(require_file(Path(args.coco_train_ann), 'COCO train2017 instances'))
    return paths


def _coco_train_ids(path: Path) -> np.ndarray:
    return load_coco_index(path).image_ids  # the lean reader: a COCO train file is ~0.5 GB


def build(args: argparse.Namespace):
    path = Path(args.root) / args.val_ann
    image_root = coco_image_root(args)
    image_paths = (lambda im: str(image_root / image_relpath_from_coco_url(im['coco_url']))) \
        if args.check_images else None
    source, index, checked = load_validated(path, get_vocabulary('lvis_v1'), bad_boxes=args.bad_boxes,
                                          image_paths=image_paths)
    if args.coco_train_ann:
        in_train = np.isin(index.image_ids, _coco_train_ids(Path(args.coco_train_ann)))
    else:
        splits = []
        for i, im in enumerate(index.images):
            if 'coco_url' not in im:
                raise AnnotationError(path, 'missing key (needed to tell the COCO split; or pass '
                                      '--coco-train-ann)', 'images', i, im['id'], 'coco_url')
            splits.append(image_relpath_from_coco_url(im['coco_url']).split('/')[0])
        in_train = np.asarray([s == 'train2017' for s in splits], dtype=bool)
    keep_image = ~in_train
    keep = checked.good_box & keep_image[checked.image_pos]
    out = Rewrite(source, {'images': [im for im, k in zip(index.images, keep_image) if k]}, keep)
    out_path = path.parent / 'lvis_v1_minival.json'
    dropped_train = int((checked.good_box & ~keep_image[checked.image_pos]).sum())
    row = SplitCounts('minival', int(keep_image.sum()), int(keep.sum()),
                      {'image in COCO train2017': dropped_train,
                       'bad box': int((~checked.good_box).sum())},
                      images_dropped=int(in_train.sum()), output=str(out_path))
    return {out_path: out}, [row]
