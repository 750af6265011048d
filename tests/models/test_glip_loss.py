"""GLIP's token-level sigmoid focal alignment loss against hand-worked values."""
import math

import pytest
import torch

from ovd.models.glip.loss import TokenSigmoidFocalLoss, token_sigmoid_focal_loss

LN2 = math.log(2.0)


def test_zero_logit_positive_and_negative_by_hand():
    # p = sigmoid(0) = 0.5, BCE = ln 2, (1 - p_t)^2 = 0.25; alpha_t = 0.25 (target 1) or 0.75 (target 0).
    logits = torch.zeros(1, 1, 2)
    targets = torch.tensor([[[1.0, 0.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    loss = token_sigmoid_focal_loss(logits, targets, mask)
    assert loss.item() == pytest.approx(LN2 * 0.25 * 0.25 + LN2 * 0.25 * 0.75, rel=1e-6)


def test_confident_logits_by_hand():
    # logit 2 on a positive token: p = 0.8808, BCE = ln(1 + e^-2) = 0.126928, (1 - p)^2 = 0.0141838, alpha 0.25.
    # logit 2 on a negative token: BCE = ln(1 + e^2) = 2.126928, p^2 = 0.775803, alpha 0.75.
    logits = torch.full((1, 1, 2), 2.0)
    targets = torch.tensor([[[1.0, 0.0]]])
    loss = token_sigmoid_focal_loss(logits, targets, torch.ones(1, 2, dtype=torch.bool))
    p = 1 / (1 + math.exp(-2))
    expected = math.log(1 + math.exp(-2)) * (1 - p) ** 2 * 0.25 + math.log(1 + math.exp(2)) * p ** 2 * 0.75
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.126928 * 0.0141838 * 0.25 + 2.126928 * 0.775803 * 0.75, rel=1e-5)


def test_padding_tokens_and_dropped_anchors_do_not_count():
    logits = torch.zeros(1, 2, 3)
    targets = torch.zeros(1, 2, 3)
    targets[0, 0, 0] = 1
    mask = torch.tensor([[True, True, False]])  # the third token is padding
    weights = torch.tensor([[1.0, 0.0]])  # the second anchor is ignored
    loss = token_sigmoid_focal_loss(logits, targets, mask, anchor_weights=weights, avg_factor=2)
    # anchor 0: token 0 positive, token 1 negative; halved by avg_factor.
    assert loss.item() == pytest.approx((LN2 * 0.25 * 0.25 + LN2 * 0.25 * 0.75) / 2, rel=1e-6)


def test_module_applies_weight_and_checks_shapes():
    module = TokenSigmoidFocalLoss(loss_weight=2.0)
    logits = torch.zeros(1, 1, 1)
    out = module(logits, torch.ones(1, 1, 1), torch.ones(1, 1, dtype=torch.bool))
    assert out.item() == pytest.approx(2 * LN2 * 0.25 * 0.25, rel=1e-6)
    with pytest.raises(ValueError, match='text_mask'):
        module(logits, torch.ones(1, 1, 1), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match='targets'):
        module(logits, torch.ones(1, 1, 2), torch.ones(1, 1, dtype=torch.bool))


def test_gradient_pushes_positive_logit_up_and_negative_down():
    logits = torch.zeros(1, 1, 2, requires_grad=True)
    token_sigmoid_focal_loss(logits, torch.tensor([[[1.0, 0.0]]]), torch.ones(1, 2, dtype=torch.bool)).backward()
    assert logits.grad[0, 0, 0] < 0 < logits.grad[0, 0, 1]
