"""The frozen CLIP BARON aligns with: its text encoder reads pseudo words, its image encoder is the teacher.

Built on the shared open_clip wrapper (:class:`ovd.text.clip.OpenCLIPEncoder`, weights from a pretrained tag, a
local file or a tiny test config). What BARON needs beyond ``encode_text(token_ids)`` / ``encode_image`` is reaching
*inside* the two towers, so it lives here rather than in the wrapper:

- :meth:`FrozenCLIP.encode_pseudo_text`: the text transformer on word *embeddings* (pseudo words wrapped in the
  start/end token embeddings), returning the end-token feature (as ``encode_text`` pools) and every token's
  *value-path* feature (for the region-level loss), both after ``ln_final`` and the text projection;
- :meth:`FrozenCLIP.encode_pseudo_text_endk`: the end token's residual stream after the blocks, without
  ``ln_final`` and projection (ovdet's ``use_attn12_output`` classifier feature, "attn12" for ViT-B/32);
- :meth:`FrozenCLIP.encode_image_dense`: the ViT on an image batch, returning the pooled embedding and the
  value-path patch tokens through the same ``ln_post`` and projection, as a ``[B, E, g, g]`` map (the teacher's
  RoI-pooled features).

Value path (ovdet ``ovdet/models/vlms/clip/common.py:20-24,70-83``, used by ``encode_pseudo_text(
return_word_tokens=True)`` and ``CLIPViT.encode_image(return_tokens=True)``): the per-token features are not the
last block's ordinary outputs. For the LAST block with input ``x``, token ``t`` gets
``u_t = x_end + out_proj(v_proj(ln_1(x_t)))``, ``x_end`` the block input at the pooled token (the end token of the
text, the class token of the image): no attention weights and no residual of ``x_t``; then
``u_t + mlp(ln_2(u_t))``. The pooled features stay the ordinary ones.

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

    def _text_input(self, words: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        length = words.shape[1]
        if length > self.context_length:
            raise ValueError(f'pseudo text of {length} tokens exceeds the CLIP context length {self.context_length}')
        model = self.model
        x = words + model.positional_embedding[:length].to(words.dtype)
        attn_mask = model.attn_mask[:length, :length] if model.attn_mask is not None else None
        return x, attn_mask

    def encode_pseudo_text(self, words: Tensor, end_ids: Tensor,
                           return_tokens: bool = True) -> Tuple[Tensor, Optional[Tensor]]:
        """Run the text transformer on word embeddings.

        Args:
            words: ``[S, L, word_dim]``: start token, pseudo words, end token at ``end_ids``, then anything
                (causal attention never lets earlier positions see it). ``L <= context_length``.
            end_ids: ``[S]`` position of the end token.
            return_tokens: also compute the per-token features (the classifier needs only the end token).

        Returns:
            ``text [S, E]`` (the end token's feature, L2-normalised) and ``tokens [S, L, E]`` (every position's
            value-path feature, see the module docstring, after ``ln_final`` and the projection, not normalised;
            None without ``return_tokens``).
        """
        x, attn_mask = self._text_input(words)
        blocks = list(self.model.transformer.resblocks)
        batch_first = getattr(self.model.transformer, 'batch_first', True)
        for block in blocks[:-1]:
            x = _run_block(block, x, attn_mask, batch_first)
        rows = torch.arange(x.shape[0], device=x.device)
        tokens = _value_path(blocks[-1], x, x[rows, end_ids]) if return_tokens else None
        x = _run_block(blocks[-1], x, attn_mask, batch_first)
        text = self._project_text(self.model.ln_final(x[rows, end_ids]))
        if tokens is not None:
            tokens = self._project_text(self.model.ln_final(tokens))  # [S, L, E]
        return F.normalize(text, dim=-1), tokens

    def encode_pseudo_text_endk(self, words: Tensor, end_ids: Tensor, num_blocks: Optional[int] = None) -> Tensor:
        """The end token's residual stream after ``num_blocks`` blocks (default all), L2-normalised, without
        ``ln_final`` and projection: ``[S, width]`` (ovdet ``encode_pseudo_text_endk``, ``text_encoder.py:123-148``;
        the classifier feature of ``use_attn12_output``)."""
        x, attn_mask = self._text_input(words)
        blocks = list(self.model.transformer.resblocks)
        num_blocks = len(blocks) if num_blocks is None else num_blocks
        if not 0 < num_blocks <= len(blocks):
            raise ValueError(f'num_blocks must lie in [1, {len(blocks)}], got {num_blocks}')
        batch_first = getattr(self.model.transformer, 'batch_first', True)
        for block in blocks[:num_blocks]:
            x = _run_block(block, x, attn_mask, batch_first)
        return F.normalize(x[torch.arange(x.shape[0], device=x.device), end_ids], dim=-1)

    def encode_text_endk(self, token_ids: Tensor, num_blocks: Optional[int] = None) -> Tensor:
        """:meth:`encode_pseudo_text_endk` of tokenised text ``[S, context_length]`` (end token = highest id)."""
        end_ids = token_ids.argmax(dim=-1)
        length = int(end_ids.max()) + 1
        words = self.model.token_embedding(token_ids[:, :length])
        return self.encode_pseudo_text_endk(words, end_ids, num_blocks)

    def encode_image_dense(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """Pooled and patch embeddings of CLIP-normalised images.

        Args:
            images: ``[B, 3, image_size, image_size]``.

        Returns:
            ``pooled [B, E]`` (L2-normalised) and ``patches [B, E, g, g]`` (value-path tokens, see the module
            docstring, after ``ln_post`` and the projection; not normalised), ``g`` the patch grid.
        """
        visual = self.model.visual
        if not hasattr(visual, '_embeds') or getattr(visual, 'attn_pool', None) is not None \
                or getattr(visual, 'final_ln_after_pool', False) or getattr(visual, 'pool_type', 'tok') != 'tok':
            raise ValueError(f'BARON teacher needs an open_clip VisionTransformer pooling its class token without '
                             f'attention pooling, got {type(visual).__name__}')
        x = visual._embeds(images)
        blocks = list(visual.transformer.resblocks)
        batch_first = getattr(visual.transformer, 'batch_first', True)
        for block in blocks[:-1]:
            x = _run_block(block, x, None, batch_first)
        tokens = _value_path(blocks[-1], x[:, 1:], x[:, 0])  # [B, g*g, width]
        pooled = _run_block(blocks[-1], x, None, batch_first)[:, 0]
        pooled, tokens = visual.ln_post(pooled), visual.ln_post(tokens)
        if visual.proj is not None:
            pooled, tokens = pooled @ visual.proj, tokens @ visual.proj
        grid = int(round(tokens.shape[1] ** 0.5))
        patches = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, grid, grid)
        return F.normalize(pooled, dim=-1), patches

    def normalize_images(self, images: Tensor) -> Tensor:
        """0-255 RGB ``[B, 3, H, W]`` -> CLIP's input normalisation."""
        return (images - self.image_mean) / self.image_std


def _run_block(block: nn.Module, x: Tensor, attn_mask: Optional[Tensor], batch_first: bool) -> Tensor:
    """One open_clip residual block on batch-first ``x [N, L, width]``."""
    if batch_first:
        return block(x, attn_mask=attn_mask)
    return block(x.transpose(0, 1), attn_mask=attn_mask).transpose(0, 1)


def _value_path(block: nn.Module, x: Tensor, x_pooled: Tensor) -> Tensor:
    """ovdet's per-token features of a residual block (module docstring): ``x [N, L, width]`` the block input,
    ``x_pooled [N, width]`` its row at the pooled token -> ``[N, L, width]``."""
    attn = block.attn
    if not hasattr(attn, 'in_proj_weight') or attn.in_proj_weight is None:
        raise ValueError(f'value-path tokens need a packed in_proj_weight, got {type(attn).__name__}')
    width = x.shape[-1]
    bias = attn.in_proj_bias[-width:] if attn.in_proj_bias is not None else None
    values = F.linear(block.ln_1(x), attn.in_proj_weight[-width:], bias)
    tokens = x_pooled[:, None] + _layer_scale(block, 'ls_1')(attn.out_proj(values))
    return tokens + _layer_scale(block, 'ls_2')(block.mlp(block.ln_2(tokens)))


def _layer_scale(block: nn.Module, name: str) -> nn.Module:
    return getattr(block, name, None) or nn.Identity()


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
