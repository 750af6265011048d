"""Which RPN proposals seed bags of regions: BARON's proposal filter (Wu et al., CVPR 2023; ovdet ``BaronKD`` /
``BaronBase.preprocess_proposals``, ``ovdet/methods/baron/baron_kd.py:77-127``, ``baron_base.py:34-66``).

Per image: the ``topk`` proposals by objectness (sorted), the ground-truth boxes put *in front* with objectness 1
(``use_gt``), then keep those with

- aspect ratio ``w / h`` strictly inside ``(shape_ratio_thr, 1 / shape_ratio_thr)``;
- ``area(box ∩ image box) / area(image box) > area_ratio_thr``, the image box being ``[0, 0, w - 1, h - 1]``: the
  part of the proposal inside the image must cover more than 1 % of the IMAGE (ovdet's ``bbox_overlaps(image_box,
  boxes, mode='iof')``), so small proposals never seed a bag;
- objectness strictly above ``objectness_thr``;

if none passes, the single most confident box (no NMS); else NMS at ``nms_thr`` (0.1: bags around one object would
repeat each other). With no proposal and no GT box, the image box is the seed: the fallback ovdet intends
(``baron_kd.py:83-86``; the released line raises a ``TypeError`` there).
"""
from typing import NamedTuple, Optional, Sequence

import torch
from torch import Tensor
from torchvision.ops import nms

# mmdet bbox_overlaps' lower bound on the denominator
_IOF_EPS = 1e-6


class SeedSelection(NamedTuple):
    """Seeds of one image: ``boxes [P, 4]``, ``scores [P]`` (NMS order) and ``source [P]`` (row in the input
    ``bboxes``, ``-1 - g`` for GT box ``g``, ``-len(gt) - 1`` for the image-box fallback)."""
    boxes: Tensor
    scores: Tensor
    source: Tensor


def image_box(image_hw: Sequence[float], like: Tensor) -> Tensor:
    """ovdet's image box ``[0, 0, w - 1, h - 1]`` of an image of (height, width) ``image_hw``."""
    return like.new_tensor([0.0, 0.0, float(image_hw[1]) - 1.0, float(image_hw[0]) - 1.0])


def select_seeds(bboxes: Tensor, scores: Tensor, image_hw: Sequence[float], gt_bboxes: Optional[Tensor] = None,
                 topk: int = 300, shape_ratio_thr: float = 0.25, area_ratio_thr: float = 0.01,
                 objectness_thr: float = 0.85, nms_thr: float = 0.1) -> SeedSelection:
    """Seed boxes of one image with their objectness and origin.

    Args:
        bboxes: ``[N, 4]`` xyxy proposals; scores: ``[N]`` objectness.
        image_hw: (height, width) of the image (without batch padding).
        gt_bboxes: ``[G, 4]`` added in front with objectness 1, or None.
        topk, shape_ratio_thr, area_ratio_thr, objectness_thr, nms_thr: the filter of the module docstring.

    Returns:
        :class:`SeedSelection` with ``P >= 1`` rows.
    """
    if not 0 < shape_ratio_thr < 1:
        raise ValueError(f'shape_ratio_thr must lie in (0, 1), got {shape_ratio_thr}')
    if bboxes.ndim != 2 or bboxes.shape[1] != 4 or scores.shape != bboxes.shape[:1]:
        raise ValueError(f'select_seeds: expected bboxes [N, 4] and scores [N], got {tuple(bboxes.shape)} and '
                         f'{tuple(scores.shape)}')
    bboxes, scores = bboxes.detach().float(), scores.detach().float()
    scores, source = scores.topk(min(topk, scores.shape[0]))
    bboxes = bboxes[source]
    num_gt = 0
    if gt_bboxes is not None and gt_bboxes.numel():
        num_gt = gt_bboxes.shape[0]
        bboxes = torch.cat([gt_bboxes.detach().float().to(bboxes.device), bboxes])
        scores = torch.cat([scores.new_ones(num_gt), scores])
        source = torch.cat([-1 - torch.arange(num_gt, device=source.device), source])
    image = image_box(image_hw, bboxes)
    if bboxes.shape[0] == 0:
        return SeedSelection(image[None], scores.new_ones(1), source.new_full((1,), -1 - num_gt))
    wh = bboxes[:, 2:] - bboxes[:, :2]
    ratio = wh[:, 0] / (wh[:, 1] + 1e-12)
    inside_wh = (torch.minimum(bboxes[:, 2:], image[2:]) - torch.maximum(bboxes[:, :2], image[:2])).clamp(min=0)
    image_area = ((image[2] - image[0]) * (image[3] - image[1])).clamp(min=_IOF_EPS)
    iof = inside_wh.prod(dim=1) / image_area
    valid = (ratio > shape_ratio_thr) & (ratio < 1 / shape_ratio_thr) & (iof > area_ratio_thr) \
        & (scores > objectness_thr)
    if not valid.any():
        best = scores.argmax()[None]
        return SeedSelection(bboxes[best], scores[best], source[best])
    bboxes, scores, source = bboxes[valid], scores[valid], source[valid]
    keep = nms(bboxes, scores, nms_thr)
    return SeedSelection(bboxes[keep], scores[keep], source[keep])


def select_seed_boxes(bboxes: Tensor, scores: Tensor, image_hw: Sequence[float], gt_bboxes: Optional[Tensor] = None,
                      **kwargs) -> Tensor:
    """The ``[P, 4]`` seed boxes of :func:`select_seeds` (same arguments)."""
    return select_seeds(bboxes, scores, image_hw, gt_bboxes, **kwargs).boxes
