"""Modulated deformable convolution (DCNv2) on the CPU through ``grid_sample`` + one matrix product per kernel tap.

mmcv's CPU kernel gathers the deformed columns in one serial loop (``modulated_deformable_im2col_cpu``), so on a
CPU DCN layers cost about twice what their arithmetic needs; GLIP's DyHead runs 13 of them per block. Here the
bilinear gathering is ``torch.nn.functional.grid_sample`` on a channels-last input (vectorised and threaded), the
mask is applied to the gathered columns and the taps are summed through ``baddbmm``. The result equals mmcv's
operator to float rounding, gradients included (autograd through ``grid_sample``); on CUDA, and for grouped or
multi-deform-group convolutions, :class:`FastModulatedDeformConv2d` keeps calling mmcv's kernel.

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
    rows = (torch.arange(ho, dtype=dtype, device=device) * sh - ph).view(1, 1, ho, 1)
    cols = (torch.arange(wo, dtype=dtype, device=device) * sw - pw).view(1, 1, 1, wo)
    sample_y = rows + tap_y.reshape(1, taps, 1, 1) + offset[:, :, 0]
    sample_x = cols + tap_x.reshape(1, taps, 1, 1) + offset[:, :, 1]
    # Pixel centres at (2i + 1) / size - 1 (align_corners=False), which stays defined for 1-pixel-wide maps;
    # out-of-image corners read zero, exactly as mmcv's bilinear sampler.
    grid = torch.stack([(2 * sample_x + 1) / w - 1, (2 * sample_y + 1) / h - 1], dim=-1)
    sampled = F.grid_sample(x.contiguous(memory_format=torch.channels_last), grid.view(n, taps * ho, wo, 2),
                            mode='bilinear', padding_mode='zeros', align_corners=False)
    # channels-last in, channels-last out: memory is (N, K*Ho, Wo, C), so this reshape is free.
    sampled = sampled.permute(0, 2, 3, 1).reshape(n, taps, ho * wo, c)
    sampled = sampled * mask.reshape(n, taps, ho * wo, 1)
    tap_weights = weight.reshape(out_ch, c, taps).permute(2, 1, 0)  # (K, C, O)
    out = x.new_zeros(n, ho * wo, out_ch) if bias is None else bias.expand(n, ho * wo, out_ch).clone()
    for k in range(taps):
        out.baddbmm_(sampled[:, k], tap_weights[k].expand(n, c, out_ch))
    return out.permute(0, 2, 1).reshape(n, out_ch, ho, wo)


class FastModulatedDeformConv2d(ModulatedDeformConv2d):
    """mmcv's ``ModulatedDeformConv2d`` (same parameters, same state dict) with the sampled CPU path above."""

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        if x.device.type != 'cpu' or self.groups != 1 or self.deform_groups != 1:
            return super().forward(x, offset, mask)
        offset = offset.to(x.dtype)
        return modulated_deform_conv2d_sampled(x, offset, mask.to(x.dtype), self.weight.to(x.dtype),
                                               None if self.bias is None else self.bias.to(x.dtype),
                                               self.stride, self.padding, self.dilation)
