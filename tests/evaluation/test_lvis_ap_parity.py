"""LVIS AP and Fixed AP equal lvis-api 0.5.3 on every metric (real LVIS v0.5 fixture, generated hard cases).

lvis-api runs here with ovd's numpy fix (``import ovd`` patches ``lvis.eval``). lvis-api 0.5.3 has no Fixed
AP; the reference is the authors' procedure (Dave et al. 2021, achalddave/large-vocab-devil): keep the top
10,000 detections per category, then lvis-api with no per-image limit.
"""
import copy
import json
import logging
from collections import defaultdict

import numpy as np
import pytest
from lvis import LVIS, LVISEval, LVISResults
from pycocotools import mask as mask_utils

import ovd.setup  # noqa: F401  (installs the lvis numpy fix)
from ovd.data.synthetic.eval_cases import lvis_v1_categories, make_lvis_like
from ovd.evaluation.lvis_ap import evaluate_lvis
from ovd.evaluation.records import load_ground_truth, load_results


def official(lvis_gt, results, iou_type='bbox', max_dets=300, fixed_k=None):
    logging.getLogger('lvis').setLevel(logging.ERROR)
    results = copy.deepcopy(results)
    if fixed_k is not None:
        per_cat = defaultdict(list)
        for r in results:
            per_cat[r['category_id']].append(r)
        results = [r for rs in per_cat.values()
                   for r in sorted(rs, key=lambda r: r['score'], reverse=True)[:fixed_k]]
        max_dets = -1
    ev = LVISEval(lvis_gt, LVISResults(lvis_gt, results, max_dets=max_dets), iou_type)
    ev.params.max_dets = max_dets
    ev.run()
    # The OV split's AP50 (novel = rare) from lvis-api's own precision array [T, R, K, A], IoU 0.5, all areas.
    precision = ev.eval['precision'][0, :, :, 0]
    rare = np.array([lvis_gt.cats[c]['frequency'] == 'r' for c in ev.params.cat_ids])
    split = {}
    for key, cats in (('AP50_novel', rare), ('AP50_base', ~rare)):
        p = precision[:, cats]
        split[key] = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
    return {**ev.results, **split}


def assert_equal(ours, ref):
    assert list(ours) == list(ref)
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9), key


def perturbed_results(gt_dict, seed=0, per_gt=2, masks=False):
    """Detections from jittered ground truth (some relabelled), plus spurious ones on negative categories."""
    rng = np.random.default_rng(seed)
    cat_ids = [c['id'] for c in gt_dict['categories']]
    size = {im['id']: (im['height'], im['width']) for im in gt_dict['images']}
    out = []
    for a in gt_dict['annotations']:
        for _ in range(per_gt):
            x, y, w, h = a['bbox']
            j = rng.normal(0, 0.1, 4) * [w, h, w, h]
            det = {'image_id': a['image_id'], 'score': float(np.round(rng.random(), 2)),
                   'category_id': a['category_id'] if rng.random() < 0.85 else int(rng.choice(cat_ids))}
            if masks:
                polys = [list(np.asarray(p) + rng.normal(0, 1.5, len(p))) for p in a['segmentation']]
                rle = mask_utils.merge(mask_utils.frPyObjects(polys, *size[a['image_id']]))
                rle['counts'] = rle['counts'].decode()
                det['segmentation'] = rle
            else:
                det['bbox'] = [x + j[0], y + j[1], max(w + j[2], 1.0), max(h + j[3], 1.0)]
            out.append(det)
    if not masks:
        for im in gt_dict['images']:
            for _ in range(4):
                pool = im['neg_category_ids'] or cat_ids
                out.append({'image_id': im['id'], 'category_id': int(rng.choice(pool)),
                            'bbox': [10, 10, 50, 40], 'score': float(np.round(rng.random(), 2))})
    return out


@pytest.fixture(scope='module')
def lvis_fixture(fixtures_dir):
    path = str(fixtures_dir / 'lvis_v0.5_val_100.json')
    with open(path) as f:
        gt_dict = json.load(f)
    return path, gt_dict, LVIS(path), perturbed_results(gt_dict)


def test_lvis_ap_equals_lvis_api_on_real_fixture(lvis_fixture):
    path, gt_dict, lvis_gt, res = lvis_fixture
    gt = load_ground_truth(path)
    ref = official(lvis_gt, res)
    assert_equal(evaluate_lvis(gt, load_results(res, gt)), ref)
    assert 0.2 < ref['AP'] < 1


def test_fixed_ap_equals_reference_on_real_fixture(lvis_fixture):
    path, gt_dict, lvis_gt, res = lvis_fixture
    gt = load_ground_truth(path)
    # K = 3 so that the per-category cut bites (with tied scores at the cut); K = 10,000: generated data
    ours = evaluate_lvis(gt, load_results(res, gt), fixed_ap=True, max_dets_per_cat=3)
    assert_equal(ours, official(lvis_gt, res, fixed_k=3))
    assert 'AR@-1' in ours


def test_lvis_mask_ap_equals_lvis_api_on_real_fixture(tmp_path, lvis_fixture):
    path, gt_dict, _, _ = lvis_fixture
    small = dict(gt_dict, images=gt_dict['images'][:15])
    ids = {im['id'] for im in small['images']}
    small['annotations'] = [a for a in gt_dict['annotations'] if a['image_id'] in ids]
    (tmp_path / 'gt.json').write_text(json.dumps(small))
    res = perturbed_results(small, seed=3, per_gt=1, masks=True)
    ref = official(LVIS(str(tmp_path / 'gt.json')), res, iou_type='segm')
    gt = load_ground_truth(small)
    assert_equal(evaluate_lvis(gt, load_results(res, gt), iou_type='segm'), ref)
    assert ref['AP'] > 0.3


@pytest.fixture(scope='module')
def hard_categories():
    cats = lvis_v1_categories()
    rng = np.random.default_rng(0)
    picked = [dict(cats[i]) for i in sorted(rng.choice(len(cats), 45, replace=False))]
    for c in picked:  # make rare categories appear too
        c['image_count'], c['instance_count'] = 50, 100
    return picked


@pytest.mark.parametrize('seed', [0, 1])
def test_lvis_equals_lvis_api_on_hard_cases(tmp_path, hard_categories, seed):
    # tied scores, tied IoUs (identical boxes), ignored ground truth, zero-area detections, images without
    # detections, categories without ground truth, not-exhaustive and negative categories
    gt_dict, res = make_lvis_like(25, 120, seed=seed, categories=hard_categories, score_decimals=2,
                                  hard_cases=True)
    (tmp_path / 'gt.json').write_text(json.dumps(gt_dict))
    lvis_gt = LVIS(str(tmp_path / 'gt.json'))
    gt = load_ground_truth(gt_dict)
    with pytest.warns(UserWarning, match='zero area'):
        dets = load_results(res, gt)
        ours = evaluate_lvis(gt, dets)
    ref = official(lvis_gt, res)
    assert_equal(ours, ref)
    assert min(ref['APr'], ref['APc'], ref['APf']) > 0
    with pytest.warns(UserWarning):  # the per-image cap bites, with tied scores at the cut
        assert_equal(evaluate_lvis(gt, dets, max_dets=40), official(lvis_gt, res, max_dets=40))
    for k in (30, 10000):
        with pytest.warns(UserWarning):
            ours = evaluate_lvis(gt, dets, fixed_ap=True, max_dets_per_cat=k)
        assert_equal(ours, official(lvis_gt, res, fixed_k=k))
