"""Flickr30k Entities image records: read from the raw release or from ovd's prepared index (no mmdet import).

An image record holds one image's sentences (caption, phrase spans, entity ids, types) and its boxes by entity
id as the XML writes them (``'raw'`` convention, see :mod:`ovd.data.flickr30k.raw`). ``ovd prepare flickr30k``
writes the records of a split as an index file; the dataset classes (:mod:`ovd.data.datasets.flickr30k`) and the
``flickr30k-*`` evaluation (:mod:`ovd.evaluation.flickr30k`) both read records through this module and pick the
evaluated phrases with :func:`record_phrases`, so training samples and evaluation see the same phrases.
"""

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

from .raw import (
    Flickr30kFormatError,
    parse_annotation_xml,
    parse_sentences_file,
    read_split_ids,
    to_box_convention,
)

INDEX_FORMAT = 'ovd-flickr30k-entities-index'
# 2: boxes stored as written in the XML (version 1 stored pixel edges)
INDEX_VERSION = 2


def load_raw_image_record(
    root: Path,
    image_id: str,
    sentences_dir: str = 'Sentences',
    annotations_dir: str = 'Annotations',
    bad_boxes: str = 'error',
) -> Dict[str, Any]:
    """Read one image's sentences and boxes from the raw release into an index record (plain JSON types).

    Returns:
        ``{'id', 'file_name', 'width', 'height', 'boxes': {entity: [[x1, y1, x2, y2], ...]}, 'nobox', 'scene',
        'bad_boxes', 'sentences': [{'caption', 'phrases': [[start, end, entity, 'type/type', first_word]]}]}``
        with boxes as written in the XML.
    """
    root = Path(root)
    sentences = parse_sentences_file(root / sentences_dir / f'{image_id}.txt')
    ann = parse_annotation_xml(root / annotations_dir / f'{image_id}.xml', convention='raw', bad_boxes=bad_boxes)
    return {
        'id': image_id,
        'file_name': f'{image_id}.jpg',
        'width': ann.width,
        'height': ann.height,
        'boxes': {str(k): v for k, v in ann.boxes.items()},
        'nobox': ann.nobox,
        'scene': ann.scene,
        'bad_boxes': ann.bad_boxes,
        'sentences': [
            {
                'caption': s.caption,
                'phrases': [
                    [p.start, p.end, p.entity_id, '/'.join(p.types), p.first_word] for p in s.phrases
                ],
            }
            for s in sentences
        ],
    }


def read_index_file(path: Path) -> Dict[str, Any]:
    """The whole index written by ``ovd prepare flickr30k`` (format and version checked)."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise Flickr30kFormatError(
            path, 'file not found (run `ovd prepare flickr30k --root DATA_ROOT`)'
        ) from None
    except json.JSONDecodeError as err:
        raise Flickr30kFormatError(path, f'malformed JSON at line {err.lineno} column {err.colno}') from None
    check_index(data, path)
    return data


def check_index(data: Any, path: Path) -> None:
    """Raise :class:`Flickr30kFormatError` unless ``data`` is an index of the current version."""
    if not isinstance(data, dict) or data.get('format') != INDEX_FORMAT:
        raise Flickr30kFormatError(
            path, f'not an ovd Flickr30k index (field "format" != {INDEX_FORMAT!r})', field='format'
        )
    if data.get('version') != INDEX_VERSION:
        raise Flickr30kFormatError(
            path,
            f'index version {data.get("version")} != {INDEX_VERSION}; rerun `ovd prepare flickr30k --force`',
            field='version',
        )
    if not isinstance(data.get('images'), list):
        raise Flickr30kFormatError(path, 'missing or not a list', field='images')


def load_index(path: Path) -> List[Dict[str, Any]]:
    """Image records of an index written by ``ovd prepare flickr30k``."""
    return read_index_file(path)['images']


def iter_raw_records(
    root: Path,
    split_list: Path,
    sentences_dir: str = 'Sentences',
    annotations_dir: str = 'Annotations',
    bad_boxes: str = 'error',
) -> Iterator[Dict[str, Any]]:
    """Records of every image of a split list (a path, e.g. ``root / 'test.txt'``), in list order; the sentence and
    annotation files are read under ``root``."""
    root = Path(root)
    for image_id in read_split_ids(split_list):
        yield load_raw_image_record(root, image_id, sentences_dir, annotations_dir, bad_boxes)


def record_phrases(
    record: Dict[str, Any], sentence: Dict[str, Any], box_convention: str = 'raw', keep_boxless: bool = False
) -> List[Tuple[int, int, int, List[str], List[List[float]]]]:
    """The phrases of one sentence of ``record`` as ``(start, end, entity, types, boxes)``, in sentence order.

    A phrase counts when its entity has boxes (MDETR's ``flickr_eval.py`` rule: ``nobndbox``, ``scene``-only and
    ``notvisual`` phrases are not evaluated); ``keep_boxless`` keeps the others too, with no boxes. The position
    of a phrase in the returned list is its label. Boxes are in ``box_convention``.
    """
    out = []
    for start, end, entity, types, _ in sentence['phrases']:
        boxes = record['boxes'].get(str(entity), [])
        if not boxes and not keep_boxless:
            continue
        out.append((start, end, entity, types.split('/'), [to_box_convention(b, box_convention) for b in boxes]))
    return out


def build_index(
    root: Path,
    split_file: str,
    sentences_dir: str = 'Sentences',
    annotations_dir: str = 'Annotations',
    bad_boxes: str = 'error',
    progress: bool = False,
) -> Dict[str, Any]:
    """Validate a split of the raw release and return its compact index (what ``ovd prepare flickr30k``
    writes).

    Returns: ``{'format', 'version', 'split', 'box_convention': 'raw', 'images': [record, ...], 'counts':
        {...}}``.
    """
    ids: Sequence[str] = read_split_ids(root / split_file)
    if progress:
        from tqdm import tqdm

        ids = tqdm(ids, desc=f'flickr30k {Path(split_file).stem}', unit='image')
    images = [load_raw_image_record(root, i, sentences_dir, annotations_dir, bad_boxes) for i in ids]
    counts = {
        'images': len(images),
        'sentences': sum(len(r['sentences']) for r in images),
        'phrases': sum(len(s['phrases']) for r in images for s in r['sentences']),
        'entity_boxes': sum(len(v) for r in images for v in r['boxes'].values()),
        'bad_boxes_dropped': sum(r['bad_boxes'] for r in images),
    }
    return {
        'format': INDEX_FORMAT,
        'version': INDEX_VERSION,
        'split': Path(split_file).stem,
        'box_convention': 'raw',
        'images': images,
        'counts': counts,
    }
