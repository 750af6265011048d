"""COCO / OV-COCO AP equals pycocotools on every metric (real COCO fixture and generated hard cases)."""
import contextlib
import copy
import io
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ovd.evaluation.coco_ap import evaluate_coco
from ovd.data.synthetic.eval_cases import make_coco_like
from ovd.evaluation.ov_coco import OV_COCO_BASE, OV_COCO_NOVEL, evaluate_ov_coco
from ovd.evaluation.records import load_ground_truth, load_results

NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR@1', 'AR@10', 'AR@100', 'ARs@100', 'ARm@100',
         'ARl@100']


def official(gt_dict, results, iou_type='bbox'):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt_dict)
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def assert_equal_stats(ours, ev):
    assert list(ours) == NAMES
    np.testing.assert_allclose([ours[k] for k in NAMES], ev.stats, rtol=0, atol=1e-9)


@pytest.fixture(scope='module')
def coco_fixture(fixtures_dir):
    with open(fixtures_dir / 'coco_instances_val2014_100.json') as f:
        gt = json.load(f)
    with open(fixtures_dir / 'coco_val2014_fakebbox100_results.json') as f:
        res = json.load(f)
    return gt, res


@pytest.fixture(scope='module')
def coco_mask_results(coco_fixture):
    """Mask results: every non-crowd ground-truth polygon jittered by ~2 px, as RLE."""
    gt, _ = coco_fixture
    rng = np.random.default_rng(1)
    size = {im['id']: (im['height'], im['width']) for im in gt['images']}
    out = []
    for a in gt['annotations']:
        if a['iscrowd'] or rng.random() < 0.1:
            continue
        polys = [list(np.asarray(p) + rng.normal(0, 2, len(p))) for p in a['segmentation']]
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, *size[a['image_id']]))
        rle['counts'] = rle['counts'].decode()
        out.append({'image_id': a['image_id'], 'category_id': a['category_id'], 'segmentation': rle,
                    'score': float(np.round(rng.random(), 2))})
    return out


def test_coco_box_ap_equals_pycocotools_on_real_fixture(coco_fixture):
    gt_dict, res = coco_fixture
    gt = load_ground_truth(gt_dict)
    assert_equal_stats(evaluate_coco(gt, load_results(res, gt)), official(gt_dict, res))


def test_coco_mask_ap_equals_pycocotools_on_real_fixture(coco_fixture, coco_mask_results):
    gt_dict, _ = coco_fixture
    gt = load_ground_truth(gt_dict)
    ours = evaluate_coco(gt, load_results(coco_mask_results, gt), iou_type='segm')
    assert_equal_stats(ours, official(gt_dict, coco_mask_results, 'segm'))
    assert 0.3 < ours['AP'] < 1.0


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_coco_box_ap_equals_pycocotools_on_hard_cases(seed):
    # tied scores (1 decimal), crowd regions, > 100 detections per (image, category), zero-area boxes,
    # categories without ground truth, images without detections, identical ground-truth boxes
    gt_dict, res = make_coco_like(30, seed=seed)
    gt = load_ground_truth(gt_dict)
    ev = official(gt_dict, res)
    assert_equal_stats(evaluate_coco(gt, load_results(res, gt)), ev)
    assert ev.stats[0] > 0


def test_ov_coco_80_equals_pycocotools_split_means(coco_fixture):
    gt_dict, res = coco_fixture
    gt = load_ground_truth(gt_dict)
    ours = evaluate_ov_coco(gt, load_results(res, gt), '80')
    ev = official(gt_dict, res)
    names = {c['id']: c['name'] for c in gt_dict['categories']}
    precision = ev.eval['precision']  # [T, R, K, A, M]
    for split, members in (('novel', OV_COCO_NOVEL), ('base', OV_COCO_BASE)):
        k = [i for i, cid in enumerate(ev.params.catIds) if names[cid] in members]
        for prefix, t in (('AP50', [0]), ('AP', slice(None))):
            s = precision[t][:, :, k, 0, -1]
            assert ours[f'{prefix}_{split}'] == pytest.approx(np.mean(s[s > -1]), abs=1e-9)
    assert ours['AP50_all'] == pytest.approx(ev.stats[1], abs=1e-9)
    assert ours['AP_all'] == pytest.approx(ev.stats[0], abs=1e-9)


def test_ov_coco_65_equals_pycocotools_on_the_65_category_file(coco_fixture):
    gt_dict, res = coco_fixture
    keep = {c['id'] for c in gt_dict['categories'] if c['name'] in set(OV_COCO_BASE) | set(OV_COCO_NOVEL)}
    assert len(keep) == 65
    gt65 = dict(gt_dict, categories=[c for c in gt_dict['categories'] if c['id'] in keep],
                annotations=[a for a in gt_dict['annotations'] if a['category_id'] in keep])
    ev = official(gt65, [r for r in res if r['category_id'] in keep])
    gt = load_ground_truth(gt_dict)  # the full 80-category file: the protocol restricts it
    ours = evaluate_ov_coco(gt, load_results(res, gt), '65')
    assert ours['AP50_all'] == pytest.approx(ev.stats[1], abs=1e-9)
    assert ours['AP_all'] == pytest.approx(ev.stats[0], abs=1e-9)
    assert set(ours) == {'AP50_novel', 'AP50_base', 'AP50_all', 'AP_novel', 'AP_base', 'AP_all'}


def test_ov_coco_split_is_48_base_17_novel(fixtures_dir):
    assert len(OV_COCO_BASE) == 48 and len(OV_COCO_NOVEL) == 17
    assert not set(OV_COCO_BASE) & set(OV_COCO_NOVEL)
    gt = json.loads((fixtures_dir / 'coco_instances_val2014_100.json').read_text())
    names = {c['name'] for c in gt['categories']}
    assert set(OV_COCO_BASE) | set(OV_COCO_NOVEL) <= names
