"""The metric applies LVIS's caps while results arrive (bounded memory) without changing any number."""
import json

import pytest
from test_eval_metrics import _samples

from ovd.data.vocab import vocabulary_from_categories
from ovd.evaluation import lvis_ap
from ovd.data.synthetic.eval_cases import make_lvis_like
from ovd.registry import METRICS


def _metric(protocol, ann_file, **kwargs):
    metric = METRICS.build(dict(type='OVDetectionMetric', protocol=protocol, ann_file=str(ann_file), **kwargs))
    return metric


CATEGORIES = [dict(id=i, name=f'c{i}', frequency='rcf'[i % 3], image_count=5, instance_count=9)
              for i in range(1, 31)]


def _write(tmp_path, num_images, dets_per_image):
    gt, results = make_lvis_like(num_images, dets_per_image=dets_per_image, seed=3, categories=CATEGORIES,
                                 score_decimals=1)  # many tied scores at the cuts
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(gt))
    return ann_file, results


def test_per_image_cap_while_streaming_keeps_lvis_identical(tmp_path):
    ann_file, results = _write(tmp_path, num_images=5, dets_per_image=420)
    _check(ann_file, results, 'lvis', dict(fixed_ap=False))


def test_per_category_pruning_keeps_fixed_ap_identical(tmp_path, monkeypatch):
    ann_file, results = _write(tmp_path, num_images=12, dets_per_image=60)
    # A small K makes pruning bite on small data; the protocol applies the same K at the end.
    monkeypatch.setattr('ovd.evaluation.metrics.MAX_DETS_PER_CATEGORY', 40)
    _check(ann_file, results, 'lvis-fixed', dict(fixed_ap=True, max_dets_per_cat=40), patch=monkeypatch)


def _check(ann_file, results, protocol, reference_kwargs, patch=None):
    cats = CATEGORIES
    original = lvis_ap.evaluate_lvis
    if patch is not None:  # the metric's protocol call looks evaluate_lvis up in lvis_ap at call time
        patch.setattr(lvis_ap, 'evaluate_lvis', lambda gt, dets, iou_type='bbox', fixed_ap=False:
                      original(gt, dets, iou_type, fixed_ap, max_dets_per_cat=40))
    label_of = {c['id']: i for i, c in enumerate(cats)}
    samples = _samples(results, label_of)

    streamed = _metric(protocol, ann_file, prune_rows=50)
    streamed.dataset_meta = vocabulary_from_categories('lvis-like', cats).metainfo()
    streamed.process({}, samples)
    kept = sum(len(r['scores']) for r in streamed.results)
    assert kept < len(results), 'the caps should have dropped detections while they arrived'

    reference = original(*_protocol_inputs(ann_file, results), **reference_kwargs)
    metrics = streamed.compute_metrics(streamed.results)
    for name, value in reference.items():
        assert metrics[f'bbox_{name}'] == pytest.approx(value, abs=1e-12), name


def _protocol_inputs(ann_file, results):
    from ovd.evaluation.records import load_ground_truth, load_results
    gt = load_ground_truth(str(ann_file))
    return gt, load_results(results, gt)
