# Tiny ViLD (ViLD-text + ViLD-image distillation from a region cache) on synthetic OV-LVIS: CPU, seconds.
# The same code path as the paper configs, scaled down: ResNet-18 at quarter width, 32-channel FPN, one-conv box
# head, tiny random CLIP as teacher and text encoder. Steps (all offline):
#   ovd synth --dataset all --out data/synthetic   (datasets + data/synthetic/tiny_clip)
#   ovd precompute-regions --config configs/vild/vild_tiny_synth-ov-lvis.py
#   mim train ovd configs/vild/vild_tiny_synth-ov-lvis.py && mim test ovd configs/vild/vild_tiny_synth-ov-lvis.py \
#       --checkpoint work_dirs/vild_tiny_synth-ov-lvis/iter_12.pth
# OVD_DATA_ROOT (default: data) moves all three inputs.
_base_ = ['./_base_/vild-mask-rcnn_r50-fpn.py', '../_base_/default_runtime.py']

data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/lvis/'
region_cache_root = '{{$OVD_DATA_ROOT:data}}/ovd_cache/vild_tiny_synth-ov-lvis'
clip_model = dict(model_name='local-dir:{{$OVD_DATA_ROOT:data}}/synthetic/tiny_clip')
image_scale = (256, 192)
num_regions = 32
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(depth=18, base_channels=16, norm_cfg=norm_cfg, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32, norm_cfg=norm_cfg),
    rpn_head=dict(in_channels=32, feat_channels=32, anchor_generator=dict(scales=[4])),
    roi_head=dict(
        distill_weight=0.5,
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, num_shared_convs=1, conv_out_channels=32, fc_out_channels=64,
                       norm_cfg=norm_cfg,
                       # one template instead of ViLD's 63: 1203 prompts instead of 75789 through the tiny CLIP
                       class_embeddings=dict(clip=clip_model, templates='single')),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(in_channels=32, conv_out_channels=32, num_convs=2, norm_cfg=norm_cfg)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(score_thr=0.01, max_per_img=20)))  # few detections: mask pasting dominates CPU test time

# `ovd precompute-regions --config <this file>`: proposals of this (untrained) model's RPN, tiny CLIP crops
region_cache = dict(
    root=region_cache_root, proposal_model=dict(config=None, checkpoint=None), num_regions=num_regions,
    test_scale=image_scale, clip=clip_model, crop_scales=(1.0, 1.5), chunk_size=64, batch_size=4, num_workers=0)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='LoadRegionEmbeddings', cache_root=region_cache_root, num_regions=num_regions),
    dict(type='PackRegionDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='OVLVISDataset', data_root=data_root, vocabulary='ov_lvis', category_split='base', with_mask=True,
        ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OVLVISDataset', data_root=data_root, vocabulary='ov_lvis', ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVDetectionMetric', protocol='lvis', iou_types=('bbox', 'segm'),
                     ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=12, val_interval=12)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)]

default_hooks = dict(logger=dict(interval=4), visualization=dict(draw=False),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=12))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
