"""The ovdet parts the parity fixture does not cover numerically: boxes cache, DetachRPNHead, frozen head BN,
classifier feature checks (hand-worked cases)."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from ovd.models.baron.bbox_head import BaronBBoxHead
from ovd.models.baron.boxes_cache import BoxesCache
from ovd.models.baron.distill import BagDistiller


def test_boxes_cache_waits_then_merges_in_original_coordinates():
    cache = BoxesCache(start_iter=2, num_proposals=3, nms_thr=0.1, score_thr=0.5)
    meta = dict(scale_factor=(2.0, 2.0), img_shape=(100, 200), flip=False, flip_direction=None)
    boxes = torch.tensor([[10.0, 10.0, 30.0, 30.0], [100.0, 20.0, 140.0, 60.0]])
    scores = torch.tensor([0.9, 0.4])
    out = cache(boxes, scores, 7, meta)  # call 1 < start_iter: untouched, nothing cached
    assert out[0] is boxes and not cache.boxes
    out_boxes, out_scores = cache(boxes, scores, 7, meta)  # call 2: filter (score > 0.5) + NMS, then cache
    assert out_boxes.tolist() == [[10.0, 10.0, 30.0, 30.0]] and out_scores.tolist() == [pytest.approx(0.9)]
    assert cache.boxes[7][0].tolist() == pytest.approx([5.0, 5.0, 15.0, 15.0, 0.9])  # original scale
    assert cache.boxes[7][1:].abs().sum() == 0  # padded rows, as ovdet's sync tensor
    # another view of image 7 (scale 1, flipped): the cached box comes back scaled and mirrored
    flipped = dict(scale_factor=(1.0, 1.0), img_shape=(50, 100), flip=True, flip_direction='horizontal')
    new = torch.tensor([[60.0, 30.0, 70.0, 40.0]])
    out_boxes, _ = cache(new, torch.tensor([0.8]), 7, flipped)
    assert sorted(out_boxes.tolist()) == [[60.0, 30.0, 70.0, 40.0], [85.0, 5.0, 95.0, 15.0]]
    # the cache stays in original coordinates: the new box un-flipped (100 - x)
    assert sorted(cache.boxes[7][:2, :4].tolist()) == [[5.0, 5.0, 15.0, 15.0], [30.0, 30.0, 40.0, 40.0]]


def test_boxes_cache_nothing_passes_keeps_the_best():
    cache = BoxesCache(start_iter=0, num_proposals=2, score_thr=0.85)
    meta = dict(scale_factor=(1.0, 1.0), img_shape=(100, 100))
    boxes, scores = cache(torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]]),
                          torch.tensor([0.3, 0.6]), 1, meta)
    assert boxes.tolist() == [[50.0, 50.0, 60.0, 60.0]] and scores.tolist() == [pytest.approx(0.6)]


def test_detach_rpn_head_objectness_does_not_train_shared_conv():
    from mmengine.registry import init_default_scope

    from ovd.registry import MODELS
    init_default_scope('ovd')
    head = MODELS.build(dict(
        type='DetachRPNHead', in_channels=8, feat_channels=8,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)))
    assert [type(m).__name__ for m in head.rpn_cls] == ['Conv2d', 'ReLU', 'Conv2d']
    cls_score, bbox_pred = head.forward_single(torch.randn(1, 8, 6, 6))
    assert cls_score.shape == (1, 3, 6, 6) and bbox_pred.shape == (1, 12, 6, 6)
    cls_score.sum().backward(retain_graph=True)
    assert head.rpn_conv.weight.grad is None and head.rpn_cls[0].weight.grad is not None
    bbox_pred.sum().backward()
    assert head.rpn_conv.weight.grad is not None


def _head(**kwargs) -> BaronBBoxHead:
    args = dict(num_words=2, word_dim=32, class_embeddings=torch.eye(3, 32), num_classes=3, in_channels=8,
                roi_feat_size=7, num_shared_convs=1, num_shared_fcs=1, conv_out_channels=8, fc_out_channels=16)
    return BaronBBoxHead(**dict(args, **kwargs))


def test_norm_eval_freezes_the_head_batch_norm():
    head = _head(norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True).train()
    norms = [m for m in head.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(not m.training for m in norms) and all(not p.requires_grad for m in norms
                                                                 for p in m.parameters())
    trained = _head(norm_cfg=dict(type='BN', requires_grad=True)).train()
    assert all(m.training for m in trained.modules() if isinstance(m, _BatchNorm))


def test_class_feature_must_match_the_classifier_feature():
    with pytest.raises(ValueError, match='use_attn12_output'):
        _head(class_embeddings=dict(vocabulary=['a', 'b', 'c'], feature='attn12'))
    with pytest.raises(ValueError, match='use_attn12_output'):
        _head(class_embeddings=dict(vocabulary=['a', 'b', 'c']), use_attn12_output=True)


def test_queues_are_per_rank_by_default():
    distiller = BagDistiller(num_words=2, word_dim=8, embed_dim=8)
    assert not distiller.bag_text_queue.gather and not distiller.region_image_queue.gather
    assert BagDistiller(num_words=2, word_dim=8, embed_dim=8, gather_queues=True).bag_image_queue.gather


@pytest.mark.slow  # builds the tiny BARON model and two synthetic datasets: about half a minute on a CPU
def test_separate_detection_and_distillation_batches(tmp_path):
    """ovdet's 2 + 2 images per GPU: the OV-COCO two-branch data config (sampler, MultiBranch packing) on synthetic
    images, BaronDataPreprocessor padding each branch alone, detection losses on det_batch, distillation on
    kd_batch."""
    from pathlib import Path

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from ovd.data.synthetic import generate_coco
    from ovd.registry import MODELS

    configs = Path(__file__).resolve().parents[2] / 'configs' / 'baron'
    generate_coco(tmp_path / 'coco', seed=0)
    init_default_scope('ovd')
    loader = Config.fromfile(str(configs / '_base_' / 'ov-coco_kd-ms.py')).train_dataloader
    loader.num_workers, loader.persistent_workers = 0, False
    for dataset in loader.dataset.datasets:
        dataset.update(data_root=str(tmp_path / 'coco'), ann_file='annotations/instances_train2017.json',
                       unknown_categories='drop')
        dataset.pipeline[2].scales = [(256, 192)]
    batch = next(iter(Runner.build_dataloader(loader, seed=0)))
    assert [len(batch['inputs'][b]) for b in ('det_batch', 'kd_batch')] == [4, 4]  # None where another branch
    assert [sum(x is not None for x in batch['inputs'][b]) for b in ('det_batch', 'kd_batch')] == [2, 2]

    cfg = Config.fromfile(str(configs / 'baron-kd_r18-tiny_synth-ov-coco.py'))
    cfg.model.data_preprocessor.type = 'BaronDataPreprocessor'
    model = MODELS.build(cfg.model).train()
    data = model.data_preprocessor(batch, training=True)
    assert set(data['inputs']) == {'det_batch', 'kd_batch'}
    assert all(data['inputs'][b].shape[0] == 2 for b in data['inputs'])
    seen = {}
    distill_loss = model.roi_head.distill_loss

    def spy(x, proposals, samples, images):
        seen['ids'] = [s.img_id for s in samples]
        return distill_loss(x, proposals, samples, images)

    model.roi_head.distill_loss = spy
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_cls', 'loss_bbox', 'loss_rpn_cls', 'loss_bag', 'loss_single'} <= set(losses)
    assert seen['ids'] == [s.img_id for s in data['data_samples']['kd_batch']]
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(t.sum() for t in v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
