"""Every MDETR config loads with the paper's hyper-parameters; a representative subset builds its model."""
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import ovd  # noqa: F401
from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import tiny_roberta_dir

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'mdetr'
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py'))
PAPER = [c for c in CONFIGS if 'tiny' not in c]


def load(name: str) -> Config:
    os.environ.setdefault('OVD_TINY_ROBERTA', str(tiny_roberta_dir()))
    return Config.fromfile(str(CONFIG_DIR / name))


def test_config_folder_has_the_issue_configs():
    expected = {'mdetr_r101_pretrain-flickr-mixed.py', 'mdetr_eb5_pretrain-flickr-mixed.py',
                'mdetr_r101_flickr30k-anybox.py', 'mdetr_eb5_flickr30k-anybox.py',
                'mdetr_r101_flickr30k-mergedbox.py', 'mdetr_r101_lvis-1pct.py', 'mdetr_r101_lvis-10pct.py',
                'mdetr_r101_lvis-100pct.py', 'mdetr_tiny_synth-flickr30k.py', 'mdetr_tiny_synth-lvis.py'}
    assert expected <= set(CONFIGS)


@pytest.mark.parametrize('name', PAPER)
def test_paper_configs_carry_the_paper_hyper_parameters(name):
    cfg = load(name)
    assert cfg.default_scope == 'ovd'
    m = cfg.model
    assert m.type == 'MDETR' and m.num_queries == 100 and m.num_tokens == 256
    assert m.encoder.num_layers == 6 and m.decoder.num_layers == 6
    attn = m.encoder.layer_cfg.self_attn_cfg
    assert attn.embed_dims == 256 and attn.num_heads == 8
    assert m.encoder.layer_cfg.ffn_cfg.feedforward_channels == 2048
    assert m.text_encoder.name_or_path == 'roberta-base'
    head = m.bbox_head
    assert (head.contrastive_dims, head.temperature, head.no_object_weight) == (64, 0.07, 0.1)
    assert head.loss_weights == dict(soft_token=1.0, bbox=5.0, giou=2.0, contrastive_align=1.0)
    assert [c.weight for c in head.assigner.match_costs] == [1.0, 5.0, 2.0]
    opt = cfg.optim_wrapper
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == ('AdamW', 1e-4, 1e-4)
    assert opt.paramwise_cfg.text_encoder_lr == 5e-5 and opt.clip_grad.max_norm == 0.1
    eb5 = 'eb5' in name
    assert opt.paramwise_cfg.backbone_lr == (5e-5 if eb5 else 1e-5)
    assert m.backbone.type == ('TimmBackbone' if eb5 else 'ResNet')
    assert cfg.custom_hooks[0].momentum == pytest.approx(2e-4)  # EMA decay 0.9998
    metric = cfg.test_evaluator
    if 'lvis' in name:
        assert metric.protocol == 'lvis-fixed' and m.test_cfg.names_per_caption == 1
    else:
        assert metric.protocol == ('merged-box' if 'merged' in name else 'any-box')


@pytest.mark.parametrize('name', ['mdetr_r101_flickr30k-anybox.py', 'mdetr_eb5_flickr30k-anybox.py'])
def test_paper_models_build_and_run(name):
    """Image side and transformer at full size; a tiny offline RoBERTa stands in for roberta-base."""
    init_default_scope('ovd')
    cfg = load(name).model
    cfg.text_encoder.name_or_path = str(tiny_roberta_dir())
    cfg.backbone.pop('init_cfg', None)
    if cfg.backbone.type == 'TimmBackbone':
        cfg.backbone.pretrained = False
    model = MODELS.build(cfg).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 64, 96))
    assert feats[-1].shape == (1, 256, 2, 3)  # stride 32, projected to 256
    # batch norm frozen in both backbones (statistics and affine), as in MDETR
    backbone = model.train().backbone
    assert not any(isinstance(m, torch.nn.BatchNorm2d) and m.training for m in backbone.modules())
    assert not any(p.requires_grad for n, p in model.backbone.named_parameters() if 'bn' in n)
    assert model.bbox_head.class_embed.out_features == 256
    transformer = [p.numel() for n, p in model.named_parameters() if n.startswith(('encoder.', 'decoder.'))]
    assert sum(transformer) > 15e6


def test_ov_world_config_builds_and_trains_on_base_names_only(tmp_path):
    """The OV-world config: tiny model, MDETR's LVIS fine-tuning records (one base name per caption, box-less
    negatives), the world's tiny RoBERTa, one caption per name at test."""
    from ovd.data.synthetic.world_roberta import ensure_world_roberta
    init_default_scope('ovd')
    cfg = load('mdetr_tiny_ov-world.py')
    train = cfg.train_dataloader.dataset
    assert train.type == 'ModulatedLVISDataset' and train.name_rule == 'mdetr'
    assert train.category_split == 'base'  # captions never name a novel category
    assert 'category_split' not in cfg.val_dataloader.dataset  # evaluated on all 32
    assert cfg.val_evaluator.protocol == 'lvis' and cfg.model.test_cfg.names_per_caption == 1
    assert cfg.randomness.seed == 0
    assert cfg.model.text_encoder.name_or_path.endswith('synthetic/ov_world/tiny_roberta')
    cfg.model.text_encoder.name_or_path = str(ensure_world_roberta(tmp_path))
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 192, 160))
    assert feats[-1].shape == (1, cfg.width, 12, 10)  # stride 16 (C4): small objects keep a few cells
    assert model.bbox_head.class_embed.out_features == cfg.model.num_tokens
