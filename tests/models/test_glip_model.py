"""GLIP detector and head on a tiny model: positive maps, fusion on/off, losses, chunk merging, fast == naive."""
from pathlib import Path

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from ovd.models.glip import GLIPDetector, merge_detections
from ovd.models.glip.detector import chunk_prompts
from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import tiny_bert_dir

REPO = Path(__file__).resolve().parents[2]
NAMES = ['person', 'bicycle', 'refrigerator', 'hair drier', 'dog', 'cat', 'toaster', 'oven', 'car', 'bus',
         'teddy bear', 'toothbrush']
IMG = (96, 128)  # h, w of the padded batch


def build_tiny_glip(early_fuse: bool = True, seed: int = 0, **test_cfg) -> GLIPDetector:
    cfg = Config.fromfile(str(REPO / 'configs/glip/glip_tiny_synth.py'))
    bert = str(tiny_bert_dir())
    model_cfg = cfg.model
    model_cfg.bbox_head.lang_model_name = bert
    model_cfg.bbox_head.early_fuse = early_fuse
    model_cfg.language_model.name = bert
    model_cfg.test_cfg.update(test_cfg)
    init_default_scope('ovd')
    torch.manual_seed(seed)
    return MODELS.build(model_cfg)


def make_sample(text=None, boxes=(), labels=(), tokens_positive=None, shape=IMG) -> DetDataSample:
    """A sample; without ``text`` a detection sample of the model's vocabulary."""
    ds = DetDataSample()
    meta = dict(img_shape=shape, ori_shape=shape, pad_shape=IMG, batch_input_shape=IMG, scale_factor=(1.0, 1.0))
    if text is not None:
        meta['text'] = text
    if tokens_positive is not None:
        meta['tokens_positive'] = tokens_positive
    ds.set_metainfo(meta)
    ds.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                   labels=torch.tensor(labels, dtype=torch.long))
    return ds


def images(n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, *IMG, generator=g)


@pytest.fixture(scope='module')
def fused():
    return build_tiny_glip(early_fuse=True)


@pytest.fixture(scope='module')
def unfused():
    return build_tiny_glip(early_fuse=False)


def test_positive_map_covers_every_subword_of_a_name(fused):
    tokenizer = fused.tokenizer
    assert len(tokenizer.tokenize('dishwasher')) >= 2  # the tiny WordPiece splits this rare word
    caption = 'a dishwasher and a dog'
    ds = make_sample(caption, [[10, 10, 60, 80], [20, 30, 50, 70]], [0, 1], tokens_positive=[[(2, 12)], [(19, 22)]])
    fused.train()
    fused.loss(images(1), [ds])
    pm = ds.gt_instances.positive_maps
    tokens = tokenizer(caption, return_offsets_mapping=True)
    expected = [i for i, (s, e) in enumerate(tokens['offset_mapping']) if e > s and s < 12 and e > 2]
    assert pm[0].nonzero().flatten().tolist() == expected == list(range(2, 2 + len(tokenizer.tokenize('dishwasher'))))
    assert pm[1].sum() == len(tokenizer.tokenize('dog'))
    assert set(pm.unique().tolist()) <= {0.0, 1.0}  # binary targets for training


def test_detection_sample_gets_negatives_and_remapped_labels(fused):
    fused.train()
    ds = make_sample(NAMES, [[10, 10, 60, 80], [5, 5, 40, 40]], [2, 4])
    fused.loss(images(1), [ds])
    caption = ds.text
    assert isinstance(caption, str) and 'refrigerator' in caption and 'dog' in caption
    names_in_caption = caption.split('. ')
    assert 1 + 2 <= len(names_in_caption) <= 2 + 8  # positives plus 1..8 negatives (tiny config)
    phrase_labels = ds.gt_instances.labels.tolist()
    assert [names_in_caption[i] for i in phrase_labels] == ['refrigerator', 'dog']


def test_detection_sample_without_names_trains_on_the_models_vocabulary(fused):
    fused.train()
    fused.set_vocabulary(NAMES)
    ds = make_sample(boxes=[[10, 10, 60, 80]], labels=[6])
    fused.loss(images(1), [ds])
    names_in_caption = ds.text.split('. ')
    assert [names_in_caption[i] for i in ds.gt_instances.labels.tolist()] == ['toaster']
    assert set(names_in_caption) <= set(NAMES)


def test_fusion_on_makes_the_tower_depend_on_text_and_off_does_not(fused, unfused):
    fused.eval()
    unfused.eval()
    feats = fused.extract_feat(images(1))
    lang_a, _ = fused.encode_prompt(chunk_prompts(NAMES[:4], 40)[0], use_cache=False)
    lang_b, _ = fused.encode_prompt(chunk_prompts(NAMES[4:8], 40)[0], use_cache=False)
    with torch.no_grad():
        tower_a, _ = fused.bbox_head.run_tower(feats, lang_a)
        tower_b, _ = fused.bbox_head.run_tower(feats, lang_b)
    assert not torch.allclose(tower_a[0], tower_b[0])
    assert sum(type(m).__name__ == 'VLFuse' for m in fused.modules()) == 2
    assert sum(type(m).__name__ == 'VLFuse' for m in unfused.modules()) == 0
    feats = unfused.extract_feat(images(1))
    with torch.no_grad():
        tower_none, emb_none = unfused.bbox_head.run_tower(feats, None)
        tower_a, emb_a = unfused.bbox_head.run_tower(feats, lang_a)
    assert emb_none is None and emb_a is lang_a['embedded']
    assert all(torch.equal(x, y) for x, y in zip(tower_none, tower_a))
    with pytest.raises(ValueError, match='language features'):
        fused.bbox_head.run_tower(feats, None)


def test_cached_text_features_are_not_modified_by_fusion(fused):
    fused.eval()
    prompt = chunk_prompts(NAMES[:4], 40)[0]
    lang, _ = fused.encode_prompt(prompt, use_cache=False)
    hidden = lang['hidden'].clone()
    with torch.no_grad():
        fused.bbox_head(fused.extract_feat(images(1)), lang)
    assert torch.equal(lang['hidden'], hidden)


def test_empty_ground_truth_gives_alignment_loss_only(fused):
    fused.train()
    ds = make_sample('a dog', tokens_positive=[[(2, 5)]])
    losses = fused.loss(images(1), [ds])
    assert losses['loss_cls'].item() > 0
    assert losses['loss_bbox'].item() == 0
    assert losses['loss_centerness'].item() == 0


def test_mixed_detection_and_grounding_batch_trains_every_part(fused):
    fused.train()
    fused.zero_grad()
    det = make_sample(NAMES, [[10, 10, 60, 80]], [5])
    grd = make_sample('a man rides a bicycle', [[0, 0, 50, 50], [30, 20, 90, 90]], [0, 1],
                      tokens_positive=[[(0, 5)], [(14, 21)]])
    losses = fused.loss(images(2), [det, grd])
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_bbox'].item() > 0
    sum(losses.values()).backward()
    bert_grad = fused.language_model.language_backbone.body.model.embeddings.word_embeddings.weight.grad
    assert bert_grad is not None and bert_grad.abs().sum() > 0
    assert fused.bbox_head.head.dot_product_projection_text.weight.grad.abs().sum() > 0
    assert fused.backbone.patch_embed.projection.weight.grad.abs().sum() > 0


def test_merge_detections_sorts_caps_and_keeps_labels():
    a = InstanceData(bboxes=torch.tensor([[0., 0, 1, 1], [0, 0, 2, 2]]), scores=torch.tensor([0.75, 0.25]),
                     labels=torch.tensor([3, 1]))
    b = InstanceData(bboxes=torch.tensor([[1., 1, 3, 3]]), scores=torch.tensor([0.5]), labels=torch.tensor([45]))
    merged = merge_detections([a, b], max_per_img=2)
    assert merged.scores.tolist() == [0.75, 0.5]
    assert merged.labels.tolist() == [3, 45]
    assert merged.bboxes.tolist() == [[0, 0, 1, 1], [1, 1, 3, 3]]
    assert len(merge_detections([a, b], max_per_img=0)) == 3


def test_chunked_labels_map_back_to_the_vocabulary(unfused):
    unfused.eval()
    unfused.test_cfg.chunk_size = 5
    unfused.set_vocabulary(NAMES)
    prompts = unfused.inference_prompts(make_sample())
    assert [p.label_ids for p in prompts] == [list(range(0, 5)), list(range(5, 10)), [10, 11]]
    assert prompts[2].caption == 'teddy bear. toothbrush'
    with torch.no_grad():
        out = unfused.predict(images(1), [make_sample()])[0].pred_instances
    assert len(out) > 0 and out.labels.max() < len(NAMES)
    assert set(out.labels.tolist()) - set(range(10)), 'the last chunk (labels 10, 11) should contribute'
    assert torch.all(out.scores[:-1] >= out.scores[1:])


def test_vocabulary_prompts_are_built_once_and_captions_run_apart(unfused, monkeypatch):
    built = []
    original = GLIPDetector.inference_prompts
    monkeypatch.setattr(GLIPDetector, 'inference_prompts', lambda self, ds: built.append(ds) or original(self, ds))
    unfused.set_vocabulary(NAMES)
    caption = 'a cat and a dog'
    one_phrase, two_phrases = [[(2, 5)]], [[(2, 5)], [(12, 15)]]
    samples = [make_sample(), make_sample(caption, tokens_positive=one_phrase), make_sample(),
               make_sample(caption, tokens_positive=two_phrases)]
    groups = unfused.prompt_groups(samples)
    assert [idx for _, idx in groups] == [[0, 2], [1], [3]]  # the vocabulary; a caption with other phrases apart
    assert len(built) == 3
    assert [prompts[0].label_ids for prompts, _ in groups[1:]] == [[0], [0, 1]]
    assert groups[0][0] is unfused.prompt_groups(samples[:1])[0][0]  # the vocabulary's prompts: built once
    with pytest.raises(ValueError, match='a test sample carries class names'):
        unfused.prompt_groups([make_sample(NAMES)])
    unfused.eval()
    monkeypatch.setitem(unfused.test_cfg, 'max_per_img', -1)  # keep every candidate of every phrase
    with torch.no_grad():
        out = unfused.predict(images(2), [make_sample(caption, tokens_positive=two_phrases),
                                          make_sample(caption, tokens_positive=one_phrase)])
    assert set(out[0].pred_instances.labels.tolist()) == {0, 1}  # its own two phrases, not the other's one
    assert set(out[1].pred_instances.labels.tolist()) == {0}


@pytest.mark.parametrize('early_fuse', [True, False])
def test_fast_chunked_detections_identical_to_the_naive_loop(early_fuse, fused, unfused):
    model = fused if early_fuse else unfused
    model.eval()
    model.test_cfg.chunk_size = 5
    model.test_cfg.max_per_img = 60
    model.set_vocabulary(NAMES)
    shapes = [IMG, (80, 128)]
    with torch.no_grad():
        model.test_cfg.fast_chunked = False
        naive = model.predict(images(2), [make_sample(shape=s) for s in shapes])
        model.test_cfg.fast_chunked = True
        fast = model.predict(images(2), [make_sample(shape=s) for s in shapes])
    for n, f in zip(naive, fast):
        n, f = n.pred_instances, f.pred_instances
        assert len(n) == len(f) == 60
        assert torch.equal(n.labels, f.labels)
        # coordinates reach 128 px, where one float32 step is 1.5e-5
        torch.testing.assert_close(f.bboxes, n.bboxes, rtol=0, atol=2e-5)
        torch.testing.assert_close(f.scores, n.scores, rtol=0, atol=1e-6)


def test_prompts_batched_through_the_fused_head_give_the_same_detections(fused, monkeypatch):
    fused.eval()
    fused.test_cfg.update(chunk_size=5, max_per_img=60, fast_chunked=True)
    fused.set_vocabulary(NAMES)
    calls = []
    original = fused.bbox_head.forward
    monkeypatch.setattr(fused.bbox_head, 'forward', lambda *a: calls.append(a[1]['masks'].shape) or original(*a))
    samples = lambda: [make_sample(shape=s) for s in (IMG, (80, 128))]  # noqa: E731
    with torch.no_grad():
        fused.test_cfg.chunk_batch_size = 1
        one = fused.predict(images(2), samples())
        token_counts = [shape[1] for shape in calls]
        calls.clear()
        fused.test_cfg.chunk_batch_size = 2
        two = fused.predict(images(2), samples())
    fused.test_cfg.pop('chunk_batch_size')
    assert len(set(token_counts)) > 1  # prompts of different lengths: the batch pads
    assert [shape[0] for shape in calls] == [4, 2]  # 3 prompts x 2 images as 2 + 1 prompts
    for a, b in zip(one, two):
        a, b = a.pred_instances, b.pred_instances
        assert torch.equal(a.labels, b.labels)
        torch.testing.assert_close(b.bboxes, a.bboxes, rtol=0, atol=1e-4)
        torch.testing.assert_close(b.scores, a.scores, rtol=0, atol=1e-6)


def test_text_side_encoded_once_per_evaluation(unfused, monkeypatch):
    unfused.eval()
    unfused.test_cfg.chunk_size = 5
    unfused.test_cfg.fast_chunked = True
    unfused.set_vocabulary(NAMES)
    calls = []
    original = unfused.encode_text
    monkeypatch.setattr(unfused, 'encode_text', lambda tok: calls.append(1) or original(tok))
    with torch.no_grad():
        unfused.predict(images(1), [make_sample()])
        unfused.predict(images(1, seed=2), [make_sample()])
    assert len(calls) == 3  # three chunks, encoded for the first image only
    unfused.train()
    unfused.eval()
    with torch.no_grad():
        unfused.predict(images(1), [make_sample()])
    assert len(calls) == 6  # the cache is dropped when the mode changes (weights may have changed)


def test_grounding_prediction_labels_are_phrase_indices(fused):
    fused.eval()
    caption = 'a man rides a bicycle next to a dog'
    ds = make_sample(caption, tokens_positive=[[(0, 5)], [(14, 21)], [(30, 35)]])
    with torch.no_grad():
        out = fused.predict(images(1), [ds])[0].pred_instances
    assert len(out) > 0 and set(out.labels.tolist()) <= {0, 1, 2}


def test_bad_text_field_names_the_sample(fused, monkeypatch):
    ds = make_sample()
    ds.set_metainfo(dict(img_path='x/y.jpg'))
    monkeypatch.setattr(fused, 'vocabulary_texts', None)
    with pytest.raises(ValueError, match='x/y.jpg: GLIP: a detection sample .* no vocabulary'):
        fused.inference_prompts(ds)
    ds = make_sample('a caption without spans')
    with pytest.raises(ValueError, match='tokens_positive'):
        fused.inference_prompts(ds)
