"""MDETR targets, matcher costs and losses, checked against values worked out by hand."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from ovd.models.mdetr.criterion import MDETRCriterion
from ovd.models.mdetr.match_cost import SoftTokenCost
from ovd.models.mdetr.targets import query_token_map, soft_token_target_matrix, soft_token_targets

ASSIGNER = dict(type='HungarianAssigner', match_costs=[
    dict(type='SoftTokenCost', weight=1.0),
    dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
    dict(type='IoUCost', iou_mode='giou', weight=2.0)])
WEIGHTS = dict(soft_token=1.0, bbox=5.0, giou=2.0, contrastive_align=1.0)


def criterion(temperature: float = 0.07, **switches) -> MDETRCriterion:
    return MDETRCriterion(ASSIGNER, WEIGHTS, no_object_weight=0.1, temperature=temperature, **switches)


def test_soft_token_targets_spread_over_multi_token_phrase():
    # phrase 0 covers tokens 1, 2, 3 ("a red car" -> 3 tokens); phrase 1 one token
    pm = torch.tensor([[0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 0]], dtype=torch.float)
    t = soft_token_targets(pm)
    assert torch.allclose(t[0], torch.tensor([0, 1 / 3, 1 / 3, 1 / 3, 0, 0]), atol=1e-5)
    assert torch.allclose(t[1], torch.tensor([0, 0, 0, 0, 1.0, 0]), atol=1e-5)
    # already-normalised maps give the same targets
    assert torch.allclose(soft_token_targets(pm / pm.sum(-1, keepdim=True)), t)


def test_soft_token_target_matrix_unmatched_queries_target_no_object():
    pm = torch.tensor([[0, .5, .5, 0, 0.]])  # a normalised map: the official targets are its 0/1 form
    target = soft_token_target_matrix(3, 5, torch.tensor([2]), pm)
    expected = torch.tensor([[0, 0, 0, 0, 1.], [0, 0, 0, 0, 1.], [0, 1, 1, 0, 0]])
    assert torch.equal(target, expected)
    target = soft_token_target_matrix(3, 5, torch.tensor([2]), pm * 2, normalize=True)
    expected[2] = torch.tensor([0, .5, .5, 0, 0])
    assert torch.allclose(target, expected, atol=1e-5)


def test_query_token_map_cuts_to_caption_length():
    pm = torch.tensor([[0, 1, 1, 0, 0, 0.], [1, 0, 0, 0, 0, 0.]])
    out = query_token_map(3, 4, torch.tensor([1, 0]), pm)
    assert out.tolist() == [[True, False, False, False], [False, True, True, False], [False] * 4]


def test_soft_token_cost_is_minus_mass_on_phrase_tokens():
    prob = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]])
    gt = InstanceData(positive_maps=torch.tensor([[1., 1, 0, 0], [0, 0, 1, 0]]))
    cost = SoftTokenCost(weight=2.0)(InstanceData(scores=prob), gt)
    # official (0/1 map): q0: -(0.5 + 0.5) = -1 ; q1: -(0.1 + 0.2) = -0.3 ; phrase 1: -0, -0.3
    assert torch.allclose(cost, 2 * torch.tensor([[-1.0, -0.0], [-0.3, -0.3]]), atol=1e-6)
    cost = SoftTokenCost(weight=2.0, normalize=True)(InstanceData(scores=prob), gt)
    # uniform: q0: -(0.5*0.5 + 0.5*0.5) = -0.5 ; q1: -(0.1*.5 + 0.2*.5) = -0.15 ; phrase 1: -0, -0.3
    assert torch.allclose(cost, 2 * torch.tensor([[-0.5, -0.0], [-0.15, -0.3]]), atol=1e-6)


def test_criterion_switch_reaches_the_matcher_cost():
    costs = [c for c in criterion().assigner.match_costs if isinstance(c, SoftTokenCost)]
    assert len(costs) == 1 and not costs[0].normalize
    costs = [c for c in criterion(normalized_soft_targets=True).assigner.match_costs
             if isinstance(c, SoftTokenCost)]
    assert costs[0].normalize


def test_matcher_uses_class_l1_and_giou_costs():
    # image 100 (h) x 200 (w); gt box = normalised (cx, cy, w, h) (0.5, 0.5, 0.5, 0.5)
    meta = dict(img_shape=(100, 200))
    gt = InstanceData(bboxes=torch.tensor([[50., 25, 150, 75]]), labels=torch.tensor([0]),
                      positive_maps=torch.tensor([[1., 0, 0, 0]]))
    # q0: right box, no mass on the phrase; q1: box off by 0.1 in cx, all mass on the phrase token
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.6, 0.5, 0.5, 0.5]])
    big = 20.0
    logits_class_wins = torch.tensor([[0., 0, 0, big], [big, 0, 0, 0]])
    q, g = criterion().match(logits_class_wins, boxes, gt, meta)
    # costs: q0 = 1*(~0) + 5*0 + 2*(-1) = -2 ; q1 = 1*(-1) + 5*0.1 + 2*(-0.6667) = -1.8333 -> q0 still wins
    assert q.tolist() == [0] and g.tolist() == [0]
    boxes_close = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.51, 0.5, 0.5, 0.5]])
    # q1: -1 + 5*0.01 + 2*(-0.9608) = -2.87 < q0's -2 -> the class cost decides
    q, g = criterion().match(logits_class_wins, boxes_close, gt, meta)
    assert q.tolist() == [1] and g.tolist() == [0]


def test_soft_token_loss_by_hand():
    # uniform logits over T=4 slots, Q=2; query 0 matched to a phrase on tokens {0, 1}
    logits = torch.zeros(1, 2, 4)
    gt = InstanceData(positive_maps=torch.tensor([[1., 1, 0, 0]]))
    matches = [(torch.tensor([0]), torch.tensor([0]))]
    loss = criterion().loss_soft_token(logits, matches, [gt], num_boxes=torch.tensor(1.0))
    # official 0/1 target: q0: -(log .25 + log .25) = 2 log 4 ; q1 (no-object, weight 0.1): 0.1 * log 4
    assert loss.item() == pytest.approx(2.1 * math.log(4), rel=1e-5)
    loss2 = criterion().loss_soft_token(logits, matches, [gt], num_boxes=torch.tensor(2.0))
    assert loss2.item() == pytest.approx(2.1 * math.log(4) / 2, rel=1e-5)
    # uniform target: q0: -(.5 log .25 + .5 log .25) = log 4
    loss3 = criterion(normalized_soft_targets=True).loss_soft_token(logits, matches, [gt], torch.tensor(1.0))
    assert loss3.item() == pytest.approx(1.1 * math.log(4), rel=1e-5)


def test_box_losses_by_hand():
    meta = dict(img_shape=(100, 200))
    boxes = torch.tensor([[[0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.1, 0.1]]])
    # gt normalised xyxy (0.25, 0.25, 0.75, 0.5) -> (cx, cy, w, h) = (0.5, 0.375, 0.5, 0.25)
    gt = InstanceData(bboxes=torch.tensor([[50., 25, 150, 50]]))
    matches = [(torch.tensor([0]), torch.tensor([0]))]
    out = criterion().loss_boxes(boxes, matches, [gt], [meta], num_boxes=torch.tensor(1.0))
    assert out['bbox'].item() == pytest.approx(0.125 + 0.25, rel=1e-5)
    # IoU = 0.125 / 0.25 = 0.5, the enclosing box is the prediction -> GIoU 0.5
    assert out['giou'].item() == pytest.approx(0.5, rel=1e-5)


def test_contrastive_align_loss_by_hand_both_directions_and_normalisation():
    # temperature 1; q0 = (1, 0), q1 = (0, 1); tokens t0 = (1, 0), t1 = (0, 1), t2 = padding
    proj_queries = torch.tensor([[[1., 0], [0, 1]]])
    proj_tokens = torch.tensor([[[1., 0], [0, 1], [1, 0]]])
    pad = torch.tensor([[False, False, True]])
    gt = InstanceData(positive_maps=torch.tensor([[1., 1, 0, 0]]))  # the box's phrase: tokens 0 and 1
    matches = [(torch.tensor([0]), torch.tensor([0]))]
    # token -> objects: t0: -1 + log(e + 1) ; t1: -0 + log(1 + e)
    t2o = (-1 + math.log(math.e + 1)) + math.log(1 + math.e)
    crit = criterion(temperature=1.0)
    loss = crit.loss_contrastive_align(proj_queries, proj_tokens, pad, matches, [gt], torch.tensor(2.0))
    # object -> tokens (q0, official: over all positions, the padded t2 included): -(1 + 0)/2 + log(e + 1 + e)
    o2t = -0.5 + math.log(2 * math.e + 1)
    assert loss.item() == pytest.approx((o2t + t2o) / 2 / 2, rel=1e-5)
    crit = criterion(temperature=1.0, contrastive_mask_padding=True)
    loss = crit.loss_contrastive_align(proj_queries, proj_tokens, pad, matches, [gt], torch.tensor(2.0))
    # object -> tokens (q0, real tokens only): -(1 + 0)/2 + log(e + 1)
    o2t = -0.5 + math.log(math.e + 1)
    assert loss.item() == pytest.approx((o2t + t2o) / 2 / 2, rel=1e-5)


def test_contrastive_temperature_scales_logits():
    proj_queries = torch.tensor([[[1., 0]]])
    proj_tokens = torch.tensor([[[1., 0], [0, 1]]])
    pad = torch.zeros(1, 2, dtype=torch.bool)
    gt = InstanceData(positive_maps=torch.tensor([[1., 0, 0]]))
    matches = [(torch.tensor([0]), torch.tensor([0]))]
    loss = criterion(0.5).loss_contrastive_align(proj_queries, proj_tokens, pad, matches, [gt],
                                                 torch.tensor(1.))
    # s = (2, 0): o2t = -2 + log(e^2 + 1); t2o (one query) = -2 + log(e^2) = 0; the official means divide by
    # (number of positives + 1e-6)
    pos = -2 / (1 + 1e-6)
    assert loss.item() == pytest.approx((pos + math.log(math.e ** 2 + 1) + pos + 2) / 2, rel=1e-6)


def test_full_criterion_aux_layers_and_empty_ground_truth():
    torch.manual_seed(0)
    layers, batch, queries, tokens, width = 3, 2, 5, 8, 4
    logits = torch.randn(layers, batch, queries, tokens, requires_grad=True)
    boxes = torch.rand(layers, batch, queries, 4) * 0.5 + 0.25
    proj_q = torch.nn.functional.normalize(torch.randn(layers, batch, queries, width), dim=-1)
    proj_t = torch.nn.functional.normalize(torch.randn(batch, 6, width), dim=-1)
    pad = torch.zeros(batch, 6, dtype=torch.bool)
    empty = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long),
                         positive_maps=torch.zeros(0, tokens))
    losses = criterion()(logits, boxes, proj_q, proj_t, pad, [empty, empty],
                         [dict(img_shape=(32, 32))] * 2)
    assert set(losses) == {f'{p}loss_{t}' for p in ('', 'd0.', 'd1.')
                           for t in ('soft_token', 'bbox', 'giou', 'contrastive_align')}
    assert losses['loss_soft_token'] > 0
    for name in ('loss_bbox', 'loss_giou', 'loss_contrastive_align'):
        assert losses[name].item() == 0.0
    one = InstanceData(bboxes=torch.tensor([[4., 4, 20, 24]]), labels=torch.tensor([0]),
                       positive_maps=torch.tensor([[0., 1, 1, 0, 0, 0, 0, 0]]))
    losses = criterion()(logits, boxes, proj_q, proj_t, pad, [one, empty], [dict(img_shape=(32, 32))] * 2)
    assert losses['loss_bbox'] > 0 and losses['loss_giou'] > 0 and losses['d0.loss_contrastive_align'] > 0
    sum(losses.values()).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_unknown_loss_term_is_an_error():
    with pytest.raises(KeyError, match='unknown MDETR loss terms'):
        MDETRCriterion(ASSIGNER, dict(soft_token=1.0, focal=2.0))
