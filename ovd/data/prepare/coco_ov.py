"""``ovd prepare coco-ov``: the open-vocabulary COCO annotation files from COCO 2017.

Writes, next to the inputs in ``<root>/annotations/``:

- ``instances_train2017_ov_base.json``: every train image, only annotations of the 48 base classes, the 48
  base categories (with ``"split": "base"``). Novel and excluded annotations are dropped and counted.
- ``instances_val2017_ov65.json``: every val image, annotations of the 65 OV classes, the 65 categories with
  ``split``: the ground truth of the ``ov-coco-65`` protocol (``ov-coco-80`` uses the original file).
"""
import argparse
from pathlib import Path

import numpy as np

from ..vocab import get_vocabulary
from .common import Rewrite, SplitCounts, load_validated, require_file

NAME = 'coco-ov'
VERSION = 1
HELP = 'OV-COCO (48 base / 17 novel): base-only train file and 65-class val file from COCO 2017'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--train-ann', default='annotations/instances_train2017.json',
                        help='COCO train annotations, relative to --root (default: %(default)s)')
    parser.add_argument('--val-ann', default='annotations/instances_val2017.json',
                        help='COCO val annotations, relative to --root (default: %(default)s)')


def inputs(args: argparse.Namespace):
    root = Path(args.root)
    return [require_file(root / args.train_ann, 'COCO 2017 train instances'),
            require_file(root / args.val_ann, 'COCO 2017 val instances')]


def build(args: argparse.Namespace):
    """Validate both inputs, then return ``({output path: content}, [SplitCounts])``; writes nothing."""
    root = Path(args.root)
    coco, ov = get_vocabulary('coco'), get_vocabulary('ov_coco')
    split_of = {c.id: c.split for c in ov}
    outputs, rows = {}, []
    for split, ann, image_dir, out_name, keep_splits in (
            ('train', args.train_ann, 'train2017', 'instances_train2017_ov_base.json', ('base', )),
            ('val', args.val_ann, 'val2017', 'instances_val2017_ov65.json', ('base', 'novel'))):
        path = root / ann
        image_paths = (lambda im, d=image_dir: str(root / d / im['file_name'])) if args.check_images else None
        source, index, checked = load_validated(path, coco, bad_boxes=args.bad_boxes, image_paths=image_paths)
        in_base = np.isin(index.ann_category_ids, ov.ids[ov.indices('base')])
        in_novel = np.isin(index.ann_category_ids, ov.ids[ov.indices('novel')])
        keep = checked.good_box & (in_base | (in_novel & ('novel' in keep_splits)))
        dropped = {'novel': int((checked.good_box & in_novel & ~keep).sum()),
                   'excluded': int((checked.good_box & ~in_base & ~in_novel).sum()),
                   'bad box': int((~checked.good_box).sum())}
        categories = [dict(c, split=split_of[c['id']]) for c in index.categories
                      if split_of.get(c['id']) in keep_splits]
        out = Rewrite(source, {'categories': categories}, keep)
        out_path = path.parent / out_name
        outputs[out_path] = out
        rows.append(SplitCounts(split, index.num_images, int(keep.sum()), dropped, output=str(out_path)))
    return outputs, rows
