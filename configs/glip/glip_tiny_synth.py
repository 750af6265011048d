# Tiny GLIP for CPU: the real GLIPDetector code path (Swin, FPN, VL-DyHead with deep fusion, token alignment loss,
# chunked inference) at toy sizes, trained on mixed synthetic detection (COCO) + grounding (Flickr30k) data and
# evaluated on synthetic LVIS (APr/AP) and Flickr30k (R@k). Trains in seconds.
# Data: `ovd synth` (see docs/synthetic.md) under OVD_DATA_ROOT (default data/); the tiny BERT directory is written by
# `python -c "from ovd.testing import save_tiny_bert; save_tiny_bert('data/synthetic/tiny_bert')"`.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/'
lang_model_name = data_root + 'tiny_bert'
image_scale = (160, 128)

model = dict(
    max_tokens=128,
    backbone=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=4, drop_path_rate=0.0),
    neck=dict(in_channels=[32, 64, 128], out_channels=32),
    bbox_head=dict(
        lang_model_name=lang_model_name, num_dyhead_blocks=2, in_channels=32, feat_channels=32,
        fusion_cfg=dict(fusion_embed_dim=64, fusion_num_heads=4)),
    language_model=dict(name=lang_model_name, max_tokens=128),
    train_cfg=dict(num_negatives=8),
    test_cfg=dict(nms_pre=200, score_thr=0.0, max_per_img=100, chunk_size=40))

meta_keys = _base_.meta_keys
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=1e-4), paramwise_cfg=dict(custom_keys={}))
max_epochs = 2
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)]
default_hooks = dict(logger=dict(interval=1), visualization=dict(draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
