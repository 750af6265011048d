"""GLIP's X-MHA (image <-> text cross-attention) with its visual-side projections folded into the text side.

mmdet's ``BiMultiHeadAttention`` projects every one of the ~22k visual tokens of an 800x1333 pyramid three times
through 256x2048 layers (query, image value, output), about 35 of the 94 GMAC a fusion layer costs at 256 text
tokens. Because the attention is bilinear, those projections can be applied to the (few) text tokens instead:

- scores, head h:  ``(V Wq_h + bq_h) s (L Wk_h + bk_h)^T = V A_h + c_h`` with ``A_h = s Wq_h^T k_h^T`` (v_dim x T)
- image output:    ``sum_h P_h (vl_h Wo_h^T) + bo = P G + bo`` with ``G_h = vl_h Wo_h^T`` (T x v_dim)
- text output:     ``P'_h (V Wv_h^T + bv_h) = (P'_h V) Wv_h^T + rowsum(P'_h) bv_h``

so the visual side is touched by three products of width ``heads * T`` instead of ``embed_dim``. With T text
tokens the layer costs ``3 N v_dim heads T`` instead of ``3 N v_dim embed + 3 N T embed`` multiply-adds: 3.6x fewer
for a 40-name LVIS chunk (~100 tokens), 2x at 256. The parameters, their names, the clamping, the masks, the
stabilised text-side softmax and dropout placement are mmdet's, so checkpoints load unchanged and outputs equal the
original to float rounding. When ``heads * T`` is large enough that the folding would cost more, the original
computation runs.
"""
from typing import Optional, Tuple

import torch
from mmdet.models.utils.vlfuse_helper import MAX_CLAMP_VALUE, BiMultiHeadAttention, VLFuse
from torch import Tensor
from torch.nn import functional as F


class FoldedBiMultiHeadAttention(BiMultiHeadAttention):
    """``BiMultiHeadAttention`` computed with the visual projections folded into the text side (see module doc)."""

    def folding_pays(self, num_text_tokens: int) -> bool:
        """Whether the folded form needs fewer multiply-adds than the original for this many text tokens."""
        folded = 3 * self.v_dim * self.num_heads * num_text_tokens
        original = 3 * self.v_dim * self.embed_dim + 3 * num_text_tokens * self.embed_dim
        return folded < original

    def forward(self, vision: Tensor, lang: Tensor, attention_mask_v: Optional[Tensor] = None,
                attention_mask_l: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        if attention_mask_v is not None or not self.folding_pays(lang.shape[1]):
            return super().forward(vision, lang, attention_mask_v, attention_mask_l)
        bsz, n_vis, v_dim = vision.shape
        n_txt = lang.shape[1]
        heads, head_dim = self.num_heads, self.head_dim

        keys = self.l_proj(lang).view(bsz, n_txt, heads, head_dim)
        # A[b, :, h*T + t] = scale * Wq_h^T k[b, t, h];  c[b, h*T + t] = scale * bq_h . k[b, t, h]
        wq = self.v_proj.weight.view(heads, head_dim, v_dim)
        fold_q = torch.einsum('hev,bthe->bvht', wq, keys).reshape(bsz, v_dim, heads * n_txt) * self.scale
        bias_q = torch.einsum('he,bthe->bht', self.v_proj.bias.view(heads, head_dim), keys)
        scores = torch.baddbmm(bias_q.reshape(bsz, 1, heads * n_txt) * self.scale, vision, fold_q)
        scores = scores.view(bsz, n_vis, heads, n_txt)
        # In inference the score tensor is transformed in place (it is only read by the two softmaxes);
        # with autograd on, out of place, as mmdet does.
        inplace = not torch.is_grad_enabled()
        if self.stable_softmax_2d:
            scores = scores - scores.max()
        scores = _clamp(scores, -MAX_CLAMP_VALUE if self.clamp_min_for_underflow else None,
                        MAX_CLAMP_VALUE if self.clamp_max_for_overflow else None, inplace)

        # Image side: each visual token attends over the text tokens of each head, padding masked out.
        if attention_mask_l is not None and bool((attention_mask_l == 0).any()):
            pad = torch.zeros_like(attention_mask_l, dtype=scores.dtype).masked_fill(attention_mask_l == 0, -9e15)
            probs_v = (scores + pad.view(bsz, 1, 1, n_txt)).softmax(dim=-1)
        else:  # adding a mask of zeros changes nothing
            probs_v = scores.softmax(dim=-1)
        probs_v = F.dropout(probs_v, p=self.dropout, training=self.training)

        # Text side: each (head, token) attends over all visual tokens (dim 1). After subtracting the maximum
        # every value is <= 0, so mmdet's upper clamp there never acts and is skipped.
        peak = scores.amax(dim=1, keepdim=True)
        scores_l = scores.sub_(peak) if inplace else scores - peak
        if self.clamp_min_for_underflow:
            scores_l = _clamp(scores_l, -MAX_CLAMP_VALUE, None, inplace)
        probs_l = F.dropout(scores_l.softmax(dim=1), p=self.dropout, training=self.training)

        # G[b, h*T + t] = values_l[b, t, h] Wo_h^T  (T x v_dim per head)
        values_l = self.values_l_proj(lang).view(bsz, n_txt, heads, head_dim)
        wo_v = self.out_v_proj.weight.view(v_dim, heads, head_dim)
        fold_out_v = torch.einsum('bthe,vhe->bhtv', values_l, wo_v).reshape(bsz, heads * n_txt, v_dim)
        delta_v = torch.baddbmm(self.out_v_proj.bias.view(1, 1, v_dim), probs_v.view(bsz, n_vis, heads * n_txt),
                                fold_out_v)

        # R[b, h*T + t] = sum_n P'[b, n, h, t] V[b, n]; then the image-value projection per head.
        probs_l = probs_l.view(bsz, n_vis, heads * n_txt)
        pooled = torch.bmm(probs_l.transpose(1, 2), vision).view(bsz, heads, n_txt, v_dim)
        wv = self.values_v_proj.weight.view(heads, head_dim, v_dim)
        attn_l = torch.einsum('bhtv,hev->bthe', pooled, wv)
        mass = probs_l.sum(dim=1).view(bsz, heads, n_txt)  # 1 without dropout
        attn_l = attn_l + torch.einsum('bht,he->bthe', mass, self.values_v_proj.bias.view(heads, head_dim))
        delta_l = self.out_l_proj(attn_l.reshape(bsz, n_txt, self.embed_dim))
        return delta_v, delta_l


def _clamp(values: Tensor, low: Optional[float], high: Optional[float], inplace: bool) -> Tensor:
    if low is None and high is None:
        return values
    return values.clamp_(low, high) if inplace else values.clamp(low, high)


def build_vl_fuse(**kwargs) -> VLFuse:
    """mmdet's ``VLFuse`` (same module tree and parameter names) whose attention is the folded one."""
    fuse = VLFuse(**kwargs)
    plain = fuse.b_attn.attn
    fuse.b_attn.attn = FoldedBiMultiHeadAttention(v_dim=plain.v_dim, l_dim=plain.l_dim, embed_dim=plain.embed_dim,
                                                  num_heads=plain.num_heads, dropout=plain.dropout)
    return fuse
