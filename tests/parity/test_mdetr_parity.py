"""MDETR equals the official code (ashkamath/mdetr) on converted weights: golden numbers from the fixture.

``../shared/fixtures/parity/mdetr/`` (its README gives keys, shapes and conventions) holds an official-format
checkpoint with seeded random weights, a tiny RoBERTa, two input cases and what the official code computed on
them. The checkpoint goes through ``scripts/convert_mdetr_checkpoint.py --config`` as a command; the model built
from that config loads the result strictly and must reproduce, for every case: the positive maps, the outputs of
every decoder layer (logits, boxes, contrastive projections), the Hungarian matchings (identical), every loss
term, and the Flickr30k and LVIS post-processed detections. Tolerances are the fixture's: tensors 1e-5, losses
1e-5 + 1e-6 x |official|, boxes 1e-5 x the original image's longer side.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import ovd  # noqa: F401  (registers the modules)
from ovd.data.prompts import build_positive_map
from ovd.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
TENSOR_TOL = 1e-5
#: ovd loss name -> official name (auxiliary layers: ``d{i}.`` prefix here, ``_{i}`` suffix there)
LOSS_NAMES = {'loss_soft_token': 'loss_ce', 'loss_bbox': 'loss_bbox', 'loss_giou': 'loss_giou',
              'loss_contrastive_align': 'loss_contrastive_align'}

# The fixture's architecture (its README) on top of the paper model's base config.
CONFIG = '''
_base_ = [{base!r}]
default_scope = 'ovd'
model = dict(
    num_queries=20,
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[512], out_channels=64),
    text_encoder=dict(name_or_path={roberta!r}),
    positional_encoding=dict(num_feats=32),
    encoder=dict(num_layers=2, layer_cfg=dict(self_attn_cfg=dict(embed_dims=64, num_heads=8),
                                              ffn_cfg=dict(embed_dims=64, feedforward_channels=256))),
    decoder=dict(num_layers=2, layer_cfg=dict(self_attn_cfg=dict(embed_dims=64, num_heads=8),
                                              cross_attn_cfg=dict(embed_dims=64, num_heads=8),
                                              ffn_cfg=dict(embed_dims=64, feedforward_channels=256))),
    bbox_head=dict(embed_dims=64, contrastive_dims=64),
    test_cfg=dict(captions_per_batch=32))
'''


def converter_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    return env


@pytest.fixture(scope='module')
def parity_dir(fixtures_dir) -> Path:
    path = fixtures_dir / 'parity' / 'mdetr'
    if not (path / 'checkpoint.pt').is_file():
        pytest.fail(f'MDETR parity fixture not found at {path}')
    return path


@pytest.fixture(scope='module')
def config_file(parity_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('mdetr_parity') / 'mdetr_parity_fixture.py'
    path.write_text(CONFIG.format(base=str(REPO / 'configs/mdetr/_base_/mdetr_r101.py'),
                                  roberta=str(parity_dir / 'tiny_roberta')))
    return path


@pytest.fixture(scope='module')
def converted(parity_dir, config_file) -> Path:
    """The fixture's official checkpoint converted by the converter, run as a command with --config."""
    dst = config_file.parent / 'converted.pth'
    proc = subprocess.run([sys.executable, str(REPO / 'scripts/convert_mdetr_checkpoint.py'),
                           str(parity_dir / 'checkpoint.pt'), str(dst), '--config', str(config_file)],
                          capture_output=True, text=True, env=converter_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'wrote' in proc.stdout and dst.is_file()
    return dst


def build_model(config_file: Path, converted: Path, **head_switches):
    cfg = Config.fromfile(str(config_file))
    cfg.model.bbox_head.update(head_switches)
    with DefaultScope.overwrite_default_scope('ovd'):
        model = MODELS.build(cfg.model)
    state = torch.load(converted, map_location='cpu', weights_only=True)['state_dict']
    model.load_state_dict(state, strict=True)
    return model.eval()


@pytest.fixture(scope='module')
def model(config_file, converted):
    return build_model(config_file, converted)


@pytest.fixture(scope='module')
def cases(parity_dir):
    cases = torch.load(parity_dir / 'cases.pt', map_location='cpu', weights_only=True)
    assert [c['name'] for c in cases] == ['one_image_one_caption', 'two_images_padded']
    return cases


def samples(case, with_gt: bool):
    """DetDataSamples of a case: the caption and its distinct phrases; gt boxes in xyxy pixels, labels = phrase."""
    batch_shape = tuple(case['images'].shape[-2:])
    out = []
    for i, caption in enumerate(case['captions']):
        h, w = case['image_sizes'][i].tolist()
        oh, ow = case['orig_sizes'][i].tolist()
        sample = DetDataSample(metainfo=dict(
            img_shape=(h, w), batch_input_shape=batch_shape, ori_shape=(oh, ow), scale_factor=(w / ow, h / oh),
            pad_shape=batch_shape, text=caption, tokens_positive=case['phrases'][i]))
        if with_gt:
            boxes = bbox_cxcywh_to_xyxy(case['targets'][i]['boxes']) * torch.tensor([w, h, w, h])
            sample.gt_instances = InstanceData(bboxes=boxes, labels=case['box_phrase'][i])
        out.append(sample)
    return out


def forward(model, case) -> dict:
    """ovd's forward on a case: per-layer logits, boxes, projections, plus what the matcher needs."""
    data_samples = samples(case, with_gt=False)
    with torch.no_grad():
        text = model.encode_captions(case['captions'])
        offsets = text.pop('offsets')
        out = model.joint_forward(**model.image_tokens(case['images'], data_samples), **text)
        head = model.bbox_head
        logits, boxes = head(out['hidden_states'])
        proj_queries = F.normalize(head.contrastive_align_projection_image(out['hidden_states']), p=2, dim=-1)
        proj_tokens = F.normalize(head.contrastive_align_projection_text(out['text_memory']), p=2, dim=-1)
    return dict(logits=logits, boxes=boxes, proj_queries=proj_queries, proj_tokens=proj_tokens,
                offsets=offsets, text_pad_mask=text['text_pad_mask'])


def gt_instances(model, case, offsets):
    """Per image: boxes (xyxy pixels), labels (phrase index) and the 0/1 positive map of each box."""
    gts = []
    for sample, offs in zip(samples(case, with_gt=True), offsets):
        pm = model.positive_maps(offs, sample.metainfo['tokens_positive'], case['name'])
        gt = sample.gt_instances
        gts.append(InstanceData(bboxes=gt.bboxes, labels=gt.labels, positive_maps=pm[gt.labels]))
    return gts


def official_layers(case) -> list:
    """Official outputs per decoder layer, first to last."""
    last = {k: case[k] for k in ('pred_logits', 'pred_boxes', 'proj_queries')}
    return list(case['aux_outputs']) + [last]


def loss_tol(official: torch.Tensor) -> float:
    return 1e-5 + 1e-6 * abs(float(official))


def official_loss_name(name: str) -> str:
    prefix, _, base = name.rpartition('loss_')
    base = LOSS_NAMES['loss_' + base]
    return base + (f'_{prefix[1:-1]}' if prefix else '')


CASE_IDS = ['one_image_one_caption', 'two_images_padded']


@pytest.mark.parametrize('index', [0, 1], ids=CASE_IDS)
def test_tokens_and_positive_maps_equal_official(model, cases, index):
    case = cases[index]
    tokens = model.text_encoder.tokenize(case['captions'])
    assert torch.equal(tokens['input_ids'], case['input_ids'])
    offsets = tokens['offset_mapping'].tolist()
    gts = gt_instances(model, case, offsets)
    assert torch.equal(torch.cat([g.positive_maps for g in gts]), case['positive_map'])
    normalized = torch.cat([build_positive_map(offs, [case['targets'][i]['tokens_positive'][g]
                                                      for g in range(len(case['targets'][i]['boxes']))],
                                               max_tokens=256, normalize=True)
                            for i, offs in enumerate(offsets)])
    assert torch.allclose(normalized, case['positive_map_normalized'], atol=1e-7, rtol=0)
    phrase_maps = torch.cat([model.positive_maps(offs, case['phrases'][i], case['name'])
                             for i, offs in enumerate(offsets)])
    assert torch.equal(phrase_maps, case['positive_map_eval'])


@pytest.mark.parametrize('index', [0, 1], ids=CASE_IDS)
def test_forward_every_layer_equals_official(model, cases, index):
    case = cases[index]
    ours = forward(model, case)
    assert torch.equal(ours['text_pad_mask'], case['text_attention_mask'])
    assert (ours['proj_tokens'] - case['proj_tokens']).abs().max() <= TENSOR_TOL
    layers = official_layers(case)
    assert len(layers) == ours['logits'].shape[0] == 2
    for layer, official in enumerate(layers):
        for key, name in (('logits', 'pred_logits'), ('boxes', 'pred_boxes'), ('proj_queries', 'proj_queries')):
            diff = (ours[key][layer] - official[name]).abs().max().item()
            assert diff <= TENSOR_TOL, f'layer {layer} {name}: max |diff| {diff:.2e}'


@pytest.mark.parametrize('normalized', [False, True], ids=['official_training_path', 'diagnostic_normalized'])
@pytest.mark.parametrize('index', [0, 1], ids=CASE_IDS)
def test_matching_and_every_loss_term_equal_official(config_file, converted, cases, index, normalized):
    """Default: the official training path (0/1 maps after collate_fn). With ``normalized_soft_targets`` the
    criterion equals the official one fed the normalised map (the fixture's diagnostic)."""
    model = build_model(config_file, converted, normalized_soft_targets=normalized)
    case = cases[index]
    ours = forward(model, case)
    gts = gt_instances(model, case, ours['offsets'])
    official = case['diagnostic_normalized_map'] if normalized else case
    criterion = model.bbox_head.criterion
    metas = [s.metainfo for s in samples(case, with_gt=False)]
    for layer, official_indices in enumerate(official['indices']):
        for i, (queries, boxes) in enumerate(official_indices):
            q, g = criterion.match(ours['logits'][layer, i], ours['boxes'][layer, i], gts[i], metas[i])
            assert q.tolist() == queries.tolist() and g.tolist() == boxes.tolist(), (layer, i)
    with torch.no_grad():
        losses = model.loss(case['images'], samples(case, with_gt=True))
    assert len(losses) == 4 * len(official['indices'])
    for name, value in losses.items():
        expected = official['weighted_losses'][official_loss_name(name)]
        assert abs(value.item() - expected.item()) <= loss_tol(expected), (name, value.item(), expected.item())


@pytest.mark.parametrize('index', [0, 1], ids=CASE_IDS)
def test_flickr_grounding_results_equal_official(model, cases, index):
    case = cases[index]
    results = model.predict(case['images'], samples(case, with_gt=False))
    for i, sample in enumerate(results):
        pred = sample.pred_instances
        official = case['flickr']['results'][i]
        num_queries = len(official[0]['scores'])
        box_tol = 1e-5 * max(case['orig_sizes'][i].tolist())
        assert len(pred) == len(official) * num_queries
        for p, phrase in enumerate(official):
            rows = slice(p * num_queries, (p + 1) * num_queries)
            assert (pred.labels[rows] == p).all()
            scores, boxes = pred.scores[rows], pred.bboxes[rows]
            assert (scores - phrase['scores']).abs().max() <= TENSOR_TOL
            for rank in range(num_queries):
                if (boxes[rank] - phrase['boxes'][rank]).abs().max() <= box_tol:
                    continue
                # a rank swap is allowed only between scores closer than 1e-6
                swaps = [r for r in (rank - 1, rank + 1) if 0 <= r < num_queries
                         and abs(phrase['scores'][r] - phrase['scores'][rank]) < 1e-6
                         and (boxes[rank] - phrase['boxes'][r]).abs().max() <= box_tol]
                assert swaps, f'image {i} phrase {p} rank {rank}: boxes differ'


@pytest.mark.parametrize('index', [0, 1], ids=CASE_IDS)
def test_lvis_detections_equal_official(model, cases, index):
    case = cases[index]
    lvis = case['lvis']
    assert model.test_cfg['names_per_caption'] == 1 and lvis['caption_batch_size'] == 32
    model.set_vocabulary(list(lvis['captions']))  # the official class captions, as eval_lvis.py writes them
    for i, official in enumerate(lvis['per_image']):
        h, w = case['image_sizes'][i].tolist()
        oh, ow = official['orig_size'].tolist()
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), batch_input_shape=(h, w), ori_shape=(oh, ow),
                                             scale_factor=(w / ow, h / oh)))
        with torch.no_grad():  # each image alone, without padding, as the official eval_lvis.py
            pred = model.predict(case['images'][i:i + 1, :, :h, :w], [sample])[0].pred_instances
        assert len(pred) == len(official['scores']) == len(lvis['names']) * model.num_queries
        assert torch.equal(pred.labels + 1, official['labels'])
        assert (pred.scores - official['scores']).abs().max() <= TENSOR_TOL
        assert (pred.bboxes - official['boxes']).abs().max() <= 1e-5 * max(oh, ow)
