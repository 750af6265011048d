"""The 'coco' protocol: COCO AP as pycocotools ``COCOeval`` computes it (COCO and Objects365).

IoU 0.50:0.95, 101 recall points, area ranges small/medium/large, at most 1, 10 and 100 detections per
(image, category) (highest scores; ties keep file order), crowd ground truth (``iscrowd``) ignored and
matchable by several detections (crowd IoU = intersection / detection area). Objects365 is evaluated with
the same COCOeval protocol (its official evaluation uses the COCO API).

Metric names: AP, AP50, AP75, APs, APm, APl, AR@1, AR@10, AR@100, ARs@100, ARm@100, ARl@100
(pycocotools' ``stats[0..11]`` in that order).
"""
from typing import Dict, Sequence, Tuple

import numpy as np

from . import engine
from .iou import box_pair_iou, mask_pair_iou
from .records import Detections, GroundTruth, check_detections, drop_unknown_categories

MAX_DETS = (1, 10, 100)


def coco_arrays(gt: GroundTruth, dets: Detections, iou_type: str = 'bbox',
                max_dets: Sequence[int] = MAX_DETS) -> Tuple[np.ndarray, np.ndarray]:
    """COCO precision and recall arrays.

    Args:
        gt: COCO-style ground truth.
        dets: detections (xywh boxes; RLE masks for ``iou_type='segm'``).
        iou_type: 'bbox' or 'segm'.
        max_dets: per-(image, category) limits, ascending.

    Returns:
        precision [T, R, K, A, M] and recall [T, K, A, M] (M = len(max_dets)), -1 where a category has no
        non-crowd ground truth.
    """
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f'iou_type must be "bbox" or "segm", got {iou_type!r}')
    check_detections(dets, gt)
    dets = drop_unknown_categories(dets, gt)
    crowd = gt.ann_iscrowd
    pair_iou = (mask_pair_iou if iou_type == 'segm' else box_pair_iou)(gt, dets, crowd)
    truth = engine.GroundTruthRows(
        len(gt.image_ids), len(gt.category_ids), image=gt.image_index(gt.ann_image_ids),
        category=gt.category_index(gt.ann_category_ids), area=gt.ann_areas,
        ignore=crowd,  # pycocotools: ignore = iscrowd (any "ignore" field is overwritten)
        crowd=crowd, id_is_zero=gt.ann_ids == 0)
    found = engine.DetectionRows(
        image=gt.image_index(dets.image_ids), category=gt.category_index(dets.category_ids), score=dets.scores,
        area=dets.area(), ignore_unmatched=np.zeros(len(dets), bool))
    precision, recall, _, _ = engine.evaluate_groups(truth, found, pair_iou, max_dets=list(max_dets))
    return precision, recall


def summarize_coco(precision: np.ndarray, recall: np.ndarray, max_dets: Sequence[int] = MAX_DETS,
                   cats: np.ndarray = None) -> Dict[str, float]:
    """pycocotools' 12 summary numbers by name, optionally over a subset of category indices."""
    last = len(max_dets) - 1
    s = engine.summarize
    out = {
        'AP': s(precision, recall, max_det=last, cats=cats),
        'AP50': s(precision, recall, iou=0.5, max_det=last, cats=cats),
        'AP75': s(precision, recall, iou=0.75, max_det=last, cats=cats),
        'APs': s(precision, recall, area=1, max_det=last, cats=cats),
        'APm': s(precision, recall, area=2, max_det=last, cats=cats),
        'APl': s(precision, recall, area=3, max_det=last, cats=cats),
    }
    for m, limit in enumerate(max_dets):
        out[f'AR@{limit}'] = s(precision, recall, max_det=m, kind='ar', cats=cats)
    for a, label in enumerate(engine.AREA_LABELS[1:], start=1):
        out[f'AR{label[0]}@{max_dets[last]}'] = s(precision, recall, area=a, max_det=last, kind='ar',
                                                   cats=cats)
    return out


def evaluate_coco(gt: GroundTruth, dets: Detections, iou_type: str = 'bbox',
                  max_dets: Sequence[int] = MAX_DETS) -> Dict[str, float]:
    """The 'coco' metrics (COCO, Objects365).

    Args:
        gt: COCO-style ground truth.
        dets: detections; empty detections give 0 for every category with ground truth.
        iou_type: 'bbox' or 'segm' (mask AP).
        max_dets: per-(image, category) limits.

    Returns:
        {'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR@1', 'AR@10', 'AR@100', 'ARs@100', 'ARm@100',
        'ARl@100'}; -1 where nothing can be averaged (as pycocotools).
    """
    precision, recall = coco_arrays(gt, dets, iou_type, max_dets)
    return summarize_coco(precision, recall, max_dets)
