"""ViLD-image's distillation loss: L1 between student region embeddings and the teacher's CLIP embeddings.

Paper (Gu et al., ICLR 2022, Eq. 3): ``L_image = 1/M * sum_r || V(crop(I, r)) - R(phi(I), r) ||_1`` over the M
precomputed proposals of an image, with both embeddings L2-normalised; the total loss adds it with weight ``w``
(0.5 for ResNet-50 in the official ``vild_resnet.yaml``, ``feat_distill_weight``). The official code averages the
absolute difference over valid regions *and* dimensions, then multiplies by the dimension, which is the same
quantity. Its regions are padded to 300 per image and a region counts when its largest coordinate is positive
(:func:`valid_regions`); regions that augmentation squeezed to a line still count.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor


def valid_regions(boxes: Tensor) -> Tensor:
    """The official validity test of a distillation region: its largest coordinate is positive.

    Official ``vild_model.py`` (``valid_rois``): padding rows (-1) fail, and so does a region that the crop of
    large-scale jittering pushed entirely past the top-left corner (clipped to all zeros); a region pushed past the
    bottom or right edge keeps positive coordinates and stays valid although it has no area.

    Args:
        boxes: ``[M, 4]`` regions in the network input frame, clipped to the image.

    Returns:
        ``[M]`` bool.
    """
    if boxes.shape[0] == 0:
        return boxes.new_zeros(0, dtype=bool)
    return boxes.amax(dim=-1) > 0


def distillation_l1_loss(student: Tensor, teacher: Tensor, normalize_teacher: bool = True,
                         valid: Optional[Tensor] = None) -> Tensor:
    """Mean over (valid) regions of the L1 distance between embeddings.

    Args:
        student: region embeddings of the detector ``[M, D]`` (already L2-normalised by the head).
        teacher: CLIP image embeddings of the same regions ``[M, D]`` (any dtype; cast to the student's).
        normalize_teacher: L2-normalise the teacher rows first (cached embeddings are stored normalised, but
            float16 storage and online teachers make re-normalising the safe default).
        valid: ``[M]`` bool; regions marked False are left out of the sum and of the count (the official
            padding mask). None: every region counts.

    Returns:
        Scalar loss; 0 (still attached to the graph) when no region counts.
    """
    if student.shape != teacher.shape:
        raise ValueError(f'student embeddings {tuple(student.shape)} and teacher embeddings '
                         f'{tuple(teacher.shape)} differ in shape')
    if valid is not None and valid.shape != student.shape[:1]:
        raise ValueError(f'valid mask {tuple(valid.shape)} does not match {student.shape[0]} regions')
    teacher = teacher.to(student.dtype)
    if normalize_teacher:
        teacher = F.normalize(teacher, dim=-1)
    per_region = (student - teacher).abs().sum(dim=-1)
    if valid is not None:
        per_region = per_region[valid.to(device=per_region.device, dtype=bool)]
    if per_region.numel() == 0:
        return student.sum() * 0.0
    return per_region.mean()
