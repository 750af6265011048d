"""The folded X-MHA equals mmdet's BiMultiHeadAttention: outputs, gradients, padding masks and the fallback."""
import pytest
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention

from ovd.models.glip.fusion import FoldedBiMultiHeadAttention, build_vl_fuse


def _pair(v_dim=16, l_dim=24, embed=64, heads=4):
    torch.manual_seed(0)
    ref = BiMultiHeadAttention(v_dim, l_dim, embed, heads, dropout=0.1).eval()
    for p in ref.parameters():
        p.data.normal_(0, 0.3)  # non-zero biases, so every folded bias term is exercised
    folded = FoldedBiMultiHeadAttention(v_dim, l_dim, embed, heads, dropout=0.1).eval()
    folded.load_state_dict(ref.state_dict())
    return ref, folded


@pytest.mark.parametrize('with_padding', [False, True])
def test_folded_equals_mmdet(with_padding):
    ref, folded = _pair()
    vision = torch.randn(2, 50, 16, requires_grad=True)
    lang = torch.randn(2, 7, 24, requires_grad=True)
    mask = torch.ones(2, 7, dtype=torch.long)
    if with_padding:
        mask[0, -3:] = 0
    assert folded.folding_pays(7)
    out_ref = ref(vision, lang, attention_mask_l=mask)
    out_folded = folded(vision, lang, attention_mask_l=mask)
    for a, b in zip(out_folded, out_ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    loss = lambda out: out[0].sum() + (out[1] ** 2).sum()  # noqa: E731
    grads_ref = torch.autograd.grad(loss(out_ref), [vision, lang, *ref.parameters()])
    grads_folded = torch.autograd.grad(loss(out_folded), [vision, lang, *folded.parameters()])
    for a, b in zip(grads_folded, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())


def test_many_text_tokens_fall_back_to_the_original_computation(monkeypatch):
    ref, folded = _pair(v_dim=4, embed=8, heads=4)  # folding pays only below ~4 tokens here
    assert not folded.folding_pays(7)
    called = []
    monkeypatch.setattr(BiMultiHeadAttention, 'forward',
                        lambda self, *a, **k: called.append(1) or (a[0], a[1]))
    folded(torch.randn(1, 5, 4), torch.randn(1, 7, 24))
    assert called


def test_dropout_in_training_still_runs_and_differs_from_eval():
    _, folded = _pair()
    vision, lang = torch.randn(1, 40, 16), torch.randn(1, 6, 24)
    folded.eval()
    eval_out = folded(vision, lang)[0]
    folded.train()
    torch.manual_seed(3)
    train_out = folded(vision, lang)[0]
    assert train_out.shape == eval_out.shape and not torch.allclose(train_out, eval_out)


def test_build_vl_fuse_keeps_mmdet_parameter_names():
    from mmdet.models.utils.vlfuse_helper import VLFuse
    torch.manual_seed(0)
    ours = build_vl_fuse(v_dim=16, l_dim=24, embed_dim=64, num_heads=4)
    theirs = VLFuse(v_dim=16, l_dim=24, embed_dim=64, num_heads=4)
    assert isinstance(ours.b_attn.attn, FoldedBiMultiHeadAttention)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
