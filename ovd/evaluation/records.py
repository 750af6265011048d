"""Ground truth and detections as arrays, read from COCO/LVIS annotation and results files with checks.

The protocol functions take these two containers; the readers turn the standard files (or their parsed
JSON) into them and reject bad input with an error naming the file, the record and the field. Where the
official tools silently drop records (detections of unknown categories; for LVIS, zero-area
detections), the same records are dropped here and a warning gives the count.
"""
import itertools
import json
import numbers
import os
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

PathOrData = Union[str, os.PathLike, Dict[str, Any], List[Dict[str, Any]]]


class EvaluationInputError(ValueError):
    """Bad ground truth or results: the message names the file, the record and the field."""


@dataclass
class GroundTruth:
    """Detection ground truth of a COCO-style file (COCO, Objects365, LVIS) as arrays.

    Images are ranked by id (``image_ids`` sorted) and categories by id (``category_ids`` sorted);
    annotations keep the file's order (it breaks ties, as in the official tools).

    Attributes:
        image_ids: [I] int64, sorted. image_hw: [I, 2] height, width (0 when absent).
        category_ids: [K] int64, sorted. category_names: K names.
        category_frequency: [K] 'r'/'c'/'f' (LVIS) or None.
        neg_category_ids / not_exhaustive_category_ids: per image (aligned with image_ids) arrays of
            category ids (LVIS) or None.
        ann_ids, ann_image_ids, ann_category_ids: [G] int64. ann_boxes: [G, 4] xywh float64.
        ann_areas: [G] float64 (the file's ``area``). ann_iscrowd, ann_ignore: [G] bool.
        ann_segmentations: G polygon lists / RLE dicts, or None when the file has none.
        source: the file (for messages).
    """
    image_ids: np.ndarray
    image_hw: np.ndarray
    category_ids: np.ndarray
    category_names: List[str]
    ann_ids: np.ndarray
    ann_image_ids: np.ndarray
    ann_category_ids: np.ndarray
    ann_boxes: np.ndarray
    ann_areas: np.ndarray
    ann_iscrowd: np.ndarray
    ann_ignore: np.ndarray
    category_frequency: Optional[np.ndarray] = None
    neg_category_ids: Optional[List[np.ndarray]] = None
    not_exhaustive_category_ids: Optional[List[np.ndarray]] = None
    ann_segmentations: Optional[List[Any]] = None
    source: str = '<ground truth>'

    def image_index(self, ids: np.ndarray) -> np.ndarray:
        """[N] image ids -> [N] index into ``image_ids`` (ids must be known)."""
        return np.searchsorted(self.image_ids, ids)

    def category_index(self, ids: np.ndarray) -> np.ndarray:
        """[N] category ids -> [N] index into ``category_ids``, -1 for unknown ids."""
        idx = np.searchsorted(self.category_ids, ids)
        idx = np.minimum(idx, len(self.category_ids) - 1)
        return np.where(self.category_ids[idx] == ids, idx, -1) if len(self.category_ids) else \
            np.full(len(ids), -1)


@dataclass
class Detections:
    """Detections in the COCO results convention as arrays.

    Attributes:
        image_ids, category_ids: [D] int64 dataset ids.
        boxes: [D, 4] xywh float64 in pixels of the original image.
        scores: [D] float64.
        segmentations: D compressed RLE dicts (``size``, ``counts``) or None for box-only results.
        areas: [D] areas for the area ranges, or None for box areas ``w * h``. The official loaders use
            the box area whenever a results file has boxes, the mask area only for mask-only results.
        source: the results file (for messages).
    """
    image_ids: np.ndarray
    category_ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    segmentations: Optional[List[Dict[str, Any]]] = None
    areas: Optional[np.ndarray] = None
    source: str = '<results>'

    def __len__(self) -> int:
        return len(self.scores)

    def area(self) -> np.ndarray:
        """[D] area per detection used for the area ranges."""
        return self.areas if self.areas is not None else self.boxes[:, 2] * self.boxes[:, 3]

    def subset(self, keep: np.ndarray) -> 'Detections':
        """The detections selected by a [D] bool mask or index array, in their order."""
        segs = None
        if self.segmentations is not None:
            segs = [self.segmentations[i] for i in np.arange(len(self))[keep]]
        areas = None if self.areas is None else self.areas[keep]
        return Detections(self.image_ids[keep], self.category_ids[keep], self.boxes[keep],
                          self.scores[keep], segs, areas, self.source)

    @classmethod
    def empty(cls) -> 'Detections':
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))


def _read_json(path: Union[str, os.PathLike], what: str) -> Any:
    try:
        with open(path, 'r') as f:
            return json.load(f)
    except FileNotFoundError:
        raise EvaluationInputError(f'{what} file {path} does not exist') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvaluationInputError(f'{what} file {path} is not valid JSON: {err}') from None


def _need(record: Dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(record, dict):
        raise EvaluationInputError(f'{where}: expected an object, got {type(record).__name__}')
    if key not in record:
        raise EvaluationInputError(f'{where}: missing field "{key}"')
    return record[key]


def _id(value: Any, where: str, key: str) -> int:
    """``value`` as an id, or an error: an integral float (7.0) names the same record for pycocotools, while
    7.5, "7", true or null name none (numpy would silently turn them into 7, 7, 1 and fail on null)."""
    if isinstance(value, (bool, np.bool_)) or not (isinstance(value, numbers.Integral) or (
            isinstance(value, float) and value.is_integer())):
        raise EvaluationInputError(f'{where}: field "{key}" must be an integer id, got '
                                   f'{json.dumps(value, default=repr)}')
    return int(value)


def load_ground_truth(gt: PathOrData) -> GroundTruth:
    """Read a COCO/LVIS/Objects365 annotation file (path or parsed dict) into :class:`GroundTruth`.

    Args:
        gt: path to the JSON file, or its parsed content.

    Returns:
        The ground truth; LVIS fields (``frequency``, ``neg_category_ids``,
        ``not_exhaustive_category_ids``) are filled when present.
    """
    source = str(gt) if isinstance(gt, (str, os.PathLike)) else '<ground truth dict>'
    data = _read_json(gt, 'ground-truth') if isinstance(gt, (str, os.PathLike)) else gt
    if not isinstance(data, dict):
        raise EvaluationInputError(f'ground-truth file {source}: expected a JSON object with "images", '
                                   f'"annotations" and "categories", got {type(data).__name__}')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise EvaluationInputError(f'ground-truth file {source}: missing list "{key}"')
    for section in ('images', 'categories'):
        for i, rec in enumerate(data[section]):
            where = f'ground-truth file {source}: {section}[{i}]'
            _id(_need(rec, 'id', where), where, 'id')
    images = sorted(data['images'], key=lambda im: im['id'])
    image_ids = np.array([im['id'] for im in images], dtype=np.int64)
    if len(np.unique(image_ids)) != len(image_ids):
        raise EvaluationInputError(f'ground-truth file {source}: duplicate image ids')
    image_hw = _image_sizes(images, source)
    cats = sorted(data['categories'], key=lambda c: c['id'])
    category_ids = np.array([c['id'] for c in cats], dtype=np.int64)
    names = [str(c.get('name', c['id'])) for c in cats]
    frequency = None
    if cats and all('frequency' in c for c in cats):
        frequency = np.array([c['frequency'] for c in cats])
    neg = nel = None
    if images and all('neg_category_ids' in im for im in images):
        neg = [np.asarray(im['neg_category_ids'], np.int64) for im in images]
        nel = [np.asarray(im.get('not_exhaustive_category_ids', []), np.int64) for im in images]

    anns = data['annotations']
    n = len(anns)
    ids = np.empty(n, np.int64)
    img = np.empty(n, np.int64)
    cat = np.empty(n, np.int64)
    boxes = np.empty((n, 4), np.float64)
    areas = np.empty(n, np.float64)
    crowd = np.zeros(n, bool)
    ignore = np.zeros(n, bool)
    segs: Optional[List[Any]] = [] if n and all('segmentation' in a for a in anns) else None
    for i, a in enumerate(anns):
        where = f'ground-truth file {source}: annotations[{i}]'
        ids[i] = _id(_need(a, 'id', where), where, 'id')
        img[i] = _id(_need(a, 'image_id', where), where, 'image_id')
        cat[i] = _id(_need(a, 'category_id', where), where, 'category_id')
        bbox = _need(a, 'bbox', where)
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise EvaluationInputError(f'{where} (id {a["id"]}): field "bbox" must be [x, y, w, h]')
        boxes[i] = bbox
        areas[i] = a['area'] if 'area' in a else bbox[2] * bbox[3]
        crowd[i] = bool(a.get('iscrowd', 0))
        ignore[i] = bool(a.get('ignore', 0))
        if segs is not None:
            segs.append(a['segmentation'])
    known = np.isin(img, image_ids)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise EvaluationInputError(f'ground-truth file {source}: annotations[{i}] (id {ids[i]}): '
                                   f'image_id {img[i]} is not in "images"')
    known = np.isin(cat, category_ids)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise EvaluationInputError(f'ground-truth file {source}: annotations[{i}] (id {ids[i]}): '
                                   f'category_id {cat[i]} is not in "categories"')
    check_ground_truth(source, data, image_ids, image_hw, category_ids, ids, img, boxes, frequency, segs)
    return GroundTruth(image_ids, image_hw, category_ids, names, ids, img, cat, boxes, areas, crowd, ignore,
                       frequency, neg, nel, segs, source)


LVIS_FREQUENCIES = ('r', 'c', 'f')


def _image_sizes(images: List[Dict[str, Any]], source: str) -> np.ndarray:
    """[N, 2] (height, width) of the images (0 where absent); a size that is not a finite, non-negative number
    is an error naming the image."""
    sizes = np.zeros((len(images), 2), np.int64)
    for i, im in enumerate(images):
        for j, key in enumerate(('height', 'width')):
            value = im.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) \
                    or value < 0 or value > np.iinfo(np.int64).max:
                raise EvaluationInputError(f'ground-truth file {source}: images (id {im["id"]}): field "{key}" '
                                           f'is {value!r}, not an image size')
            sizes[i, j] = value
    return sizes


def check_ground_truth(source: str, data: Dict[str, Any], image_ids: np.ndarray, image_hw: np.ndarray,
                       category_ids: np.ndarray, ann_ids: np.ndarray, ann_image_ids: np.ndarray,
                       boxes: np.ndarray, frequency: Optional[np.ndarray], segs: Optional[List[Any]]) -> None:
    """The checks a ground-truth file must pass beyond its structure, each failure naming the record and field:
    unique annotation ids, finite boxes of non-negative size, LVIS frequencies r/c/f, negative and
    not-exhaustive category ids that are categories, RLE masks the size of their image."""
    where = f'ground-truth file {source}'
    if len(ann_ids) > 1:
        order = np.argsort(ann_ids, kind='stable')
        dup = np.flatnonzero(ann_ids[order][1:] == ann_ids[order][:-1])
        if len(dup):
            i = int(order[dup + 1].min())
            raise EvaluationInputError(f'{where}: annotations[{i}] (id {ann_ids[i]}): field "id": duplicate id '
                                       f'(already used by an earlier annotation)')
    bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(f'{where}: annotations[{i}] (id {ann_ids[i]}): field "bbox" '
                                   f'{boxes[i].tolist()} has a negative or non-finite width/height '
                                   f'(boxes are [x, y, width, height])')
    if frequency is not None:
        for k, freq in enumerate(frequency.tolist()):
            if freq not in LVIS_FREQUENCIES:
                raise EvaluationInputError(f'{where}: categories (id {category_ids[k]}): field "frequency" is '
                                           f'{freq!r}, expected one of {list(LVIS_FREQUENCIES)}')
    known = set(category_ids.tolist())
    for i, im in enumerate(data['images']):
        for key in ('neg_category_ids', 'not_exhaustive_category_ids'):
            unknown = [c for c in (im.get(key) or []) if c not in known] if isinstance(im, dict) else []
            if unknown:
                raise EvaluationInputError(f'{where}: images[{i}] (id {im.get("id")}): field "{key}": '
                                           f'category id {unknown[0]!r} is not in "categories"')
    if segs is not None:
        hw = {int(k): v for k, v in zip(image_ids.tolist(), image_hw.tolist())}
        for i, seg in enumerate(segs):
            if isinstance(seg, dict) and 'size' in seg:
                want = hw.get(int(ann_image_ids[i]))
                if want is not None and all(want) and list(seg['size']) != list(want):
                    raise EvaluationInputError(f'{where}: annotations[{i}] (id {ann_ids[i]}): field '
                                               f'"segmentation.size" {list(seg["size"])} is not the image\'s '
                                               f'[height, width] {list(want)}')


def load_results(results: PathOrData, gt: GroundTruth) -> Detections:
    """Read a COCO/LVIS results file (path or parsed list) into :class:`Detections`, with checks.

    Each record needs ``image_id``, ``category_id``, ``score`` and ``bbox`` [x, y, w, h] and/or
    ``segmentation`` (compressed RLE). Unknown image ids, missing fields, values of the wrong JSON type (a
    non-integral, string or boolean id; a string, boolean or null score), non-finite scores or boxes and boxes
    with a negative width or height are errors naming the record; an empty list is valid.

    Args:
        results: path to the JSON results file or its parsed list.
        gt: the ground truth the results refer to.

    Returns:
        The detections in file order.
    """
    source = str(results) if isinstance(results, (str, os.PathLike)) else '<results list>'
    data = _read_json(results, 'results') if isinstance(results, (str, os.PathLike)) else results
    if not isinstance(data, list):
        raise EvaluationInputError(f'results file {source}: expected a JSON list of detections, '
                                   f'got {type(data).__name__}')
    n = len(data)
    if n == 0:
        dets = Detections.empty()
        dets.source = source
        return dets
    has_box = isinstance(data[0], dict) and 'bbox' in data[0]
    has_segm = isinstance(data[0], dict) and 'segmentation' in data[0]
    if not (has_box or has_segm):
        raise EvaluationInputError(f'results file {source}: record 0 has neither "bbox" nor "segmentation"')
    try:  # fast path: well-formed records (numpy would coerce 1.5, "7", true and null, so types are checked)
        img_values = [d['image_id'] for d in data]
        cat_values = [d['category_id'] for d in data]
        score_values = [d['score'] for d in data]
        if not (set(map(type, img_values)) | set(map(type, cat_values)) <= {int}
                and set(map(type, score_values)) <= {int, float}):
            raise TypeError('a value of the wrong JSON type')
        img = np.array(img_values, dtype=np.int64)
        cat = np.array(cat_values, dtype=np.int64)
        scores = np.array(score_values, dtype=np.float64)
        boxes = None
        if has_box:
            flat = list(itertools.chain.from_iterable([d['bbox'] for d in data]))
            if len(flat) != 4 * n or not set(map(type, flat)) <= {int, float}:
                raise ValueError('a bbox is not [x, y, w, h]')
            boxes = np.array(flat, dtype=np.float64).reshape(n, 4)
    except (KeyError, TypeError, ValueError):
        img, cat, scores, boxes = _slow_parse(data, source, has_box)
    if boxes is not None and boxes.shape != (n, 4):
        _slow_parse(data, source, has_box)
    segs = None
    if has_segm:
        segs = []
        for i, d in enumerate(data):
            seg = _need(d, 'segmentation', f'results file {source}: record {i}')
            if not isinstance(seg, dict) or 'counts' not in seg or 'size' not in seg:
                raise EvaluationInputError(f'results file {source}: record {i}: field "segmentation" '
                                           f'must be a compressed RLE with "size" and "counts"')
            segs.append(seg)
    areas = None
    if boxes is None:  # mask-only results: box and area from the mask, as the official loaders
        boxes, areas = rle_boxes_and_areas(segs)
    dets = Detections(img, cat, boxes, scores, segs, areas, source)
    check_detections(dets, gt)
    return dets


def _slow_parse(data: Sequence[Any], source: str, has_box: bool):
    img, cat, scores, boxes = [], [], [], []
    for i, d in enumerate(data):
        where = f'results file {source}: record {i}'
        img.append(_id(_need(d, 'image_id', where), where, 'image_id'))
        cat.append(_id(_need(d, 'category_id', where), where, 'category_id'))
        score = _need(d, 'score', where)
        if isinstance(score, (bool, np.bool_)) or not isinstance(score, numbers.Real):
            raise EvaluationInputError(f'{where}: field "score" must be a number, got '
                                       f'{json.dumps(score, default=repr)}')
        scores.append(score)
        if has_box:
            bbox = _need(d, 'bbox', where)
            if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
                raise EvaluationInputError(f'{where}: field "bbox" must be 4 numbers [x, y, w, h], '
                                           f'got {bbox!r}')
            boxes.append(bbox)
    return (np.array(img, np.int64), np.array(cat, np.int64), np.array(scores, np.float64),
            np.array(boxes, np.float64).reshape(-1, 4) if has_box else None)


def check_detections(dets: Detections, gt: GroundTruth) -> None:
    """Raise :class:`EvaluationInputError` naming the first bad record (by index in the results).

    Checks: finite scores, finite boxes with non-negative width and height, image ids present in the
    ground truth. (Zero-area boxes are the protocols' business: LVIS drops them, COCO counts them.)
    """
    where = f'results {dets.source}'
    bad = ~np.isfinite(dets.scores)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(f'{where}: record {i}: field "score" is {dets.scores[i]} (not finite); '
                                   f'{int(bad.sum())} such records')
    bad = ~np.isfinite(dets.boxes).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(f'{where}: record {i}: field "bbox" {dets.boxes[i].tolist()} is not '
                                   f'finite; {int(bad.sum())} such records')
    bad = (dets.boxes[:, 2] < 0) | (dets.boxes[:, 3] < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(f'{where}: record {i}: field "bbox" {dets.boxes[i].tolist()} has a '
                                   f'negative width or height (expected [x, y, w, h]); '
                                   f'{int(bad.sum())} such records')
    known = np.isin(dets.image_ids, gt.image_ids)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise EvaluationInputError(f'{where}: record {i}: image_id {dets.image_ids[i]} is not in the '
                                   f'ground truth {gt.source}; {int((~known).sum())} such records')


def drop_unknown_categories(dets: Detections, gt: GroundTruth) -> Detections:
    """Drop detections whose category is not in the ground truth (the official tools ignore them), warning."""
    known = np.isin(dets.category_ids, gt.category_ids)
    if known.all():
        return dets
    bad = np.unique(dets.category_ids[~known])
    warnings.warn(f'results {dets.source}: {int((~known).sum())} detections of {len(bad)} category ids not '
                  f'in the ground truth {gt.source} are ignored (first: {bad[:5].tolist()})', stacklevel=3)
    return dets.subset(known)


def rle_boxes_and_areas(rles: List[Dict[str, Any]]):
    """[D, 4] xywh boxes and [D] areas of compressed RLEs.

    pycocotools' list versions overflow on numpy 2 beyond 255 masks (they size an array with a uint8
    tuple), so they are called on chunks of 255.
    """
    from pycocotools import mask as mask_utils
    boxes = [np.zeros((0, 4))]
    areas = [np.zeros(0)]
    for lo in range(0, len(rles), 255):
        chunk = rles[lo:lo + 255]
        boxes.append(np.asarray(mask_utils.toBbox(chunk), np.float64).reshape(-1, 4))
        areas.append(np.asarray(mask_utils.area(chunk), np.float64).reshape(-1))
    return np.concatenate(boxes), np.concatenate(areas)


__all__ = ['GroundTruth', 'Detections', 'EvaluationInputError', 'load_ground_truth', 'load_results',
           'check_detections', 'drop_unknown_categories', 'rle_boxes_and_areas']
