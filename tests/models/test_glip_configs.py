"""Every GLIP config loads; a representative subset builds its model (with the tiny offline BERT)."""
from pathlib import Path

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import tiny_bert_dir

GLIP_CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'glip'
ALL = sorted(p for p in GLIP_CONFIGS.glob('*.py'))


def test_there_are_paper_and_tiny_configs():
    names = {p.name for p in ALL}
    for expected in ('glip-t-a_swin-t_fpn_dyhead_pretrain_o365.py', 'glip-t-b_swin-t_fpn_dyhead_pretrain_o365.py',
                     'glip-t-c_swin-t_fpn_dyhead_pretrain_o365-goldg.py',
                     'glip-t_swin-t_fpn_dyhead_pretrain_o365-goldg-cap4m.py',
                     'glip-l_swin-l_fpn_dyhead_pretrain_fourods-goldg-cap24m.py',
                     'glip-t_zeroshot_lvis-minival-fixedap.py', 'glip-t_zeroshot_lvis-val.py',
                     'glip-t_zeroshot_coco-val2017.py', 'glip-t_zeroshot_flickr30k-val.py',
                     'glip-t_zeroshot_flickr30k-test.py', 'glip-t_swin-t_fpn_dyhead_finetune_coco.py',
                     'glip_tiny_synth.py'):
        assert expected in names


@pytest.mark.parametrize('path', ALL, ids=lambda p: p.name)
def test_config_loads_with_ovd_scope_and_shallow_inheritance(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'ovd'
    assert cfg.custom_imports['imports'] == ['ovd.setup']
    assert cfg.model.type == 'GLIPDetector'
    assert cfg.model.bbox_head.lang_model_name == cfg.model.language_model.name


def _build(name: str, **model_overrides):
    cfg = Config.fromfile(str(GLIP_CONFIGS / name))
    bert = str(tiny_bert_dir())
    cfg.model.bbox_head.lang_model_name = bert
    cfg.model.language_model.name = bert
    cfg.model.update(model_overrides)
    init_default_scope('ovd')
    return cfg, MODELS.build(cfg.model)


def test_t_a_builds_without_fusion_at_full_size():
    cfg, model = _build('glip-t-a_swin-t_fpn_dyhead_pretrain_o365.py')
    assert not model.bbox_head.early_fuse
    assert len(model.bbox_head.head.dyhead_tower) == 6
    assert model.backbone.stages[2].blocks.__len__() == 6  # Swin-T depths 2-2-6-2


def test_t_c_builds_with_fusion_and_mixed_data():
    cfg, model = _build('glip-t-c_swin-t_fpn_dyhead_pretrain_o365-goldg.py')
    assert model.bbox_head.early_fuse
    assert len(model.bbox_head.head.dyhead_tower) == 18  # 6 x (fusion, BERT layer, DyConv)
    types = [d.type for d in cfg.train_dataloader.dataset.datasets]
    assert types == ['Objects365V1Dataset', 'MDETRFlickr30kDataset', 'MDETRFlickr30kDataset']
    assert cfg.model.train_cfg.num_negatives == 85 and cfg.model.max_tokens == 256


def test_eval_configs_cap_and_chunk_as_the_protocols_need():
    fixed = Config.fromfile(str(GLIP_CONFIGS / 'glip-t_zeroshot_lvis-minival-fixedap.py'))
    assert fixed.model.test_cfg.chunk_size == 40 and fixed.model.test_cfg.merged_max_per_img == -1
    assert fixed.test_evaluator.protocol == 'lvis-fixed'
    val = Config.fromfile(str(GLIP_CONFIGS / 'glip-t_zeroshot_lvis-val.py'))
    # the official evaluation scores val with Fixed AP too (DATASETS.LVIS_USE_NORMAL_AP = False)
    assert val.model.test_cfg.max_per_img == 300 and val.model.test_cfg.merged_max_per_img == -1
    assert val.test_evaluator.protocol == 'lvis-fixed'
    large = Config.fromfile(str(GLIP_CONFIGS / 'glip-l_zeroshot_lvis-minival-fixedap.py'))
    assert large.model.bbox_head.num_dyhead_blocks == 8 and large.model.backbone.embed_dims == 192


@pytest.mark.slow
def test_glip_l_builds():
    _, model = _build('glip-l_swin-l_fpn_dyhead_pretrain_fourods-goldg-cap24m.py')
    assert len(model.bbox_head.head.dyhead_tower) == 24
    assert sum(p.numel() for p in model.backbone.parameters()) > 150e6  # Swin-L


def test_ov_world_config_builds_a_fused_glip_on_the_worlds_base_boxes(tmp_path):
    from ovd.data.synthetic.world_bert import ensure_world_bert
    from ovd.data.vocab import get_vocabulary

    name = 'glip_r18_fpn_dyhead_ov-world.py'
    cfg = Config.fromfile(str(GLIP_CONFIGS / name))
    assert cfg.model.language_model.name.endswith('/synthetic/ov_world/tiny_bert')
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert (train.vocabulary, train.category_split, train.name_rule) == ('ov_world', 'base', 'glip')
    assert (val.vocabulary, val.get('category_split'), val.name_rule) == ('ov_world', None, 'glip')
    assert cfg.val_evaluator.protocol == 'lvis' and cfg.randomness.seed == 0
    # the world's tiny BERT: every word of every class name is one token, as in bert-base-uncased
    bert = str(ensure_world_bert(tmp_path))
    cfg.model.bbox_head.lang_model_name = bert
    cfg.model.language_model.name = bert
    init_default_scope('ovd')
    model = MODELS.build(cfg.model)
    assert model.bbox_head.early_fuse and len(model.bbox_head.head.dyhead_tower) == 6  # 2 x (fusion, BERT, DyConv)
    assert type(model.backbone).__name__ == 'ResNet'
    assert model.tokenizer.tokenize('blue striped star') == ['blue', 'striped', 'star']
    images = torch.rand(1, 3, 192, 160) * 255
    sample = DetDataSample(metainfo=dict(img_shape=(192, 160), pad_shape=(192, 160), scale_factor=(1.0, 1.0)))
    model.set_vocabulary(get_vocabulary('ov_world'), val.name_rule)
    model.eval()
    with torch.no_grad():
        (out,) = model.predict(images, [sample], rescale=False)
    assert out.pred_instances.labels.max() < 32
