"""InfoNCE between two sets of paired embeddings, with queued negatives and masked false negatives.

For queries ``q_i`` and keys ``k_j`` (both L2-normalised) the loss of query ``i`` is the cross-entropy of
``scale * q_i . k_j`` over the keys, with its positive at ``j = i``. The keys are the in-batch keys followed by
queued keys. Some keys must be neither positive nor negative: in-batch keys that are the same thing as the positive
(e.g. two permutations of one bag of regions, one region sampled in two bags) and queued keys from the query's own
image; ``ignore`` marks them and they are removed from the softmax (logit -inf). The symmetric form averages the
loss with queries and keys swapped (CLIP's loss), as BARON does.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def info_nce(queries: Tensor, keys: Tensor, scale: float, ignore: Optional[Tensor] = None) -> Tensor:
    """One-directional InfoNCE; the positive of query ``i`` is key ``i``.

    Args:
        queries: ``[N, D]``, L2-normalised.
        keys: ``[N + K, D]``, L2-normalised; the first ``N`` are the queries' positives, in order.
        scale: logit scale (inverse temperature), e.g. 30.
        ignore: ``[N, N + K]`` bool, True where a key is removed from query ``i``'s softmax; the diagonal
            (the positive) is never removed.

    Returns:
        Scalar mean loss (0 with a gradient path when ``N == 0``).
    """
    num = queries.shape[0]
    if keys.shape[0] < num:
        raise ValueError(f'info_nce: {keys.shape[0]} keys for {num} queries; the first N keys are the positives')
    if num == 0:
        return queries.sum() * 0.0
    logits = scale * queries @ keys.t()  # [N, N + K]
    if ignore is not None:
        if ignore.shape != logits.shape:
            raise ValueError(f'info_nce: ignore mask {tuple(ignore.shape)} != logits {tuple(logits.shape)}')
        ignore = ignore.clone()
        ignore[:, :num].fill_diagonal_(False)
        logits = logits.masked_fill(ignore, float('-inf'))
    target = torch.arange(num, device=queries.device)
    return F.cross_entropy(logits, target)


def symmetric_info_nce(a: Tensor, b: Tensor, scale: float, same: Optional[Tensor] = None,
                       queue_a: Optional[Tensor] = None, queue_b: Optional[Tensor] = None,
                       queue_ignore_a: Optional[Tensor] = None, queue_ignore_b: Optional[Tensor] = None) -> Tensor:
    """``0.5 * (InfoNCE(a -> b) + InfoNCE(b -> a))`` with in-batch and queued negatives.

    Args:
        a, b: ``[N, D]`` paired embeddings (``a_i`` with ``b_i``), L2-normalised.
        scale: logit scale.
        same: ``[N, N]`` bool, True where ``i`` and ``j`` are the same item (ignored both ways, diagonal kept).
        queue_a, queue_b: ``[K_a, D]`` / ``[K_b, D]`` queued embeddings of each side (keys for the other side).
        queue_ignore_a: ``[N, K_a]`` bool, True where queued ``a`` row ``k`` must not be a negative of ``b_i``
            (same image); likewise ``queue_ignore_b`` ``[N, K_b]`` for the queries ``a_i``.

    Returns:
        Scalar loss.
    """
    num = a.shape[0]
    if b.shape != a.shape:
        raise ValueError(f'symmetric_info_nce: paired embeddings differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}')
    same = torch.zeros(num, num, dtype=torch.bool, device=a.device) if same is None else same
    queue_a = a.new_zeros(0, a.shape[1]) if queue_a is None else queue_a
    queue_b = b.new_zeros(0, b.shape[1]) if queue_b is None else queue_b

    def mask(queue: Tensor, queue_ignore: Optional[Tensor]) -> Tensor:
        if queue_ignore is None:
            queue_ignore = torch.zeros(num, queue.shape[0], dtype=torch.bool, device=a.device)
        return torch.cat([same, queue_ignore], dim=1)

    a_to_b = info_nce(a, torch.cat([b, queue_b]), scale, mask(queue_b, queue_ignore_b))
    b_to_a = info_nce(b, torch.cat([a, queue_a]), scale, mask(queue_a, queue_ignore_a))
    return 0.5 * (a_to_b + b_to_a)
