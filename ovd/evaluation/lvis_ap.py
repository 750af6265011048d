"""The 'lvis' and 'lvis-fixed' protocols: LVIS AP as lvis-api 0.5.3 computes it, and Fixed AP.

'lvis' (Gupta et al., LVIS, CVPR 2019; lvis-api ``LVISEval``): at most 300 detections per image across
categories (highest scores; ties keep file order), IoU 0.50:0.95, 101 recall points, area ranges, and the
federated rules: a detection is evaluated only if its category is annotated in the image or listed in
the image's ``neg_category_ids``; an unmatched detection of a category in
``not_exhaustive_category_ids`` is ignored. Zero-area ground truth and detections are dropped (lvis-api's
``get_ann_ids`` keeps ``0 < area < inf``). APr/APc/APf average over the categories with frequency r/c/f.

'lvis-fixed' (Dave et al., "Evaluating Large-Vocabulary Detectors: The Devil is in the Details", 2021):
no per-image cap; instead the top 10,000 detections per category over the whole dataset are kept (ties
keep file order), then the same evaluation. This follows the authors' released evaluation
(achalddave/large-vocab-devil ``scripts/evaluate_ap_fixed.py``: top-k per category, then lvis-api with
``max_dets=-1``), which lvis-api 0.5.3 itself does not provide. The recall keys therefore read ``AR@-1``
(no per-image limit), the AP keys are the standard ones.

Metric names (both): AP, AP50, AP75, APs, APm, APl, APr, APc, APf, AR@N, ARs@N, ARm@N, ARl@N, AP50_novel,
AP50_base with N = 300 ('lvis') or -1 ('lvis-fixed'). AP50_novel and AP50_base are AP at IoU 0.5 over the rare
categories and over the common and frequent ones: OV-LVIS's novel/base split (novel = rare), which lvis-api does
not print but the synthetic open-vocabulary world (``docs/ov_world.md``) reports.
"""
import warnings
from typing import Dict, Tuple

import numpy as np

from . import engine
from .iou import box_pair_iou, mask_pair_iou
from .records import Detections, EvaluationInputError, GroundTruth, check_detections

MAX_DETS_PER_IMAGE = 300
MAX_DETS_PER_CATEGORY = 10000  # Fixed AP's K for LVIS (Dave et al. 2021)
FREQUENCIES = ('r', 'c', 'f')
NOVEL_FREQUENCY = 'r'  # OV-LVIS: the rare categories are the novel ones


def _top_k_in_groups(groups: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """[D] bool: the k highest-scoring detections of each group (ties: earlier in file order first)."""
    if len(groups) == 0:
        return np.ones(0, bool)
    small = groups.min() >= 0 and groups.max() < 4 * len(groups) + 10 ** 6
    counts = np.bincount(groups) if small else np.unique(groups, return_counts=True)[1]
    if counts.max() <= k:
        return np.ones(len(scores), bool)
    order = np.lexsort((-scores, groups))
    keep = np.zeros(len(scores), bool)
    keep[order[engine.group_ranks(groups[order]) < k]] = True
    return keep


def _keys(img_idx: np.ndarray, cat_ids: np.ndarray, num_cat_ids: int) -> np.ndarray:
    return img_idx.astype(np.int64) * num_cat_ids + cat_ids


def lvis_arrays(gt: GroundTruth, dets: Detections, iou_type: str = 'bbox', fixed_ap: bool = False,
                max_dets: int = MAX_DETS_PER_IMAGE, max_dets_per_cat: int = MAX_DETS_PER_CATEGORY
                ) -> Tuple[np.ndarray, np.ndarray]:
    """LVIS precision and recall arrays.

    Args:
        gt: LVIS ground truth (needs ``neg_category_ids``, ``not_exhaustive_category_ids``).
        dets: detections (xywh boxes, and RLE masks for ``iou_type='segm'``).
        iou_type: 'bbox' or 'segm'.
        fixed_ap: Fixed AP (top ``max_dets_per_cat`` per category, no per-image cap).
        max_dets: per-image cap of the standard protocol.
        max_dets_per_cat: per-category cap of Fixed AP.

    Returns:
        precision [T, R, K, A, 1] and recall [T, K, A, 1], -1 where a category has no ground truth.
    """
    if iou_type not in ('bbox', 'segm'):
        raise ValueError(f'iou_type must be "bbox" or "segm", got {iou_type!r}')
    if gt.neg_category_ids is None:
        raise EvaluationInputError(f'ground-truth file {gt.source}: not an LVIS file (images lack '
                                   f'"neg_category_ids")')
    check_detections(dets, gt)
    if fixed_ap:
        dets = dets.subset(_top_k_in_groups(dets.category_ids, dets.scores, max_dets_per_cat))
    elif max_dets >= 0:
        dets = dets.subset(_top_k_in_groups(dets.image_ids, dets.scores, max_dets))
    cat_idx = gt.category_index(dets.category_ids)
    area = dets.area()
    known, positive_area = cat_idx >= 0, (area > 0) & (area < np.inf)
    if (~known).any():
        warnings.warn(f'results {dets.source}: {int((~known).sum())} detections of categories not in the '
                      f'ground truth {gt.source} are ignored', stacklevel=3)
    if (known & ~positive_area).any():
        warnings.warn(f'results {dets.source}: {int((known & ~positive_area).sum())} detections with zero '
                      f'area are ignored (as lvis-api does)', stacklevel=3)

    g_keep = (gt.ann_areas > 0) & (gt.ann_areas < np.inf)
    g_img = gt.image_index(gt.ann_image_ids[g_keep])
    g_cat = gt.category_index(gt.ann_category_ids[g_keep])
    neg_ids = np.concatenate(gt.neg_category_ids + [np.zeros(0, np.int64)])
    nel_ids = np.concatenate(gt.not_exhaustive_category_ids + [np.zeros(0, np.int64)])
    # keys img * num_ids + cat must not collide, whatever ids the image lists hold
    num_ids = int(max(gt.category_ids.max(initial=0), neg_ids.max(initial=0), nel_ids.max(initial=0))) + 1
    # Federated rule: evaluate a detection only where its category is known present or absent.
    positive = np.unique(_keys(g_img, gt.ann_category_ids[g_keep], num_ids))
    counts = np.array([len(n) for n in gt.neg_category_ids], np.int64)
    negative = _keys(np.repeat(np.arange(len(counts)), counts), neg_ids, num_ids)
    counts = np.array([len(n) for n in gt.not_exhaustive_category_ids], np.int64)
    not_exhaustive = _keys(np.repeat(np.arange(len(counts)), counts), nel_ids, num_ids)
    d_img = gt.image_index(dets.image_ids)
    d_key = _keys(d_img, np.where(known, dets.category_ids, 0), num_ids)
    keep = known & positive_area & (np.isin(d_key, positive) | np.isin(d_key, negative))
    keep_idx = np.flatnonzero(keep)
    d = dets.subset(keep_idx)

    sub_gt_idx = np.flatnonzero(g_keep)
    crowd = np.zeros(len(gt.ann_ids), bool)  # LVIS has no crowd; lvis-api passes iscrowd=0
    base_iou = (mask_pair_iou if iou_type == 'segm' else box_pair_iou)(gt, d, crowd)

    def pair_iou(di: np.ndarray, gi: np.ndarray) -> np.ndarray:
        return base_iou(di, sub_gt_idx[gi])

    truth = engine.GroundTruthRows(
        len(gt.image_ids), len(gt.category_ids), image=g_img, category=g_cat, area=gt.ann_areas[g_keep],
        ignore=gt.ann_ignore[g_keep], crowd=crowd[g_keep], id_is_zero=gt.ann_ids[g_keep] == 0)
    found = engine.DetectionRows(image=d_img[keep], category=cat_idx[keep], score=d.scores, area=area[keep],
                                 ignore_unmatched=np.isin(d_key[keep], not_exhaustive))
    precision, recall, _, _ = engine.evaluate_groups(truth, found, pair_iou, max_dets=None)
    return precision, recall


def summarize_lvis(precision: np.ndarray, recall: np.ndarray, frequency: np.ndarray,
                   max_dets_label: int) -> Dict[str, float]:
    """lvis-api's summary from precision [T, R, K, A, 1] and recall [T, K, A, 1]; frequency [K] r/c/f."""
    out = {
        'AP': engine.summarize(precision, recall),
        'AP50': engine.summarize(precision, recall, iou=0.5),
        'AP75': engine.summarize(precision, recall, iou=0.75),
        'APs': engine.summarize(precision, recall, area=1),
        'APm': engine.summarize(precision, recall, area=2),
        'APl': engine.summarize(precision, recall, area=3),
    }
    for f in FREQUENCIES:
        out[f'AP{f}'] = engine.summarize(precision, recall, cats=np.flatnonzero(frequency == f))
    out[f'AR@{max_dets_label}'] = engine.summarize(precision, recall, kind='ar')
    for a, label in enumerate(engine.AREA_LABELS[1:], start=1):
        out[f'AR{label[0]}@{max_dets_label}'] = engine.summarize(precision, recall, area=a, kind='ar')
    novel = frequency == NOVEL_FREQUENCY
    out['AP50_novel'] = engine.summarize(precision, recall, iou=0.5, cats=np.flatnonzero(novel))
    out['AP50_base'] = engine.summarize(precision, recall, iou=0.5, cats=np.flatnonzero(~novel))
    return out


def evaluate_lvis(gt: GroundTruth, dets: Detections, iou_type: str = 'bbox', fixed_ap: bool = False,
                  max_dets: int = MAX_DETS_PER_IMAGE, max_dets_per_cat: int = MAX_DETS_PER_CATEGORY
                  ) -> Dict[str, float]:
    """The 'lvis' (``fixed_ap=False``) or 'lvis-fixed' (``fixed_ap=True``) metrics.

    Args:
        gt: LVIS ground truth (categories need ``frequency``).
        dets: detections; empty detections give 0 for every category with ground truth.
        iou_type: 'bbox' or 'segm' (mask AP; ``dets.segmentations`` must be RLE).
        fixed_ap: Fixed AP instead of the standard protocol.
        max_dets, max_dets_per_cat: the caps (300 per image; 10,000 per category for Fixed AP).

    Returns:
        {'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf', 'AR@N', 'ARs@N', 'ARm@N', 'ARl@N',
        'AP50_novel', 'AP50_base'} with N = ``max_dets`` (standard) or -1 (Fixed AP); -1 where nothing can be averaged.
    """
    if gt.category_frequency is None:
        raise EvaluationInputError(f'ground-truth file {gt.source}: LVIS categories need "frequency"')
    precision, recall = lvis_arrays(gt, dets, iou_type, fixed_ap, max_dets, max_dets_per_cat)
    return summarize_lvis(precision, recall, gt.category_frequency, -1 if fixed_ap else max_dets)
