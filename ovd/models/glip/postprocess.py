"""GLIP post-processing: which anchors become detections of a prompt, with what score, and how their boxes are written.

Two candidate rankings (``test_cfg.candidate_ranking``):

- ``'official'`` (default), microsoft/GLIP ``ATSSPostProcessor``: on each level, every (anchor, label) pair whose
  label score (mean sigmoid of the label's tokens) is *above* ``score_thr`` (``MODEL.ATSS.INFERENCE_TH = 0.05``) is
  a candidate; the ``nms_pre`` (``PRE_NMS_TOP_N = 1000``) candidates with the largest ``label score x centerness``
  are kept and scored ``sqrt(label score x centerness)``. After all levels, class-wise NMS at ``NMS_TH = 0.6`` with
  the inclusive-pixel IoU (``+1`` on widths and heights) runs on the boxes of the network input, then the
  ``max_per_img`` best scores are kept (``kthvalue``: a tie at the cut keeps every tied box).
- ``'mmdet'``, mmdet 3.3's ``ATSSVLFusionHead``: candidates are the ``nms_pre`` best label scores above
  ``score_thr`` (centerness only enters the final score), boxes are rescaled to the original image before an
  exclusive-pixel NMS, boxes without area are dropped, and the first ``max_per_img`` are kept.

GLIP's boxes are inclusive-pixel (``x2 = x1 + w - 1``). The official evaluators differ in how they write them:
the COCO path converts with ``BoxList.convert('xywh')`` (``w = x2 - x1 + 1``), the LVIS and Flickr30k paths use
``x2 - x1``. ``test_cfg.box_end_offset`` (added to ``x2``/``y2`` after rescaling; ovd's metrics use ``x2 - x1``)
reproduces each: 1 for COCO-style evaluation (also what mmdet adds), 0 for LVIS and Flickr30k.
"""
from typing import Tuple

import torch
from mmcv.ops import batched_nms
from torch import Tensor

CANDIDATE_RANKINGS = ('official', 'mmdet')


def check_ranking(ranking: str) -> str:
    """Return ``ranking`` if it is one of :data:`CANDIDATE_RANKINGS`, else raise naming the config key."""
    if ranking not in CANDIDATE_RANKINGS:
        raise ValueError(f'GLIP test_cfg.candidate_ranking must be one of {CANDIDATE_RANKINGS}, got {ranking!r}')
    return ranking


def select_candidates(scores: Tensor, centerness: Tensor, score_thr: float, nms_pre: int,
                      ranking: str = 'official') -> Tuple[Tensor, Tensor, Tensor]:
    """The candidates of one level of one image.

    Args:
        scores: Label scores, [N, L] (N anchors, L labels of the prompt), in [0, 1].
        centerness: Sigmoid centerness, [N].
        score_thr: A candidate's label score must be strictly above it.
        nms_pre: Candidates kept per level (<= 0 keeps all).
        ranking: ``'official'`` (by label score x centerness) or ``'mmdet'`` (by label score).

    Returns:
        ``final_scores`` [K] (``sqrt(label score x centerness)``), ``anchor_ids`` [K] and ``labels`` [K].
    """
    check_ranking(ranking)
    flat = scores.reshape(-1)
    candidates = torch.nonzero(flat > score_thr).squeeze(1)  # row-major (anchor, label) indices
    product = flat[candidates] * centerness[candidates // scores.shape[1]]
    key = product if ranking == 'official' else flat[candidates]
    if 0 < nms_pre < candidates.numel():
        top = key.topk(nms_pre).indices
        candidates, product = candidates[top], product[top]
    return torch.sqrt(product), candidates // scores.shape[1], candidates % scores.shape[1]


def official_nms_and_cap(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float,
                         max_per_img: int) -> Tensor:
    """Indices kept by the official ``select_over_all_levels``: class-wise NMS, then the best ``max_per_img``.

    Args:
        boxes: Inclusive-pixel xyxy boxes in network-input pixels, [K, 4].
        scores: [K]. labels: [K].
        iou_threshold: A box whose inclusive-pixel IoU with a better box of its label exceeds it is dropped.
        max_per_img: Detections kept (<= 0 keeps all); ties at the cut are all kept, as ``kthvalue`` does.

    Returns:
        Kept indices into the inputs, [M], by decreasing score.
    """
    if boxes.numel() == 0:
        return boxes.new_zeros(0, dtype=torch.long)
    # The inclusive IoU of boxes equals the ordinary IoU of the same boxes one pixel larger.
    _, keep = batched_nms(boxes + boxes.new_tensor([0, 0, 1, 1]), scores, labels,
                          dict(type='nms', iou_threshold=iou_threshold))
    if 0 < max_per_img < keep.numel():
        kept = scores[keep]
        cut = torch.kthvalue(kept.float().cpu(), keep.numel() - max_per_img + 1).values.item()
        keep = keep[kept >= cut]
    return keep
