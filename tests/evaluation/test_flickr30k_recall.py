"""Flickr30k Recall@k (any-box, merged-box, upper bound, per type) against a hand-worked example; bad input.

The parity with MDETR's evaluator on a raw release is tests/parity/test_flickr30k_mdetr_parity.py.
"""
import json

import numpy as np
import pytest

from ovd.evaluation.flickr30k import (
    GroundedPhrase,
    SentencePrediction,
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
    {'image_id': 2, 'sentence_id': 1, 'phrases': [  # an empty prediction record
        {'phrase_id': '20', 'phrase_type': 'animals', 'boxes': [[0, 0, 10, 10]]}]},
    {'image_id': 3, 'sentence_id': 0, 'phrases': [
        {'phrase_id': '30', 'phrase_type': ['vehicles'], 'boxes': [[0, 0, 10, 10]]}]},
]}
PRED = [
    {'image_id': 1, 'sentence_id': 0,
     'boxes': [[50, 50, 60, 60], [20, 20, 30, 30], [0, 0, 30, 30], [0, 0, 4, 5], [100, 100, 120, 140]],
     'scores': [0.9, 0.95, 0.1, 0.5, 0.05],
     'labels': [0, 0, 0, 1, 1]},
    {'image_id': 2, 'sentence_id': 1, 'boxes': [], 'scores': [], 'labels': []},
    # tied scores: the earlier (missing) box ranks first
    {'image_id': 3, 'sentence_id': 0, 'boxes': [[50, 50, 60, 60], [0, 0, 10, 10]], 'scores': [0.5, 0.5],
     'labels': [0, 0]},
]
# Worked by hand. 5 phrases count (S1: 0, 1, 3; S2: 0; S3: 0).
# any-box: S1p0 hit at rank 1 ([20,20,30,30] = its 2nd box); S1p1 hit at rank 1 (IoU 16/20 = 0.8);
#          S1p3 has no box of its own: a miss, also for the upper bound, which looks at the phrase's own list
#          only (MDETR's definition), although the sentence's last box (labelled p1) matches it;
#          S3p0 hit at rank 2 (tie order). R@1 = 2/5, R@5 = R@10 = UB = 3/5.
# merged-box: S1p0's boxes merge to [0,0,30,30]: rank 1 has IoU 100/900, rank 3 matches exactly.
#          R@1 = 1/5, R@5 = R@10 = UB = 3/5.
EXPECTED = {
    'any-box': {'R@1': 0.4, 'R@5': 0.6, 'R@10': 0.6, 'UB': 0.6,
                'people/R@1': 0.5, 'people/UB': 0.5, 'other/R@1': 0.0, 'other/UB': 0.0, 'clothing/R@1': 1.0,
                'animals/R@10': 0.0, 'animals/UB': 0.0, 'vehicles/R@1': 0.0, 'vehicles/R@5': 1.0},
    'merged-box': {'R@1': 0.2, 'R@5': 0.6, 'R@10': 0.6, 'UB': 0.6,
                   'people/R@1': 0.0, 'people/R@5': 0.5, 'people/UB': 0.5, 'clothing/R@1': 1.0},
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
    ({'image_id': 1, 'sentence_id': 7, 'boxes': [], 'scores': [], 'labels': []}, 'sentence .*not in the ground'),
    ({'image_id': 1, 'sentence_id': 0, 'boxes': [[0, 0, 1, 1]], 'scores': [0.5], 'labels': [4]},
     r'"labels"\[0\] = 4 is not a phrase label of the sentence \(0 .. 3\)'),
    ({'image_id': 3, 'sentence_id': 0, 'boxes': [], 'scores': [], 'labels': []}, 'second record'),
])
def test_bad_predictions_name_the_record(record, message):
    phrases = load_flickr30k_ground_truth(GT)
    with pytest.raises(EvaluationInputError, match=message) as err:
        load_flickr30k_predictions([PRED[2], record], phrases)
    assert 'record 1' in str(err.value)


def test_a_missing_sentence_is_an_error():
    phrases = load_flickr30k_ground_truth(GT)
    with pytest.raises(EvaluationInputError, match='no record for 1 sentence.*image_id 2 sentence_id 1'):
        load_flickr30k_predictions([PRED[0], PRED[2]], phrases)


def test_the_upper_bound_looks_at_the_phrase_s_own_list_only():
    phrase = GroundedPhrase(('1', '0'), 0, ['people'], np.array([[0., 0., 10., 10.]]))
    other = GroundedPhrase(('1', '0'), 1, ['other'], np.array([[50., 50., 60., 60.]]))
    pred = {('1', '0'): SentencePrediction(np.array([[50., 50., 60., 60.], [0., 0., 10., 10.]]),
                                           np.array([0.9, 0.1]), np.array([0, 1]))}
    out = evaluate_flickr30k([phrase, other], pred)
    # each phrase's matching box is labelled with the other phrase: no hit, not even for the upper bound
    assert out['UB'] == 0.0 and out['R@10'] == 0.0


MDETR_GT = {'sentences': [
    {'image_id': '5', 'sentence_id': 0, 'phrases': [
        {'phrase_id': '1', 'phrase_type': ['people'], 'boxes': [[0, 0, 10, 10]]},
        {'phrase_id': '0', 'phrase_type': ['notvisual'], 'boxes': []},
        {'phrase_id': '2', 'phrase_type': ['other'], 'boxes': [[20, 20, 30, 30]]}]}]}


@pytest.mark.parametrize('boxes, message', [
    ([[[0, 0, 10, 10]]], 'record 0: field "boxes" has 1 phrase lists, sentence .* has 2 phrases with boxes'),
    ([[[0, 0, 10, 10]], [[5, 5, 1, 1]]], r'record 0 field "boxes"\[1\]: box 0 \[5, 5, 1, 1\] is not a finite'),
    ([[[0, 0, 10, 10]], [[5, 5, 1]]], r'record 0 field "boxes"\[1\]: box 0 \[5, 5, 1\]'),
    ([[[0, 0, 10, 10]], [['a', 5, 6, 7]]], r'record 0 field "boxes"\[1\]: box 0'),
    ([[0, 0, 10, 10], [0, 0, 10, 10]], r'record 0 field "boxes"\[0\]: box 0 0 is not a finite'),  # one list level
    ({'0': []}, 'must be a list .* of lists'),
])
def test_bad_mdetr_format_names_record_and_field(boxes, message):
    gt = load_flickr30k_ground_truth(MDETR_GT)
    with pytest.raises(EvaluationInputError, match=message):
        load_flickr30k_predictions([{'image_id': '5', 'sentence_id': 0, 'boxes': boxes}], gt)


def test_mdetr_format_labels_are_the_phrases_with_boxes_in_order():
    # the notvisual phrase (label 1 in the sentence-list file) has no list: the second list is phrase 2's
    gt = load_flickr30k_ground_truth(MDETR_GT)
    preds = load_flickr30k_predictions(
        [{'image_id': 5, 'sentence_id': 0, 'boxes': [[[50, 50, 60, 60], [0, 0, 10, 10]], [[20, 20, 30, 30]]]}], gt)
    out = evaluate_flickr30k(gt, preds)
    assert (out['R@1'], out['R@5'], out['people/R@1'], out['other/R@1']) == (0.5, 1.0, 0.0, 1.0)


def test_ground_truth_sources_and_errors(tmp_path):
    from ovd.data.flickr30k.index import INDEX_FORMAT
    from ovd.evaluation.flickr30k import read_flickr30k_ground_truth
    with pytest.raises(EvaluationInputError, match='say which split with --split'):
        read_flickr30k_ground_truth(tmp_path)
    with pytest.raises(EvaluationInputError, match='test.txt.*file not found'):
        read_flickr30k_ground_truth(tmp_path, 'test')
    old = tmp_path / 'old_index.json'
    old.write_text(json.dumps({'format': INDEX_FORMAT, 'version': 1, 'split': 'test', 'images': []}))
    with pytest.raises(EvaluationInputError, match='index version 1 != 2; rerun'):
        read_flickr30k_ground_truth(old)
    index = tmp_path / 'index.json'
    index.write_text(json.dumps({'format': INDEX_FORMAT, 'version': 2, 'split': 'val', 'images': []}))
    with pytest.raises(EvaluationInputError, match='field "split" is \'val\', not \'test\''):
        read_flickr30k_ground_truth(index, 'test')
    other = tmp_path / 'other.json'
    other.write_text('{"images": []}')
    with pytest.raises(EvaluationInputError, match='not Flickr30k ground truth'):
        read_flickr30k_ground_truth(other)
    (tmp_path / 'gt.json').write_text(json.dumps(GT))
    with pytest.raises(EvaluationInputError, match='box convention applies to the release and the index'):
        read_flickr30k_ground_truth(tmp_path / 'gt.json', box_convention='pixel')


def test_no_predictions_give_zero_recall():
    phrases = load_flickr30k_ground_truth(GT)
    out = evaluate_flickr30k(phrases, {}, 'any-box')
    assert out['R@1'] == 0 and out['UB'] == 0
    assert np.isfinite(list(out.values())).all()
