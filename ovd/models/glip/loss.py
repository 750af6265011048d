"""GLIP's token-level sigmoid focal alignment loss (Li et al., CVPR 2022, Sec. 3.1, Eq. 3).

Each anchor's alignment logits with every prompt token are trained as independent binary problems: the
target of (anchor, token) is 1 when the anchor is assigned to an object whose phrase covers the token (a
name of several sub-words makes all of them positive), 0 otherwise. Padding tokens are excluded. The sum is
normalised by the number of positive anchors, as the official implementation does
(``token_sigmoid_binary_focal_loss``, alpha 0.25, gamma 2).

Written here rather than reusing mmdet's ``FocalLoss`` because that one only sees a flattened, already
masked vector: keeping the ``[N, anchors, tokens]`` layout and the text mask explicit makes the loss one
readable function that tests can check by hand.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ovd.registry import MODELS


def token_sigmoid_focal_loss(logits: Tensor,
                             targets: Tensor,
                             text_mask: Tensor,
                             anchor_weights: Optional[Tensor] = None,
                             alpha: float = 0.25,
                             gamma: float = 2.0,
                             avg_factor: Optional[float] = None) -> Tensor:
    """Sigmoid focal loss between anchor-token alignment logits and binary token targets.

    Args:
        logits: Alignment logits, shape [N, A, T] (images, anchors, tokens).
        targets: Binary targets, shape [N, A, T].
        text_mask: Valid (non-padding) tokens, shape [N, T], bool or {0, 1}.
        anchor_weights: Optional per-anchor weights, shape [N, A] (0 drops an anchor).
        alpha: Weight of positive targets (1 - alpha for negatives).
        gamma: Focusing exponent.
        avg_factor: Normaliser (number of positive anchors); the plain sum when None.

    Returns:
        Scalar loss.
    """
    if logits.shape != targets.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ')
    if text_mask.shape != (logits.shape[0], logits.shape[2]):
        raise ValueError(f'text_mask {tuple(text_mask.shape)} must be [N, T] = '
                         f'{(logits.shape[0], logits.shape[2])}')
    targets = targets.to(logits.dtype)
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    weight = text_mask.to(logits.dtype)[:, None, :]  # [N, 1, T]
    if anchor_weights is not None:
        weight = weight * anchor_weights.to(logits.dtype)[:, :, None]  # [N, A, T]
    loss = (loss * weight).sum()
    if avg_factor is not None:
        loss = loss / max(float(avg_factor), torch.finfo(logits.dtype).eps)
    return loss


@MODELS.register_module()
class TokenSigmoidFocalLoss(nn.Module):
    """Module wrapper of :func:`token_sigmoid_focal_loss` with a loss weight (for configs).

    Args:
        alpha: Weight of positive targets.
        gamma: Focusing exponent.
        loss_weight: Multiplier of the loss.
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.loss_weight = loss_weight

    def forward(self, logits: Tensor, targets: Tensor, text_mask: Tensor,
                anchor_weights: Optional[Tensor] = None, avg_factor: Optional[float] = None) -> Tensor:
        """See :func:`token_sigmoid_focal_loss` for shapes."""
        return self.loss_weight * token_sigmoid_focal_loss(
            logits, targets, text_mask, anchor_weights, self.alpha, self.gamma, avg_factor)
