"""The frozen CLIP BARON aligns with: its text encoder reads pseudo words, its image encoder is the teacher.

Built on the shared open_clip wrapper (:class:`ovd.text.clip.OpenCLIPEncoder`, weights from a pretrained tag, a
local file or a tiny test config). What BARON needs beyond ``encode_text(token_ids)`` / ``encode_image`` is reaching
*inside* the two towers, so it lives here rather than in the wrapper:

- :meth:`FrozenCLIP.encode_pseudo_text`: the text transformer on word *embeddings* (pseudo words wrapped in the
  start/end token embeddings), returning the end-token feature (as ``encode_text`` pools) and every token's
  feature (for the region-level loss), both after ``ln_final`` and the text projection;
- :meth:`FrozenCLIP.encode_image_dense`: the ViT on an image batch, returning the pooled embedding and the patch
  tokens through the same ``ln_post`` and projection, as a ``[B, E, g, g]`` map (the teacher's RoI-pooled
  features, as ovdet's ``CLIPViT(return_tokens=True)``).

The parameters are frozen (``requires_grad=False``) and the module stays in eval mode whatever ``train()`` asks;
gradients still flow to the pseudo words through the text encoder's inputs. ``init_weights`` is a no-op so mmengine's
weight initialisation never overwrites the loaded CLIP weights.
"""
from typing import Any, Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

# CLIP's normalisation of 0-1 RGB images (Radford et al., 2021)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class FrozenCLIP(BaseModule):
    """A frozen open_clip model with pseudo-text and dense-image encoding.

    Args:
        clip: arguments of :class:`ovd.text.clip.OpenCLIPEncoder` (``model_name``, ``pretrained``, ``model_cfg``,
            ``cache_dir``), or an already built encoder.
    """

    def __init__(self, clip: Union[Dict[str, Any], nn.Module]) -> None:
        super().__init__()
        if isinstance(clip, nn.Module):
            self.encoder = clip
        else:
            from ovd.text.clip import OpenCLIPEncoder
            self.encoder = OpenCLIPEncoder(**dict(clip, freeze=True))
        model = self.encoder.model
        for name in ('token_embedding', 'positional_embedding', 'transformer', 'ln_final', 'text_projection',
                     'visual'):
            if not hasattr(model, name):
                raise ValueError(f'FrozenCLIP needs an open_clip CLIP with a built-in text tower; '
                                 f'{type(model).__name__} has no {name!r}')
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()
        tokenizer = self.encoder.tokenizer
        self.sot_id = int(getattr(tokenizer, 'sot_token_id', 49406))
        self.eot_id = int(getattr(tokenizer, 'eot_token_id', 49407))
        self.register_buffer('image_mean', torch.tensor(CLIP_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer('image_std', torch.tensor(CLIP_STD).view(1, 3, 1, 1) * 255, persistent=False)

    def init_weights(self) -> None:
        """Keep the loaded CLIP weights (mmengine calls this on every module before training)."""

    def train(self, mode: bool = True) -> 'FrozenCLIP':
        return super().train(False)

    @property
    def model(self) -> nn.Module:
        return self.encoder.model

    @property
    def word_dim(self) -> int:
        """Width of the token embeddings (what a pseudo word is), e.g. 512 for ViT-B/32."""
        return int(self.model.token_embedding.weight.shape[1])

    @property
    def context_length(self) -> int:
        return int(self.model.positional_embedding.shape[0])

    @property
    def embed_dim(self) -> int:
        return int(self.encoder.embed_dim)

    @property
    def image_size(self) -> int:
        return int(self.encoder.image_size)

    def special_tokens(self) -> Tuple[Tensor, Tensor]:
        """Start and end token embeddings, ``[word_dim]`` each."""
        ids = torch.tensor([self.sot_id, self.eot_id], device=self.model.token_embedding.weight.device)
        sot, eot = self.model.token_embedding(ids)
        return sot, eot

    def _project_text(self, x: Tensor) -> Tensor:
        proj = self.model.text_projection
        return proj(x) if isinstance(proj, nn.Linear) else x @ proj

    def encode_pseudo_text(self, words: Tensor, end_ids: Tensor) -> Tuple[Tensor, Tensor]:
        """Run the text transformer on word embeddings.

        Args:
            words: ``[S, L, word_dim]``: start token, pseudo words, end token at ``end_ids``, then anything
                (causal attention never lets earlier positions see it). ``L <= context_length``.
            end_ids: ``[S]`` position of the end token.

        Returns:
            ``text [S, E]`` (the end token's feature, L2-normalised) and ``tokens [S, L, E]`` (every position's
            feature after ``ln_final`` and the projection, not normalised).
        """
        length = words.shape[1]
        if length > self.context_length:
            raise ValueError(f'pseudo text of {length} tokens exceeds the CLIP context length {self.context_length}')
        model = self.model
        x = words + model.positional_embedding[:length].to(words.dtype)
        attn_mask = model.attn_mask[:length, :length] if model.attn_mask is not None else None
        x = model.transformer(x, attn_mask=attn_mask)
        tokens = self._project_text(model.ln_final(x))  # [S, L, E]
        text = tokens[torch.arange(tokens.shape[0], device=tokens.device), end_ids]
        return F.normalize(text, dim=-1), tokens

    def encode_image_dense(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """Pooled and patch embeddings of CLIP-normalised images.

        Args:
            images: ``[B, 3, image_size, image_size]``.

        Returns:
            ``pooled [B, E]`` (L2-normalised) and ``patches [B, E, g, g]`` (not normalised), ``g`` the patch grid.
        """
        visual = self.model.visual
        if not hasattr(visual, '_embeds') or getattr(visual, 'attn_pool', None) is not None:
            raise ValueError(f'BARON teacher needs an open_clip VisionTransformer without attention pooling, got '
                             f'{type(visual).__name__}')
        x = visual._embeds(images)
        x = visual.transformer(x)
        pooled, tokens = visual._pool(x)  # ln_post applied; tokens [B, g*g, width]
        if visual.proj is not None:
            pooled, tokens = pooled @ visual.proj, tokens @ visual.proj
        grid = int(round(tokens.shape[1] ** 0.5))
        patches = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, grid, grid)
        return F.normalize(pooled, dim=-1), patches

    def normalize_images(self, images: Tensor) -> Tensor:
        """0-255 RGB ``[B, 3, H, W]`` -> CLIP's input normalisation."""
        return (images - self.image_mean) / self.image_std


def pack_pseudo_text(words: Tensor, word_seq: Tensor, num_seqs: int, sot: Tensor, eot: Tensor,
                     pad: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """Pack word embeddings into ``[start, words..., end, pad...]`` sequences, in order, without Python loops.

    Args:
        words: ``[N, D]`` word embeddings, grouped by sequence (``word_seq`` non-decreasing), in sequence order.
        word_seq: ``[N]`` sequence index of each word.
        num_seqs: ``S``.
        sot, eot: ``[D]`` start / end token embeddings.
        pad: ``[D]`` embedding after the end token (default zeros; causal attention never reads it).

    Returns:
        ``text [S, L, D]`` with ``L = 2 + max words per sequence``, ``end_ids [S]`` and ``word_pos [N]`` (the
        position of each word in its sequence).
    """
    counts = torch.bincount(word_seq, minlength=num_seqs)  # [S]
    starts = counts.cumsum(0) - counts
    word_pos = torch.arange(words.shape[0], device=words.device) - starts[word_seq] + 1
    length = int(counts.max().item()) + 2 if num_seqs else 2
    text = (pad if pad is not None else torch.zeros_like(sot)).expand(num_seqs, length, -1).clone()
    text[:, 0] = sot
    end_ids = counts + 1
    text[torch.arange(num_seqs, device=words.device), end_ids] = eot.to(text.dtype)
    text = text.index_put((word_seq, word_pos), words.to(text.dtype))
    return text, end_ids, word_pos
