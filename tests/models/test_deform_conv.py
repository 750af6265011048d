"""The grid_sample DCNv2 equals mmcv's operator: values, gradients, strides and mmcv's offset-memory reading."""
import pytest
import torch
from mmcv.ops import ModulatedDeformConv2d

from ovd.models.glip.deform_conv import FastModulatedDeformConv2d, modulated_deform_conv2d_sampled


def _pair(stride, bias=True, seed=0):
    torch.manual_seed(seed)
    ref = ModulatedDeformConv2d(8, 6, 3, stride=stride, padding=1, bias=bias)
    if bias:
        ref.bias.data.normal_()
    fast = FastModulatedDeformConv2d(8, 6, 3, stride=stride, padding=1, bias=bias)
    fast.load_state_dict(ref.state_dict())
    return ref, fast


@pytest.mark.parametrize('in_hw,stride,offset_hw', [
    ((9, 7), 1, (9, 7)),      # DyHead's mid-level conv
    ((10, 8), 2, (5, 4)),     # lower (finer) level, stride 2
    ((5, 4), 1, (10, 8)),     # higher (coarser) level read with the finer level's offsets, as mmcv does
    ((1, 1), 1, (1, 1)),      # one-pixel map (P7 of a small image)
    ((1, 2), 1, (2, 3)),
])
def test_matches_mmcv_forward_and_backward(in_hw, stride, offset_hw):
    ref, fast = _pair(stride)
    x = torch.randn(2, 8, *in_hw, requires_grad=True)
    # Offsets large enough to leave the image, so the zero-padding of the sampler is exercised.
    raw = torch.randn(2, 27, *offset_hw) * 3
    offset = raw[:, :18].clone().requires_grad_()
    mask = raw[:, 18:].sigmoid().requires_grad_()
    out_ref, out_fast = ref(x, offset, mask), fast(x, offset, mask)
    assert out_ref.shape == out_fast.shape
    torch.testing.assert_close(out_fast, out_ref, rtol=1e-5, atol=1e-5)
    weight = torch.randn_like(out_ref)
    grads_ref = torch.autograd.grad((out_ref * weight).sum(), [x, offset, mask, ref.weight, ref.bias])
    grads_fast = torch.autograd.grad((out_fast * weight).sum(), [x, offset, mask, fast.weight, fast.bias])
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-4, atol=1e-5)


def test_zero_offsets_and_unit_mask_is_a_plain_convolution():
    torch.manual_seed(1)
    x = torch.randn(1, 4, 6, 5)
    weight = torch.randn(3, 4, 3, 3)
    out = modulated_deform_conv2d_sampled(x, torch.zeros(1, 18, 6, 5), torch.ones(1, 9, 6, 5), weight, None,
                                          stride=(1, 1), padding=(1, 1))
    torch.testing.assert_close(out, torch.nn.functional.conv2d(x, weight, padding=1), rtol=1e-5, atol=1e-5)


def test_too_small_offset_map_is_a_clear_error():
    _, fast = _pair(1)
    with pytest.raises(ValueError, match='fewer values'):
        fast(torch.randn(1, 8, 6, 6), torch.zeros(1, 18, 3, 3), torch.ones(1, 9, 3, 3))


def test_same_state_dict_as_mmcv():
    ref, fast = _pair(1, bias=False)
    assert list(fast.state_dict()) == list(ref.state_dict()) == ['weight']
