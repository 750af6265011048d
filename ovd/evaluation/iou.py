"""Pair-IoU callbacks for the engine: boxes (vectorised) and masks (pycocotools RLE)."""
from typing import Any, List

import numpy as np

from .engine import PairIoU, box_iou_pairs
from .records import Detections, EvaluationInputError, GroundTruth


def box_pair_iou(gt: GroundTruth, dets: Detections, gt_crowd: np.ndarray) -> PairIoU:
    """IoU of (detection, ground truth) index pairs on xywh boxes; ``gt_crowd`` [G] bool."""

    def fn(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        return box_iou_pairs(dets.boxes[d], gt.ann_boxes[g], gt_crowd[g])

    return fn


def gt_rles(gt: GroundTruth) -> List[Any]:
    """Ground-truth segmentations as compressed RLE (polygons merged per object), as the official tools."""
    from pycocotools import mask as mask_utils
    if gt.ann_segmentations is None:
        raise EvaluationInputError(f'ground-truth file {gt.source}: mask AP needs "segmentation" in every '
                                   f'annotation')
    rows = gt.image_index(gt.ann_image_ids)
    out = []
    for i, seg in enumerate(gt.ann_segmentations):
        h, w = (int(v) for v in gt.image_hw[rows[i]])
        if isinstance(seg, list):
            out.append(mask_utils.merge(mask_utils.frPyObjects(seg, h, w)))
        elif isinstance(seg, dict) and isinstance(seg.get('counts'), list):
            out.append(mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg, dict):
            out.append(seg)
        else:
            raise EvaluationInputError(f'ground-truth file {gt.source}: annotations[{i}] '
                                       f'(id {gt.ann_ids[i]}): field "segmentation" is neither polygons '
                                       f'nor RLE')
    return out


def mask_pair_iou(gt: GroundTruth, dets: Detections, gt_crowd: np.ndarray) -> PairIoU:
    """IoU of (detection, ground truth) index pairs on RLE masks (pycocotools ``mask.iou``).

    The engine's pairs come as full (detections x ground truths) blocks per (image, category), detection
    major, so each block is one ``mask.iou`` call.
    """
    from pycocotools import mask as mask_utils
    if dets.segmentations is None:
        raise EvaluationInputError(f'results {dets.source}: mask AP needs a "segmentation" RLE per detection')
    g_rles = gt_rles(gt)
    group_of_gt = gt.ann_image_ids * (int(gt.category_ids.max(initial=0)) + 1) + gt.ann_category_ids

    def fn(d: np.ndarray, g: np.ndarray) -> np.ndarray:
        out = np.zeros(len(d))
        grp = group_of_gt[g]
        starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]])
        ends = np.r_[starts[1:], len(d)]
        for lo, hi in zip(starts, ends):
            gi = g[lo:hi]
            n_gt = len(np.unique(gi))
            di = d[lo:hi:n_gt]
            gi = gi[:n_gt]
            ious = mask_utils.iou([dets.segmentations[k] for k in di], [g_rles[k] for k in gi],
                                  [int(c) for c in gt_crowd[gi]])
            out[lo:hi] = np.asarray(ious, np.float64).reshape(-1)
        return out

    return fn


