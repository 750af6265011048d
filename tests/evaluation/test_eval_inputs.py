"""Bad input to the detection protocols: errors naming the record, or the official tools' drop + a warning."""
import copy
import json
import math

import numpy as np
import pytest

from ovd.evaluation.coco_ap import evaluate_coco
from ovd.evaluation.lvis_ap import evaluate_lvis
from ovd.evaluation.protocols import evaluate_files
from ovd.evaluation.records import Detections, EvaluationInputError, load_ground_truth, load_results

GT = {
    'images': [
        {'id': 1, 'width': 100, 'height': 100, 'neg_category_ids': [2], 'not_exhaustive_category_ids': []},
        {'id': 2, 'width': 100, 'height': 100, 'neg_category_ids': [], 'not_exhaustive_category_ids': []}],
    'categories': [{'id': 1, 'name': 'cat', 'frequency': 'f'}, {'id': 2, 'name': 'dog', 'frequency': 'r'}],
    'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [10, 10, 20, 20], 'area': 400.0},
                    {'id': 2, 'image_id': 2, 'category_id': 2, 'bbox': [0, 0, 50, 50], 'area': 2500.0}],
}
GOOD = {'image_id': 1, 'category_id': 1, 'bbox': [10, 10, 20, 20], 'score': 0.9}


@pytest.fixture()
def gt():
    return load_ground_truth(copy.deepcopy(GT))


@pytest.mark.parametrize('change, message', [
    ({'score': math.nan}, 'record 1: field "score" is nan'),
    ({'score': math.inf}, 'record 1: field "score" is inf'),
    ({'bbox': [0, 0, math.inf, 3]}, 'record 1: field "bbox" .* not finite'),
    ({'bbox': [0, 0, -5, 3]}, 'record 1: field "bbox" .* negative width or height'),
    ({'image_id': 77}, 'record 1: image_id 77 is not in the ground truth'),
    ({'bbox': [1, 2, 3]}, 'record 1: field "bbox" must be 4 numbers'),
    ({'score': 'high'}, 'record 1: field "score" must be a number'),
])
def test_bad_record_is_named(gt, change, message):
    with pytest.raises(EvaluationInputError, match=message):
        load_results([GOOD, dict(GOOD, **change)], gt)


def test_missing_field_is_named(gt):
    bad = dict(GOOD)
    del bad['category_id']
    with pytest.raises(EvaluationInputError, match='record 1: missing field "category_id"'):
        load_results([GOOD, bad], gt)


def test_results_file_not_json_or_not_list(tmp_path, gt):
    (tmp_path / 'gt.json').write_text(json.dumps(GT))
    (tmp_path / 'bad.json').write_text('{"not": "closed"')
    with pytest.raises(EvaluationInputError, match='bad.json is not valid JSON'):
        evaluate_files('coco', tmp_path / 'gt.json', tmp_path / 'bad.json')
    (tmp_path / 'obj.json').write_text(json.dumps({'annotations': []}))
    with pytest.raises(EvaluationInputError, match='obj.json: expected a JSON list'):
        evaluate_files('coco', tmp_path / 'gt.json', tmp_path / 'obj.json')
    with pytest.raises(EvaluationInputError, match='does not exist'):
        evaluate_files('coco', tmp_path / 'gt.json', tmp_path / 'missing.json')


def test_bad_ground_truth_is_named(tmp_path):
    gt = copy.deepcopy(GT)
    gt['annotations'][1]['category_id'] = 5
    with pytest.raises(EvaluationInputError, match=r'annotations\[1\] \(id 2\): category_id 5'):
        load_ground_truth(gt)
    with pytest.raises(EvaluationInputError, match='missing list "annotations"'):
        load_ground_truth({'images': [], 'categories': []})


def test_unknown_category_dropped_with_warning_like_the_official_tools(gt):
    res = [GOOD, dict(GOOD, category_id=99, score=0.95)]
    with pytest.warns(UserWarning, match='1 detections of 1 category ids not in the ground truth'):
        with_unknown = evaluate_coco(gt, load_results(res, gt))
    assert with_unknown == evaluate_coco(gt, load_results([GOOD], gt))
    with pytest.warns(UserWarning, match='categories not in the ground truth'):
        evaluate_lvis(gt, load_results(res, gt))


def test_lvis_zero_area_dropped_with_warning(gt):
    res = [GOOD, dict(GOOD, bbox=[10, 10, 0, 20], score=0.99)]
    with pytest.warns(UserWarning, match='1 detections with zero area'):
        out = evaluate_lvis(gt, load_results(res, gt))
    assert out == evaluate_lvis(gt, load_results([GOOD], gt))


def test_empty_predictions_give_zeros(gt):
    coco = evaluate_coco(gt, load_results([], gt))
    assert coco['AP'] == 0 and coco['AR@100'] == 0
    lvis = evaluate_lvis(gt, Detections.empty())
    assert lvis['AP'] == 0 and lvis['APr'] == 0 and lvis['APf'] == 0
    assert lvis['APc'] == -1  # no common category: nothing to average, as lvis-api


def test_one_perfect_detection_per_object_gives_ap_one(gt):
    res = [dict(GOOD), {'image_id': 2, 'category_id': 2, 'bbox': [0, 0, 50, 50], 'score': 0.5}]
    out = evaluate_lvis(gt, load_results(res, gt))
    assert out['AP'] == pytest.approx(1.0) and out['AR@300'] == pytest.approx(1.0)
    assert np.isclose(evaluate_coco(gt, load_results(res, gt))['AP50'], 1.0)


def test_lvis_unknown_ids_in_image_lists_are_refused():
    gt_dict = copy.deepcopy(GT)
    # An id that is no category (here: 4, which would also be the key of (image 2, category 1) with 3 ids) means
    # a wrong or damaged file; it is reported instead of being evaluated silently.
    gt_dict['images'][0]['neg_category_ids'] = [2, 4]
    with pytest.raises(EvaluationInputError, match=r'images\[0\] \(id 1\): field "neg_category_ids": category id 4 '
                                                   r'is not in "categories"'):
        load_ground_truth(gt_dict)
