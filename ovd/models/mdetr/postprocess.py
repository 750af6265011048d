"""MDETR post-processing: phrase grounding results and detection results from class-name captions.

Grounding (Flickr30k protocol of the official evaluator): every query is a candidate box for every phrase; a
query's score for a phrase is the largest probability it puts on one of the phrase's tokens (``reduce='max'``,
as the official ``PostProcessFlickr``) or the total mass on them (``reduce='sum'``); boxes are ranked by it.

Detection (LVIS protocol of the paper): each caption holds one (or a few) class names; a query's score is
``1 - p(no-object)`` and its label is the caption's class (with several names, the name whose tokens get the
most mass).
"""
from typing import Optional, Sequence, Tuple

import torch
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmengine.structures import InstanceData
from torch import Tensor


def boxes_to_pixels(boxes: Tensor, img_shape: Tuple[int, int],
                    scale_factor: Optional[Tuple[float, float]] = None) -> Tensor:
    """Normalised (cx, cy, w, h) -> xyxy pixels of the (resized) image, optionally rescaled to the original.

    Boxes are not clipped to the image, as in the official post-processors.

    Args:
        boxes (Tensor): ``[..., 4]`` normalised (cx, cy, w, h).
        img_shape (tuple): (h, w) of the resized image the boxes were predicted on.
        scale_factor (tuple, optional): (w_scale, h_scale) of the resize; boxes are divided by it to land in
            the original image.

    Returns:
        Tensor: ``[..., 4]`` xyxy pixels.
    """
    img_h, img_w = img_shape[:2]
    out = bbox_cxcywh_to_xyxy(boxes) * boxes.new_tensor([img_w, img_h, img_w, img_h])
    if scale_factor is not None:
        out = out / out.new_tensor(scale_factor).repeat(2)
    return out


def grounding_results(logits: Tensor, boxes: Tensor, positive_maps: Tensor, img_shape: Tuple[int, int],
                      scale_factor: Optional[Tuple[float, float]] = None,
                      reduce: str = 'max') -> InstanceData:
    """Rank every query's box for every phrase of one caption.

    Args:
        logits (Tensor): ``[Q, T]`` soft-token logits of the last decoder layer.
        boxes (Tensor): ``[Q, 4]`` normalised (cx, cy, w, h).
        positive_maps (Tensor): ``[P, T]`` token map of each phrase (non-zero on its tokens).
        img_shape, scale_factor: see :func:`boxes_to_pixels`.
        reduce (str): 'max' (official evaluator) or 'sum' over the phrase's tokens.

    Returns:
        InstanceData: ``P * Q`` entries, phrase by phrase, each phrase's boxes sorted by decreasing score:
        ``bboxes`` ``[P*Q, 4]``, ``scores`` ``[P*Q]``, ``labels`` ``[P*Q]`` (phrase index).
    """
    if reduce not in ('max', 'sum'):
        raise ValueError(f"grounding reduce must be 'max' or 'sum', got {reduce!r}")
    prob = logits.softmax(-1)  # [Q, T]
    on_phrase = (positive_maps > 0).to(prob.dtype)  # [P, T]
    if reduce == 'sum':
        scores = on_phrase @ prob.t()  # [P, Q]
    else:
        scores = (on_phrase[:, None, :] * prob[None]).amax(-1)  # [P, Q]
    scores, order = scores.sort(dim=-1, descending=True)
    pixels = boxes_to_pixels(boxes, img_shape, scale_factor)  # [Q, 4]
    num_phrases, num_queries = scores.shape
    labels = torch.arange(num_phrases, device=logits.device).repeat_interleave(num_queries)
    return InstanceData(bboxes=pixels[order.reshape(-1)], scores=scores.reshape(-1), labels=labels)


def detection_results(logits: Tensor, boxes: Tensor, name_maps: Tensor, name_labels: Tensor,
                      img_shape: Tuple[int, int], scale_factor: Optional[Tuple[float, float]] = None,
                      max_per_img: Optional[int] = None) -> InstanceData:
    """Detections of one image from a batch of class-name captions.

    Args:
        logits (Tensor): ``[C, Q, T]`` soft-token logits, one row per caption.
        boxes (Tensor): ``[C, Q, 4]`` normalised (cx, cy, w, h).
        name_maps (Tensor): ``[C, N, T]`` token map of each of the (at most N) names of each caption; rows of
            absent names are all zero.
        name_labels (Tensor): ``[C, N]`` long, the vocabulary index of each name (-1 where absent).
        img_shape, scale_factor: see :func:`boxes_to_pixels`.
        max_per_img (int, optional): keep the highest-scoring detections only.

    Returns:
        InstanceData: ``bboxes`` ``[K, 4]``, ``scores`` ``[K]`` (``1 - p(no-object)``), ``labels`` ``[K]``.
    """
    prob = logits.softmax(-1)  # [C, Q, T]
    scores = 1.0 - prob[..., -1]  # [C, Q]
    if name_maps.shape[1] == 1:
        labels = name_labels[:, :1].expand_as(scores)
    else:
        mass = prob @ (name_maps > 0).to(prob.dtype).transpose(1, 2)  # [C, Q, N]
        mass = mass.masked_fill((name_labels < 0)[:, None, :], -1.0)
        labels = name_labels.gather(1, mass.argmax(-1))  # [C, Q]
    pixels = boxes_to_pixels(boxes, img_shape, scale_factor)
    result = InstanceData(bboxes=pixels.reshape(-1, 4), scores=scores.reshape(-1), labels=labels.reshape(-1))
    if max_per_img is not None and len(result) > max_per_img:
        keep = result.scores.topk(max_per_img).indices
        result = result[keep]
    return result


def stack_name_maps(maps: Sequence[Tensor], labels: Sequence[Sequence[int]]) -> Tuple[Tensor, Tensor]:
    """Pad per-caption name maps ``[n_c, T]`` and labels to ``[C, N, T]`` and ``[C, N]`` (-1 = absent)."""
    num_names = max(len(m) for m in maps)
    num_tokens = maps[0].shape[-1]
    out = maps[0].new_zeros((len(maps), num_names, num_tokens))
    out_labels = torch.full((len(maps), num_names), -1, dtype=torch.long, device=maps[0].device)
    for i, (m, lab) in enumerate(zip(maps, labels)):
        out[i, :len(m)] = m
        out_labels[i, :len(lab)] = torch.as_tensor(list(lab), dtype=torch.long)
    return out, out_labels
