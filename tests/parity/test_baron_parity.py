"""BARON against numbers produced by the official code (wusize/ovdet), fixture ``../shared/fixtures/parity/baron``.

Each test feeds ovd's own functions the inputs of one fixture section and requires ovdet's outputs within the
README's tolerances (features 1e-5, losses 2e-5 + 1e-6 |value|, pixels 1e-3, kept sets and counts exact). The
README names the ovdet file:line behind every section.
"""
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ovd.models.baron.bbox_head import BaronBBoxHead
from ovd.models.baron.distill import BagDistiller, masked_mean
from ovd.models.baron.ensemble import ensemble_probabilities
from ovd.models.baron.frozen_clip import FrozenCLIP, pack_pseudo_text
from ovd.models.baron.neighborhood import Bags, bag_hulls, cell_probabilities, direction_probabilities, \
    grid_boxes, num_bags_per_proposal, relative_boxes
from ovd.models.baron.positional import BoxPositionalEmbedding
from ovd.models.baron.proposals import select_seeds
from ovd.models.baron.feature_queue import FeatureQueue
from ovd.models.baron.info_nce import symmetric_info_nce

FEATURE_TOL = 1e-5
PIXEL_TOL = 1e-3


def loss_tol(value: torch.Tensor) -> float:
    return 2e-5 + 1e-6 * abs(float(value))


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f'shape {tuple(a.shape)} != {tuple(b.shape)}'
    return float((a.float() - b.float()).abs().max()) if a.numel() else 0.0


@pytest.fixture(scope='module')
def baron_dir(fixtures_dir) -> Path:
    path = fixtures_dir / 'parity' / 'baron'
    if not (path / 'cases.pt').is_file():
        pytest.fail(f'BARON parity fixture not found at {path}')
    return path


@pytest.fixture(scope='module')
def cases(baron_dir) -> dict:
    return torch.load(baron_dir / 'cases.pt', weights_only=True)


@pytest.fixture(scope='module')
def clip(baron_dir) -> FrozenCLIP:
    cfg = json.loads((baron_dir / 'tiny_clip_config.json').read_text())
    return FrozenCLIP(dict(model_cfg=cfg, pretrained=str(baron_dir / 'tiny_clip.pt')))


def test_clip_weights_are_the_fixture_file(clip, baron_dir):
    state = torch.load(baron_dir / 'tiny_clip.pt', weights_only=True)
    ours = clip.model.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in state.items())


# (a) proposal filter ------------------------------------------------------------------------------------------
@pytest.mark.parametrize('index', range(3))
def test_proposal_filter(cases, index):
    case = cases['proposal_filter'][index]
    assert case['ovdet_error'] is None
    keys = ('topk', 'shape_ratio_thr', 'area_ratio_thr', 'objectness_thr', 'nms_thr')
    seeds = select_seeds(case['bboxes'], case['scores'], case['img_hw'], case['gt_bboxes'],
                         **{k: case[k] for k in keys})
    assert sorted(seeds.source.tolist()) == sorted(case['kept_source'].tolist()), case['name']
    order = seeds.source.argsort()
    expected = case['kept_source'].argsort()
    assert torch.equal(seeds.boxes[order], case['kept_bboxes'][expected])
    assert torch.equal(seeds.scores[order], case['kept_scores'][expected])


# (b) bag text: end-token features and value-path word tokens ---------------------------------------------------
def encode_bags(clip: FrozenCLIP, case: dict):
    sot, eot = clip.special_tokens()
    text, end_ids, word_pos = pack_pseudo_text(case['words'], case['word_seq'], case['num_seqs'], sot, eot)
    bag_text, tokens = clip.encode_pseudo_text(text, end_ids)
    word_tokens = tokens[case['word_seq'], word_pos]
    region_text = F.normalize(masked_mean(word_tokens, case['word_region'], case['region_seq'].shape[0]), dim=-1)
    return end_ids, bag_text, word_tokens, region_text


@pytest.mark.parametrize('index', range(2))
def test_text_bag(cases, clip, index):
    case = cases['text_bag'][index]
    with torch.no_grad():
        end_ids, bag_text, word_tokens, region_text = encode_bags(clip, case)
    assert end_ids.tolist() == case['end_token_ids'].tolist()
    assert max_diff(bag_text, case['text']) < FEATURE_TOL
    assert max_diff(word_tokens, case['word_tokens']) < FEATURE_TOL
    assert max_diff(region_text, case['region_text']) < FEATURE_TOL


# (b') classifier text features, projected and use_attn12_output --------------------------------------------------
@pytest.mark.parametrize('index', range(2))
@pytest.mark.parametrize('attn12', [False, True])
def test_text_classifier(cases, clip, index, attn12):
    case = cases['text_classifier'][index]
    assert case['endk_steps'] == len(clip.model.transformer.resblocks)  # stepk = all blocks, as ovdet's configs
    dim = clip.word_dim if attn12 else clip.embed_dim
    head = BaronBBoxHead(num_words=case['pseudo_words'].shape[1], word_dim=clip.word_dim,
                         class_embeddings=torch.eye(3, dim), num_classes=3, in_channels=8, roi_feat_size=7,
                         num_shared_fcs=1, fc_out_channels=16, use_attn12_output=attn12)
    head.bind_clip(clip)
    keep = case['valid_mask'][:, 1:-1] > 0
    with torch.no_grad():
        features = head.encode_words(case['pseudo_words'], keep)
    assert max_diff(features, case['text_endk' if attn12 else 'text']) < FEATURE_TOL


# (c) image encoder: pooled and value-path patch tokens -----------------------------------------------------------
def test_image_encoder(cases, clip):
    case = cases['image_encoder'][0]
    with torch.no_grad():
        pooled, tokens = clip.encode_image_dense(case['crops'])
    assert max_diff(pooled, case['pooled']) < FEATURE_TOL
    assert max_diff(tokens, case['tokens']) < FEATURE_TOL


# (c') teacher crops from the batch images ------------------------------------------------------------------------
def test_image_teacher(cases, clip):
    case = cases['image_teacher'][0]
    distiller = BagDistiller(num_words=6, word_dim=clip.word_dim, embed_dim=clip.embed_dim)
    pooled, tokens = distiller.teacher(clip, case['images'].float(), case['spanned'], case['bag_image'])
    assert max_diff(pooled[case['seq_bag']], case['pooled']) < FEATURE_TOL
    assert max_diff(tokens[case['seq_bag']], case['tokens']) < FEATURE_TOL


# (d) neighbourhood grid, probabilities, bag hulls -----------------------------------------------------------------
@pytest.mark.parametrize('index', range(2))
def test_grid(cases, index):
    case = cases['grid'][index]
    boxes, img_hw = case['boxes'], case['img_hw']
    kw = dict(alpha=case['alpha'], base_probability=case['base_probability'], cut_off_thr=case['cut_off_thr'],
              interval=case['interval'])
    lrud = direction_probabilities(boxes, img_hw, **kw)
    prob = cell_probabilities(lrud)
    templates = grid_boxes(boxes, case['interval'])
    size = img_hw.flip(1).repeat(1, 2)[:, None, :]
    cells = torch.minimum(templates.clamp(min=0.0), size)
    assert max_diff(lrud, case['lrud']) < FEATURE_TOL
    assert max_diff(prob, case['prob']) < FEATURE_TOL
    assert max_diff(templates, case['templates']) < PIXEL_TOL
    assert max_diff(cells, case['cells']) < PIXEL_TOL
    assert ((prob > 0).sum(dim=1) - 1).tolist() == case['num_valid'].tolist()
    assert num_bags_per_proposal(prob, case['max_groups']).tolist() == case['num_groups'].tolist()

    proposal, members = case['subset_proposal'], case['subset_cells']
    spanned = bag_hulls(cells[proposal], members)
    assert max_diff(spanned, case['subset_spanned']) < PIXEL_TOL
    normed = relative_boxes(cells[proposal], spanned[:, None, :].expand(-1, 9, -1)) * members[..., None]
    assert max_diff(normed, case['subset_normed']) < FEATURE_TOL
    num_cells = members.sum(dim=1)
    expected_perms = [min(math.factorial(int(n)), case['max_permutations']) for n in num_cells]
    assert case['subset_num_perms'].tolist() == expected_perms
    assert num_cells.clamp(max=case['max_permutations']).tolist() == expected_perms  # ours: cyclic shifts


# (e) InfoNCE with queues ---------------------------------------------------------------------------------------
QUEUE_NAMES = ('clip_text_features', 'clip_image_features', 'clip_word_features', 'clip_patch_features')


@pytest.mark.parametrize('index', range(2))
def test_info_nce_with_queues(cases, index):
    case = cases['info_nce'][index]
    queues = {name: FeatureQueue(case['queue_length'], case['emb_dim'], gather=False) for name in QUEUE_NAMES}
    for step, it in enumerate(case['iterations']):
        loss_bag = contrast(it['text'], it['image'], it['seq_ids'], it['seq_img_ids'], queues['clip_text_features'],
                            queues['clip_image_features'], case['bag_temp'])
        loss_single = contrast(it['word'], it['patch'], it['box_ids'], it['region_img_ids'],
                               queues['clip_word_features'], queues['clip_patch_features'], case['single_temp'])
        assert abs(float(loss_bag) - float(it['loss_bag'])) < loss_tol(it['loss_bag']), (case['name'], step)
        assert abs(float(loss_single) - float(it['loss_single'])) < loss_tol(it['loss_single']), (case['name'], step)
        for name, rows, ids in (('clip_text_features', it['text'], it['seq_img_ids']),
                                ('clip_image_features', it['image'], it['seq_img_ids']),
                                ('clip_word_features', it['word'], it['region_img_ids']),
                                ('clip_patch_features', it['patch'], it['region_img_ids'])):
            queues[name].enqueue(rows, ids)
            features, owner = queues[name].get()
            expected = it['queues_after'][name]
            assert max_diff(features, expected[:, :-1]) < FEATURE_TOL, (name, step)
            assert owner.tolist() == expected[:, -1].long().tolist(), (name, step)


def contrast(text, image, item_ids, image_ids, text_queue, image_queue, scale):
    queued_text, queued_text_ids = text_queue.get()
    queued_image, queued_image_ids = image_queue.get()
    return symmetric_info_nce(text, image, scale, same=item_ids[:, None] == item_ids[None],
                              queue_a=queued_text, queue_b=queued_image,
                              queue_ignore_a=image_ids[:, None] == queued_text_ids[None],
                              queue_ignore_b=image_ids[:, None] == queued_image_ids[None])


# (f) ensemble -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('index', range(2))
def test_ensemble(cases, index):
    case = cases['ensemble'][index]
    base = case['is_base'][:-1] > 0
    scores = ensemble_probabilities(case['det_logits'].softmax(-1), case['kd_logits'].softmax(-1), base,
                                    case['ensemble_factor'])
    assert max_diff(scores, case['scores']) < FEATURE_TOL


# (g) positional embedding ----------------------------------------------------------------------------------------
def positional_module(case: dict) -> BoxPositionalEmbedding:
    module = BoxPositionalEmbedding(case['num_words'], case['word_dim'], num_feats=case.get('num_feats', 128),
                                    temperature=case.get('temperature', 1.2))
    module.mlp.load_state_dict(case['positional_state_dict'] if 'positional_state_dict' in case
                               else case['state_dict'])
    return module


def test_positional(cases):
    case = cases['positional'][0]
    with torch.no_grad():
        out = positional_module(case)(case['normed_boxes'])
    assert max_diff(out, case['out']) < FEATURE_TOL


# (h) end to end: seeds, teacher, both losses, queues over iterations ---------------------------------------------
def test_distill_end_to_end(cases, clip):
    case = cases['distill_e2e'][0]
    sampling = dict(case['sampling'])
    seed_keys = ('topk', 'shape_ratio_thr', 'area_ratio_thr', 'objectness_thr', 'nms_thr')
    distiller = BagDistiller(case['num_words'], case['word_dim'], case['embed_dim'], bag_weight=case['bag_weight'],
                             single_weight=case['single_weight'], bag_temp=case['bag_temp'],
                             single_temp=case['single_temp'], queue_length=case['queue_length'])
    distiller.positional.mlp.load_state_dict(case['positional_state_dict'])
    for name in ('bag_text_queue', 'bag_image_queue', 'region_text_queue', 'region_image_queue'):
        getattr(distiller, name).gather = False
    for step, it in enumerate(case['iterations']):
        b = it['bags']
        # the sampled bags are ovdet's draw around its seeds: those must be the seeds our filter keeps
        seeds = torch.cat([select_seeds(boxes, scores, hw, gt, **{k: sampling[k] for k in seed_keys}).boxes
                           for (boxes, scores), hw, gt in zip(it['proposals'], it['img_shapes'], it['gt_bboxes'])])
        centre = b['region_cell'] == 4
        centre_bag = b['seq_bag'][b['region_seq'][centre]]
        size = torch.tensor(it['img_shapes'], dtype=torch.float32).flip(1).repeat(1, 2)[b['bag_image'][centre_bag]]
        clipped = torch.minimum(seeds[b['bag_proposal'][centre_bag]].clamp(min=0), size)
        assert max_diff(clipped, b['region_boxes'][centre]) < PIXEL_TOL
        bags = Bags(bag_proposal=b['bag_proposal'], bag_cells=b['bag_cells'], spanned=b['spanned'],
                    seq_bag=b['seq_bag'], region_seq=b['region_seq'], region_cell=b['region_cell'],
                    region_boxes=b['region_boxes'], region_normed=b['region_normed'])
        pooled, patches = distiller.teacher(clip, it['images'].float(), b['spanned'], b['bag_image'])
        losses = distiller.loss(clip, it['pseudo_words'], bags, it['img_ids'][b['bag_image']], pooled, patches,
                                keep=it['word_keep'])
        for key in ('loss_bag', 'loss_single'):
            assert abs(float(losses[key].detach()) - float(it[key])) < loss_tol(it[key]), (key, step)
        update = it['queue_update']
        for name, queue in (('clip_text_features', distiller.bag_text_queue),
                            ('clip_image_features', distiller.bag_image_queue),
                            ('clip_word_features', distiller.region_text_queue),
                            ('clip_patch_features', distiller.region_image_queue)):
            rows = update[name][:case['queue_length']]  # a batch longer than the queue keeps its first rows
            features, owner = queue.get()
            assert max_diff(features[:rows.shape[0]], rows[:, :-1]) < FEATURE_TOL, (name, step)
            assert owner[:rows.shape[0]].tolist() == rows[:, -1].long().tolist(), (name, step)
