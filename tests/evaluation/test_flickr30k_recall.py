"""Flickr30k Recall@k (any-box, merged-box, upper bound, per type) against a hand-worked example."""
import json

import numpy as np
import pytest

from ovd.evaluation.flickr30k import (
    evaluate_flickr30k,
    load_flickr30k_ground_truth,
    load_flickr30k_predictions,
)
from ovd.evaluation.protocols import evaluate_files
from ovd.evaluation.records import EvaluationInputError

GT = {'sentences': [
    {'image_id': 1, 'sentence_id': 0, 'phrases': [
        {'phrase_id': '10', 'phrase_type': ['people'], 'boxes': [[0, 0, 10, 10], [20, 20, 30, 30]]},
        {'phrase_id': '11', 'phrase_type': ['clothing'], 'boxes': [[0, 0, 4, 4]]},
        {'phrase_id': '12', 'phrase_type': ['notvisual'], 'boxes': []},  # no box: excluded
        {'phrase_id': '13', 'phrase_type': ['people', 'other'], 'boxes': [[100, 100, 120, 140]]},
    ]},
    {'image_id': 2, 'sentence_id': 1, 'phrases': [  # no prediction record at all
        {'phrase_id': '20', 'phrase_type': 'animals', 'boxes': [[0, 0, 10, 10]]}]},
    {'image_id': 3, 'sentence_id': 0, 'phrases': [
        {'phrase_id': '30', 'phrase_type': ['vehicles'], 'boxes': [[0, 0, 10, 10]]}]},
]}
PRED = [
    {'image_id': 1, 'sentence_id': 0,
     'boxes': [[50, 50, 60, 60], [20, 20, 30, 30], [0, 0, 30, 30], [0, 0, 4, 5], [100, 100, 120, 140]],
     'scores': [0.9, 0.95, 0.1, 0.5, 0.05],
     'labels': [0, 0, 0, 1, 1]},
    # tied scores: the earlier (missing) box ranks first
    {'image_id': 3, 'sentence_id': 0, 'boxes': [[50, 50, 60, 60], [0, 0, 10, 10]], 'scores': [0.5, 0.5],
     'labels': [0, 0]},
]
# Worked by hand. 5 phrases count (S1: 0, 1, 3; S2: 0; S3: 0).
# any-box: S1p0 hit at rank 1 ([20,20,30,30] = its 2nd box); S1p1 hit at rank 1 (IoU 16/20 = 0.8);
#          S1p3 has no box of its own but the sentence's last box matches it (upper bound only);
#          S3p0 hit at rank 2 (tie order). R@1 = 2/5, R@5 = R@10 = 3/5, UB = 4/5.
# merged-box: S1p0's boxes merge to [0,0,30,30]: rank 1 has IoU 100/900, rank 3 matches exactly.
#          R@1 = 1/5, R@5 = R@10 = 3/5, UB = 4/5.
EXPECTED = {
    'any-box': {'R@1': 0.4, 'R@5': 0.6, 'R@10': 0.6, 'UB': 0.8,
                'people/R@1': 0.5, 'people/UB': 1.0, 'other/R@1': 0.0, 'other/UB': 1.0, 'clothing/R@1': 1.0,
                'animals/R@10': 0.0, 'animals/UB': 0.0, 'vehicles/R@1': 0.0, 'vehicles/R@5': 1.0},
    'merged-box': {'R@1': 0.2, 'R@5': 0.6, 'R@10': 0.6, 'UB': 0.8,
                   'people/R@1': 0.0, 'people/R@5': 0.5, 'people/UB': 1.0, 'clothing/R@1': 1.0},
}


@pytest.mark.parametrize('protocol', ['any-box', 'merged-box'])
def test_recall_matches_hand_worked_example(protocol):
    phrases = load_flickr30k_ground_truth(GT)
    out = evaluate_flickr30k(phrases, load_flickr30k_predictions(PRED, phrases), protocol)
    for key, value in EXPECTED[protocol].items():
        assert out[key] == pytest.approx(value), key
    assert not any(k.startswith('notvisual/') for k in out)


def test_files_and_ambiguous_protocol(tmp_path):
    (tmp_path / 'gt.json').write_text(json.dumps(GT))
    (tmp_path / 'pred.json').write_text(json.dumps(PRED))
    out = evaluate_files('flickr30k-merged-box', tmp_path / 'gt.json', tmp_path / 'pred.json')
    assert out['R@1'] == pytest.approx(0.2)
    with pytest.raises(ValueError, match='flickr30k-any-box'):
        evaluate_files('flickr30k', tmp_path / 'gt.json', tmp_path / 'pred.json')


@pytest.mark.parametrize('record, message', [
    ({'image_id': 1, 'sentence_id': 0, 'boxes': [[0, 0, 1, 1]], 'scores': [float('nan')], 'labels': [0]},
     'not finite'),
    ({'image_id': 1, 'sentence_id': 0, 'boxes': [[5, 0, 1, 1]], 'scores': [0.5], 'labels': [0]}, 'xyxy'),
    ({'image_id': 1, 'sentence_id': 0, 'boxes': [[0, 0, 1, 1]], 'scores': [0.5, 0.2], 'labels': [0]},
     'must be equal'),
    ({'image_id': 9, 'sentence_id': 0, 'boxes': [], 'scores': [], 'labels': []}, 'not in the ground truth'),
    ({'image_id': 1, 'boxes': [], 'scores': [], 'labels': []}, 'sentence_id'),
])
def test_bad_predictions_name_the_record(record, message):
    phrases = load_flickr30k_ground_truth(GT)
    with pytest.raises(EvaluationInputError, match=message) as err:
        load_flickr30k_predictions([PRED[1], record], phrases)
    assert 'record 1' in str(err.value)


def test_no_predictions_give_zero_recall():
    phrases = load_flickr30k_ground_truth(GT)
    out = evaluate_flickr30k(phrases, {}, 'any-box')
    assert out['R@1'] == 0 and out['UB'] == 0
    assert np.isfinite(list(out.values())).all()
