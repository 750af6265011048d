# ViLD-ensemble on the synthetic open-vocabulary world: vild_r18_ov-world.py plus a second box head of the same
# architecture trained only by distillation (the image head); at test time the class scores are the weighted
# geometric mean of the two heads, 2/3 on the text head for base classes and 2/3 on the image head for novel ones
# (the paper's recipe, configs/vild/vild-ensemble_r50-fpn_lsj-180k_ov-lvis.py). It shares ViLD's region cache.
# Everything but `image_head` and `ensemble_weight` repeats vild_r18_ov-world.py (inheriting it would make a third
# _base_ hop); tests/models/test_ov_world_configs.py fails if the two drift apart.
_base_ = ['./_base_/vild-mask-rcnn_r50-fpn.py', '../_base_/datasets/ov_world.py', '../_base_/default_runtime.py']

vocabulary = 'ov_world'
num_classes = 32
num_regions = 50
# BN momentum 0.1 (torch's default), not the paper configs' 0.003 (TF decay 0.997): at 0.003 the running statistics
# average over ~330 steps and still hold 30% of their initial values after this whole 400-step schedule, so the
# test-time features are wrong (measured: AP50 7 with 0.003).
norm_cfg = dict(type='BN', requires_grad=True, momentum=0.1, eps=1e-4)  # eps as the paper configs
region_cache_root = '{{$OVD_DATA_ROOT:data}}/ovd_cache/vild_r18_ov-world'
class_embeddings = dict(clip={{_base_.world_clip}}, vocabulary=vocabulary, templates=['a {}.'], this_is=False,
                        name_rule='vild')

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(depth=18, base_channels=16, norm_cfg=norm_cfg),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=32, feat_channels=32, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, num_classes=num_classes, class_embeddings=class_embeddings,
                       base_classes=vocabulary, num_shared_convs=1, num_shared_fcs=1, conv_out_channels=32,
                       fc_out_channels=128, norm_cfg=norm_cfg),
        mask_roi_extractor=None, mask_head=None,
        image_head=dict(  # ViLD-ensemble: a second head of the same architecture, trained only by distillation
            type='ViLDBBoxHead', in_channels=32, roi_feat_size=7, with_reg=False,
            num_shared_convs=1, num_shared_fcs=1, conv_out_channels=32, fc_out_channels=128, norm_cfg=norm_cfg),
        ensemble_weight=2 / 3),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=100)))

# `ovd precompute-regions --config <this file>`: the base-only detector's RPN proposes, the world's CLIP embeds
region_cache = dict(
    root=region_cache_root,
    proposal_model=dict(
        config='configs/baselines/faster-rcnn-base-only_r18_ov-world.py',
        checkpoint='{{$OVD_PROPOSAL_CHECKPOINT:work_dirs/faster-rcnn-base-only_r18_ov-world/iter_400.pth}}'),
    num_regions=num_regions, test_scale={{_base_.image_scale}}, clip={{_base_.world_clip}},
    crop_scales=(1.0, 1.5), chunk_size=256, batch_size=8, num_workers=0)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale={{_base_.image_scale}}, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='LoadRegionEmbeddings', cache_root=region_cache_root, num_regions=num_regions),
    dict(type='PackRegionDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, milestones=[int(max_iters * 0.75)], gamma=0.1)]

default_hooks = dict(logger=dict(interval=10), visualization=dict(draw=False),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)
