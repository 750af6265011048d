"""The mmengine metrics: pred_instances (xyxy, label indices) in, the protocol's numbers out."""
import contextlib
import io
import json
from collections import defaultdict

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from test_flickr30k_recall import EXPECTED
from test_flickr30k_recall import GT as FLICKR_GT
from test_flickr30k_recall import PRED as FLICKR_PRED

from ovd.data.vocab import Category, Vocabulary, get_vocabulary
from ovd.registry import METRICS


def _samples(results, label_of):
    by_img = defaultdict(list)
    for r in results:
        by_img[r['image_id']].append(r)
    out = []
    for img_id, rs in by_img.items():
        xywh = torch.tensor([r['bbox'] for r in rs], dtype=torch.float64)
        out.append({'img_id': img_id, 'ori_shape': (480, 640), 'pred_instances': {
            'bboxes': torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1),
            'scores': torch.tensor([r['score'] for r in rs]),
            'labels': torch.tensor([label_of[r['category_id']] for r in rs])}})
    return out


def test_detection_metric_equals_pycocotools(fixtures_dir):
    ann = str(fixtures_dir / 'coco_instances_val2014_100.json')
    res = json.loads((fixtures_dir / 'coco_val2014_fakebbox100_results.json').read_text())
    cats = sorted(json.loads(open(ann).read())['categories'], key=lambda c: c['id'])
    # a vocabulary in a different order than the file: labels index into it
    vocab = Vocabulary('reversed', [Category.make(c['id'], c['name']) for c in cats[::-1]])
    metric = METRICS.build(dict(type='OVDetectionMetric', ann_file=ann, protocol='coco'))
    metric.dataset_meta = vocab.metainfo()
    samples = _samples(res, {c.id: i for i, c in enumerate(vocab)})
    metric.process({}, samples[:10])
    metric.process({}, samples[10:])
    out = metric.evaluate(len(samples))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann)
        ev = COCOeval(gt, gt.loadRes(res), 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # xyxy -> xywh round trip changes the last bits of boxes only
    assert out['coco/bbox_AP'] == pytest.approx(ev.stats[0], abs=1e-6)
    assert out['coco/bbox_ARl@100'] == pytest.approx(ev.stats[11], abs=1e-6)


def test_ov_coco_metric_names_and_bad_protocol(fixtures_dir):
    ann = str(fixtures_dir / 'coco_instances_val2014_100.json')
    metric = METRICS.build(dict(type='OVDetectionMetric', ann_file=ann, protocol='ov-coco-65'))
    metric.dataset_meta = get_vocabulary('coco').metainfo()
    out = metric.compute_metrics([])  # no predictions: zeros
    assert out['bbox_AP50_novel'] == 0.0 and set(out) >= {'bbox_AP50_base', 'bbox_AP50_all'}
    with pytest.raises(ValueError, match='ambiguous'):
        METRICS.build(dict(type='OVDetectionMetric', ann_file=ann, protocol='ov-coco'))
    with pytest.raises(ValueError, match='label 80 is outside'):
        metric.compute_metrics([{'img_id': 42, 'bboxes': np.zeros((1, 4)), 'scores': np.ones(1),
                                 'labels': np.array([80])}])


def test_flickr_metric_matches_hand_worked_example():
    metric = METRICS.build(dict(type='Flickr30kRecallMetric', protocol='merged-box'))
    preds = {(p['image_id'], p['sentence_id']): p for p in FLICKR_PRED}
    for s in FLICKR_GT['sentences']:
        labels = [i for i, ph in enumerate(s['phrases']) for _ in ph['boxes']]
        boxes = [b for ph in s['phrases'] for b in ph['boxes']]
        p = preds.get((s['image_id'], s['sentence_id']), {'boxes': [], 'scores': [], 'labels': []})
        metric.process({}, [{
            'img_id': s['image_id'], 'sentence_id': s['sentence_id'],
            'phrase_types': [ph['phrase_type'] for ph in s['phrases']],
            'gt_instances': {'bboxes': torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                             'labels': torch.tensor(labels, dtype=torch.long)},
            'pred_instances': {'bboxes': torch.tensor(p['boxes'], dtype=torch.float32).reshape(-1, 4),
                               'scores': torch.tensor(p['scores']), 'labels': torch.tensor(p['labels'])}}])
    out = metric.evaluate(3)
    for key, value in EXPECTED['merged-box'].items():
        assert out[f'flickr30k-merged-box/{key}'] == pytest.approx(value), key


def test_metrics_map_labels_through_the_dataset_vocabulary(fixtures_dir):
    from ovd.evaluation.protocols import evaluate_files
    ann = str(fixtures_dir / 'coco_instances_val2014_100.json')
    pred = fixtures_dir / 'coco_val2014_fakebbox100_results.json'
    vocab = get_vocabulary('ov_coco')  # 65 labels: the results' other 15 classes cannot be predicted
    res = [r for r in json.loads(pred.read_text()) if vocab.has_id(r['category_id'])]
    metric = METRICS.build(dict(type='OVDetectionMetric', ann_file=ann, protocol='ov-coco-65'))
    metric.dataset_meta = vocab.metainfo()
    samples = _samples(res, {int(i): int(vocab.index_of_id(i)) for i in vocab.ids})
    metric.process({}, samples)
    out = metric.evaluate(len(samples))
    ref = evaluate_files('ov-coco-65', ann, pred)  # the protocol itself leaves the other 15 classes out
    for key, value in ref.items():
        assert out[f'ov-coco-65/bbox_{key}'] == pytest.approx(value, abs=1e-6), key
    assert ref['AP50_novel'] > 0


@pytest.mark.parametrize('meta', [{}, {'classes': ('person', 'bicycle')}, {'vocabulary': 'coco'}])
def test_detection_metric_without_a_vocabulary_names_what_it_needs(fixtures_dir, meta):
    """Labels map to category ids one way, the dataset's vocabulary: class names or a vocabulary's name are
    not guessed from."""
    from ovd.evaluation.records import EvaluationInputError
    ann = str(fixtures_dir / 'coco_instances_val2014_100.json')
    metric = METRICS.build(dict(type='OVDetectionMetric', ann_file=ann, protocol='coco'))
    metric.dataset_meta = meta
    with pytest.raises(EvaluationInputError, match=r'dataset_meta\["vocabulary"\].*vocabulary.metainfo\(\)'):
        metric.compute_metrics([])
