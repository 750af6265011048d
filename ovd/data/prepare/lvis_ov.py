"""``ovd prepare lvis-ov``: the open-vocabulary LVIS v1 training file (rare annotations removed).

Writes ``<root>/annotations/lvis_v1_train_ov_base.json``: every train image, the annotations of the 866 base
(common + frequent) classes, all 1203 categories (with ``"split"``) so that LVIS tools keep working. The rare
annotations are dropped and counted. Validation uses ``lvis_v1_val.json`` as is (all 1203 classes).
"""
import argparse
from pathlib import Path

import numpy as np

from ..image_paths import image_relpath_from_coco_url
from ..vocab import get_vocabulary
from .common import Rewrite, SplitCounts, load_validated, require_file

NAME = 'lvis-ov'
VERSION = 1
HELP = 'OV-LVIS (866 base / 337 novel = rare): LVIS v1 train file without rare annotations'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--train-ann', default='annotations/lvis_v1_train.json',
                        help='LVIS v1 train annotations, relative to --root (default: %(default)s)')
    parser.add_argument('--image-root', default=None,
                        help='COCO image root holding train2017/ and val2017/ for --check-images '
                             '(default: <root>/../coco)')


def inputs(args: argparse.Namespace):
    return [require_file(Path(args.root) / args.train_ann, 'LVIS v1 train annotations')]


def coco_image_root(args: argparse.Namespace) -> Path:
    return Path(args.image_root) if args.image_root else Path(args.root).parent / 'coco'


def build(args: argparse.Namespace):
    path = Path(args.root) / args.train_ann
    vocab = get_vocabulary('ov_lvis')
    image_root = coco_image_root(args)
    image_paths = (lambda im: str(image_root / image_relpath_from_coco_url(im['coco_url']))) \
        if args.check_images else None
    source, index, checked = load_validated(path, vocab, bad_boxes=args.bad_boxes, image_paths=image_paths)
    split_of = {c.id: c.split for c in vocab}
    is_rare = np.isin(index.ann_category_ids, vocab.ids[vocab.indices('novel')])
    keep = checked.good_box & ~is_rare
    out = Rewrite(source, {'categories': [dict(c, split=split_of[c['id']]) for c in index.categories]}, keep)
    out_path = path.parent / 'lvis_v1_train_ov_base.json'
    row = SplitCounts('train', index.num_images, int(keep.sum()),
                      {'rare (novel)': int((checked.good_box & is_rare).sum()),
                       'bad box': int((~checked.good_box).sum())}, output=str(out_path))
    return {out_path: out}, [row]
