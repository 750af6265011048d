"""The OV-COCO protocols, named by the categories they evaluate: 'ov-coco-65' and 'ov-coco-80'.

The split is the 48 base / 17 novel COCO categories of Bansal et al. ("Zero-Shot Object Detection",
ECCV 2018) as used for open-vocabulary detection by OVR-CNN (Zareian et al., CVPR 2021).

- 'ov-coco-65' ("generalized", as OVR-CNN and Detic report): only the 65 split categories are evaluated
  (ground truth and detections of the other 15 are left out, which is what evaluating OVR-CNN's
  ``instances_val2017_all_2.json`` does), AP50 averaged over novel (17), base (48) and all (65).
- 'ov-coco-80' (as ovdet/BARON report): COCO evaluation over all 80 categories; novel and base average
  their 17 and 48 categories, all averages the 80.

Both use pycocotools' COCOeval arithmetic (:mod:`ovd.evaluation.coco_ap`). Metric names: AP50_novel,
AP50_base, AP50_all, AP_novel, AP_base, AP_all.
"""
from dataclasses import replace
from typing import Dict, Sequence

import numpy as np

from ovd.data.vocab import OV_COCO_BASE, OV_COCO_NOVEL  # the split, kept once in the vocabulary module

from . import engine
from .coco_ap import coco_arrays
from .records import Detections, EvaluationInputError, GroundTruth

VARIANTS = ('65', '80')


def _indices(gt: GroundTruth, names: Sequence[str]) -> np.ndarray:
    lookup = {n: i for i, n in enumerate(gt.category_names)}
    missing = [n for n in names if n not in lookup]
    if missing:
        raise EvaluationInputError(f'ground-truth file {gt.source}: OV-COCO categories {missing} are not in '
                                   f'"categories" (expected COCO category names)')
    return np.array(sorted(lookup[n] for n in names), np.int64)


def restrict_categories(gt: GroundTruth, keep_cat_idx: np.ndarray) -> GroundTruth:
    """The ground truth with only the categories at ``keep_cat_idx`` [k] (and their annotations)."""
    keep_ids = gt.category_ids[keep_cat_idx]
    ann = np.isin(gt.ann_category_ids, keep_ids)
    segs = None if gt.ann_segmentations is None else [s for s, k in zip(gt.ann_segmentations, ann) if k]
    freq = None if gt.category_frequency is None else gt.category_frequency[keep_cat_idx]
    return replace(gt, category_ids=keep_ids, category_names=[gt.category_names[i] for i in keep_cat_idx],
                   category_frequency=freq, ann_ids=gt.ann_ids[ann], ann_image_ids=gt.ann_image_ids[ann],
                   ann_category_ids=gt.ann_category_ids[ann], ann_boxes=gt.ann_boxes[ann],
                   ann_areas=gt.ann_areas[ann], ann_iscrowd=gt.ann_iscrowd[ann],
                   ann_ignore=gt.ann_ignore[ann],
                   ann_segmentations=segs)


def evaluate_ov_coco(gt: GroundTruth, dets: Detections, variant: str, iou_type: str = 'bbox'
                     ) -> Dict[str, float]:
    """OV-COCO AP50 and AP for novel, base and all categories.

    Args:
        gt: COCO ground truth with COCO category names (all 80, or OVR-CNN's 65-category file for '65').
        dets: detections with COCO category ids.
        variant: '65' (generalized: the 65 split categories) or '80' (all 80 categories).
        iou_type: 'bbox' or 'segm'.

    Returns:
        {'AP50_novel', 'AP50_base', 'AP50_all', 'AP_novel', 'AP_base', 'AP_all'}.
    """
    if variant not in VARIANTS:
        raise ValueError(f'OV-COCO variant must be one of {VARIANTS} (ov-coco-65 = generalized 65 classes, '
                         f'ov-coco-80 = all 80 classes), got {variant!r}')
    if variant == '65':
        gt = restrict_categories(gt, _indices(gt, list(OV_COCO_BASE) + list(OV_COCO_NOVEL)))
        dets = dets.subset(np.isin(dets.category_ids, gt.category_ids))
    elif len(gt.category_ids) != 80:
        raise EvaluationInputError(f'ground-truth file {gt.source}: ov-coco-80 needs the 80 COCO categories, '
                                   f'found {len(gt.category_ids)} (use ov-coco-65 for the 65-category file)')
    novel, base = _indices(gt, OV_COCO_NOVEL), _indices(gt, OV_COCO_BASE)
    precision, recall = coco_arrays(gt, dets, iou_type)
    out = {}
    for prefix, iou in (('AP50', 0.5), ('AP', None)):
        for split, cats in (('novel', novel), ('base', base), ('all', None)):
            out[f'{prefix}_{split}'] = engine.summarize(precision, recall, iou=iou, cats=cats)
    return out
