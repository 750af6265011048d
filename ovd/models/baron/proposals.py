"""Which RPN proposals seed bags of regions: BARON's proposal filter (Wu et al., CVPR 2023; ovdet ``BaronBase``).

Per image: the ``topk`` proposals by objectness, plus the ground-truth boxes with objectness 1 (``use_gt``), keep
those with an aspect ratio inside ``(shape_ratio_thr, 1 / shape_ratio_thr)``, more than ``area_ratio_thr`` of their
area inside the image and objectness above ``objectness_thr``; if none passes, the most confident proposal is kept;
then NMS at ``nms_thr`` (0.1: bags around one object would repeat each other). With no proposal at all the whole
image is the seed.
"""
from typing import Optional

import torch
from torch import Tensor
from torchvision.ops import nms


def select_seed_boxes(bboxes: Tensor, scores: Tensor, image_hw: tuple, gt_bboxes: Optional[Tensor] = None,
                      topk: int = 300, shape_ratio_thr: float = 0.25, area_ratio_thr: float = 0.01,
                      objectness_thr: float = 0.85, nms_thr: float = 0.1) -> Tensor:
    """Seed boxes of one image.

    Args:
        bboxes: ``[N, 4]`` xyxy proposals; scores: ``[N]`` objectness.
        image_hw: (height, width) of the image (without batch padding).
        gt_bboxes: ``[G, 4]`` added with objectness 1, or None.
        topk, shape_ratio_thr, area_ratio_thr, objectness_thr, nms_thr: the filter above (ovdet's values).

    Returns:
        ``[P, 4]`` seed boxes, ``P >= 1``.
    """
    if not 0 < shape_ratio_thr < 1:
        raise ValueError(f'shape_ratio_thr must lie in (0, 1), got {shape_ratio_thr}')
    bboxes, scores = bboxes.detach().float(), scores.detach().float()
    if bboxes.shape[0] > topk:
        scores, idx = scores.topk(topk)
        bboxes = bboxes[idx]
    if gt_bboxes is not None and gt_bboxes.numel():
        bboxes = torch.cat([bboxes, gt_bboxes.float().to(bboxes.device)])
        scores = torch.cat([scores, scores.new_ones(gt_bboxes.shape[0])])
    height, width = float(image_hw[0]), float(image_hw[1])
    if bboxes.shape[0] == 0:
        return bboxes.new_tensor([[0.0, 0.0, width, height]])
    wh = (bboxes[:, 2:] - bboxes[:, :2]).clamp(min=0)
    ratio = wh[:, 0] / (wh[:, 1] + 1e-12)
    inside_wh = (torch.minimum(bboxes[:, 2:], bboxes.new_tensor([width, height]))
                 - bboxes[:, :2].clamp(min=0)).clamp(min=0)
    inside = inside_wh.prod(dim=1) / (wh.prod(dim=1) + 1e-12)
    valid = (ratio > shape_ratio_thr) & (ratio < 1 / shape_ratio_thr) & (inside > area_ratio_thr) \
        & (scores > objectness_thr)
    if not valid.any():
        return bboxes[scores.argmax()][None]
    bboxes, scores = bboxes[valid], scores[valid]
    return bboxes[nms(bboxes, scores, nms_thr)]
