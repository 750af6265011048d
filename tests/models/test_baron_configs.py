"""Every BARON config loads and states the paper's values; a representative subset builds (with the tiny CLIP)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import tiny_clip_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'baron'
# the paper configs and the tiny plumbing one; the OV-world config has its own tests below
CONFIGS = sorted(p.name for p in CONFIG_DIR.glob('*.py') if 'ov-world' not in p.name)
TINY = 'baron-kd_r18-tiny_synth-ov-coco.py'
WORLD = 'baron-kd_r18_ov-world.py'


def _load(name: str) -> Config:
    return Config.fromfile(str(CONFIG_DIR / name))


def _with_tiny_clip(cfg: Config) -> ConfigDict:
    """The model config with the CLIP swapped for the offline tiny one (ViT-B/32 weights cannot be fetched here)."""
    model = cfg.model
    model.roi_head.clip = dict(model_cfg=tiny_clip_config(), pretrained=None)
    model.roi_head.bbox_head.word_dim = 32
    head = model.roi_head.bbox_head
    source = head.class_embeddings
    # a file (DetPro's LVIS embeddings) is replaced by the vocabulary's prompts through the tiny CLIP
    source = source if isinstance(source, dict) else dict(vocabulary=head.base_classes)
    head.class_embeddings = dict(source, templates='single', cache=False)
    for key in ('backbone', 'shared_head'):
        part = model.get(key) if key == 'backbone' else model.roi_head.get(key)
        if part is not None:
            part.init_cfg = None
    return model


def test_config_set_is_complete():
    assert set(CONFIGS) == {
        TINY, 'baron-kd_r50-fpn_90kx2_ov-coco.py', 'baron-kd_r50-c4_90k_ov-coco.py',
        'baron-kd_r50-fpn_45kx4_ov-lvis.py', 'baron-kd-ensemble_r50-fpn_45kx4_ov-lvis.py',
        'faster-rcnn-base-only_r50-fpn_90kx2_ov-coco.py', 'faster-rcnn-base-only_r50-c4_90k_ov-coco.py',
        'mask-rcnn-base-only_r50-fpn_45kx4_ov-lvis.py'}


@pytest.mark.parametrize('name', CONFIGS)
def test_config_loads_with_paper_values(name):
    cfg = _load(name)
    assert cfg.default_scope == 'ovd' and cfg.model.type == 'Baron'
    roi = cfg.model.roi_head
    head = roi.bbox_head
    assert roi.type == 'BaronRoIHead' and head.get('reg_class_agnostic', True)
    if 'base-only' in name:
        assert roi.distill is None
    else:
        assert roi.distill.bag_weight == 1.0 and roi.distill.single_weight == 0.1
    if 'ov-lvis' in name:
        assert head.num_classes == 1203 and head.num_words == 4 and head.cls_temp == 100.0
        assert head.test_cls_temp == pytest.approx(100 / 0.7)
        assert cfg.test_evaluator.protocol == 'lvis' and 'segm' in cfg.test_evaluator.iou_types
        assert cfg.train_cfg.max_iters == 45000 and cfg.optim_wrapper.optimizer.lr == 0.08
        if roi.distill is not None:
            assert (roi.distill.bag_temp, roi.distill.single_temp) == (20.0, 30.0)
            assert roi.distill.seeds.topk == 500 and roi.distill.sampling.max_groups == 6
    else:
        assert head.num_classes == 65 and head.base_classes == 'ov_coco' and head.cls_temp == 50.0
        assert cfg.test_evaluator.protocol == 'ov-coco-65'
        assert head.num_words == (4 if 'c4' in name else 6)
        if roi.distill is not None:
            assert (roi.distill.bag_temp, roi.distill.single_temp) == (30.0, 50.0)
            assert roi.distill.sampling.max_groups == 3
    if name != TINY:
        assert roi.clip == dict(model_name='ViT-B-32', pretrained='openai') and head.word_dim == 512
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    if name.startswith('baron-kd-ensemble'):
        assert head.type == 'BaronEnsembleBBoxHead' and head.ensemble_weight == pytest.approx(2 / 3)
    if '90kx2' in name:
        assert cfg.optim_wrapper.optimizer.lr == 0.04 and cfg.train_cfg.max_iters == 90000


@pytest.mark.parametrize('name', [TINY, 'baron-kd_r50-c4_90k_ov-coco.py', 'baron-kd-ensemble_r50-fpn_45kx4_ov-lvis.py',
                                  'faster-rcnn-base-only_r50-fpn_90kx2_ov-coco.py'])
def test_representative_models_build(name):
    init_default_scope('ovd')
    cfg = _load(name)
    model = MODELS.build(_with_tiny_clip(cfg))
    head = model.roi_head.bbox_head
    assert head.class_embeddings.shape == (head.num_classes, 32)
    assert (model.roi_head.distiller is None) == ('base-only' in name)
    assert not any(p.requires_grad for p in model.roi_head.clip.parameters())
    if 'c4' in name:
        assert model.roi_head.with_shared_head and head.with_avg_pool


@pytest.mark.slow  # a full-width R50 on CPU: about ten seconds
def test_c4_training_step_runs_on_bgr_caffe_input():
    """The R50-C4 path (shared res5 head, caffe BGR preprocessing) computes all losses, teacher included."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    init_default_scope('ovd')
    cfg = _load('baron-kd_r50-c4_90k_ov-coco.py')
    cfg.model.train_cfg.rpn_proposal.max_per_img = 32  # few RoIs through res5: seconds on a CPU
    cfg.model.train_cfg.rcnn.sampler.num = 16
    cfg.model.roi_head.distill.seeds.topk = 4
    model = MODELS.build(_with_tiny_clip(cfg)).train()
    sample = DetDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128), pad_shape=(96, 128),
                                         scale_factor=(1.0, 1.0), img_id=5, batch_input_shape=(96, 128)))
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[20.0, 20.0, 70.0, 60.0]]), labels=torch.tensor([3]))
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 255, (3, 96, 128), dtype=torch.uint8)],
                                        data_samples=[sample]), training=True)
    rgb = model.rgb_images(data['inputs'])
    assert torch.allclose(rgb.flip(1), data['inputs'] + torch.tensor([103.53, 116.28, 123.675]).view(1, 3, 1, 1))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_cls', 'loss_bbox', 'loss_rpn_cls', 'loss_bag', 'loss_single'} <= set(losses)
    values = [torch.stack(v).sum() if isinstance(v, list) else v for k, v in losses.items() if 'loss' in k]
    assert all(torch.isfinite(v) for v in values)
    # label 3 is the 4th base class; its index in the 65-class head vocabulary
    assert data['data_samples'][0].gt_instances.labels.item() == int(model.roi_head.bbox_head.base_mask.nonzero()[3])


def test_world_config_reads_the_world_with_its_clip(monkeypatch):
    """The OV-world config scores the world's 32 categories, trains on its 24 base ones, evaluates novel = rare,
    and reads the world's CLIP with the template that CLIP was trained on."""
    from ovd.data.synthetic.world_clip import TEMPLATE, WORLD_CLIP_CONFIG
    from ovd.data.vocab import get_vocabulary
    monkeypatch.setenv('OVD_DATA_ROOT', '/world-root')
    cfg = _load(WORLD)
    head = cfg.model.roi_head.bbox_head
    vocab = get_vocabulary('ov_world')
    assert head.num_classes == len(vocab) == 32 and head.base_classes == 'ov_world'
    assert cfg.train_dataloader.dataset.category_split == 'base' and cfg.model.train_label_space == 'base'
    assert cfg.val_dataloader.dataset.get('category_split') is None
    assert cfg.test_evaluator.protocol == 'lvis'
    assert cfg.model.roi_head.clip.model_name == 'local-dir:/world-root/synthetic/ov_world/clip/current'
    assert head.class_embeddings.templates == (TEMPLATE,) and head.class_embeddings.this_is is False
    text = WORLD_CLIP_CONFIG['text_cfg']
    assert head.word_dim == text['width']
    # a bag is at most the 3x3 grid of regions, each region's words in one sequence between start and end tokens
    assert 9 * head.num_words + 2 <= text['context_length']


def test_world_model_builds_with_a_world_shaped_clip():
    """The model builds with a randomly initialised CLIP of the world CLIP's shape (no weights needed)."""
    from ovd.data.synthetic.world_clip import WORLD_CLIP_CONFIG
    init_default_scope('ovd')
    cfg = _load(WORLD)
    cfg.model.roi_head.clip = dict(model_cfg=WORLD_CLIP_CONFIG, pretrained=None)
    model = MODELS.build(cfg.model)
    head = model.roi_head.bbox_head
    assert head.class_embeddings.shape == (32, WORLD_CLIP_CONFIG['embed_dim'])
    assert int(head.base_mask.sum()) == 24 and model.roi_head.distiller is not None
    assert not any(p.requires_grad for p in model.roi_head.clip.parameters())
