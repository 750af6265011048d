"""GLIP equals mmdet 3.3's GLIP (the reference for inference) on the same weights, through the converter.

For the deep-fusion (GLIP-T(B) onwards) and the no-fusion (GLIP-T(A)) head, a tiny mmdet ``GLIP`` is built with
seeded weights, saved as an mmdet-format checkpoint and converted by ``scripts/convert_glip_checkpoint.py
--config`` run as a command; ovd's ``GLIPDetector`` from that config loads the result strictly. The reference
numbers are computed at test time by the installed mmdet (nothing stored): the same image and prompt must give
the same text features, positive maps, per-level alignment logits, box deltas and centerness (1e-5), and the same
detections (labels, scores 1e-5, boxes 1e-3 px).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import DefaultScope

import ovd  # noqa: F401  (registers the modules)
from ovd.data.prompts import build_caption
from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import build_tiny_bert_tokenizer
from ovd.testing.glip import mmdet_glip_config

REPO = Path(__file__).resolve().parents[2]
NAMES = ['person', 'hair dryer', 'dog', 'teddy bear', 'traffic light', 'cat', 'wine glass']
IMAGE_SHAPE = (96, 128)  # (h, w), a multiple of the largest stride of the tiny Swin + FPN
TOL = 1e-5

# ovd's GLIP-T base config with a small Swin and one DyHead block; the head keeps GLIP-T's widths (256-d vision,
# 768-d text) because mmdet's fusion module hard-wires them; every detection kept
CONFIG = '''
_base_ = [{base!r}]
default_scope = 'ovd'
model = dict(
    backbone=dict(embed_dims=32, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8], window_size=4, drop_path_rate=0.0),
    neck=dict(in_channels=[64, 128, 256]),
    bbox_head=dict(lang_model_name={bert!r}, early_fuse={fusion!r}, num_dyhead_blocks=1),
    language_model=dict(name={bert!r}),
    test_cfg=dict(candidate_ranking='mmdet', nms_pre=1000, score_thr=0.0, max_per_img=100, merged_max_per_img=100,
                  chunk_size=40))
'''


def mmdet_config(ours: Config) -> Config:
    """The same model as mmdet 3.3's ``GLIP`` with its ``ATSSVLFusionHead`` and ``BertModel``."""
    return mmdet_glip_config(ours, dict(nms_pre=1000, min_bbox_size=0, score_thr=0.0,
                                        nms=dict(type='nms', iou_threshold=0.6), max_per_img=100))


def converter_env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    return env


def seeded_weights(model: torch.nn.Module, seed: int) -> None:
    """Random weights with non-trivial biases and scales, from one seed (mmdet's init leaves many at 0/1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if param.dim() <= 1:
                param.add_(0.1 * noise)
            else:
                param.mul_(1.0 + 0.1 * noise)


@pytest.fixture(scope='module')
def bert_dir(tmp_path_factory) -> Path:
    """A one-layer BERT of BERT-base width (768) with the tiny WordPiece tokenizer, seeded."""
    from transformers import BertConfig, BertModel
    directory = tmp_path_factory.mktemp('glip_parity_bert') / 'bert'
    tokenizer = build_tiny_bert_tokenizer(whole_words=[w for name in NAMES for w in name.split()][::2])
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=768, num_hidden_layers=1, num_attention_heads=12,
                        intermediate_size=1024, max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope='module', params=[True, False], ids=['deep_fusion', 'no_fusion'])
def models(request, bert_dir, tmp_path_factory):
    """(ours, mmdet's) for one fusion variant, ours loaded from the converter's output."""
    fusion = request.param
    work = tmp_path_factory.mktemp('glip_parity_fusion' if fusion else 'glip_parity_nofusion')
    config_file = work / 'glip_parity.py'
    config_file.write_text(CONFIG.format(base=str(REPO / 'configs/glip/_base_/glip_swin-t_fpn_dyhead.py'),
                                         bert=str(bert_dir), fusion=fusion))
    cfg = Config.fromfile(str(config_file))
    with DefaultScope.overwrite_default_scope('ovd'):
        torch.manual_seed(0)
        peer = MODELS.build(mmdet_config(cfg.model))
    seeded_weights(peer, seed=1)
    src = work / 'mmdet_glip.pth'
    torch.save({'meta': {'mmdet_version': '3.3.0'}, 'state_dict': peer.state_dict()}, src)
    dst = work / 'converted.pth'
    proc = subprocess.run([sys.executable, str(REPO / 'scripts/convert_glip_checkpoint.py'), str(src), str(dst),
                           '--config', str(config_file)],
                          capture_output=True, text=True, env=converter_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with DefaultScope.overwrite_default_scope('ovd'):
        ours = MODELS.build(cfg.model)
    ours.load_state_dict(torch.load(dst, map_location='cpu', weights_only=True)['state_dict'], strict=True)
    return ours.eval(), peer.eval(), fusion


def image() -> torch.Tensor:
    gen = torch.Generator().manual_seed(2)
    return torch.randn((1, 3) + IMAGE_SHAPE, generator=gen)


def meta(**extra) -> dict:
    h, w = IMAGE_SHAPE
    return dict(img_shape=(h, w), ori_shape=(2 * h, 2 * w), pad_shape=(h, w), batch_input_shape=(h, w),
                scale_factor=(0.5, 0.5), **extra)


def test_head_outputs_equal_mmdet(models):
    ours, peer, fusion = models
    assert ours.bbox_head.early_fuse == fusion
    caption, spans = build_caption(NAMES)
    with torch.no_grad():
        tokenized = ours.tokenize([caption])
        lang_ours = ours.encode_text(tokenized)
        lang_peer = peer.language_model([caption])
        num_tokens = tokenized['input_ids'].shape[1]
        for key in ('hidden', 'embedded'):
            diff = (lang_ours[key] - lang_peer[key][:, :num_tokens]).abs().max().item()
            assert diff <= TOL, (key, diff)
        feats_ours, feats_peer = ours.extract_feat(image()), peer.extract_feat(image())
        for a, b in zip(feats_ours, feats_peer):
            assert (a - b).abs().max().item() <= TOL
        logits_ours, boxes_ours, centers_ours = ours.bbox_head(feats_ours, lang_ours)
        logits_peer, boxes_peer, centers_peer = peer.bbox_head(feats_peer, lang_peer)
    assert len(logits_ours) == len(logits_peer) == 5
    for level in range(5):
        diff = (logits_ours[level] - logits_peer[level][..., :num_tokens]).abs().max().item()
        assert diff <= TOL, f'level {level} logits: {diff:.2e}'
        assert (boxes_ours[level] - boxes_peer[level]).abs().max().item() <= TOL
        assert (centers_ours[level] - centers_peer[level]).abs().max().item() <= TOL
    assert logits_ours[0].std() > 0.1  # the seeded weights give non-degenerate logits


def test_predictions_equal_mmdet(models):
    ours, peer, _ = models
    caption, spans = build_caption(NAMES)
    with torch.no_grad():
        # the same caption both ways: mmdet's custom-entities caption joins the names with '. '
        mine = ours.predict(image(), [DetDataSample(metainfo=meta(
            text=caption, tokens_positive=[[span] for span in spans]))])[0].pred_instances
        theirs = peer.predict(image(), [DetDataSample(metainfo=meta(
            text=tuple(NAMES), custom_entities=True))])[0].pred_instances
    peer_map, peer_caption, peer_normalized, _ = peer.get_tokens_positive_and_prompts(tuple(NAMES), True)
    assert peer_caption == caption
    ours_map = ours.encode_prompt(ours.inference_prompts(DetDataSample(metainfo=meta(
        text=caption, tokens_positive=[[span] for span in spans])))[0], use_cache=False)[1]
    assert torch.equal(ours_map, peer_normalized[:, :ours_map.shape[1]])
    assert all(ours_map[label - 1].nonzero().flatten().tolist() == tokens for label, tokens in peer_map.items())
    assert max(len(tokens) for tokens in peer_map.values()) > 1  # names of several tokens are covered
    assert len(mine) == len(theirs) > 0
    order_ours = mine.scores.argsort(descending=True)
    order_peer = theirs.scores.argsort(descending=True)
    assert (mine.scores[order_ours] - theirs.scores[order_peer]).abs().max().item() <= TOL
    # every detection has its twin: same label, box within 1e-3 px, score within 1e-5 (ties may swap ranks)
    for i in range(len(mine)):
        twin = ((theirs.labels == mine.labels[i]) & ((theirs.bboxes - mine.bboxes[i]).abs().amax(1) <= 1e-3)
                & ((theirs.scores - mine.scores[i]).abs() <= TOL))
        assert twin.any(), f'detection {i} ({mine.labels[i]}, {mine.scores[i]:.6f}) has no mmdet twin'
