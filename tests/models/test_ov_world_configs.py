"""The open-vocabulary world's configs: they parse, read the world's vocabulary, and ViLD-ensemble's config is
ViLD's plus the image head (it restates ViLD's to keep two _base_ hops)."""
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def _config(rel):
    return Config.fromfile(str(REPO / 'configs' / rel))


def test_vild_ensemble_is_vild_plus_the_image_head():
    vild = _config('vild/vild_r18_ov-world.py').to_dict()
    ensemble = _config('vild/vild-ensemble_r18_ov-world.py').to_dict()
    image_head = ensemble['model']['roi_head'].pop('image_head')
    assert ensemble['model']['roi_head'].pop('ensemble_weight') == 2 / 3
    assert ensemble == vild
    head = vild['model']['roi_head']['bbox_head']
    assert image_head['in_channels'] == head['in_channels'] and not image_head['with_reg']
    assert {k: image_head[k] for k in ('num_shared_convs', 'num_shared_fcs', 'conv_out_channels',
                                       'fc_out_channels', 'norm_cfg')} == \
        {k: head[k] for k in ('num_shared_convs', 'num_shared_fcs', 'conv_out_channels', 'fc_out_channels',
                              'norm_cfg')}


def test_world_configs_train_on_base_and_test_on_all():
    for rel in ('baselines/faster-rcnn-base-only_r18_ov-world.py', 'vild/vild_r18_ov-world.py'):
        cfg = _config(rel)
        assert cfg.test_dataloader.dataset.vocabulary == 'ov_world'
        assert cfg.test_evaluator.protocol == 'lvis'
    # the lower bound names all 32 categories from the start; ViLD trains on the base subset's labels
    assert _config('baselines/faster-rcnn-base-only_r18_ov-world.py').train_dataloader.dataset.category_split is None
    vild = _config('vild/vild_r18_ov-world.py')
    assert vild.train_dataloader.dataset.category_split == 'base' and vild.model.train_label_space == 'base'
