"""`ovd eval` refuses ids and scores of the wrong JSON type, naming the record, instead of coercing them (numpy
turns 20602.5 into 20602, "7" into 7, true into 1 and a null score into NaN)."""
import copy
import json

import pytest

from ovd.cli import main
from ovd.evaluation.records import EvaluationInputError, load_ground_truth, load_results

GT = {
    'images': [{'id': 20602, 'width': 100, 'height': 100}, {'id': 2, 'width': 100, 'height': 100}],
    'categories': [{'id': 1, 'name': 'cat'}, {'id': 2, 'name': 'dog'}],
    'annotations': [{'id': 1, 'image_id': 20602, 'category_id': 1, 'bbox': [10, 10, 20, 20], 'area': 400.0},
                    {'id': 2, 'image_id': 2, 'category_id': 2, 'bbox': [0, 0, 50, 50], 'area': 2500.0}],
}
GOOD = {'image_id': 20602, 'category_id': 1, 'bbox': [10, 10, 20, 20], 'score': 0.9}


@pytest.mark.parametrize('change, message', [
    ({'image_id': 20602.5}, 'record 1: field "image_id" must be an integer id, got 20602.5'),
    ({'image_id': '20602'}, 'record 1: field "image_id" must be an integer id, got "20602"'),
    ({'image_id': True}, 'record 1: field "image_id" must be an integer id, got true'),
    ({'category_id': '1'}, 'record 1: field "category_id" must be an integer id, got "1"'),
    ({'category_id': False}, 'record 1: field "category_id" must be an integer id, got false'),
    ({'category_id': None}, 'record 1: field "category_id" must be an integer id, got null'),
    ({'score': '0.9'}, 'record 1: field "score" must be a number, got "0.9"'),
    ({'score': None}, 'record 1: field "score" must be a number, got null'),
    ({'score': True}, 'record 1: field "score" must be a number, got true'),
    ({'bbox': ['10', 10, 20, 20]}, 'record 1: field "bbox" must be 4 numbers'),
    ({'bbox': [10, None, 20, 20]}, 'record 1: field "bbox" must be 4 numbers'),
])
def test_wrong_json_type_is_refused_naming_the_record(change, message):
    gt = load_ground_truth(copy.deepcopy(GT))
    # through a JSON round trip, as a results file is read
    records = json.loads(json.dumps([GOOD, dict(GOOD, **change)]))
    with pytest.raises(EvaluationInputError, match=message.replace('(', r'\(')):
        load_results(records, gt)


def test_integral_float_ids_name_the_same_record():
    """pycocotools matches 20602.0 to image 20602 (equal hash), so it is accepted, as an integer."""
    gt = load_ground_truth(copy.deepcopy(GT))
    dets = load_results([dict(GOOD, image_id=20602.0, category_id=1.0), GOOD], gt)
    assert dets.image_ids.tolist() == [20602, 20602] and dets.category_ids.tolist() == [1, 1]


@pytest.mark.parametrize('section, index, key, value', [
    ('annotations', 1, 'image_id', 2.5), ('annotations', 0, 'category_id', '1'), ('images', 1, 'id', True)])
def test_ground_truth_ids_of_the_wrong_type(section, index, key, value):
    data = copy.deepcopy(GT)
    data[section][index][key] = value
    with pytest.raises(EvaluationInputError, match=rf'{section}\[{index}\]: field "{key}" must be an integer id'):
        load_ground_truth(data)


def test_ovd_eval_cli_exit_2_names_the_record(tmp_path, capsys):
    (tmp_path / 'gt.json').write_text(json.dumps(GT))
    (tmp_path / 'pred.json').write_text(json.dumps([GOOD, GOOD, dict(GOOD, image_id=20602.5)]))
    assert main(['eval', '--protocol', 'coco', '--gt', str(tmp_path / 'gt.json'),
                 '--pred', str(tmp_path / 'pred.json')]) == 2
    err = capsys.readouterr().err
    assert 'pred.json: record 2: field "image_id" must be an integer id, got 20602.5' in err
    assert len(err.strip().splitlines()) == 1


def test_flickr_label_past_the_sentences_phrases_is_refused():
    from ovd.evaluation.flickr30k import load_flickr30k_ground_truth, load_flickr30k_predictions
    gt = load_flickr30k_ground_truth({'sentences': [{'image_id': 7, 'sentence_id': 0, 'phrases': [
        {'phrase_id': 1, 'phrase_type': ['people'], 'boxes': [[0, 0, 10, 10]]},
        {'phrase_id': 2, 'phrase_type': ['other'], 'boxes': []}]}]})
    pred = {'image_id': 7, 'sentence_id': 0, 'boxes': [[0, 0, 10, 10], [1, 1, 5, 5]], 'scores': [0.9, 0.5]}
    assert len(load_flickr30k_predictions([dict(pred, labels=[0, 1])], gt)) == 1
    for labels, bad in (([0, 2], 2), ([-1, 0], -1)):
        with pytest.raises(EvaluationInputError, match=rf'record 0: field "labels"\[\d\] = {bad} is not a phrase '
                                                       r'label of the sentence \(0 \.\. 1\)'):
            load_flickr30k_predictions([dict(pred, labels=labels)], gt)
