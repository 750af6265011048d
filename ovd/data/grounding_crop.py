"""A random crop that keeps every box, for grounding data (MDETR's "cautious" RandomSizeCrop).

A grounding caption names its objects: a crop that cuts a named object out leaves a phrase with no box and
teaches the model that the phrase is absent. MDETR's cautious augmentation (ashkamath/mdetr
``datasets/transforms.py``, ``RandomSizeCrop(respect_boxes=True)``) therefore draws crops until one keeps
every box (boxes may be cut, not lost), up to 100 tries, and otherwise keeps the last draw. mmdet's
``RandomCrop`` draws once and drops the boxes left outside; this subclass only adds the retry.
"""
import copy
from typing import Optional

from mmdet.datasets.transforms import RandomCrop

from ovd.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomCropKeepBoxes(RandomCrop):
    """mmdet ``RandomCrop`` redrawn until no box is lost.

    Args:
        max_tries (int): Draws before giving up and keeping the last one (100, as MDETR).
        *args, **kwargs: mmdet ``RandomCrop`` arguments (MDETR: ``crop_type='absolute_range'``,
            ``crop_size=(384, 600)``).
    """

    def __init__(self, *args, max_tries: int = 100, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if max_tries < 1:
            raise ValueError(f'max_tries must be >= 1, got {max_tries}')
        self.max_tries = max_tries

    def transform(self, results: dict) -> Optional[dict]:
        boxes = results.get('gt_bboxes')
        num_boxes = 0 if boxes is None else len(boxes)
        out = None
        for _ in range(self.max_tries):
            # the parent crops boxes in place: draw from a fresh copy each time
            out = super().transform(copy.deepcopy(results))
            if out is not None and (boxes is None or len(out['gt_bboxes']) == num_boxes):
                return out
        return out
