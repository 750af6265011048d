"""Soft-token match cost for MDETR's Hungarian matching (used with mmdet's ``HungarianAssigner``).

The class cost of a (query, box) pair is minus the probability mass the query puts on the tokens of the box's
phrase: the sum over those tokens (the official matcher, fed the 0/1 map by the official ``collate_fn``), or
their mean with ``normalize=True`` (Kamath et al. 2021, Sec. 2.2's uniform target). The box costs are mmdet's
``BBoxL1Cost`` (normalised cx, cy, w, h) and ``IoUCost`` (GIoU), which already match MDETR's.
"""
from typing import Optional, Union

from mmdet.models.task_modules.assigners.match_cost import BaseMatchCost
from mmengine.structures import InstanceData
from torch import Tensor

from ovd.registry import TASK_UTILS

from .targets import soft_token_targets


@TASK_UTILS.register_module()
class SoftTokenCost(BaseMatchCost):
    """Cost ``-sum_t p_q(t) * target_g(t)`` between query q's token distribution and box g's phrase map.

    Args:
        weight (float): Cost weight (1 in MDETR).
        normalize (bool): Weight the phrase's tokens uniformly (sum 1) instead of 1 each (official).
    """

    def __init__(self, weight: Union[float, int] = 1.0, normalize: bool = False) -> None:
        super().__init__(weight=weight)
        self.normalize = normalize

    def __call__(self, pred_instances: InstanceData, gt_instances: InstanceData,
                 img_meta: Optional[dict] = None, **kwargs) -> Tensor:
        """Compute the cost matrix.

        Args:
            pred_instances (InstanceData): ``scores`` ``[Q, T]``, softmax probabilities over the token slots.
            gt_instances (InstanceData): ``positive_maps`` ``[G, T]`` (binary or normalised).
            img_meta (dict, optional): unused.

        Returns:
            Tensor: ``[Q, G]`` cost matrix.
        """
        prob = pred_instances.scores  # [Q, T]
        maps = gt_instances.positive_maps
        target = (soft_token_targets(maps) if self.normalize else (maps > 0).float()).to(prob.dtype)  # [G, T]
        return -(prob @ target.t()) * self.weight
