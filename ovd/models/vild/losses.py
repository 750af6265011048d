"""ViLD-image's distillation loss: L1 between student region embeddings and the teacher's CLIP embeddings.

Paper (Gu et al., ICLR 2022, Eq. 3): ``L_image = 1/M * sum_r || V(crop(I, r)) - R(phi(I), r) ||_1`` over the M
precomputed proposals of an image, with both embeddings L2-normalised; the total loss adds it with weight ``w``
(0.5 for ResNet-50 in the official ``vild_resnet.yaml``, ``feat_distill_weight``). The official code averages the
absolute difference over regions *and* dimensions, then multiplies by the dimension, which is the same quantity.
"""
import torch.nn.functional as F
from torch import Tensor


def distillation_l1_loss(student: Tensor, teacher: Tensor, normalize_teacher: bool = True) -> Tensor:
    """Mean over regions of the L1 distance between embeddings.

    Args:
        student: region embeddings of the detector ``[M, D]`` (already L2-normalised by the head).
        teacher: CLIP image embeddings of the same regions ``[M, D]`` (any dtype; cast to the student's).
        normalize_teacher: L2-normalise the teacher rows first (cached embeddings are stored normalised, but
            float16 storage and online teachers make re-normalising the safe default).

    Returns:
        Scalar loss; 0 (still attached to the graph) when ``M == 0``.
    """
    if student.shape != teacher.shape:
        raise ValueError(f'student embeddings {tuple(student.shape)} and teacher embeddings '
                         f'{tuple(teacher.shape)} differ in shape')
    if student.shape[0] == 0:
        return student.sum() * 0.0
    teacher = teacher.to(student.dtype)
    if normalize_teacher:
        teacher = F.normalize(teacher, dim=-1)
    return (student - teacher).abs().sum(dim=-1).mean()
