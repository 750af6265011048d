"""Input validation for annotation files: one error type that names file, record and field, and the checks.

Used by ``ovd prepare`` (every preparer validates before it writes anything) and by the dataset classes at
load time. Checks run on the compact arrays of :class:`ovd.data.coco_index.CocoIndex`, so validating an
LVIS-train-sized file costs a few numpy passes, not a Python loop over a million records.
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

PathLike = Union[str, os.PathLike]

#: How far (pixels) a box edge may lie beyond the image border and still count as inside. Boxes derived from
#: polygons end a fraction of a pixel past the edge in real COCO/LVIS files, and a 1-based inclusive box
#: (Flickr30k Entities, Objects365 exports) may reach one pixel further; the training pipelines clip these.
#: Anything beyond is a broken record (wrong image, swapped width/height, xyxy read as xywh).
BOX_BORDER_TOLERANCE = 1.0


class AnnotationError(ValueError):
    """Bad input in an annotation file.

    The message reads ``<file>: <section>[<index>] (id=<id>) field '<field>': <problem>``, with the parts
    that are known, so a user can jump straight to the offending record.

    Args:
        file (str | PathLike): The annotation file.
        problem (str): What is wrong.
        section (str, optional): The top-level list (``'images'``, ``'annotations'``, ``'categories'``).
        index (int, optional): Position of the record in that list.
        record_id (Any, optional): The record's ``id`` when it has one.
        field (str, optional): The offending key.
    """

    def __init__(self, file: PathLike, problem: str, section: Optional[str] = None,
                 index: Optional[int] = None, record_id: Any = None, field: Optional[str] = None) -> None:
        self.file = str(file)
        self.problem = problem
        self.section = section
        self.index = index
        self.record_id = record_id
        self.field = field
        parts = [self.file]
        if section is not None:
            record = section if index is None else f'{section}[{index}]'
            if record_id is not None:
                record += f' (id={record_id})'
            parts.append(record)
        if field is not None:
            parts.append(f'field {field!r}')
        super().__init__(': '.join([*parts, problem]))


def load_json(path: PathLike) -> Any:
    """Read a JSON file; malformed JSON raises :class:`AnnotationError` with line and column."""
    path = Path(path)
    if not path.is_file():
        from ..hints import synthetic_data_hint
        raise AnnotationError(path, 'file not found' + synthetic_data_hint(path))
    try:
        with open(path, 'rb') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise AnnotationError(path, f'malformed JSON at line {err.lineno} column {err.colno}: {err.msg}') \
            from None
    except UnicodeDecodeError as err:
        raise AnnotationError(path, f'not UTF-8 text ({err.reason} at byte {err.start})') from None


def require_keys(file: PathLike, section: str, index: int, record: Any, keys: Iterable[str]) -> None:
    """Raise if ``record`` is not a dict or lacks one of ``keys``."""
    if not isinstance(record, dict):
        raise AnnotationError(file, f'expected an object, got {type(record).__name__}', section, index)
    for key in keys:
        if key not in record:
            raise AnnotationError(file, 'missing key', section, index, record.get('id'), key)


def require_sections(file: PathLike, data: Any, sections: Sequence[str]) -> None:
    """Raise unless ``data`` is an object whose ``sections`` are lists."""
    if not isinstance(data, dict):
        raise AnnotationError(file, f'top level must be an object, got {type(data).__name__}')
    for name in sections:
        if name not in data:
            raise AnnotationError(file, f'missing top-level key {name!r}')
        if not isinstance(data[name], list):
            raise AnnotationError(file, f'top-level {name!r} must be a list, got {type(data[name]).__name__}')


def first_duplicate(values: np.ndarray) -> Optional[int]:
    """Index of the first element whose value already occurred earlier, or None."""
    if len(values) < 2:
        return None
    order = np.argsort(values, kind='stable')
    sorted_values = values[order]
    dup = np.nonzero(sorted_values[1:] == sorted_values[:-1])[0]
    if len(dup) == 0:
        return None
    # order[dup + 1] are later occurrences of a repeated value; report the earliest of them in file order.
    return int(order[dup + 1].min())


@dataclass
class ValidationReport:
    """What validation found that is not fatal (counts), for ``ovd prepare``'s summary."""
    num_images: int = 0
    num_annotations: int = 0
    dropped: Dict[str, int] = field(default_factory=dict)
    warnings: List[str] = field(default_factory=list)


def check_boxes(file: PathLike, ann_ids: np.ndarray, bboxes: np.ndarray, policy: str = 'error') -> np.ndarray:
    """Check xywh boxes have finite values and positive width and height.

    Args:
        file: The annotation file (for messages).
        ann_ids (np.ndarray): Annotation ids, shape (M,).
        bboxes (np.ndarray): Boxes ``[x, y, w, h]``, shape (M, 4).
        policy (str): ``'error'`` raises on the first bad box; ``'drop'`` returns the mask of good boxes.

    Returns:
        np.ndarray: Boolean mask of valid boxes, shape (M,).
    """
    good = np.isfinite(bboxes).all(axis=1) & (bboxes[:, 2] > 0) & (bboxes[:, 3] > 0)
    if policy == 'error' and not good.all():
        i = int(np.argmin(good))
        bad_field = 'bbox'
        box = bboxes[i].tolist()
        raise AnnotationError(file, f'non-positive or non-finite box size (w={box[2]:g}, h={box[3]:g}; '
                                    'boxes are [x, y, width, height])', 'annotations', i, int(ann_ids[i]),
                              bad_field)
    return good


def boxes_inside(bboxes: np.ndarray, widths: np.ndarray, heights: np.ndarray,
                 tolerance: float = BOX_BORDER_TOLERANCE) -> np.ndarray:
    """Boolean mask (M,) of xywh ``bboxes`` (M, 4) that lie inside their image (``widths``/``heights``, shape
    (M,)) up to ``tolerance`` pixels on every side; non-finite boxes are not inside."""
    x, y, w, h = np.asarray(bboxes, dtype=np.float64).T
    with np.errstate(invalid='ignore'):
        return (x >= -tolerance) & (y >= -tolerance) & (x + w <= widths + tolerance) & \
            (y + h <= heights + tolerance)


def check_boxes_inside(file: PathLike, ann_ids: np.ndarray, bboxes: np.ndarray, ann_image_ids: np.ndarray,
                       widths: np.ndarray, heights: np.ndarray, policy: str = 'error') -> np.ndarray:
    """Check xywh boxes lie inside their image (see :data:`BOX_BORDER_TOLERANCE`).

    Args:
        ann_image_ids (np.ndarray): Each annotation's ``image_id``, shape (M,) (for messages).
        widths, heights (np.ndarray): Each annotation's image size in pixels, shape (M,).
        policy (str): ``'error'`` raises on the first box outside; ``'drop'`` returns the mask of boxes inside.

    Returns:
        np.ndarray: Boolean mask of boxes inside their image, shape (M,).
    """
    inside = boxes_inside(bboxes, widths, heights)
    if policy == 'error' and not inside.all():
        i = int(np.argmin(inside))
        x, y, w, h = bboxes[i].tolist()
        raise AnnotationError(file, f'box [x, y, w, h] = [{x:g}, {y:g}, {w:g}, {h:g}] reaches outside its image '
                                    f'(image_id {int(ann_image_ids[i])}: {widths[i]:g}x{heights[i]:g}, so x+w = '
                                    f'{x + w:g} and y+h = {y + h:g}; allowed {BOX_BORDER_TOLERANCE:g} px past '
                                    'the border)', 'annotations', i, int(ann_ids[i]), 'bbox')
    return inside


def check_unique(file: PathLike, section: str, ids: np.ndarray) -> None:
    """Raise on the first repeated id in ``section``."""
    i = first_duplicate(ids)
    if i is not None:
        raise AnnotationError(file, f'duplicate id {int(ids[i])} (already used by an earlier record)',
                              section, i, int(ids[i]), 'id')


def check_references(file: PathLike, ann_ids: np.ndarray, ann_image_ids: np.ndarray,
                     image_ids: np.ndarray) -> np.ndarray:
    """Raise on the first annotation whose ``image_id`` is not an image of the file.

    Returns:
        np.ndarray: For each annotation, the position of its image in ``image_ids``, shape (M,).
    """
    order = np.argsort(image_ids, kind='stable')
    sorted_ids = image_ids[order]
    pos = np.searchsorted(sorted_ids, ann_image_ids)
    pos_clipped = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    found = (pos < len(sorted_ids)) & (sorted_ids[pos_clipped] == ann_image_ids) if len(sorted_ids) else \
        np.zeros(len(ann_image_ids), dtype=bool)
    if not found.all():
        i = int(np.argmin(found))
        raise AnnotationError(file, f'image_id {int(ann_image_ids[i])} is not in the file\'s images',
                              'annotations', i, int(ann_ids[i]), 'image_id')
    return order[pos_clipped] if len(sorted_ids) else pos


def check_category_ids(file: PathLike, ann_ids: np.ndarray, ann_category_ids: np.ndarray,
                       known_ids: np.ndarray, what: str, policy: str = 'error') -> np.ndarray:
    """Check annotation category ids are in ``known_ids`` (the file's categories or a vocabulary's ids).

    Args:
        policy (str): ``'error'`` raises on the first unknown id; ``'drop'`` returns the mask of known ones.

    Returns:
        np.ndarray: Boolean mask of annotations whose category is known, shape (M,).
    """
    known = np.isin(ann_category_ids, known_ids)
    if policy == 'error' and not known.all():
        i = int(np.argmin(known))
        raise AnnotationError(file, f'category_id {int(ann_category_ids[i])} is not in {what}',
                              'annotations', i, int(ann_ids[i]), 'category_id')
    return known


def check_image_files(file: PathLike, image_ids: np.ndarray, paths: Sequence[str],
                      skip: Iterable[str] = ()) -> List[int]:
    """Raise on the first image whose file does not exist (``--check-images``).

    Args:
        paths (Sequence[str]): Full paths of the image files, in file order.
        skip (Iterable[str]): Paths known to be missing (allowed, e.g. Objects365 v2's three); they are
            returned instead of raising.

    Returns:
        list[int]: Positions of the missing images that were in ``skip``.
    """
    skip = set(skip)
    skipped = []
    for i, path in enumerate(paths):
        if not os.path.isfile(path):
            if path in skip:
                skipped.append(i)
                continue
            raise AnnotationError(file, f'image file not found: {path}', 'images', i, int(image_ids[i]),
                                  'file_name')
    return skipped


@dataclass
class CocoValidation:
    """Result of :func:`validate_coco_index`: masks over annotations (shape (M,)) and counts."""
    image_pos: np.ndarray
    in_vocabulary: np.ndarray
    good_box: np.ndarray
    missing_images: List[int] = field(default_factory=list)

    @property
    def keep(self) -> np.ndarray:
        return self.in_vocabulary & self.good_box


def validate_coco_index(index: Any, vocabulary: Any = None, *, unknown_categories: str = 'error',
                        bad_boxes: str = 'error', image_paths: Optional[Sequence[str]] = None,
                        allowed_missing: Iterable[str] = (), require_inside: bool = False) -> CocoValidation:
    """Run every check on a parsed COCO-format file, in the order a user would fix them.

    Checks: duplicate image / annotation / category ids; category names that disagree with ``vocabulary``
    for the same id (wrong file or version); annotations whose ``image_id`` is not an image;
    annotation ``category_id`` not in the file's categories, then not in ``vocabulary``
    (``unknown_categories`` = ``'error'`` or ``'drop'``); boxes with non-positive or non-finite size
    (``bad_boxes``); with ``require_inside``, boxes outside their image (same policy); and, when
    ``image_paths`` is given, image files that do not exist (except ``allowed_missing``).

    Args:
        index (CocoIndex): The parsed file (see :func:`ovd.data.coco_index.load_coco_index`).
        vocabulary (Vocabulary, optional): The vocabulary annotations must belong to.
        unknown_categories (str): ``'error'`` or ``'drop'``.
        bad_boxes (str): ``'error'`` or ``'drop'``.
        image_paths (Sequence[str], optional): Full path of each image, in file order, to check on disk.
        allowed_missing (Iterable[str]): Paths that may be missing.
        require_inside (bool): Also treat boxes beyond their image's border as bad boxes (``ovd prepare``;
            the dataset classes keep mmdet's rule instead: only boxes not overlapping the image are dropped).

    Returns:
        CocoValidation: Masks of annotations to keep and the images found missing among the allowed ones.
    """
    path = index.path
    check_unique(path, 'images', index.image_ids)
    check_unique(path, 'annotations', index.ann_ids)
    check_unique(path, 'categories', index.category_ids)
    if vocabulary is not None:
        check_category_names(path, index.categories, vocabulary)
    image_pos = check_references(path, index.ann_ids, index.ann_image_ids, index.image_ids)
    check_category_ids(path, index.ann_ids, index.ann_category_ids, index.category_ids,
                       "the file's categories")
    if vocabulary is not None:
        in_vocab = check_category_ids(path, index.ann_ids, index.ann_category_ids, vocabulary.ids,
                                      f'vocabulary {vocabulary.name!r}', unknown_categories)
    else:
        in_vocab = np.ones(len(index.ann_ids), dtype=bool)
    good_box = check_boxes(path, index.ann_ids, index.ann_bboxes, bad_boxes)
    check_lvis_fields(path, index.images, index.categories)
    if require_inside and len(good_box):
        widths = np.asarray([im['width'] for im in index.images], dtype=np.float64)[image_pos]
        heights = np.asarray([im['height'] for im in index.images], dtype=np.float64)[image_pos]
        good_box = good_box & check_boxes_inside(path, index.ann_ids, index.ann_bboxes, index.ann_image_ids,
                                                 widths, heights, bad_boxes)
    missing: List[int] = []
    if image_paths is not None:
        missing = check_image_files(path, index.image_ids, image_paths, allowed_missing)
    return CocoValidation(image_pos=image_pos, in_vocabulary=in_vocab, good_box=good_box,
                          missing_images=missing)


LVIS_FREQUENCIES = ('r', 'c', 'f')


def check_lvis_fields(file: PathLike, images: Sequence[dict], categories: Sequence[dict]) -> None:
    """LVIS fields, where present: category ``frequency`` is r/c/f; an image's ``neg_category_ids`` and
    ``not_exhaustive_category_ids`` name categories of the file."""
    for i, cat in enumerate(categories):
        if 'frequency' in cat and cat['frequency'] not in LVIS_FREQUENCIES:
            raise AnnotationError(file, f'expected one of {list(LVIS_FREQUENCIES)}, got {cat["frequency"]!r}',
                                  'categories', i, cat.get('id'), 'frequency')
    known = {c.get('id') for c in categories}
    for i, im in enumerate(images):
        for key in ('neg_category_ids', 'not_exhaustive_category_ids'):
            value = im.get(key)
            if value is None:
                continue
            if not isinstance(value, list):
                raise AnnotationError(file, f'expected a list of category ids, got {type(value).__name__}',
                                      'images', i, im.get('id'), key)
            unknown = [c for c in value if type(c) is not int or c not in known]
            if unknown:
                raise AnnotationError(file, f'category id {unknown[0]!r} is not in the file\'s categories',
                                      'images', i, im.get('id'), key)


def check_category_names(file: PathLike, categories: Sequence[dict], vocabulary: Any) -> None:
    """Raise if a file category has a vocabulary id but neither its name nor its original (pre-fix) name.

    This is what catches a file of the wrong dataset or version (e.g. an Objects365 v1 file read with the v2
    vocabulary: same ids, different classes). Names are compared with surrounding spaces stripped.
    """
    for i, rec in enumerate(categories):
        if not vocabulary.has_id(rec['id']):
            continue
        cat = vocabulary[vocabulary.index_of_id(rec['id'])]
        name = str(rec['name']).strip()
        if name not in (cat.name, cat.source_name.strip()):
            raise AnnotationError(file, f'category name {rec["name"]!r} does not match vocabulary '
                                  f'{vocabulary.name!r} ({cat.source_name!r} for id {cat.id}); wrong file or '
                                  'dataset version?', 'categories', i, rec['id'], 'name')
