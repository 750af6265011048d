"""The AP engine on hand-worked examples: IoU, greedy matching rules, precision envelope."""
import numpy as np
import pytest

from ovd.evaluation import engine
from ovd.evaluation.coco_ap import evaluate_coco
from ovd.evaluation.records import load_ground_truth, load_results


def test_box_iou_pairs_by_hand():
    dt = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 5, 5]], float)
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    crowd = np.array([False, False, False, True])
    # identical; half overlap 50 / 150; disjoint; crowd: inter / det area = 25 / 25
    np.testing.assert_allclose(engine.box_iou_pairs(dt, gt, crowd), [1.0, 50 / 150, 0.0, 1.0])


def _coco(gt_boxes, dets, crowd=()):
    gt = {'images': [{'id': 1, 'width': 100, 'height': 100}], 'categories': [{'id': 1, 'name': 'a'}],
          'annotations': [{'id': i + 1, 'image_id': 1, 'category_id': 1, 'bbox': b, 'area': b[2] * b[3],
                           'iscrowd': int(i in crowd)} for i, b in enumerate(gt_boxes)]}
    g = load_ground_truth(gt)
    res = [{'image_id': 1, 'category_id': 1, 'bbox': b, 'score': s} for b, s in dets]
    return evaluate_coco(g, load_results(res, g))


def test_ap50_by_hand():
    # 2 objects; detections by score: TP, FP, TP -> precision 1 up to recall 0.5, then 2/3.
    # 101-point AP = (51 * 1 + 50 * 2/3) / 101
    out = _coco([[0, 0, 10, 10], [50, 50, 10, 10]],
                [([0, 0, 10, 10], 0.9), ([30, 30, 10, 10], 0.8), ([50, 50, 10, 10], 0.7)])
    assert out['AP50'] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)
    assert out['AR@1'] == pytest.approx(0.5)
    assert out['AR@100'] == pytest.approx(1.0)


def test_second_detection_on_same_object_is_false_positive_but_crowd_absorbs_many():
    out = _coco([[0, 0, 10, 10]], [([0, 0, 10, 10], 0.9), ([0, 0, 10, 10], 0.8)])
    assert out['AP50'] == pytest.approx(1.0)  # the FP ranks after the only TP: precision 1 at recall 1
    # detections inside a crowd region are ignored, whatever their number and rank
    out = _coco([[0, 0, 10, 10], [50, 50, 40, 40]],
                [([55, 55, 5, 5], 0.99), ([60, 60, 5, 5], 0.98), ([0, 0, 10, 10], 0.5)], crowd=(1,))
    assert out['AP50'] == pytest.approx(1.0)


def test_accumulate_recall_lookup_matches_searchsorted():
    rng = np.random.default_rng(0)
    cats = np.repeat([0, 2, 3], [7, 1, 12])
    tp = rng.random((2, len(cats))) < 0.5
    fp = ~tp & (rng.random((2, len(cats))) < 0.8)
    num_gt = np.array([5, 0, 1, 9])
    precision, recall = engine.accumulate(cats, tp, fp, num_gt)
    for t in range(2):
        for k in (0, 2, 3):
            sel = cats == k
            tps, fps = np.cumsum(tp[t, sel]).astype(float), np.cumsum(fp[t, sel]).astype(float)
            rc = tps / num_gt[k]
            pr = tps / (fps + tps + np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1])[::-1]
            idx = np.searchsorted(rc, engine.REC_THRS, side='left')
            want = np.array([pr[i] if i < len(pr) else 0.0 for i in idx])
            np.testing.assert_array_equal(precision[t, :, k], want)
            assert recall[t, k] == rc[-1]
    assert (precision[:, :, 1] == -1).all() and (recall[:, 1] == -1).all()  # no ground truth


def test_rows_of_different_lengths_are_refused_naming_the_field():
    ok = dict(image=np.zeros(2, np.int64), category=np.zeros(2, np.int64), area=np.ones(2),
              ignore=np.zeros(2, bool), crowd=np.zeros(2, bool), id_is_zero=np.zeros(2, bool))
    engine.GroundTruthRows(1, 1, **ok)
    with pytest.raises(ValueError, match=r'GroundTruthRows\.crowd: .*length 2'):
        engine.GroundTruthRows(1, 1, **{**ok, 'crowd': np.zeros(3, bool)})
    with pytest.raises(ValueError, match=r'DetectionRows\.score: .*length 1'):
        engine.DetectionRows(image=np.zeros(1, np.int64), category=np.zeros(1, np.int64), score=np.ones((1, 1)),
                             area=np.ones(1), ignore_unmatched=np.zeros(1, bool))
