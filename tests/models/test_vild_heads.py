"""ViLD heads on hand-worked tensors: text logits and background, novel classes never targets, L1 distillation,
the ensemble formula, and the RoI head wiring of the three variants."""
import math

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ovd.models.vild import (
    ViLDBBoxHead,
    ViLDTextClassifier,
    distillation_l1_loss,
    ensemble_scores,
    resolve_base_mask,
)
from ovd.registry import MODELS

init_default_scope('ovd')


def _classifier():
    clf = ViLDTextClassifier(in_features=2, out_features=3, class_embeddings=torch.tensor([[2., 0.], [0., 5.]]))
    with torch.no_grad():
        clf.projection.weight.copy_(torch.eye(2))
        clf.projection.bias.zero_()
        clf.bg_embedding.copy_(torch.tensor([1., 1.]))
    return clf


def test_text_logits_and_background_hand_worked():
    clf = _classifier()
    logits = clf(torch.tensor([[3., 4.]]))
    # embedding (0.6, 0.8); cosines 0.6 and 0.8 to the (normalised) class texts, 1.4/sqrt(2) to the background;
    # divided by the temperature 0.01; background is the last column (mmdet's convention)
    expected = torch.tensor([[60.0, 80.0, 100 * 1.4 / math.sqrt(2)]])
    torch.testing.assert_close(logits, expected)
    assert clf.class_embeddings.requires_grad is False
    assert 'class_embeddings' not in clf.state_dict()  # a checkpoint can be used with another vocabulary
    assert {n for n, _ in clf.named_parameters()} == {'projection.weight', 'projection.bias', 'bg_embedding'}
    # a zero feature gives a zero embedding (no NaN): every logit is 0
    with torch.no_grad():
        clf.projection.bias.zero_()
    assert torch.equal(clf(torch.zeros(1, 2)), torch.zeros(1, 3))


def test_classifier_checks_sizes():
    with pytest.raises(ValueError, match='num_classes=3 but 2 class embeddings'):
        ViLDTextClassifier(4, 4, torch.ones(2, 8))
    with pytest.raises(ValueError, match=r'expected shape \[num_classes, dim\]'):
        ViLDTextClassifier(4, 3, torch.ones(8))


def _bbox_head(base_classes=(0, 2), **kwargs):
    return ViLDBBoxHead(class_embeddings=torch.eye(3, 4), base_classes=list(base_classes), num_classes=3,
                        in_channels=4, roi_feat_size=2, num_shared_convs=0, num_shared_fcs=1, fc_out_channels=8,
                        **kwargs)


def test_novel_classes_are_never_training_targets():
    head = _bbox_head()
    assert head.base_mask.tolist() == [True, False, True]
    cls_score = torch.tensor([[1.0, 5.0, 2.0, 0.5], [0.0, 3.0, 1.0, 2.0]])  # class 1 is novel
    labels = torch.tensor([0, 3])  # a base target and a background one
    ones = torch.ones(2)
    losses = head.loss(cls_score, None, None, labels, ones, torch.zeros(2, 4), torch.zeros(2, 4))
    # softmax over {0, 2, bg} only: the novel logit (5.0 and 3.0) does not enter the denominator
    row0 = -1.0 + math.log(math.exp(1.0) + math.exp(2.0) + math.exp(0.5))
    row1 = -2.0 + math.log(math.exp(0.0) + math.exp(1.0) + math.exp(2.0))
    assert losses['loss_cls'].item() == pytest.approx((row0 + row1) / 2, rel=1e-6)
    with pytest.raises(ValueError, match=r'novel classes \[1\] appear as training targets'):
        head.loss(cls_score, None, None, torch.tensor([1, 3]), ones, torch.zeros(2, 4), torch.zeros(2, 4))


def _huber(x):  # official Huber loss with delta 1 (= mmdet's smooth L1 with beta 1)
    return torch.where(x.abs() < 1, 0.5 * x ** 2, x.abs() - 0.5)


def test_box_loss_normaliser_hand_worked():
    # 4 sampled RoIs, 2 foreground (class 0), 2 background (label 3); deltas pred - target:
    #   RoI 0: (0.5, -2, 0, 1) -> Huber 0.125 + 1.5 + 0 + 0.5 = 2.125;  RoI 1: 0.2 x 4 -> 4 x 0.02 = 0.08
    labels = torch.tensor([0, 0, 3, 3])
    target = torch.tensor([[0., 1., 0., 0.], [0.1, 0.1, 0.1, 0.1], [0.] * 4, [0.] * 4])
    pred = target + torch.tensor([[0.5, -2., 0., 1.], [0.2] * 4, [9.] * 4, [9.] * 4])
    weights = torch.tensor([[1.] * 4, [1.] * 4, [0.] * 4, [0.] * 4])
    args = (None, pred, None, labels, torch.ones(4), target, weights)
    official = _bbox_head().loss(*args)['loss_bbox']  # default: 'foreground'
    assert official.item() == pytest.approx(2.205 / 8)  # / (4 x 2 foreground)
    mmdet = _bbox_head(bbox_loss_normalizer='sampled').loss(*args)['loss_bbox']
    assert mmdet.item() == pytest.approx(2.205 / 4)  # / 4 sampled RoIs
    none = _bbox_head().loss(None, pred, None, torch.full((4,), 3), torch.ones(4), target, weights)['loss_bbox']
    assert none.item() == 0.0  # no foreground: 0, as the official safe division
    with pytest.raises(ValueError, match="bbox_loss_normalizer must be one of"):
        _bbox_head(bbox_loss_normalizer='rois')


@pytest.mark.parametrize('num_fg', [32, 128])
def test_box_loss_normaliser_at_512_rois(num_fg):
    torch.manual_seed(num_fg)
    n = 512
    labels = torch.full((n,), 3)
    labels[:num_fg] = torch.tensor([0, 2]).repeat(num_fg // 2)
    target, pred = torch.randn(n, 4), torch.randn(n, 4) * 2
    weights = torch.zeros(n, 4)
    weights[:num_fg] = 1
    args = (None, pred, None, labels, torch.ones(n), target, weights)
    official = _huber(pred[:num_fg] - target[:num_fg]).sum() / (4 * num_fg)  # losses.py: SUM_BY_NONZERO_WEIGHTS
    ours = _bbox_head().loss(*args)['loss_bbox']
    assert ours.item() == pytest.approx(official.item(), rel=1e-5)
    mmdet = _bbox_head(bbox_loss_normalizer='sampled').loss(*args)['loss_bbox']
    assert (mmdet / ours).item() == pytest.approx(4 * num_fg / n, rel=1e-5)  # 0.25 at 32/512, 1.0 at 128/512


def test_base_mask_from_vocabulary():
    from ovd.data.vocab import get_vocabulary
    vocab = get_vocabulary('ov_lvis')
    mask = resolve_base_mask('ov_lvis', len(vocab))
    assert int(mask.sum()) == 866 and len(mask) == 1203  # OV-LVIS: 866 base (c+f), 337 novel (r)
    with pytest.raises(ValueError, match='has 1203 categories but the head has num_classes=10'):
        resolve_base_mask('ov_lvis', 10)
    assert resolve_base_mask(None, 4).all()


def test_distillation_l1_hand_worked():
    student = torch.tensor([[1., 0.], [0., 1.]], requires_grad=True)
    teacher = torch.tensor([[0., 2.], [0., 3.]], dtype=torch.float16)  # normalised to (0, 1) twice
    loss = distillation_l1_loss(student, teacher)
    assert loss.item() == pytest.approx((2.0 + 0.0) / 2)  # L1 norm summed over dims, mean over regions
    loss.backward()
    torch.testing.assert_close(student.grad, torch.tensor([[0.5, -0.5], [0., 0.]]))
    empty = torch.zeros(0, 2, requires_grad=True)
    zero = distillation_l1_loss(empty, torch.zeros(0, 2))
    assert zero.item() == 0 and zero.requires_grad
    with pytest.raises(ValueError, match='differ in shape'):
        distillation_l1_loss(student, teacher[:1])


def test_ensemble_formula_hand_worked():
    text = torch.tensor([[0.5, 0.2, 0.3]])  # two classes + background
    image = torch.tensor([[0.8, 0.2]])
    out = ensemble_scores(text, image, torch.tensor([True, False]))
    base = 0.5 ** (2 / 3) * 0.8 ** (1 / 3)  # base class: 2/3 on the text head
    novel = 0.2 ** (1 / 3) * 0.2 ** (2 / 3)  # novel class: 2/3 on the image head
    torch.testing.assert_close(out, torch.tensor([[base, novel, 0.3]]))
    out = ensemble_scores(torch.tensor([[0.1, 0.6, 0.3]]), torch.tensor([[0.9, 0.1]]), torch.tensor([True, False]))
    torch.testing.assert_close(out[0, :2], torch.tensor([0.1 ** (2 / 3) * 0.9 ** (1 / 3),
                                                         0.6 ** (1 / 3) * 0.1 ** (2 / 3)]))


def _roi_head(image_head: bool, distill_weight: float = 0.5):
    cfg = dict(
        type='ViLDRoIHead', distill_weight=distill_weight,
        bbox_roi_extractor=dict(type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=7,
                                                                          sampling_ratio=0),
                                out_channels=8, featmap_strides=[4]),
        bbox_head=dict(type='ViLDBBoxHead', class_embeddings=torch.randn(3, 6), base_classes=[0, 2],
                       num_classes=3, in_channels=8, num_shared_convs=0, num_shared_fcs=2, fc_out_channels=16),
        train_cfg=ConfigDict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                                           min_pos_iou=0.5, match_low_quality=True, ignore_iof_thr=-1),
                             sampler=dict(type='RandomSampler', num=16, pos_fraction=0.25, neg_pos_ub=-1,
                                          add_gt_as_proposals=True),
                             pos_weight=-1, debug=False),
        test_cfg=ConfigDict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))
    if image_head:
        cfg['image_head'] = dict(type='ViLDBBoxHead', with_reg=False, in_channels=8, num_shared_convs=0,
                                 num_shared_fcs=2, fc_out_channels=16)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _batch(with_regions=True):
    from mmdet.structures import DetDataSample
    torch.manual_seed(0)
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), img_id=1))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[4., 4., 30., 30.]]), labels=torch.tensor([2]))
    if with_regions:
        sample.regions = InstanceData(bboxes=torch.tensor([[0., 0., 32., 32.], [10., 20., 60., 50.]]),
                                      embeddings=torch.randn(2, 6))
    proposals = InstanceData(bboxes=torch.tensor([[5., 5., 30., 31.], [40., 40., 60., 60.]]),
                             scores=torch.tensor([0.9, 0.8]))
    feats = (torch.randn(1, 8, 16, 16),)
    return feats, [proposals], [sample]


@pytest.mark.parametrize('image_head', [False, True], ids=['vild', 'vild-ensemble'])
def test_roi_head_distils_cached_regions(image_head):
    head = _roi_head(image_head)
    feats, proposals, samples = _batch()
    losses = head.loss(feats, proposals, samples)
    assert {'loss_cls', 'loss_bbox', 'loss_distill'} <= set(losses)
    # the distillation term equals w * L1(student embeddings of the cached boxes, cached embeddings); the trunk
    # has no BN, so embedding the cached boxes alone gives the same student embeddings
    from mmdet.structures.bbox import bbox2roi
    rois = bbox2roi([samples[0].regions.bboxes])
    student_head = head.image_head if image_head else head.bbox_head
    student = student_head.forward_embeddings(head.bbox_roi_extractor(feats, rois))
    expected = 0.5 * distillation_l1_loss(student, samples[0].regions.embeddings)
    torch.testing.assert_close(losses['loss_distill'], expected)
    losses['loss_distill'].backward()
    trained = head.image_head if image_head else head.bbox_head
    assert trained.classifier.projection.weight.grad.abs().sum() > 0
    if image_head:  # the image head learns only from distillation; the text head not from it
        assert head.bbox_head.classifier.projection.weight.grad is None


def test_regions_failing_the_official_validity_test_are_masked():
    # a region cropped away past the top-left corner is clipped to all zeros: it still goes through the head but
    # not into the loss; a region squeezed to a line on the right keeps positive coordinates and counts
    head = _roi_head(False)
    feats, proposals, samples = _batch()
    valid_boxes = torch.tensor([[0., 0., 32., 32.], [64., 20., 64., 50.]])
    samples[0].regions = InstanceData(bboxes=torch.cat([valid_boxes, torch.zeros(1, 4)]),
                                      embeddings=torch.randn(3, 6))
    losses = head.loss(feats, proposals, samples)
    from mmdet.structures.bbox import bbox2roi
    student = head.bbox_head.forward_embeddings(head.bbox_roi_extractor(feats, bbox2roi([valid_boxes])))
    expected = 0.5 * distillation_l1_loss(student, samples[0].regions.embeddings[:2])
    torch.testing.assert_close(losses['loss_distill'], expected)
    everything = head.bbox_head.forward_embeddings(
        head.bbox_roi_extractor(feats, bbox2roi([samples[0].regions.bboxes])))
    assert not torch.allclose(losses['loss_distill'],
                              0.5 * distillation_l1_loss(everything, samples[0].regions.embeddings))


def test_vild_text_needs_no_regions_and_vild_demands_them():
    feats, proposals, samples = _batch(with_regions=False)
    losses = _roi_head(False, distill_weight=0.0).loss(feats, proposals, samples)
    assert 'loss_distill' not in losses
    feats, proposals, samples = _batch(with_regions=False)
    with pytest.raises(ValueError, match='needs region embeddings for image 1.*LoadRegionEmbeddings'):
        _roi_head(False).loss(feats, proposals, samples)
    with pytest.raises(ValueError, match='set distill_weight > 0'):
        _roi_head(True, distill_weight=0.0)


def test_ensemble_prediction_scores():
    head = _roi_head(True).eval()
    feats, proposals, samples = _batch()
    metas = [samples[0].metainfo]
    with torch.no_grad():
        raw = head.predict_bbox(feats, metas, proposals, rcnn_test_cfg=None)[0]
        from mmdet.structures.bbox import bbox2roi
        bbox_feats = head.bbox_roi_extractor(feats, bbox2roi([proposals[0].bboxes]))
        text = head.bbox_head(bbox_feats)[0].softmax(-1)
        image = head.image_head.classifier.similarity(head.image_head.forward_embeddings(bbox_feats),
                                                      with_background=False).softmax(-1)
    torch.testing.assert_close(raw.scores, ensemble_scores(text, image, torch.tensor([True, False, True])))
    with torch.no_grad():
        dets = head.predict_bbox(feats, metas, proposals, rcnn_test_cfg=head.test_cfg)[0]
    assert dets.labels.max() < 3 and dets.bboxes.shape[1] == 4 and (dets.scores <= 1).all()
