"""BARON's ensemble for OV-LVIS: a weighted geometric mean of the detection and distillation branches.

As ViLD-ensemble (Gu et al., ICLR 2022) and ovdet's ``EnsembleBaronConvFCBBoxHead``: the detection branch (trained
on base-class labels) and the distillation branch (trained only by the bag/region losses) each give softmax
probabilities over classes + background; for a base class the detection branch has weight ``lambda`` (2/3), for a
novel class the distillation branch has it:
``p = p_det ** lambda * p_kd ** (1 - lambda)`` (base, and background) and
``p = p_det ** (1 - lambda) * p_kd ** lambda`` (novel). Unlike ViLD's image head, BARON's distillation branch scores
through the same text classifier with a background embedding, so both inputs include background. The formula is
shared with ViLD (:mod:`ovd.models.common.ensemble`).
"""
import torch
from torch import Tensor

from ..common.ensemble import weighted_geometric_mean


def ensemble_probabilities(det_probs: Tensor, kd_probs: Tensor, base_mask: Tensor, weight: float = 2 / 3) -> Tensor:
    """Combine the two branches' probabilities.

    Args:
        det_probs: ``[N, C + 1]`` softmax of the detection branch, background last.
        kd_probs: ``[N, C + 1]`` softmax of the distillation branch.
        base_mask: ``[C]`` bool, True for base classes (background counts as base).
        weight: ``lambda`` in (0.5, 1].

    Returns:
        ``[N, C + 1]`` combined scores (not renormalised).
    """
    if det_probs.shape != kd_probs.shape or base_mask.shape != (det_probs.shape[1] - 1,):
        raise ValueError(f'ensemble: shapes do not match: det {tuple(det_probs.shape)}, kd {tuple(kd_probs.shape)}, '
                         f'base mask {tuple(base_mask.shape)}')
    if not 0.5 < weight <= 1.0:
        raise ValueError(f'ensemble weight must lie in (0.5, 1], got {weight}')
    is_base = torch.cat([base_mask, base_mask.new_ones(1)])
    return weighted_geometric_mean(det_probs, kd_probs, is_base, weight)
