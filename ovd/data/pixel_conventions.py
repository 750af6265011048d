"""Transforms that reproduce the official GLIP and MDETR pixel conventions: the truncating resize and GLIP's
inclusive-pixel ground-truth boxes.

- :func:`truncated_resize_shape` / :class:`TruncatingResize`: the shorter side becomes ``size`` unless the longer
  side would exceed ``max_size`` (then ``size = round(max_size * short / long)``), and the longer side is
  *truncated*: ``int(size * long / short)``. That is the rule of microsoft/GLIP
  ``maskrcnn_benchmark/data/transforms/transforms.py`` ``Resize.get_size`` and of ashkamath/mdetr
  ``datasets/transforms.py`` ``resize``; mmcv's ``imrescale`` rounds instead, so a 640x480 image becomes
  1067x800 there and 1066x800 in the official code. Both official codes resize PIL images (bilinear), which
  ``backend='pillow'`` reproduces.
- :class:`InclusivePixelBoxes`: GLIP's datasets turn COCO ``[x, y, w, h]`` into ``[x, y, x + w - 1, y + h - 1]``,
  clip to ``[0, width - 1]`` x ``[0, height - 1]`` and drop boxes left without extent (``BoxList`` with
  ``TO_REMOVE = 1``, ``clip_to_image(remove_empty=True)``). GLIP's training anchors and box coder use the same
  convention (see :mod:`ovd.models.glip.head`); the matching horizontal flip is mmdet's ``RandomFlip_GLIP``
  (``x1' = W - x2 - 1``, as ``BoxList.transpose``).
"""
import random
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import Resize

from ovd.registry import TRANSFORMS

from .transforms import _keep_boxes


def truncated_resize_shape(height: int, width: int, size: int, max_size: Optional[int] = None) -> Tuple[int, int]:
    """``(new_height, new_width)`` by the official GLIP/MDETR rule (see the module docstring).

    Args:
        height, width: The image size.
        size: Target length of the shorter side.
        max_size: Cap on the longer side (``None``: no cap).
    """
    short, long = min(height, width), max(height, width)
    if max_size is not None and long / short * size > max_size:
        size = int(round(max_size * short / long))
    if short == size:
        return height, width
    if width < height:
        return int(size * height / width), size
    return size, int(size * width / height)


@TRANSFORMS.register_module()
class TruncatingResize(Resize):
    """Keep-ratio resize with the official GLIP/MDETR size rule (:func:`truncated_resize_shape`).

    Boxes, masks and segmentation maps are resized as mmdet's ``Resize`` does; ``scale_factor`` is the exact
    ``(new_w / w, new_h / h)`` that maps boxes back to the original image.

    Args:
        sizes: Shorter-side length, or several to draw one from per image (training).
        max_size: Cap on the longer side (1333 in GLIP and MDETR).
        backend: Image resize backend; ``'pillow'`` (default) is the official PIL bilinear resize.
        **kwargs: ``interpolation``, ``clip_object_border`` (as mmdet's ``Resize``).
    """

    def __init__(self, sizes: Union[int, Sequence[int]], max_size: Optional[int] = 1333, backend: str = 'pillow',
                 **kwargs) -> None:
        self.sizes = [sizes] if isinstance(sizes, int) else list(sizes)
        if not self.sizes or any(not isinstance(s, int) or s <= 0 for s in self.sizes):
            raise ValueError(f'TruncatingResize: sizes must be positive ints, got {sizes!r}')
        self.max_size = max_size
        # The scale is set per image in transform(); keep_ratio=False makes mmdet resize to exactly that.
        super().__init__(scale=(self.sizes[0], self.sizes[0]), keep_ratio=False, backend=backend, **kwargs)

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        size = self.sizes[0] if len(self.sizes) == 1 else random.choice(self.sizes)
        new_h, new_w = truncated_resize_shape(height, width, size, self.max_size)
        self.scale = (new_w, new_h)
        return super().transform(results)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(sizes={self.sizes}, max_size={self.max_size}, backend={self.backend!r}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class InclusivePixelBoxes(BaseTransform):
    """Ground-truth boxes in GLIP's inclusive-pixel convention (x2/y2 minus one, clipped, empty ones dropped).

    Runs right after ``LoadAnnotations`` (GLIP converts when it loads the annotation, before any resize).
    Modified keys: ``gt_bboxes`` and, when a box is dropped, ``gt_bboxes_labels``, ``gt_ignore_flags``,
    ``gt_masks``.
    """

    def transform(self, results: dict) -> dict:
        boxes = results.get('gt_bboxes')
        if boxes is None or len(boxes) == 0:
            return results
        height, width = results['img_shape'][:2] if 'img_shape' in results else results['img'].shape[:2]
        tensor = getattr(boxes, 'tensor', None)
        values = tensor.numpy().copy() if tensor is not None else np.array(boxes, dtype=np.float32)
        values[:, 2:] -= 1
        values[:, 0::2] = values[:, 0::2].clip(0, width - 1)
        values[:, 1::2] = values[:, 1::2].clip(0, height - 1)
        keep = (values[:, 2] > values[:, 0]) & (values[:, 3] > values[:, 1])
        results['gt_bboxes'] = type(boxes)(values) if tensor is not None else values.astype(boxes.dtype)
        if not keep.all():
            _keep_boxes(results, keep)
        return results
