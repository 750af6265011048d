"""The score ensemble of ViLD-ensemble and BARON: a per-class weighted geometric mean of two heads' probabilities.

ViLD (Gu et al., ICLR 2022, Sec. 3.4) and BARON (Wu et al., CVPR 2023; ovdet's ``EnsembleBaronConvFCBBoxHead``)
combine a head trained on base-class labels with a head trained only by distillation: for a base class the first
head has weight ``lambda``, for a novel class the second has it, ``p = p_1 ** w * p_2 ** (1 - w)`` with
``w = lambda`` (base) or ``1 - lambda`` (novel). Each method keeps its own column layout (background or not) and
the range of ``lambda`` its official code accepts (``ovd.models.vild.ensemble``, ``ovd.models.baron.ensemble``).
"""
import torch
from torch import Tensor


def weighted_geometric_mean(first: Tensor, second: Tensor, is_base: Tensor, weight: float) -> Tensor:
    """``first ** w * second ** (1 - w)`` per column, ``w = weight`` where ``is_base`` and ``1 - weight`` elsewhere.

    Args:
        first: ``[N, K]`` probabilities of the head trained on base-class labels.
        second: ``[N, K]`` probabilities of the distilled head.
        is_base: ``[K]`` bool, True for the columns where ``first`` has weight ``weight``.
        weight: ``lambda``.

    Returns:
        ``[N, K]`` combined scores (not renormalised).
    """
    first_weight = torch.where(is_base.to(first.device), weight, 1.0 - weight).to(first.dtype)  # [K]
    return first.pow(first_weight) * second.pow(1.0 - first_weight)
