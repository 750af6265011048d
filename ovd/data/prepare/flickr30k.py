"""``ovd prepare flickr30k``: validate the raw Flickr30k Entities release and write a compact index per split.

The work is done by :mod:`ovd.data.prepare.flickr30k_build` (usable without the CLI); this module adapts it to the
preparer protocol of :mod:`ovd.data.prepare`: the inputs are the split lists plus every listed sentence and
annotation file, the outputs ``<root>/ovd_flickr30k/flickr30k_entities_<split>.json``.
"""

import argparse
from pathlib import Path

from .flickr30k_build import build_outputs, input_files, present_splits
from ..validation import AnnotationError
from .common import SplitCounts

NAME = 'flickr30k'
VERSION = 2  # 2: boxes as written in the XML (index version 2)
HELP = (
    'Flickr30k Entities: validate Sentences/Annotations/split lists and write a fast-loading index per split'
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--splits',
        nargs='+',
        default=None,
        choices=('train', 'val', 'test'),
        help='splits to prepare (default: every split whose list file exists)',
    )


def inputs(args: argparse.Namespace):
    root = Path(args.root)
    return input_files(root, present_splits(root, args.splits))


def build(args: argparse.Namespace):
    root = Path(args.root)
    outputs, counts = build_outputs(root, args.splits, bad_boxes=args.bad_boxes)
    if args.check_images:
        for path, index in outputs.items():
            for image in index['images']:
                image_path = root / 'flickr30k-images' / image['file_name']
                if not image_path.is_file():
                    raise AnnotationError(
                        image_path, f'image file not found (listed in {index["split"]}.txt)'
                    )
    rows = []
    for (path, index), (split, c) in zip(outputs.items(), counts.items()):
        rows.append(
            SplitCounts(
                split=split,
                images=c['images'],
                boxes_kept=c['entity_boxes'],
                dropped={'bad boxes': c['bad_boxes_dropped']},
                output=str(path.relative_to(root)),
            )
        )
    return outputs, rows
