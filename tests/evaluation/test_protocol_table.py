"""The protocol table names the metrics each protocol's evaluation really returns, and every name is in it once."""
import json

import numpy as np
import pytest

from ovd.evaluation.flickr30k import GroundedPhrase, SentencePrediction, evaluate_flickr30k
from ovd.data.synthetic.eval_cases import make_coco_like, make_lvis_like
from ovd.evaluation.protocols import (
    DETECTION_PROTOCOLS,
    FAMILIES,
    GROUNDING_PROTOCOLS,
    PROTOCOLS,
    check_protocol,
    evaluate_detections,
)
from ovd.evaluation.records import load_ground_truth, load_results


@pytest.mark.parametrize('protocol', DETECTION_PROTOCOLS)
def test_detection_protocols_return_the_table_s_metrics(protocol, fixtures_dir):
    if protocol.startswith('lvis'):
        gt_dict, res = make_lvis_like(4, dets_per_image=20, seed=0)
    elif protocol.startswith('ov-coco'):
        gt_dict = json.loads((fixtures_dir / 'coco_instances_val2014_100.json').read_text())
        res = json.loads((fixtures_dir / 'coco_val2014_fakebbox100_results.json').read_text())
    else:
        gt_dict, res = make_coco_like(4, dets_per_image=20, seed=0)
    gt = load_ground_truth(gt_dict)
    out = evaluate_detections(protocol, gt, load_results(res, gt))
    assert set(PROTOCOLS[protocol].metrics) <= set(out), sorted(out)


@pytest.mark.parametrize('protocol', GROUNDING_PROTOCOLS)
def test_grounding_protocols_return_the_table_s_metrics(protocol):
    phrase = GroundedPhrase(('1', '0'), 0, ['people'], np.array([[0., 0., 10., 10.]]))
    pred = {('1', '0'): SentencePrediction(np.array([[0., 0., 10., 10.]]), np.array([0.9]), np.array([0]))}
    out = evaluate_flickr30k([phrase], pred, protocol.split('-', 1)[1])
    assert set(PROTOCOLS[protocol].metrics) <= set(out), sorted(out)


def test_table_is_consistent():
    assert set(DETECTION_PROTOCOLS) | set(GROUNDING_PROTOCOLS) == set(PROTOCOLS)
    for name, proto in PROTOCOLS.items():
        assert proto.name == name and proto.family in FAMILIES and check_protocol(name) == name
        for col in FAMILIES[proto.family].columns:  # the display columns are metrics it returns
            assert col.removeprefix('mask_') in proto.metrics, (name, col)
    variants = [(p.family, p.variant) for p in PROTOCOLS.values()]
    assert len(set(variants)) == len(variants)  # a leaderboard row's (family, variant) names one protocol
