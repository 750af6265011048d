"""``ovd prepare flickr30k``: validate the raw Flickr30k Entities release and write a compact index per split.

Reads ``<root>/{train,val,test}.txt`` and, for every listed image, ``Sentences/<id>.txt`` and
``Annotations/<id>.xml``; any bad input stops everything with an error naming the file, the line/object and
the field (:class:`~ovd.data.flickr30k.raw.Flickr30kFormatError`) and nothing is written. The outputs,
``<root>/ovd_flickr30k/flickr30k_entities_<split>.json``, hold the parsed captions, phrase spans and the
boxes as the XML writes them; :class:`~ovd.data.datasets.flickr30k.Flickr30kEntitiesDataset` loads them in a
fraction of the time the 63k raw files take. The preparer protocol of :mod:`ovd.data.prepare` (``NAME`` ...
``build``) drives it from the CLI; :func:`prepare_flickr30k` is the plain function.
"""
import argparse
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..flickr30k.index import build_index
from ..flickr30k.raw import Flickr30kFormatError, read_split_ids
from ..validation import AnnotationError
from .common import SplitCounts, commit

NAME = 'flickr30k'
VERSION = 2  # 2: boxes as written in the XML (index version 2)
HELP = (
    'Flickr30k Entities: validate Sentences/Annotations/split lists and write a fast-loading index per split'
)

SPLITS = ('train', 'val', 'test')
OUTPUT_DIR = 'ovd_flickr30k'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--splits',
        nargs='+',
        default=None,
        choices=SPLITS,
        help='splits to prepare (default: every split whose list file exists)',
    )


def inputs(args: argparse.Namespace) -> List[Path]:
    root = Path(args.root)
    return input_files(root, present_splits(root, args.splits))


def build(args: argparse.Namespace) -> Tuple[Dict[Path, dict], List[SplitCounts]]:
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


def output_path(root: Path, split: str) -> Path:
    return Path(root) / OUTPUT_DIR / f'flickr30k_entities_{split}.json'


def present_splits(root: Path, splits: Optional[Sequence[str]] = None) -> List[str]:
    """The requested splits (all must have a list file), or every split whose list file exists."""
    root = Path(root)
    if splits:
        for split in splits:
            if not (root / f'{split}.txt').is_file():
                raise Flickr30kFormatError(
                    root / f'{split}.txt', 'file not found (split list of the release)'
                )
        return list(splits)
    found = [s for s in SPLITS if (root / f'{s}.txt').is_file()]
    if not found:
        raise Flickr30kFormatError(root, 'no split list (train.txt, val.txt or test.txt) in the dataset root')
    return found


def input_files(root: Path, splits: Sequence[str]) -> List[Path]:
    """Every file the preparation reads (split lists, sentence and annotation files), for up-to-date
    checks."""
    root = Path(root)
    files = []
    for split in splits:
        files.append(root / f'{split}.txt')
        for image_id in read_split_ids(root / f'{split}.txt'):
            files += [root / 'Sentences' / f'{image_id}.txt', root / 'Annotations' / f'{image_id}.xml']
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise Flickr30kFormatError(missing[0], f'file not found ({len(missing)} listed files are missing)')
    return files


def build_outputs(
    root: Path, splits: Optional[Sequence[str]] = None, bad_boxes: str = 'error', progress: bool = False
) -> Tuple[Dict[Path, dict], Dict[str, dict]]:
    """Validate the splits and build their indexes in memory (nothing is written).

    Returns:
        ``({output path: index}, {split: counts})`` with counts ``images``, ``sentences``, ``phrases``,
        ``entity_boxes``, ``bad_boxes_dropped``.
    """
    root = Path(root)
    outputs, counts = {}, {}
    for split in present_splits(root, splits):
        index = build_index(root, f'{split}.txt', bad_boxes=bad_boxes, progress=progress)
        outputs[output_path(root, split)] = index
        counts[split] = index['counts']
    return outputs, counts


def prepare_flickr30k(
    root, splits: Optional[Sequence[str]] = None, bad_boxes: str = 'error', progress: bool = False
) -> Dict[str, dict]:
    """Validate the raw release under ``root`` and write the indexes; return the counts per split."""
    outputs, counts = build_outputs(Path(root), splits, bad_boxes, progress)
    commit(outputs)
    return counts
