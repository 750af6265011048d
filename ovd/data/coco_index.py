"""A compact, array-based index of a COCO-format annotation file (COCO, LVIS, Objects365).

Why not pycocotools/lvis-api: their index keeps every annotation as a Python dict (polygons included) plus
several per-image and per-category maps; for LVIS v1 train (1.27M boxes) that is gigabytes and tens of
seconds. Here the JSON is parsed once with an ``object_hook`` that turns each annotation into a few numbers
appended to typed arrays the moment it is parsed, so its dict and polygons are freed at once; images stay as
light records. When segmentations are not asked for, polygon values are blanked in the text before parsing
(one regex pass, cheaper than parsing their floats). Per-image grouping is one stable argsort.
"""
import json
import math
import os
import re
from array import array
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..hints import synthetic_data_hint
from .validation import AnnotationError, PathLike, require_keys, require_sections

ANNOTATION_KEYS = ('id', 'image_id', 'category_id', 'bbox')

# A polygon segmentation value: a list of lists holding only numbers. Parsing these floats is most of the cost
# of an LVIS/COCO file, so when masks are not wanted they are blanked in the text before parsing. The
# character class cannot cross a string or an object (no quotes, colons or braces), so nothing else can match,
# and a value it does not recognise is simply parsed as usual.
_POLYGONS = re.compile(r'"segmentation"\s*:\s*\[\s*\[[-+0-9.eE,\s\[\]]*\]\s*\]')
IMAGE_KEYS = ('id', 'height', 'width')
CATEGORY_KEYS = ('id', 'name')


class AnnotationCollector:
    """Appends annotation records to typed arrays; shared by the streaming hook and the dict path."""

    def __init__(self, file: PathLike, keep_segmentation: bool = False) -> None:
        self.file = file
        self.ids = array('q')
        self.image_ids = array('q')
        self.category_ids = array('q')
        self.bboxes = array('d')
        self.iscrowd = array('b')
        self.segmentations: Optional[List[Any]] = [] if keep_segmentation else None
        self.count = 0

    def add(self, rec: dict) -> None:
        index = self.count
        if not isinstance(rec, dict):
            raise AnnotationError(self.file, f'expected an object, got {type(rec).__name__}', 'annotations',
                                  index)
        for key in ANNOTATION_KEYS:
            if key not in rec:
                raise AnnotationError(self.file, 'missing key', 'annotations', index, rec.get('id'), key)
        bbox = rec['bbox']
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise AnnotationError(self.file, f'must be a list of 4 numbers [x, y, w, h], got {bbox!r}',
                                  'annotations', index, rec['id'], 'bbox')
        for key, target in (('id', self.ids), ('image_id', self.image_ids),
                            ('category_id', self.category_ids)):
            value = rec[key]
            if type(value) is not int:  # bool and float ids are errors too
                raise AnnotationError(self.file, f'must be an integer, got {value!r}', 'annotations', index,
                                      rec['id'] if key != 'id' else None, key)
            target.append(value)
        try:
            self.bboxes.extend(bbox)
        except TypeError:
            del self.ids[-1], self.image_ids[-1], self.category_ids[-1]
            raise AnnotationError(self.file, f'must be 4 numbers, got {bbox!r}', 'annotations', index,
                                  rec['id'], 'bbox') from None
        self.iscrowd.append(1 if rec.get('iscrowd', 0) else 0)
        if self.segmentations is not None:
            self.segmentations.append(rec.get('segmentation'))
        self.count += 1

    def make_hook(self):
        """The ``json.load`` object hook: annotations go into the arrays (fast path, locals bound once); any
        record the fast path does not accept goes through :meth:`add`, which raises the precise error."""
        ids, image_ids, category_ids = self.ids.append, self.image_ids.append, self.category_ids.append
        bboxes, iscrowd = self.bboxes.extend, self.iscrowd.append
        segms = self.segmentations.append if self.segmentations is not None else None
        add = self.add

        def hook(obj: dict) -> Any:
            # Annotations are the only records with 'image_id' or 'bbox'; images, categories, RLE dicts have
            # neither.
            if 'image_id' not in obj and 'bbox' not in obj:
                return obj
            try:
                bbox, ann_id, image_id, cat = obj['bbox'], obj['id'], obj['image_id'], obj['category_id']
                ok = (type(ann_id) is int and type(image_id) is int and type(cat) is int
                      and type(bbox) is list and len(bbox) == 4)
            except KeyError:
                ok = False
            if not ok:
                add(obj)  # raises
                return None
            try:
                bboxes(bbox)
            except TypeError:  # a non-number: the load fails, so the partial append is harmless
                add(obj)  # raises
            ids(ann_id)
            image_ids(image_id)
            category_ids(cat)
            iscrowd(1 if obj.get('iscrowd', 0) else 0)
            if segms is not None:
                segms(obj.get('segmentation'))
            self.count += 1
            return None

        return hook


@dataclass
class CocoIndex:
    """The content of a COCO-format file as arrays (annotations) and light lists (images, categories).

    Attributes:
        path (str): The file the index was read from.
        images (list[dict]): The raw image records, in file order.
        image_ids (np.ndarray): int64, shape (N,).
        ann_ids, ann_image_ids, ann_category_ids (np.ndarray): int64, shape (M,).
        ann_bboxes (np.ndarray): float64 ``[x, y, w, h]`` in pixels, shape (M, 4).
        ann_iscrowd (np.ndarray): bool, shape (M,).
        ann_segmentations (list | None): Raw segmentations, only when asked for.
        categories (list[dict]): The raw category records.
        extra (dict): Other top-level keys (``info``, ``licenses``), kept for writers.
    """
    path: str
    images: List[dict]
    image_ids: np.ndarray
    ann_ids: np.ndarray
    ann_image_ids: np.ndarray
    ann_category_ids: np.ndarray
    ann_bboxes: np.ndarray
    ann_iscrowd: np.ndarray
    categories: List[dict]
    ann_segmentations: Optional[List[Any]] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_images(self) -> int:
        return len(self.images)

    @property
    def num_annotations(self) -> int:
        return len(self.ann_ids)

    @property
    def category_ids(self) -> np.ndarray:
        return np.asarray([c['id'] for c in self.categories], dtype=np.int64)

    def annotation_image_positions(self) -> np.ndarray:
        """For each annotation, the position of its image in ``images`` (assumes references were checked)."""
        order = np.argsort(self.image_ids, kind='stable')
        pos = np.searchsorted(self.image_ids[order], self.ann_image_ids)
        return order[np.minimum(pos, max(len(order) - 1, 0))]


def build_index(path: PathLike, data: dict, collector: AnnotationCollector) -> CocoIndex:
    """Check the image and category records of ``data``; assemble the index with the collected annotations."""
    require_sections(path, data, ('images', 'annotations', 'categories'))
    images = data['images']
    image_ids = np.empty(len(images), dtype=np.int64)
    for i, rec in enumerate(images):
        require_keys(path, 'images', i, rec, IMAGE_KEYS)
        if 'file_name' not in rec and 'coco_url' not in rec:
            raise AnnotationError(path, "missing key (an image needs 'file_name' or 'coco_url')", 'images', i,
                                  rec.get('id'), 'file_name')
        if type(rec['id']) is not int:
            raise AnnotationError(path, f"must be an integer, got {rec['id']!r}", 'images', i, None, 'id')
        for key in ('height', 'width'):
            if not isinstance(rec[key], (int, float)) or isinstance(rec[key], bool) or \
                    not math.isfinite(rec[key]) or rec[key] <= 0:
                raise AnnotationError(path, f'must be a positive number, got {rec[key]!r}', 'images', i,
                                      rec['id'], key)
        image_ids[i] = rec['id']
    for i, rec in enumerate(data['categories']):
        require_keys(path, 'categories', i, rec, CATEGORY_KEYS)
        if type(rec['id']) is not int:
            raise AnnotationError(path, f"must be an integer, got {rec['id']!r}", 'categories', i, None, 'id')
    bboxes = np.frombuffer(collector.bboxes, dtype=np.float64).reshape(-1, 4).copy() if collector.count \
        else np.zeros((0, 4), dtype=np.float64)
    extra = {k: v for k, v in data.items() if k not in ('images', 'annotations', 'categories')}
    return CocoIndex(
        path=str(path), images=images, image_ids=image_ids,
        ann_ids=np.frombuffer(collector.ids, dtype=np.int64).copy(),
        ann_image_ids=np.frombuffer(collector.image_ids, dtype=np.int64).copy(),
        ann_category_ids=np.frombuffer(collector.category_ids, dtype=np.int64).copy(),
        ann_bboxes=bboxes, ann_iscrowd=np.frombuffer(collector.iscrowd, dtype=np.int8).astype(bool),
        categories=data['categories'], ann_segmentations=collector.segmentations, extra=extra)


def load_coco_index(path: PathLike, keep_segmentation: bool = False) -> CocoIndex:
    """Parse a COCO-format JSON file into a :class:`CocoIndex` in one pass.

    Args:
        path (str | PathLike): The annotation file.
        keep_segmentation (bool): Keep each annotation's ``segmentation`` (costs the memory of all polygons).

    Returns:
        CocoIndex: The index. Malformed JSON, missing keys and wrongly typed ids raise
        :class:`~ovd.data.validation.AnnotationError` naming file, record and field.
    """
    if not os.path.isfile(path):
        raise AnnotationError(path, 'file not found' + synthetic_data_hint(path))
    collector = AnnotationCollector(path, keep_segmentation)
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8')
        if not keep_segmentation:
            text = _POLYGONS.sub('"segmentation":[]', text)
        data = json.loads(text, object_hook=collector.make_hook())
    except json.JSONDecodeError as err:
        if not keep_segmentation:  # report the position in the file as written, not in the stripped text
            index = load_coco_index(path, keep_segmentation=True)
            index.ann_segmentations = None
            return index
        raise AnnotationError(path, f'malformed JSON at line {err.lineno} column {err.colno}: {err.msg}') \
            from None
    except UnicodeDecodeError as err:
        raise AnnotationError(path, f'not UTF-8 text ({err.reason} at byte {err.start})') from None
    del text
    if isinstance(data, dict) and isinstance(data.get('annotations'), list):
        for i, rec in enumerate(data['annotations']):
            if rec is not None:  # a record the hook did not recognise: it has neither image_id nor bbox
                require_keys(path, 'annotations', i, rec, ANNOTATION_KEYS)
    return build_index(path, data, collector)


def coco_index_from_dict(data: Any, path: PathLike, keep_segmentation: bool = False) -> CocoIndex:
    """Build a :class:`CocoIndex` from an already loaded annotation dict (what preparers hold)."""
    require_sections(path, data, ('images', 'annotations', 'categories'))
    collector = AnnotationCollector(path, keep_segmentation)
    for rec in data['annotations']:
        collector.add(rec)
    return build_index(path, data, collector)


def group_by_image(ann_image_pos: np.ndarray, num_images: int) -> Sequence[np.ndarray]:
    """Annotation order grouped by image: ``(order, starts)`` so that image ``i`` owns
    ``order[starts[i]:starts[i + 1]]`` (file order kept within an image)."""
    order = np.argsort(ann_image_pos, kind='stable')
    counts = np.bincount(ann_image_pos, minlength=num_images)
    starts = np.zeros(num_images + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, starts
