"""``ovd prepare objects365``: validated Objects365 v1/v2 files without the images the release lacks (and v2 paths).

For each split (``--splits``, default train and val) writes
``<root>/annotations/objects365_<version>_<split>_ovd.json``. Category ``name`` stays the release's name exactly
as written (typos, v2's trailing spaces and all), so the file remains a drop-in for mmdet's Objects365 datasets
and any COCO-style tool that matches classes by name; where ovd's vocabulary fixes a name
(``ovd/data/metadata/objects365_<version>_names_fix.csv``) the fixed one is added as ``display_name``.
Categories are sorted by id, other keys are kept. The images listed in the train file but absent from the release
are removed with their annotations (a warning names them): v1 ids 6, 19, 23 and v2's three (mmdet's lists).
v2 only: ``file_name`` becomes ``patchN/<file>`` (relative to ``<root>/<split>/``). ``--check-images`` then
requires every other image to exist.
"""
import argparse
import warnings
from pathlib import Path

import numpy as np

from ..image_paths import OBJECTS365_V1_MISSING_IMAGES, OBJECTS365_V2_MISSING_IMAGES, objects365_v2_relpath
from ..vocab import get_vocabulary
from .common import Rewrite, SplitCounts, load_validated, require_file

NAME = 'objects365'
VERSION = 2  # 2: release names kept in `name`; v1 missing images removed
HELP = 'Objects365 v1/v2: validated, known missing images removed, v2 patchN/ paths (release names kept)'

_SOURCES = {
    'v1': 'annotations/objects365_{split}.json',
    'v2': 'annotations/zhiyuan_objv2_{split}.json',
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--version', choices=sorted(_SOURCES), default='v2',
                        help='dataset release (default v2)')
    parser.add_argument('--splits', default='train,val',
                        help='comma-separated splits to prepare (default: %(default)s)')


def _splits(args: argparse.Namespace):
    return [s for s in args.splits.split(',') if s]


def inputs(args: argparse.Namespace):
    root = Path(args.root)
    return [require_file(root / _SOURCES[args.version].format(split=s),
                         f'Objects365 {args.version} {s} annotations; prepare other splits with --splits')
            for s in _splits(args)]


def build(args: argparse.Namespace):
    root = Path(args.root)
    vocab = get_vocabulary(f'objects365_{args.version}')
    outputs, rows = {}, []
    for split in _splits(args):
        path = root / _SOURCES[args.version].format(split=split)
        is_v2 = args.version == 'v2'

        def relpath(im: dict, is_v2: bool = is_v2) -> str:
            return objects365_v2_relpath(im['file_name']) if is_v2 else im['file_name']

        image_dir = root / split
        known_missing = set(OBJECTS365_V2_MISSING_IMAGES if is_v2 else OBJECTS365_V1_MISSING_IMAGES)
        allowed = [str(image_dir / p) for p in sorted(known_missing)]
        image_paths = (lambda im, d=image_dir, rel=relpath: str(d / rel(im))) if args.check_images else None
        source, index, checked = load_validated(path, vocab, bad_boxes=args.bad_boxes,
                                                image_paths=image_paths, allowed_missing=allowed)
        relpaths = [relpath(im) for im in index.images]
        keep_image = np.asarray([p not in known_missing for p in relpaths], dtype=bool)
        if not keep_image.all():
            names = [p for p, k in zip(relpaths, keep_image) if not k]
            warnings.warn(f'{path}: removed {len(names)} images missing from the Objects365 release: '
                          f'{", ".join(names)}', stacklevel=2)
        keep = checked.good_box & keep_image[checked.image_pos]
        images = [dict(im, file_name=p) for im, p, k in zip(index.images, relpaths, keep_image) if k]
        categories = []
        for rec in sorted(index.categories, key=lambda c: c['id']):
            cat = vocab[vocab.index_of_id(rec['id'])]
            out_rec = dict(rec)  # the release's name as written: mmdet/COCO tools match classes by it
            if str(rec['name']) != cat.name:
                out_rec['display_name'] = cat.name
            categories.append(out_rec)
        out = Rewrite(source, {'images': images, 'categories': categories}, keep)
        out_path = path.parent / f'objects365_{args.version}_{split}_ovd.json'
        outputs[out_path] = out
        rows.append(SplitCounts(split, len(images), int(keep.sum()),
                                {'image missing from release': int((~keep_image[checked.image_pos]).sum()),
                                 'bad box': int((~checked.good_box).sum())},
                                images_dropped=int((~keep_image).sum()), output=str(out_path)))
    return outputs, rows
