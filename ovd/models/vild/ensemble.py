"""ViLD-ensemble's score combination: a per-class weighted geometric mean of the text and image heads.

Paper (Gu et al., ICLR 2022, Sec. 3.4): for base classes the text head gets weight lambda = 2/3, for novel classes
the image head does: ``s = s_text^lambda * s_image^(1-lambda)`` (base), ``s_text^(1-lambda) * s_image^lambda``
(novel). The text head's probabilities come from its softmax over classes + background; the image head has no
background (it was trained only to mimic CLIP), so its softmax runs over the classes alone, as in the official
post-processing. The formula is shared with BARON (:mod:`ovd.models.common.ensemble`).
"""
import torch
from torch import Tensor

from ..common.ensemble import weighted_geometric_mean


def ensemble_scores(text_probs: Tensor, image_probs: Tensor, base_mask: Tensor, weight: float = 2 / 3) -> Tensor:
    """Combine the two heads' class probabilities.

    Args:
        text_probs: ``[N, C + 1]`` softmax of the text head, background last.
        image_probs: ``[N, C]`` softmax of the image head over the classes.
        base_mask: ``[C]`` bool, True for base classes.
        weight: lambda, the weight of the text head on base classes and of the image head on novel ones.

    Returns:
        ``[N, C + 1]``: combined class scores; the background column is the text head's, kept only so the
        layout matches mmdet's (NMS ignores it).
    """
    num_classes = image_probs.shape[1]
    if text_probs.shape != (image_probs.shape[0], num_classes + 1) or base_mask.shape != (num_classes,):
        raise ValueError(f'shapes do not match: text {tuple(text_probs.shape)}, image {tuple(image_probs.shape)}, '
                         f'base mask {tuple(base_mask.shape)}')
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f'ensemble weight must lie in [0, 1], got {weight}')
    combined = weighted_geometric_mean(text_probs[:, :num_classes], image_probs, base_mask, weight)
    return torch.cat([combined, text_probs[:, num_classes:]], dim=1)
