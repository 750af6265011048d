"""The vectorised AP engine shared by the COCO and LVIS protocols: pair IoUs, greedy matching, accumulation.

Why our own engine. lvis-api evaluates one (image, category) at a time in Python (20.7 s for 1,000
LVIS-like images in the issue's measurement) and has no Fixed AP; faster-coco-eval is C++ but reproduces
COCO, not LVIS's federated rules, per-image cap and Fixed AP top-k. numba is not installed and a C++
extension would need a build step on every machine. So the engine is plain numpy, vectorised across
every (image, category) group at once, and follows the official evaluators' arithmetic operation by
operation so that the numbers are equal, not just close:

- IoU of boxes as pycocotools' ``bbIou`` computes it (xywh, ``min(x+w) - max(x)``, union
  ``(da + ga) - i``, crowd union = detection area);
- greedy matching in score order per (image, category, area range, IoU threshold): a detection takes the
  unmatched non-ignored ground truth with the highest IoU >= ``min(t, 1 - 1e-10)`` (ties: the last one in
  annotation order), else the best ignored one; crowd ground truth may be matched again;
- accumulation per category: detections ordered by score (ties: image order, then results-file order),
  ``precision = tp / (fp + tp + eps)``, its suffix maximum, read at the first rank whose recall reaches
  each of the 101 recall thresholds.

Matching is sequential only *within* a group, so the loop runs over the rank of a detection inside its
group (a few dozen steps), each step handling every group at once; only (detection, ground truth) pairs
with IoU >= the lowest threshold can ever match, so all other pairs are dropped before the loop.
Accumulation needs no per-category loop: the rank at which recall first reaches a threshold is the
rank of the c-th true positive, c the smallest count with ``c / num_gt >= threshold`` in float64 (so
the look-up is exact), and ``maximum.reduceat`` over the blocks between look-ups gives the suffix
maxima of precision.

A protocol module filters its records (:class:`~ovd.evaluation.records.GroundTruth`,
:class:`~ovd.evaluation.records.Detections`) by its rules and hands the engine the kept rows in index space
(:class:`GroundTruthRows`, :class:`DetectionRows`). Array conventions: T IoU thresholds, R recall thresholds,
K categories, A area ranges, M max-detection settings. ``precision`` is [T, R, K, A, M] and ``recall`` [T, K, A, M],
-1 where a category has no (non-ignored) ground truth, as in pycocotools/lvis-api.
"""
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RNGS = np.array([[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]],
                     dtype=np.float64)
AREA_LABELS = ('all', 'small', 'medium', 'large')

# IoU function on pairs: (pair_dt, pair_gt) index arrays [P] -> IoU [P] (float64).
PairIoU = Callable[[np.ndarray, np.ndarray], np.ndarray]


def box_iou_pairs(dt_boxes: np.ndarray, gt_boxes: np.ndarray, gt_crowd: np.ndarray) -> np.ndarray:
    """IoU of paired boxes, exactly as pycocotools' C ``bbIou``.

    Args:
        dt_boxes: [P, 4] xywh detection boxes (float64).
        gt_boxes: [P, 4] xywh ground-truth boxes (float64).
        gt_crowd: [P] bool; for crowd ground truth the union is the detection's area.

    Returns:
        [P] float64 IoU (0 where the boxes do not overlap).
    """
    dx, dy, dw, dh = dt_boxes.T
    gx, gy, gw, gh = gt_boxes.T
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    overlap = (w > 0) & (h > 0)
    inter = w * h
    da = dw * dh
    union = np.where(gt_crowd, da, (da + gw * gh) - inter)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / union
    return np.where(overlap, iou, 0.0)


def group_ranks(groups: np.ndarray) -> np.ndarray:
    """Rank of each element inside its group, for an array already sorted by group. [N] -> [N] int64."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def make_pairs(dt_group: np.ndarray, gt_group: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """All (detection, ground truth) pairs that share a group, detection-major.

    Args:
        dt_group: [D] group id per detection, sorted ascending.
        gt_group: [G] group id per ground truth, sorted ascending (annotation order inside a group).

    Returns:
        pair_dt [P], pair_gt [P]: indices into the detections and ground truths, ordered by group, then
        detection, then ground truth.
    """
    if len(dt_group) == 0 or len(gt_group) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    gt_first = np.searchsorted(gt_group, dt_group, side='left')
    gt_count = np.searchsorted(gt_group, dt_group, side='right') - gt_first
    pair_dt = np.repeat(np.arange(len(dt_group)), gt_count)
    pair_gt = np.repeat(gt_first, gt_count) + group_ranks(pair_dt)
    return pair_dt, pair_gt


def greedy_match(num_dt: int, dt_group: np.ndarray, pair_dt: np.ndarray, pair_gt: np.ndarray,
                 pair_iou: np.ndarray, gt_ignore: np.ndarray, gt_crowd: np.ndarray,
                 iou_thrs: np.ndarray) -> np.ndarray:
    """Greedy score-order matching for every area range and IoU threshold at once.

    Args:
        num_dt: D, the number of detections; their index order is the processing order (sorted by group,
            then score descending, then tie order).
        dt_group: [D] group id per detection.
        pair_dt, pair_gt, pair_iou: [P] candidate pairs from :func:`make_pairs` and their IoU.
        gt_ignore: [A, G] bool, ground truth ignored in area range a (crowd / ignore flag / out of range).
        gt_crowd: [G] bool, ground truth that may be matched by several detections (COCO crowd).
        iou_thrs: [T] IoU thresholds.

    Returns:
        [A, T, D] int32: index of the matched ground truth, -1 if unmatched.
    """
    num_area = gt_ignore.shape[0]
    thrs = np.minimum(iou_thrs, 1 - 1e-10)
    match = np.full((num_area, len(thrs), num_dt), -1, np.int32)
    keep = pair_iou >= thrs.min()
    pair_dt, pair_gt, pair_iou = pair_dt[keep], pair_gt[keep], pair_iou[keep]
    if len(pair_dt) == 0:
        return match
    # Only detections with a possible match change the state: rank them inside their group.
    cand = np.unique(pair_dt)
    cand_rank = np.zeros(num_dt, np.int64)
    cand_rank[cand] = group_ranks(dt_group[cand])
    step = cand_rank[pair_dt]
    order = np.argsort(step, kind='stable')
    pair_dt, pair_gt, pair_iou, step = pair_dt[order], pair_gt[order], pair_iou[order], step[order]
    bounds = np.searchsorted(step, np.arange(step[-1] + 2))
    matched = np.zeros((num_area, len(thrs), gt_ignore.shape[1]), bool)
    # priority of an eligible pair: 2 = non-ignored ground truth, 1 = ignored (taken only if no 2).
    prio_of_gt = (2 - gt_ignore.astype(np.int8))  # [A, G]
    for s in range(step[-1] + 1):
        lo, hi = bounds[s], bounds[s + 1]
        d, g, iou = pair_dt[lo:hi], pair_gt[lo:hi], pair_iou[lo:hi]
        seg_start = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
        seg_id = np.cumsum(np.r_[True, d[1:] != d[:-1]]) - 1
        eligible = (iou[None, :] >= thrs[:, None])[None] & (~matched[:, :, g] | gt_crowd[g])  # [A, T, P]
        prio = np.where(eligible, prio_of_gt[:, None, g], 0).astype(np.int8)
        best_prio = np.maximum.reduceat(prio, seg_start, axis=2)
        cand_pair = eligible & (prio == best_prio[:, :, seg_id])
        val = np.where(cand_pair, iou, -1.0)
        best_val = np.maximum.reduceat(val, seg_start, axis=2)
        cand_pair &= val == best_val[:, :, seg_id]
        pos = np.where(cand_pair, np.arange(len(d)), -1)
        last = np.maximum.reduceat(pos, seg_start, axis=2)  # [A, T, S]: last best pair (ties -> last gt)
        a_idx, t_idx, s_idx = np.nonzero(last >= 0)
        chosen = last[a_idx, t_idx, s_idx]
        matched[a_idx, t_idx, g[chosen]] = True
        match[a_idx, t_idx, d[chosen]] = g[chosen]
    return match


def accumulate(dt_cat: np.ndarray, tp: np.ndarray, fp: np.ndarray, num_gt: np.ndarray,
               rec_thrs: np.ndarray = REC_THRS) -> Tuple[np.ndarray, np.ndarray]:
    """Precision at recall thresholds and final recall per category (one area range, one max-dets).

    Args:
        dt_cat: [N] category index per detection, in evaluation order: sorted by category, then score
            descending, then image order, then results-file order.
        tp, fp: [T, N] bool true/false positive flags (ignored detections are neither).
        num_gt: [K] number of non-ignored ground truths per category.
        rec_thrs: [R] recall thresholds, starting at 0.

    Returns:
        precision [T, R, K] and recall [T, K] (float64, -1 where num_gt is 0).
    """
    assert rec_thrs[0] == 0, 'the block-maximum look-up needs a first recall threshold of 0'
    num_thr, n = tp.shape
    num_cat, num_rec = len(num_gt), len(rec_thrs)
    precision = np.full((num_thr, num_rec, num_cat), -1.0)
    recall = np.full((num_thr, num_cat), -1.0)
    has_gt = num_gt > 0
    precision[:, :, has_gt] = 0.0
    recall[:, has_gt] = 0.0
    if n == 0:
        return precision, recall
    new_seg = np.r_[True, dt_cat[1:] != dt_cat[:-1]]
    seg_start = np.flatnonzero(new_seg)
    seg_end = np.r_[seg_start[1:], n]
    seg_len = seg_end - seg_start
    seg_cat = dt_cat[seg_start]
    valid = has_gt[seg_cat]
    ng = num_gt[seg_cat].astype(np.float64)  # [S]

    # Smallest integer count c with float(c) / num_gt >= threshold: rc >= thr  <=>  tp_cum >= c, so
    # searchsorted(rc, thr, 'left') is the position of the c-th true positive (the start for c = 0).
    with np.errstate(divide='ignore', invalid='ignore'):
        need = np.ceil(rec_thrs[None, :] * ng[:, None])
        for _ in range(2):
            need = np.where((need - 1 >= 0) & ((need - 1) / ng[:, None] >= rec_thrs[None, :]), need - 1, need)
            need = np.where(need / ng[:, None] < rec_thrs[None, :], need + 1, need)
    need = np.minimum(np.nan_to_num(need, nan=0.0), n + 1).astype(np.int64)  # [S, R]

    for t in range(num_thr):
        tp_cum = np.cumsum(tp[t], dtype=np.int64)
        fp_cum = np.cumsum(fp[t], dtype=np.int64)
        tp_before = np.r_[0, tp_cum][seg_start]  # [S] true positives in earlier segments
        tp_cum -= np.repeat(tp_before, seg_len)
        fp_cum -= np.repeat(np.r_[0, fp_cum][seg_start], seg_len)
        tp_f = tp_cum.astype(np.float64)
        pr = tp_f / (fp_cum.astype(np.float64) + tp_f + np.spacing(1))
        recall[t, seg_cat[valid]] = tp_f[seg_end - 1][valid] / ng[valid]
        tp_pos = np.flatnonzero(tp[t])
        seg_tp = tp_cum[seg_end - 1]  # [S]
        found = need <= seg_tp[:, None]
        gather = np.where(found & (need > 0), tp_before[:, None] + need - 1, 0)
        q = np.where(need > 0, tp_pos[np.minimum(gather, max(len(tp_pos) - 1, 0))] if len(tp_pos) else 0,
                     seg_start[:, None])
        q = np.where(found, q, seg_end[:, None])  # [S, R] first rank reaching each recall threshold
        blocks = np.maximum.reduceat(np.r_[pr, -np.inf], q.ravel()).reshape(q.shape)
        blocks[~found] = -np.inf
        suffix = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1]
        prec = np.where(found, suffix, 0.0)
        precision[t][:, seg_cat[valid]] = prec[valid].T
    return precision, recall


@dataclass(frozen=True)
class GroundTruthRows:
    """A protocol's ground truth as the engine reads it: one row per kept annotation, in annotation order (it
    breaks ties), images and categories as indices (images ranked by id).

    Attributes:
        num_images, num_categories: I and K, the sizes of the index spaces.
        image, category: [G] image index in [0, I) and category index in [0, K).
        area: [G] area used for the area ranges.
        ignore: [G] bool, ignored whatever the area (crowd, ``ignore`` flag).
        crowd: [G] bool, may match several detections (COCO crowd).
        id_is_zero: [G] bool; the official tools record a match by ground-truth id, so a match to an
            annotation with id 0 counts as a false positive there, and here.
    """

    num_images: int
    num_categories: int
    image: np.ndarray
    category: np.ndarray
    area: np.ndarray
    ignore: np.ndarray
    crowd: np.ndarray
    id_is_zero: np.ndarray

    def __post_init__(self) -> None:
        _check_rows(self, ('image', 'category', 'area', 'ignore', 'crowd', 'id_is_zero'))


@dataclass(frozen=True)
class DetectionRows:
    """A protocol's detections as the engine reads them: one row per kept detection, in results-file order (it
    breaks ties), images and categories as indices into the same spaces as the :class:`GroundTruthRows`.

    Attributes:
        image, category, score, area: [D] image index, category index, score, area.
        ignore_unmatched: [D] bool, ignore the detection if unmatched (LVIS not-exhaustive categories).
    """

    image: np.ndarray
    category: np.ndarray
    score: np.ndarray
    area: np.ndarray
    ignore_unmatched: np.ndarray

    def __post_init__(self) -> None:
        _check_rows(self, ('image', 'category', 'score', 'area', 'ignore_unmatched'))


def _check_rows(rows: object, fields: Sequence[str]) -> None:
    """All ``fields`` of ``rows`` are 1-d and of one length; else a ValueError naming the field."""
    length = len(getattr(rows, fields[0]))
    for name in fields:
        value = getattr(rows, name)
        if np.ndim(value) != 1 or len(value) != length:
            raise ValueError(f'{type(rows).__name__}.{name}: expected a 1-d array of length {length} (as '
                             f'{fields[0]}), got shape {np.shape(value)}')


def evaluate_groups(
    truth: GroundTruthRows, found: DetectionRows, pair_iou_fn: PairIoU,
    max_dets: Optional[Sequence[int]] = None,
    area_rngs: np.ndarray = AREA_RNGS, iou_thrs: np.ndarray = IOU_THRS, rec_thrs: np.ndarray = REC_THRS,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Match and accumulate: the whole AP computation on prepared rows.

    Ground truth and detections must already be filtered by the protocol (federated rules, caps). The callback
    ``pair_iou_fn(dt_index, gt_index)`` receives row indices into ``found`` and ``truth``.

    Args:
        truth: the ground-truth rows.
        found: the detection rows.
        pair_iou_fn: IoU of (detection, ground truth) index pairs.
        max_dets: per-(image, category) limits (COCO: 1, 10, 100); None = no limit (LVIS: one setting).
        area_rngs: [A, 2]; iou_thrs: [T]; rec_thrs: [R].

    Returns:
        precision [T, R, K, A, M], recall [T, K, A, M], num_gt [K, A], and the number of detections that
        took part per category [K].
    """
    num_img, num_cat = truth.num_images, truth.num_categories
    gt_img, gt_cat, gt_area, gt_ignore = truth.image, truth.category, truth.area, truth.ignore
    gt_crowd, gt_id_is_zero = truth.crowd, truth.id_is_zero
    dt_img, dt_cat, dt_score, dt_area = found.image, found.category, found.score, found.area
    dt_ignore_unmatched = found.ignore_unmatched
    num_area, num_thr, num_rec = len(area_rngs), len(iou_thrs), len(rec_thrs)
    limits = list(max_dets) if max_dets else [None]
    # processing order: group, score descending, file order (stable)
    dt_group = dt_cat.astype(np.int64) * num_img + dt_img
    dt_order = np.lexsort((-dt_score, dt_group))
    dt_rank = group_ranks(dt_group[dt_order])
    if limits[-1] is not None:  # detections beyond the largest limit never take part
        dt_order = dt_order[dt_rank < limits[-1]]
        dt_rank = dt_rank[dt_rank < limits[-1]]
    gt_group = gt_cat.astype(np.int64) * num_img + gt_img
    gt_order = np.argsort(gt_group, kind='stable')
    pair_dt, pair_gt = make_pairs(dt_group[dt_order], gt_group[gt_order])
    pair_iou = pair_iou_fn(dt_order[pair_dt], gt_order[pair_gt]) if len(pair_dt) else np.zeros(0)

    g_area = gt_area[gt_order]
    out_of_range = (g_area[None] < area_rngs[:, :1]) | (g_area[None] > area_rngs[:, 1:])  # [A, G]
    g_ignore = gt_ignore[gt_order][None] | out_of_range
    match = greedy_match(len(dt_order), dt_group[dt_order], pair_dt, pair_gt, pair_iou, g_ignore,
                         gt_crowd[gt_order], iou_thrs)  # [A, T, D]
    num_gt = np.zeros((num_cat, num_area), np.int64)
    g_cat = gt_cat[gt_order]
    for a in range(num_area):
        num_gt[:, a] = np.bincount(g_cat[~g_ignore[a]], minlength=num_cat)

    # evaluation order: category, score descending, image, file order
    d_cat, d_img, d_score = dt_cat[dt_order], dt_img[dt_order], dt_score[dt_order]
    acc_order = np.lexsort((dt_order, d_img, -d_score, d_cat))
    d_area = dt_area[dt_order]
    d_out = (d_area[None] < area_rngs[:, :1]) | (d_area[None] > area_rngs[:, 1:])  # [A, D]
    d_nel = dt_ignore_unmatched[dt_order]
    g_zero = gt_id_is_zero[gt_order]

    precision = np.full((num_thr, num_rec, num_cat, num_area, len(limits)), -1.0)
    recall = np.full((num_thr, num_cat, num_area, len(limits)), -1.0)
    for a in range(num_area):
        m = match[a]  # [T, D]
        hit = m >= 0
        recorded = hit & ~g_zero[np.maximum(m, 0)]
        ignored = (hit & g_ignore[a][np.maximum(m, 0)]) | (~recorded & (d_out[a] | d_nel)[None])
        tp = recorded & ~ignored
        fp = ~recorded & ~ignored
        for mi, limit in enumerate(limits):
            sel = acc_order if limit is None else acc_order[dt_rank[acc_order] < limit]
            p, r = accumulate(d_cat[sel], tp[:, sel], fp[:, sel], num_gt[:, a], rec_thrs)
            precision[:, :, :, a, mi] = p
            recall[:, :, a, mi] = r
    dets_per_cat = np.bincount(d_cat, minlength=num_cat)
    return precision, recall, num_gt, dets_per_cat


def summarize(precision: np.ndarray, recall: np.ndarray, iou_thrs: np.ndarray = IOU_THRS,
              iou: Optional[float] = None, area: int = 0, max_det: int = -1,
              cats: Optional[np.ndarray] = None, kind: str = 'ap') -> float:
    """Mean of the entries > -1 of precision (kind 'ap') or recall ('ar'), -1 if none, as the official tools.

    Args:
        precision: [T, R, K, A, M]; recall: [T, K, A, M].
        iou: one IoU threshold (exact match against ``iou_thrs``) or None for all.
        area: area-range index; max_det: index into M.
        cats: [k] category indices to average over, or None for all.
        kind: 'ap' or 'ar'.
    """
    s = precision[..., area, max_det] if kind == 'ap' else recall[..., area, max_det]
    if iou is not None:
        s = s[np.where(iou == iou_thrs)[0]]
    if cats is not None:
        s = s[..., cats]
    s = s[s > -1]
    return float(np.mean(s)) if s.size else -1.0


__all__: List[str] = ['IOU_THRS', 'REC_THRS', 'AREA_RNGS', 'AREA_LABELS', 'box_iou_pairs', 'group_ranks',
                      'make_pairs', 'greedy_match', 'accumulate', 'GroundTruthRows', 'DetectionRows', 'evaluate_groups',
                      'summarize']
