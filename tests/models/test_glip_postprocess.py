"""GLIP post-processing against the official ATSSPostProcessor rules, on crafted logits, centerness and anchors.

Every expected value below is worked out by hand from microsoft/GLIP ``modeling/rpn/inference.py``
(``ATSSPostProcessor``): candidates need a label score strictly above ``INFERENCE_TH``; the ``PRE_NMS_TOP_N``
best ``label score x centerness`` per level are kept with score ``sqrt(label score x centerness)``; class-wise NMS
with the inclusive-pixel IoU (``ml_nms``: ``+1`` on widths and heights) in network-input pixels; the
``DETECTIONS_PER_IMG`` cut keeps ties (``kthvalue``); boxes are written ``x2 - x1 + 1`` wide by the COCO path
(``BoxList.convert``) and ``x2 - x1`` by the LVIS path (``lvis_eval.py`` ``convert_to_xywh``).
"""
import math

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import Config, ConfigDict

from ovd.data.pixel_conventions import InclusivePixelBoxes
from ovd.models.glip.postprocess import official_nms_and_cap, select_candidates
from test_glip_model import REPO, build_tiny_glip


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_official_ranking_uses_centerness_and_mmdet_ranking_does_not():
    scores = torch.tensor([[0.9, 0.01],   # anchor 0: high label score, low centerness
                           [0.5, 0.3],
                           [0.04, 0.2],
                           [0.06, 0.04]])
    ctr = torch.tensor([0.1, 0.9, 1.0, 0.5])
    s, anchors, labels = select_candidates(scores, ctr, score_thr=0.05, nms_pre=2, ranking='official')
    # candidates (> 0.05): (0,0) .09, (1,0) .45, (1,1) .27, (2,1) .2, (3,0) .03 -> best two products
    got = sorted(zip(anchors.tolist(), labels.tolist(), s.tolist()))
    assert [(a, c) for a, c, _ in got] == [(1, 0), (1, 1)]
    assert [v for *_, v in got] == pytest.approx([math.sqrt(0.45), math.sqrt(0.27)], rel=1e-6)
    s, anchors, labels = select_candidates(scores, ctr, score_thr=0.05, nms_pre=2, ranking='mmdet')
    got = sorted(zip(anchors.tolist(), labels.tolist(), s.tolist()))  # best two label scores: .9 and .5
    assert [(a, c) for a, c, _ in got] == [(0, 0), (1, 0)]
    assert [v for *_, v in got] == pytest.approx([math.sqrt(0.09), math.sqrt(0.45)], rel=1e-6)


def test_a_score_equal_to_the_threshold_is_not_a_candidate():
    at = float(torch.sigmoid(torch.tensor(logit(0.25))))  # exactly representable as the float32 score below
    scores = torch.sigmoid(torch.tensor([[logit(0.25)], [logit(0.26)]]))
    s, anchors, _ = select_candidates(scores, torch.ones(2), score_thr=at, nms_pre=1000)
    assert anchors.tolist() == [1]
    s, anchors, _ = select_candidates(scores, torch.ones(2), score_thr=at - 1e-6, nms_pre=1000)
    assert anchors.tolist() == [0, 1]


def test_official_nms_uses_the_inclusive_pixel_iou():
    # inclusive IoU of [0,0,4,4] (25 px) and [1,1,4,4] (16 px) is 16/25 = 0.64 > 0.6 (suppressed); the exclusive
    # IoU would be 9/16 = 0.5625 (kept). A box of another label is never suppressed.
    boxes = torch.tensor([[0., 0., 4., 4.], [1., 1., 4., 4.], [1., 1., 4., 4.]])
    keep = official_nms_and_cap(boxes, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 0, 1]), 0.6, 100)
    assert keep.tolist() == [0, 2]
    # IoU exactly at the threshold is kept (ml_nms suppresses only above it): [0,0,9,9] vs [0,0,9,5] = 60/100
    boxes = torch.tensor([[0., 0., 9., 9.], [0., 0., 9., 5.]])
    keep = official_nms_and_cap(boxes, torch.tensor([0.9, 0.8]), torch.tensor([0, 0]), 0.6, 100)
    assert keep.tolist() == [0, 1]


def test_official_cap_keeps_ties_at_the_cut():
    boxes = torch.tensor([[0., 0., 5., 5.], [10., 0., 15., 5.], [20., 0., 25., 5.], [30., 0., 35., 5.]])
    scores = torch.tensor([0.9, 0.8, 0.8, 0.7])
    keep = official_nms_and_cap(boxes, scores, torch.zeros(4, dtype=torch.long), 0.6, 2)
    assert sorted(keep.tolist()) == [0, 1, 2]  # kthvalue(4 - 2 + 1) = 0.8, kept: score >= 0.8
    keep = official_nms_and_cap(boxes, scores, torch.zeros(4, dtype=torch.long), 0.6, 1)
    assert keep.tolist() == [0]


@pytest.fixture(scope='module')
def head():
    return build_tiny_glip(early_fuse=False).bbox_head


def crafted_outputs(thr: float):
    """Level 0 is a 1 x 10 grid (stride 8, 64-px anchors centred at x = 8i + 4); levels 1-4 are 1 x 1 and silent.

    Tokens: label 0 = token 0, label 1 = mean of tokens 1 and 2. Box deltas are zero, so each box is its anchor
    in the official inclusive convention, (8i - 28, -28, 8i + 35, 35), clipped to the 80 x 8 input.
    """
    T = 3
    cls = [torch.full((1, 10, T), -20.0)] + [torch.full((1, 1, T), -20.0) for _ in range(4)]
    ctr = [torch.full((1, 1, 1, 10), -20.0)] + [torch.full((1, 1, 1, 1), -20.0) for _ in range(4)]
    bbox = [torch.zeros(1, 4, 1, 10)] + [torch.zeros(1, 4, 1, 1) for _ in range(4)]
    level_cls, level_ctr = cls[0][0], ctr[0][0, 0, 0]

    def put(cell, label0=None, label1=None, centerness=None):
        if label0 is not None:
            level_cls[cell, 0] = label0
        if label1 is not None:
            level_cls[cell, 1:] = label1
        level_ctr[cell] = logit(centerness)

    put(0, label0=logit(0.9), centerness=0.1)  # high label score, low centerness: product 0.09
    put(1, label0=logit(0.5), label1=logit(0.3), centerness=0.9)  # products 0.45 and 0.27
    put(5, label0=thr, centerness=0.99999)  # label score == threshold: not a candidate (product ~0.25)
    put(9, label1=logit(0.4), centerness=0.5)  # product 0.2
    token_map = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    return cls, bbox, ctr, token_map


@pytest.mark.parametrize('box_end_offset', [0, 1])
def test_head_follows_the_official_post_processor(head, box_end_offset):
    thr = logit(0.25)
    cls, bbox, ctr, token_map = crafted_outputs(thr)
    cfg = ConfigDict(candidate_ranking='official', score_thr=float(torch.sigmoid(torch.tensor(thr))), nms_pre=3,
                     nms=dict(type='nms', iou_threshold=0.6), max_per_img=100, box_end_offset=box_end_offset)
    meta = dict(img_shape=(8, 80), scale_factor=(2.0, 2.0))
    res = head.predict_prompt(cls, bbox, ctr, token_map, [meta], rescale=True, cfg=cfg)[0]
    # candidates: cell0/label0 .09, cell1/label0 .45, cell1/label1 .27, cell9/label1 .2 (cell5 sits on the
    # threshold); top 3 products drop cell0. NMS: the label-1 boxes of cells 1 and 9 do not overlap.
    # Boxes (inclusive, input pixels): cell1 (0, 0, 43, 7), cell9 (44, 0, 79, 7); halved for the original image.
    off = box_end_offset
    expected = {(0, round(math.sqrt(0.45), 4)): [0, 0, 21.5 + off, 3.5 + off],
                (1, round(math.sqrt(0.27), 4)): [0, 0, 21.5 + off, 3.5 + off],
                (1, round(math.sqrt(0.2), 4)): [22, 0, 39.5 + off, 3.5 + off]}
    got = {(int(lab), round(float(s), 4)): b.tolist() for lab, s, b in zip(res.labels, res.scores, res.bboxes)}
    assert got.keys() == expected.keys()
    for key, box in expected.items():
        assert got[key] == pytest.approx(box, abs=1e-4)


def test_head_mmdet_ranking_is_the_switch(head):
    thr = logit(0.25)
    cls, bbox, ctr, token_map = crafted_outputs(thr)
    cfg = ConfigDict(candidate_ranking='mmdet', score_thr=float(torch.sigmoid(torch.tensor(thr))), nms_pre=3,
                     min_bbox_size=0, nms=dict(type='nms', iou_threshold=0.6), max_per_img=100, box_end_offset=1)
    meta = dict(img_shape=(8, 80), scale_factor=(2.0, 2.0))
    res = head.predict_prompt(cls, bbox, ctr, token_map, [meta], rescale=True, cfg=cfg)[0]
    # label scores above 0.25: cell0 .9, cell1 .5, cell9 .4, cell1/label1 .3 -> top 3 keeps cell0, drops
    # cell1/label1; NMS then removes cell0's box (IoU 0.81 with cell1's, same label).
    got = sorted((int(lab), round(float(s), 4)) for lab, s in zip(res.labels, res.scores))
    assert got == [(0, round(math.sqrt(0.45), 4)), (1, round(math.sqrt(0.2), 4))]


def test_unknown_ranking_is_refused(head):
    cls, bbox, ctr, token_map = crafted_outputs(logit(0.25))
    with pytest.raises(ValueError, match='candidate_ranking'):
        head.predict_prompt(cls, bbox, ctr, token_map, [dict(img_shape=(8, 80), scale_factor=(1.0, 1.0))],
                            cfg=ConfigDict(candidate_ranking='score'))


@pytest.mark.parametrize('config, official_width', [
    ('glip-t_zeroshot_coco-val2017.py', 21.5 + 1),  # COCO path: BoxList.convert('xywh'), w = x2 - x1 + 1
    ('glip-t_zeroshot_lvis-val.py', 21.5),  # LVIS path: convert_to_xywh, w = x2 - x1
    ('glip-t_zeroshot_lvis-minival-fixedap.py', 21.5),
    ('glip-t_zeroshot_flickr30k-test.py', 21.5),  # Flickr30k path: xyxy as is (flickr_eval box_iou)
])
def test_written_boxes_equal_the_official_writer(head, config, official_width):
    """Cell 1's inclusive box (0, 0, 43, 7) at scale 2 becomes (0, 0, 21.5, 3.5) in the official code; ovd's
    metrics write ``x2 - x1`` (ovd/evaluation/metrics.py), so each config's test_cfg must give the width the
    official writer of its protocol gives."""
    thr = logit(0.25)
    cls, bbox, ctr, token_map = crafted_outputs(thr)
    cfg = Config.fromfile(str(REPO / 'configs/glip' / config)).model.test_cfg
    cfg.update(score_thr=float(torch.sigmoid(torch.tensor(thr))), nms_pre=3)
    res = head.predict_prompt(cls, bbox, ctr, token_map, [dict(img_shape=(8, 80), scale_factor=(2.0, 2.0))],
                              cfg=cfg)[0]
    first = res.bboxes[res.scores.argmax()]
    assert float(first[2] - first[0]) == pytest.approx(official_width)


@pytest.mark.parametrize('box_end_offset, written_width', [(1, 30.0), (0, 29.0)])
def test_training_and_inference_boxes_round_trip(head, box_end_offset, written_width):
    """COCO box [10, 20, 30, 40] -> training target (10, 20, 39, 59) (InclusivePixelBoxes, as GLIP's datasets);
    a prediction that hits the target exactly is written 30 px wide by the COCO path (+1) and 29 px by the LVIS
    path, as the official writers do."""
    loaded = HorizontalBoxes(np.array([[10, 20, 40, 60]], np.float32))  # mmdet's LoadAnnotations: x + w, y + h
    target = InclusivePixelBoxes()(dict(img_shape=(100, 200), gt_bboxes=loaded))['gt_bboxes'].tensor[0]
    assert target.tolist() == [10, 20, 39, 59]
    cls, bbox, ctr, token_map = crafted_outputs(logit(0.25))
    # deltas that make the GLIP coder map cell 1's anchor (mmdet: (-20, -28, 44, 36)) onto the target
    anchor = torch.tensor([-20.0, -28.0, 44.0, 36.0])
    pxy, pwh = (anchor[:2] + anchor[2:] - 1) / 2, anchor[2:] - anchor[:2]
    gxy, gwh = (target[:2] + target[2:]) / 2, target[2:] - target[:2] + 1
    bbox[0][0, :, 0, 1] = torch.cat([(gxy - pxy) / pwh / 0.1, torch.log(gwh / pwh) / 0.2])
    cfg = ConfigDict(candidate_ranking='official', score_thr=0.05, nms_pre=1000,
                     nms=dict(type='nms', iou_threshold=0.6), max_per_img=100, box_end_offset=box_end_offset)
    res = head.predict_prompt(cls, bbox, ctr, token_map, [dict(img_shape=(100, 200), scale_factor=(1.0, 1.0))],
                              cfg=cfg)[0]
    best = res.bboxes[res.scores.argmax()]
    assert best.tolist() == pytest.approx([10, 20, 39 + box_end_offset, 59 + box_end_offset], abs=1e-3)
    assert float(best[2] - best[0]) == pytest.approx(written_width, abs=1e-3)
