"""Soft-token match cost for MDETR's Hungarian matching (used with mmdet's ``HungarianAssigner``).

The class cost of a (query, box) pair is minus the probability mass the query puts on the tokens of the box's
phrase, the phrase's tokens weighted uniformly (Kamath et al. 2021, Sec. 2.2). The box costs are mmdet's
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
    """Cost ``-sum_t p_q(t) * target_g(t)`` between query q's token distribution and box g's phrase.

    Args:
        weight (float): Cost weight (1 in MDETR).
    """

    def __init__(self, weight: Union[float, int] = 1.0) -> None:
        super().__init__(weight=weight)

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
        target = soft_token_targets(gt_instances.positive_maps).to(prob.dtype)  # [G, T]
        return -(prob @ target.t()) * self.weight
