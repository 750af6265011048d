"""A per-image memory of good seed boxes across epochs (ovdet ``BoxesCache``, ``ovdet/methods/baron/boxes_cache.py``;
used by ovdet's OV-COCO R50-FPN config only, ``start_iter=20000``).

Each training image keeps up to ``num_proposals`` boxes (with objectness) in ORIGINAL image coordinates. Once the
cache has been called ``start_iter`` times (one call per image, counted per process, as ovdet counts), the seeds of
an image are merged with its cached boxes (scaled and flipped to the current view), filtered by objectness
(``> score_thr``; the most confident box if none passes) and NMS-ed: those are the seeds. The same merge in original
coordinates, truncated to ``num_proposals``, replaces the image's cache; in distributed training every rank's update
is all-gathered so all ranks hold the same cache. Before ``start_iter`` nothing is read or written.

Unlike ovdet, which allocates a ``[num_images, num_proposals, 5]`` buffer from an annotation file, the cache fills
lazily per image id; an image never seen behaves as ovdet's all-zero rows (score 0 never passes the filter).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.distributed as torch_dist
from torch import Tensor, nn
from torchvision.ops import nms


def _flip_horizontal(boxes: Tensor, width: float) -> Tensor:
    return torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], dim=1)


def _flip(boxes: Tensor, img_hw: Sequence[float], direction: Optional[str]) -> Tensor:
    if direction == 'horizontal':
        return _flip_horizontal(boxes, float(img_hw[1]))
    if direction == 'vertical':
        return torch.stack([boxes[:, 0], img_hw[0] - boxes[:, 3], boxes[:, 2], img_hw[0] - boxes[:, 1]], dim=1)
    if direction == 'diagonal':
        return _flip(_flip(boxes, img_hw, 'horizontal'), img_hw, 'vertical')
    raise ValueError(f'boxes cache: unknown flip direction {direction!r}')


class BoxesCache(nn.Module):
    """Cached seed boxes per image id.

    Args:
        start_iter: calls (images) before the cache is used (ovdet OV-COCO FPN: 20000).
        num_proposals: boxes kept per image (ovdet: the seed ``topk``, 300).
        nms_thr, score_thr: the seed filter's NMS and objectness thresholds (ovdet: 0.1, 0.85).
    """

    def __init__(self, start_iter: int = 20000, num_proposals: int = 300, nms_thr: float = 0.1,
                 score_thr: float = 0.85) -> None:
        super().__init__()
        if start_iter < 0 or num_proposals < 1:
            raise ValueError(f'boxes cache: need start_iter >= 0 and num_proposals >= 1, got {start_iter}, '
                             f'{num_proposals}')
        self.start_iter, self.num_proposals = int(start_iter), int(num_proposals)
        self.nms_thr, self.score_thr = float(nms_thr), float(score_thr)
        self.calls = 0
        self.boxes: Dict[int, Tensor] = {}  # image id -> [K, 5] (x1, y1, x2, y2, score), original coordinates

    def _filter(self, boxes: Tensor, scores: Tensor) -> Tuple[Tensor, Tensor]:
        kept = scores > self.score_thr
        kept = kept.nonzero().flatten() if kept.any() else scores.argmax().view(1)
        boxes, scores = boxes[kept], scores[kept]
        order = nms(boxes, scores, self.nms_thr)
        return boxes[order], scores[order]

    @torch.no_grad()
    def forward(self, boxes: Tensor, scores: Tensor, image_id: int, metainfo: dict) -> Tuple[Tensor, Tensor]:
        """Seeds of one image after the cache, and the cache update.

        Args:
            boxes, scores: ``[P, 4]`` / ``[P]`` seeds of the current view.
            image_id: dataset image id.
            metainfo: the sample's ``scale_factor`` (w, h), ``img_shape`` and ``flip`` / ``flip_direction``.
        """
        self.calls += 1
        if self.calls < self.start_iter:
            return boxes, scores
        scale = boxes.new_tensor(metainfo['scale_factor']).repeat(2)  # (sx, sy, sx, sy)
        flip = metainfo.get('flip', False)
        direction, img_hw = metainfo.get('flip_direction'), metainfo['img_shape'][:2]
        cached = self.boxes.get(int(image_id), boxes.new_zeros(0, 5)).to(boxes)

        view = cached[:, :4] * scale
        view = _flip(view, img_hw, direction) if flip else view
        out = self._filter(torch.cat([view, boxes]), torch.cat([cached[:, 4], scores]))

        original = _flip(boxes, img_hw, direction) if flip else boxes
        merged = self._filter(torch.cat([cached[:, :4], original / scale]), torch.cat([cached[:, 4], scores]))
        update = boxes.new_zeros(self.num_proposals, 6)  # rows of ovdet's sync tensor; last column: image id
        num = min(self.num_proposals, merged[0].shape[0])
        update[:num, :4], update[:num, 4] = merged[0][:num], merged[1][:num]
        update[:, 5] = float(image_id)
        for rows in self._gather(update):
            self.boxes[int(rows[0, 5].item())] = rows[:, :5].clone()
        return out

    @staticmethod
    def _gather(update: Tensor):
        if not (torch_dist.is_available() and torch_dist.is_initialized()) or torch_dist.get_world_size() < 2:
            return [update]
        gathered = [torch.empty_like(update) for _ in range(torch_dist.get_world_size())]
        torch_dist.all_gather(gathered, update)
        return gathered
