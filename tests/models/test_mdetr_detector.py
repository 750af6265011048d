"""The MDETR detector on a tiny config: losses, grounding inference, batched class-caption inference."""
import copy
import os
from pathlib import Path

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import ovd  # noqa: F401  (registers the modules)
from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import tiny_roberta_dir

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'configs' / 'mdetr' / 'mdetr_tiny_synth-flickr30k.py'
IMG = (64, 80)  # h, w of the (already resized) test images


@pytest.fixture(scope='module')
def built():
    """The tiny model of the tiny config, built once per module (tests work on copies)."""
    os.environ['OVD_TINY_ROBERTA'] = str(tiny_roberta_dir())
    init_default_scope('ovd')
    cfg = Config.fromfile(str(TINY_CONFIG)).model
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


@pytest.fixture
def tiny(built):
    def make(**test_cfg):
        model = copy.deepcopy(built)
        model.test_cfg.update(test_cfg)
        return model
    return make


def sample(text=None, tokens_positive=None, boxes=None, labels=None, path='img0.jpg') -> DetDataSample:
    """A grounding sample (caption + phrases), or without ``text`` a detection sample of the model's vocabulary."""
    meta = dict(img_path=path, img_shape=IMG, ori_shape=(IMG[0] * 2, IMG[1] * 2), batch_input_shape=IMG,
                scale_factor=(0.5, 0.5))
    if text is not None:
        meta.update(text=text, tokens_positive=tokens_positive)
    s = DetDataSample(metainfo=meta)
    s.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes if boxes is not None else [], dtype=torch.float).reshape(-1, 4),
        labels=torch.tensor(labels if labels is not None else [], dtype=torch.long))
    return s


CAPTION = "A man in a blue shirt is standing on a ladder"
PHRASES = [[(0, 5)], [(11, 21)], [(37, 45)]]  # "A man", "blue shirt", "a ladder"


def grounding_batch():
    return [sample(CAPTION, PHRASES, [[4, 4, 30, 60], [8, 10, 28, 30], [40, 5, 70, 60]], [0, 1, 2]),
            sample('A dog runs across the grass', [[(0, 5)], [(18, 27)]], [[10, 20, 40, 50]], [0],
                   path='img1.jpg')]


def test_training_losses_cover_all_layers_and_reach_every_part(tiny):
    model = tiny()
    model.train()
    inputs = torch.rand(2, 3, *IMG)
    losses = model.loss(inputs, grounding_batch())
    layers = model.decoder.num_layers
    expected = {f'{p}loss_{t}' for p in [''] + [f'd{i}.' for i in range(layers - 1)]
                for t in ('soft_token', 'bbox', 'giou', 'contrastive_align')}
    assert set(losses) == expected
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    parts = ('text_encoder', 'text_resizer', 'encoder', 'decoder', 'bbox_head', 'query_embedding', 'neck')
    for part in parts:
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(part) and p.requires_grad]
        assert grads and any(g is not None and g.abs().sum() > 0 for g in grads), part


def test_init_weights_keeps_the_pretrained_text_encoder(tiny):
    model = tiny()
    before = {k: v.clone() for k, v in model.text_encoder.state_dict().items()}
    model.init_weights()
    assert all(torch.equal(before[k], v) for k, v in model.text_encoder.state_dict().items())


def test_bad_grounding_input_is_named(tiny):
    model = tiny()
    bad = sample(CAPTION, PHRASES[:1], [[4, 4, 30, 60]], [2], path='broken.jpg')
    with pytest.raises(ValueError, match='broken.jpg.*gt label 2'):
        model.loss(torch.rand(1, 3, *IMG), [bad])
    no_caption = sample(None, None, [[4, 4, 30, 60]], [0], path='nocap.jpg')
    with pytest.raises(ValueError, match='nocap.jpg.*caption string'):
        model.loss(torch.rand(1, 3, *IMG), [no_caption])
    outside = sample('a cat', [[(40, 45)]], [[4, 4, 30, 60]], [0], path='span.jpg')
    with pytest.raises(ValueError, match='span.jpg: phrases \\[0\\]'):
        model.loss(torch.rand(1, 3, *IMG), [outside])


def test_detection_without_a_vocabulary_or_with_names_on_the_sample_is_named(tiny):
    model = tiny()
    model.eval()
    with pytest.raises(ValueError, match='notext.jpg: MDETR: a detection sample .* no vocabulary'):
        model.predict(torch.rand(1, 3, *IMG), [sample(path='notext.jpg')])
    model.set_vocabulary(['person'])
    with pytest.raises(ValueError, match='names.jpg: MDETR: a test sample carries class names'):
        model.predict(torch.rand(1, 3, *IMG), [sample(['person'], path='names.jpg')])


def test_grounding_predictions_rank_every_query_for_every_phrase(tiny):
    model = tiny()
    model.eval()
    with torch.no_grad():
        out = model.predict(torch.rand(2, 3, *IMG), grounding_batch())
    queries = model.num_queries
    first = out[0].pred_instances
    assert len(first) == 3 * queries
    assert first.labels.tolist() == [i for i in range(3) for _ in range(queries)]
    for phrase in range(3):
        scores = first.scores[first.labels == phrase]
        assert torch.all(scores[:-1] >= scores[1:])
    # boxes are in the original image (twice the resized one): box centres fall inside it
    centres = (first.bboxes[:, :2] + first.bboxes[:, 2:]) / 2
    assert centres[:, 0].max() <= IMG[1] * 2 and centres.min() >= 0
    assert len(out[1].pred_instances) == 2 * queries


def per_caption_reference(model, inputs, names):
    """The naive protocol: one full forward (backbone, text, joint transformer) per class-name caption."""
    parts = []
    for label, name in enumerate(names):
        model.set_vocabulary([name])
        res = model.predict(inputs, [sample()])[0].pred_instances
        res.labels = torch.full_like(res.labels, label)
        parts.append(res)
    return InstanceData.cat(parts)


def test_batched_class_captions_give_the_same_detections_as_one_forward_per_caption(tiny):
    names = ['person', 'hair dryer', 'refrigerator', 'traffic light']  # 2 batches, captions of unequal length
    model = tiny(captions_per_batch=3, names_per_caption=1, max_per_img=None)
    model.eval()
    inputs = torch.rand(1, 3, *IMG)
    model.set_vocabulary(names)
    with torch.no_grad():
        batched = model.predict(inputs, [sample()])[0].pred_instances
        reference = per_caption_reference(model, inputs, names)
    assert len(batched) == len(names) * model.num_queries
    assert torch.equal(batched.labels, reference.labels)
    assert torch.allclose(batched.scores, reference.scores, atol=1e-5)
    assert torch.allclose(batched.bboxes, reference.bboxes, atol=1e-3)


def test_encoded_vocabulary_is_cached_in_eval_and_dropped_in_training(tiny):
    model = tiny(captions_per_batch=2)
    model.eval()
    model.set_vocabulary(['person', 'dog', 'cat'])
    first = model.encoded_vocabulary()
    assert model.encoded_vocabulary() is first
    assert [b['name_labels'] for b in first] == [[[0], [1]], [[2]]]
    model.set_vocabulary(('person', 'dog', 'cat'))  # the same texts (the next validation): kept
    assert model.encoded_vocabulary() is first
    model.set_vocabulary(['person', 'dog'])  # another vocabulary: encoded again
    assert [b['name_labels'] for b in model.encoded_vocabulary()] == [[[0], [1]]]
    model.train()
    assert len(model.text_cache) == 0


def test_several_names_per_caption_label_by_name(tiny):
    model = tiny(captions_per_batch=2, names_per_caption=2, max_per_img=5)
    model.eval()
    model.set_vocabulary(['person', 'dog', 'cat'])
    with torch.no_grad():
        res = model.predict(torch.rand(1, 3, *IMG), [sample()])[0].pred_instances
    assert len(res) == 5 and set(res.labels.tolist()) <= {0, 1, 2}
    assert torch.all(res.scores[:-1] >= res.scores[1:])
