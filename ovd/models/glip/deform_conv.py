"""Modulated deformable convolution (DCNv2) on the CPU as an embedding bag of bilinear corners + one matrix product.

mmcv's CPU kernel gathers the deformed columns in one serial loop (``modulated_deformable_im2col_cpu``), so on a
CPU DCN layers cost several times what their arithmetic needs; GLIP's DyHead runs 13 of them per block. Here each
deformed column (all C channels of one sampling point) is the sum of the 4 bilinear-corner rows of the
channels-last input, weighted by bilinear weight x modulation: exactly what ``F.embedding_bag(mode='sum',
per_sample_weights=...)`` computes, threaded and vectorised over channels, without materialising the corners.
One matrix product with the (K*C, O) weight finishes the convolution. The result equals mmcv's operator to float
rounding, gradients included (autograd through the bag weights); on CUDA, and for grouped or multi-deform-group
convolutions, :class:`FastModulatedDeformConv2d` keeps calling mmcv's kernel.

mmcv reads ``offset`` and ``mask`` through their data pointers with the *output's* height and width. GLIP's DyHead
relies on that: its "higher level" convolution runs on the next, coarser level with the current level's offsets,
so mmcv reads the first ``2*K*Ho*Wo`` values of each image's offset memory as a ``(2*K, Ho, Wo)`` map. The same
reinterpretation is applied here (:func:`_as_output_grid`), so checkpoints trained with mmcv or with the official
GLIP code (maskrcnn-benchmark's DCN reads memory the same way) give the same features.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2d
from torch import Tensor
from torch.utils.checkpoint import checkpoint


def _as_output_grid(values: Tensor, channels: int, height: int, width: int) -> Tensor:
    """``values`` (N, C', H', W') read as mmcv does: the first ``channels*height*width`` values of each image."""
    n = values.shape[0]
    if values.shape[1:] == (channels, height, width):
        return values
    flat = values.reshape(n, -1)
    if flat.shape[1] < channels * height * width:
        raise ValueError(f'offset/mask of shape {tuple(values.shape)} has fewer values than the '
                         f'({channels}, {height}, {width}) map the convolution needs')
    return flat[:, :channels * height * width].reshape(n, channels, height, width)


def modulated_deform_conv2d_sampled(x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
                                    bias: Optional[Tensor] = None, stride: Tuple[int, int] = (1, 1),
                                    padding: Tuple[int, int] = (0, 0),
                                    dilation: Tuple[int, int] = (1, 1)) -> Tensor:
    """DCNv2 with one deform group and one conv group, same layout and semantics as mmcv's operator.

    Args:
        x: Input (N, C, H, W).
        offset: (N, 2*K, Ho, Wo), per kernel tap ``k`` the (dy, dx) pair at channels ``2k, 2k+1``.
        mask: (N, K, Ho, Wo) modulation, applied to the sampled values.
        weight: (O, C, kh, kw).
        bias: (O,) or None.
    """
    n, c, h, w = x.shape
    out_ch, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    taps = kh * kw
    offset = _as_output_grid(offset, 2 * taps, ho, wo).reshape(n, taps, 2, ho, wo)
    mask = _as_output_grid(mask, taps, ho, wo)

    dtype, device = x.dtype, x.device
    tap_y, tap_x = torch.meshgrid(torch.arange(kh, dtype=dtype, device=device) * dh,
                                  torch.arange(kw, dtype=dtype, device=device) * dw, indexing='ij')
    rows = (torch.arange(ho, dtype=dtype, device=device) * sh - ph).view(1, ho, 1, 1)
    cols = (torch.arange(wo, dtype=dtype, device=device) * sw - pw).view(1, 1, wo, 1)
    # Sampling points in (N, Ho, Wo, K) order, so the gathered columns come out as (N*Ho*Wo, K*C) rows.
    sample_y = rows + tap_y.reshape(1, 1, 1, taps) + offset[:, :, 0].permute(0, 2, 3, 1)
    sample_x = cols + tap_x.reshape(1, 1, 1, taps) + offset[:, :, 1].permute(0, 2, 3, 1)
    index, weight_of = _bilinear_corners(sample_y, sample_x, h, w, mask.permute(0, 2, 3, 1))
    table = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # one row of C values per input pixel
    # Each output column = sum of 4 rows, weighted by bilinear weight x modulation: an embedding bag.
    columns = F.embedding_bag(index.view(-1, 4), table, per_sample_weights=weight_of.view(-1, 4), mode='sum')
    tap_weights = weight.reshape(out_ch, c, taps).permute(2, 1, 0).reshape(taps * c, out_ch)
    columns = columns.view(n * ho * wo, taps * c)
    out = columns @ tap_weights if bias is None else torch.addmm(bias, columns, tap_weights)
    return out.view(n, ho, wo, out_ch).permute(0, 3, 1, 2).contiguous()


def _bilinear_corners(sample_y: Tensor, sample_x: Tensor, height: int, width: int,
                      mask: Tensor) -> Tuple[Tensor, Tensor]:
    """Row indices into the (N*H*W, C) table and weights of the 4 bilinear corners of each sampling point.

    A corner outside the image gets weight 0 (index 0), which is mmcv's zero padding, value and gradient alike.
    Returns tensors of shape ``sample_y.shape + (4,)``.
    """
    y0 = torch.floor(sample_y)
    x0 = torch.floor(sample_x)
    ly, lx = sample_y - y0, sample_x - x0
    hy, hx = 1 - ly, 1 - lx
    y0, x0 = y0.long(), x0.long()
    ys = torch.stack([y0, y0, y0 + 1, y0 + 1], dim=-1)
    xs = torch.stack([x0, x0 + 1, x0, x0 + 1], dim=-1)
    bilinear = torch.stack([hy * hx, hy * lx, ly * hx, ly * lx], dim=-1)
    inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
    image = torch.arange(sample_y.shape[0], device=sample_y.device).view(-1, 1, 1, 1, 1) * (height * width)
    index = torch.where(inside, image + ys * width + xs, torch.zeros_like(ys))
    weight = torch.where(inside, bilinear * mask.unsqueeze(-1), torch.zeros_like(bilinear))
    return index, weight


class FastModulatedDeformConv2d(ModulatedDeformConv2d):
    """mmcv's ``ModulatedDeformConv2d`` (same parameters, same state dict) with the sampled CPU path above."""

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        if x.device.type != 'cpu' or self.groups != 1 or self.deform_groups != 1:
            return super().forward(x, offset, mask)
        args = (x, offset.to(x.dtype), mask.to(x.dtype), self.weight.to(x.dtype),
                None if self.bias is None else self.bias.to(x.dtype), self.stride, self.padding, self.dilation)
        if torch.is_grad_enabled():
            # Like mmcv's kernel, keep only the inputs for backward and rebuild the (K*C x Ho*Wo) columns there:
            # storing them would add ~300 MB per image and DyHead block at 800x1333.
            return checkpoint(modulated_deform_conv2d_sampled, *args, use_reentrant=False)
        return modulated_deform_conv2d_sampled(*args)
