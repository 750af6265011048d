"""Positional embedding of a region's box relative to its bag, added to the region's pseudo words.

Wu et al. (CVPR 2023, Sec. 3.3): each region of a bag carries where it lies in the bag, so the bag embedding
(the text encoder over all regions' words) knows the spatial layout. The box (cx, cy, w, h), relative to the bag's
spanned box, gets a sine encoding of ``num_feats`` frequencies per coordinate, and an MLP (Linear, LayerNorm, Linear,
the shape ovdet uses) maps it to one offset per pseudo word.
"""
import math

import torch
from torch import Tensor, nn


class BoxPositionalEmbedding(nn.Module):
    """Sine encoding of normalised ``(cx, cy, w, h)`` followed by an MLP to ``num_words x word_dim``.

    Args:
        num_words: pseudo words per region.
        word_dim: width of a word embedding.
        num_feats: sine/cosine features per coordinate (even).
        temperature: frequency base; frequencies are ``temperature ** (k // 2 - num_feats // 4)`` (ovdet: 1.2, so
            the frequencies span both sides of 1 for inputs in [0, 1]).
    """

    def __init__(self, num_words: int, word_dim: int, num_feats: int = 128, temperature: float = 1.2) -> None:
        super().__init__()
        if num_feats % 2:
            raise ValueError(f'num_feats must be even, got {num_feats}')
        self.num_words, self.word_dim, self.num_feats = num_words, word_dim, num_feats
        freqs = temperature ** (torch.arange(num_feats).div(2, rounding_mode='floor') - num_feats // 4)
        self.register_buffer('freqs', freqs.float(), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(4 * num_feats, word_dim), nn.LayerNorm(word_dim),
                                 nn.Linear(word_dim, num_words * word_dim))

    def encode(self, normed_boxes: Tensor) -> Tensor:
        """``[R, 4]`` xyxy in [0, 1] -> sine features ``[R, 4 * num_feats]`` of (cx, cy, w, h)."""
        xy = (normed_boxes[:, :2] + normed_boxes[:, 2:]) / 2
        wh = normed_boxes[:, 2:] - normed_boxes[:, :2]
        pos = torch.cat([xy, wh], dim=1)[:, :, None] * (2 * math.pi) * self.freqs  # [R, 4, F]
        pos = torch.stack([pos[..., 0::2].sin(), pos[..., 1::2].cos()], dim=-1).flatten(2)  # [R, 4, F]
        return pos.flatten(1)

    def forward(self, normed_boxes: Tensor) -> Tensor:
        """Offsets ``[R, num_words, word_dim]`` for regions with boxes ``[R, 4]`` relative to their bag."""
        return self.mlp(self.encode(normed_boxes)).view(-1, self.num_words, self.word_dim)
