"""Every ViLD config loads, follows the config conventions, and a representative subset builds its model."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs' / 'vild'
CONFIGS = sorted(p for p in CONFIG_DIR.glob('*.py'))


def test_the_expected_configs_exist():
    names = {p.name for p in CONFIGS}
    for method in ('vild-text', 'vild', 'vild-ensemble'):
        for dataset in ('ov-lvis', 'ov-coco'):
            assert f'{method}_r50-fpn_lsj-180k_{dataset}.py' in names
    assert 'vild_tiny_synth-ov-lvis.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads_and_follows_conventions(path):
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'ovd'
    assert cfg.custom_imports == dict(imports=['ovd.setup'], allow_failed_imports=False)
    assert cfg.model.type == 'ViLD' and cfg.model.roi_head.type == 'ViLDRoIHead'
    head = cfg.model.roi_head.bbox_head
    assert head.type == 'ViLDBBoxHead' and head.temperature == 0.01 and head.reg_class_agnostic
    distils = cfg.model.roi_head.distill_weight > 0
    assert distils == ('vild-text' not in path.name)
    pipeline = [t['type'] for t in _train_dataset(cfg).pipeline]
    assert ('LoadRegionEmbeddings' in pipeline) == distils, pipeline
    if distils:
        assert pipeline[-1] == 'PackRegionDetInputs' and 'region_cache' in cfg
        assert cfg.region_cache.crop_scales == (1.0, 1.5)
    if 'ensemble' in path.name:
        assert cfg.model.roi_head.image_head.type == 'ViLDBBoxHead'
        assert cfg.model.roi_head.ensemble_weight == pytest.approx(2 / 3)


def _train_dataset(cfg):
    ds = cfg.train_dataloader.dataset
    while 'dataset' in ds:
        ds = ds.dataset
    return ds


def _plain_bn(node):
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            _plain_bn(value)
    elif isinstance(node, list):
        for value in node:
            _plain_bn(value)
    return node


def _build(name: str, embed_dim: int):
    from ovd.registry import MODELS
    init_default_scope('ovd')
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    model_cfg = _plain_bn(copy.deepcopy(cfg.model.to_dict()))
    model_cfg['backbone']['init_cfg'] = None
    head = model_cfg['roi_head']['bbox_head']
    # text embeddings of the right shape instead of running CLIP (the config's own path needs the weights)
    head['class_embeddings'] = torch.randn(head['num_classes'], embed_dim)
    return MODELS.build(ConfigDict(model_cfg))


def test_paper_ensemble_lvis_model_builds():
    model = _build('vild-ensemble_r50-fpn_lsj-180k_ov-lvis.py', 512)
    roi = model.roi_head
    assert roi.bbox_head.num_classes == 1203 and int(roi.bbox_head.base_mask.sum()) == 866
    assert len(roi.bbox_head.shared_convs) == 4 and len(roi.bbox_head.shared_fcs) == 2
    assert roi.bbox_head.fc_reg.out_features == 4  # class-agnostic boxes
    assert roi.image_head is not None and not roi.image_head.with_reg
    torch.testing.assert_close(roi.image_head.classifier.class_embeddings, roi.bbox_head.classifier.class_embeddings)
    assert roi.mask_head.class_agnostic and roi.distill_weight == 0.5


def test_paper_text_coco_model_builds():
    model = _build('vild-text_r50-fpn_lsj-180k_ov-coco.py', 512)
    assert model.roi_head.bbox_head.num_classes == 65 and int(model.roi_head.bbox_head.base_mask.sum()) == 48
    assert not model.roi_head.with_mask and model.roi_head.distill_weight == 0


def test_tiny_model_builds():
    model = _build('vild_tiny_synth-ov-lvis.py', 32)
    assert model.roi_head.distill_weight == 0.5 and model.train_label_space == 'base'


def test_online_teacher_sees_the_original_rgb_image():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from ovd.models.vild.clip_region_teacher import CLIPRegionTeacher
    from ovd.registry import MODELS
    from ovd.data.synthetic.tiny_text import build_tiny_clip
    init_default_scope('ovd')
    cfg = Config.fromfile(str(CONFIG_DIR / 'vild_tiny_synth-ov-lvis.py'))
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    model_cfg['roi_head']['bbox_head']['class_embeddings'] = torch.randn(1203, 32)
    clip = build_tiny_clip()
    model_cfg['online_teacher'] = dict(clip=clip, crop_scales=(1.0, 1.5))
    model = MODELS.build(ConfigDict(model_cfg))
    assert not any('teacher' in name for name in model.state_dict())  # the teacher stays out of checkpoints
    torch.manual_seed(0)
    bgr = torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8)  # as mmcv loads it
    sample = DetDataSample(metainfo=dict(img_shape=(64, 96)))
    sample.regions = InstanceData(bboxes=torch.tensor([[0., 0., 40., 30.], [20., 10., 96., 64.]]))
    data = model.data_preprocessor(dict(inputs=[bgr], data_samples=[sample]), False)
    model._teach_online(data['inputs'], data['data_samples'])
    expected = CLIPRegionTeacher(clip, crop_scales=(1.0, 1.5))([bgr.flip(0).float()], [sample.regions.bboxes])[0]
    torch.testing.assert_close(data['data_samples'][0].regions.embeddings, expected, atol=1e-4, rtol=1e-4)


def test_training_labels_are_mapped_to_the_full_vocabulary():
    from types import SimpleNamespace

    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from ovd.models.vild import ViLD
    base_mask = torch.tensor([True, False, True, True, False])  # base classes 0, 2, 3
    stub = SimpleNamespace(roi_head=SimpleNamespace(bbox_head=SimpleNamespace(base_mask=base_mask)),
                           train_label_space='base', _warned_novel=False)

    def sample(labels):
        s = DetDataSample(metainfo=dict(img_path='a.jpg'))
        s.gt_instances = InstanceData(bboxes=torch.zeros(len(labels), 4), labels=torch.tensor(labels))
        return s
    batch = [sample([0, 1, 2])]  # indices into the 3 base classes
    assert ViLD.to_full_vocabulary(stub, batch) == 0
    assert batch[0].gt_instances.labels.tolist() == [0, 2, 3]
    with pytest.raises(ValueError, match='label 3 is outside the 3 base classes'):
        ViLD.to_full_vocabulary(stub, [sample([3])])
    stub.train_label_space = 'full'  # labels index the full vocabulary: novel instances (1, 4) are dropped
    batch = [sample([0, 1, 4, 3])]
    assert ViLD.to_full_vocabulary(stub, batch) == 2
    assert batch[0].gt_instances.labels.tolist() == [0, 3] and len(batch[0].gt_instances.bboxes) == 2
