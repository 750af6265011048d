"""A FIFO queue of embeddings with an owner id per row (e.g. the image id), synchronised across ranks.

Contrastive losses (BARON's bag- and region-level InfoNCE, MoCo-style methods) use earlier batches' embeddings as
extra negatives. Two rules make that correct in distributed training: every rank must hold the *same* queue, so a
batch is ``all_gather``-ed from all ranks before it is enqueued (rank order, then row order); and rows from the
image a query comes from are not negatives, so each row keeps its owner id for masking. The newest rows come first.
Empty slots have id -1 and are never returned.
"""
from typing import Tuple

import torch
import torch.distributed as torch_dist
from mmengine import dist
from torch import Tensor, nn


def gather_rows(x: Tensor) -> Tensor:
    """Concatenate a tensor's rows over all ranks (rank 0 first); rows may differ in number between ranks.

    Args:
        x: ``[N_rank, ...]``.

    Returns:
        ``[sum N_rank, ...]``; ``x`` itself when not distributed.
    """
    if dist.get_world_size() < 2:
        return x
    sizes = dist.all_gather(torch.tensor([x.shape[0]], device=x.device))
    sizes = [int(s.item()) for s in sizes]
    padded = x.new_zeros((max(sizes),) + tuple(x.shape[1:]))
    padded[:x.shape[0]] = x
    gathered = dist.all_gather(padded)
    return torch.cat([g[:n] for g, n in zip(gathered, sizes)])


class FeatureQueue(nn.Module):
    """A queue of ``length`` embeddings of dimension ``dim`` with one integer id each.

    Args:
        length: maximum number of rows kept (ovdet's BARON configs: 1024).
        dim: embedding dimension.
        gather: all_gather the rows of every rank before enqueueing (keeps the queues of all ranks equal).
    """

    def __init__(self, length: int, dim: int, gather: bool = True) -> None:
        super().__init__()
        if length <= 0 or dim <= 0:
            raise ValueError(f'FeatureQueue needs length > 0 and dim > 0, got length={length}, dim={dim}')
        self.length = int(length)
        self.gather = gather
        # not persistent: a checkpoint resumes with an empty queue, as the queue is a training-time cache
        self.register_buffer('features', torch.zeros(self.length, dim), persistent=False)
        self.register_buffer('ids', torch.full((self.length,), -1, dtype=torch.long), persistent=False)

    def __len__(self) -> int:
        return int((self.ids >= 0).sum())

    @torch.no_grad()
    def enqueue(self, features: Tensor, ids: Tensor) -> None:
        """Put a batch in front of the queue, dropping the oldest rows beyond ``length``.

        Args:
            features: ``[N, dim]`` (detached here).
            ids: ``[N]`` owner ids, >= 0.
        """
        if features.ndim != 2 or features.shape[1] != self.features.shape[1] or ids.shape != features.shape[:1]:
            raise ValueError(f'FeatureQueue.enqueue: expected features [N, {self.features.shape[1]}] and ids [N], '
                             f'got {tuple(features.shape)} and {tuple(ids.shape)}')
        if (ids < 0).any():
            raise ValueError('FeatureQueue.enqueue: ids must be >= 0 (-1 marks empty slots)')
        features = features.detach().to(self.features)
        ids = ids.to(self.ids)
        if self.gather and torch_dist.is_available() and torch_dist.is_initialized():
            features, ids = gather_rows(features), gather_rows(ids)
        features, ids = features[:self.length], ids[:self.length]
        self.features.copy_(torch.cat([features, self.features])[:self.length])
        self.ids.copy_(torch.cat([ids, self.ids])[:self.length])

    def get(self) -> Tuple[Tensor, Tensor]:
        """The filled rows, newest first: ``features [K, dim]`` and ``ids [K]``."""
        valid = self.ids >= 0
        return self.features[valid], self.ids[valid]
