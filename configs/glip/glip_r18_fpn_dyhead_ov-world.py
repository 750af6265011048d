# GLIP on the synthetic open-vocabulary world (docs/ov_world.md, issue 16): GLIP's real code path (detection as
# grounding: prompts of the image's base names plus sampled negatives, token-level focal alignment loss, ATSS,
# 2 VL-DyHead blocks with deep fusion, official post-processing) trained on the world's base boxes only and
# evaluated on all 32 categories (AP50_novel = the 8 novel ones, never boxed in training).
# Text encoder: ovd's tiny randomly initialised BERT (2 layers, hidden 32) whose tokenizer keeps the world's words
# whole (ovd/data/synthetic/world_bert.py; `ovd synth --dataset ov-world` writes it to <world>/tiny_bert).
# Why: the plain tiny BERT's 400-piece vocabulary cuts
# `red striped rectangle` into 12 sub-words that other names share (`st` of striped/star, `##ang ##le` of
# rectangle/triangle), which bert-base-uncased does not do, and it doubles the prompt length (about 2 CPU s per
# iteration instead of 1). No text model pretrained on the world's captions is used.
# Deviations from GLIP-T's recipe (tiny world, 5-minute CPU budget): ResNet-18 at half width from scratch instead of
# Swin-T, 64-channel FPN/DyHead, 2 DyHead blocks, fusion 64-d/4 heads without attention dropout (dropout's Bernoulli
# masks cost 22% of a step), anchors of 4x the stride (objects are 22-96 px, median 43), 192 px, AdamW lr 3e-3 with
# the BERT at the full rate (lr_mult 1.0, not GLIP's 0.1: a random text model has nothing to keep; with 0.1 base
# AP50 fell from 52.1 to 39.3 at 400 iterations), 500 iterations of batch 8, step at 75%. Measured (seed 0, 2-core
# machine shared with ~6 other processes, OMP_NUM_THREADS=1): AP50_base 55.8, AP50_novel 25.7, AP 39.7 (APr 19.8);
# 401-452 CPU s for train + test (user+sys; two runs, same numbers), i.e. 3.3-3.8 min on 2 quiet cores. Both goals
# are met, the novel one by 0.7 only: see configs/glip/README.md, "OV world".
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

# The world's files (configs/_base_/datasets/ov_world.py cannot be a second _base_: both bases define the
# dataloaders, which mmengine refuses).
data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/ov_world/'

lang_model_name = '{{$OVD_DATA_ROOT:data}}/synthetic/ov_world/tiny_bert'
max_tokens = 256
image_scale = (192, 192)
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    max_tokens=max_tokens,
    data_preprocessor=dict(bgr_to_rgb=False, pad_size_divisor=32),
    backbone=dict(
        _delete_=True, type='ResNet', depth=18, base_channels=32, num_stages=4, out_indices=(1, 2, 3),
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, style='pytorch', init_cfg=None),
    neck=dict(in_channels=[64, 128, 256], out_channels=64),
    bbox_head=dict(
        lang_model_name=lang_model_name, num_dyhead_blocks=2, in_channels=64, feat_channels=64,
        anchor_generator=dict(octave_base_scale=4),
        fusion_cfg=dict(fusion_embed_dim=64, fusion_num_heads=4, fusion_dropout=0.0)),
    language_model=dict(name=lang_model_name, max_tokens=max_tokens),
    train_cfg=dict(num_negatives=85),
    test_cfg=dict(score_thr=0.0, nms_pre=200, max_per_img=100, chunk_size=40, box_end_offset=0))

meta_keys = _base_.meta_keys
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='InclusivePixelBoxes'),
    dict(type='Resize', scale=image_scale, keep_ratio=True, backend='pillow'),
    dict(type='RandomFlip_GLIP', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation'),
    dict(type='Resize', scale=image_scale, keep_ratio=True, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys + ('neg_category_ids', 'not_exhaustive_category_ids')),
]
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='OVLVISDataset', data_root=data_root, vocabulary='ov_world', category_split='base',
        ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''), name_rule=_base_.name_rule,
        filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OVLVISDataset', data_root=data_root, vocabulary='ov_world', ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''), test_mode=True, name_rule=_base_.name_rule, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='lvis',
                     ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator

max_iters = 500
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=3e-3, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'language_model': dict(lr_mult=1.0)}),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[int(max_iters * 0.75)],
         gamma=0.1)]
default_hooks = dict(logger=dict(interval=10), visualization=dict(draw=False),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(enable=False, base_batch_size=8)
