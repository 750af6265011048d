# Tiny MDETR for CPU tests and CI: the paper's architecture and losses at toy width (ResNet-18 at quarter
# width, a 2-layer 32-wide RoBERTa built offline, 2+2 transformer layers of width 32, 10 queries), trained on
# synthetic Flickr30k Entities. Same code path as the paper configs.
# Data: `ovd synth --dataset flickr30k --out data/synthetic` (or OVD_DATA_ROOT); tiny RoBERTa:
# `python -c "from ovd.testing import save_tiny_roberta; save_tiny_roberta('data/tiny-roberta')"` (or
# OVD_TINY_ROBERTA).
_base_ = ['../_base_/default_runtime.py', './_base_/mdetr_r101.py', './_base_/grounding_data.py']

width = 32
model = dict(
    num_queries=10,
    backbone=dict(depth=18, base_channels=16, frozen_stages=-1, init_cfg=None),
    neck=dict(in_channels=[128], out_channels=width),
    text_encoder=dict(name_or_path='{{$OVD_TINY_ROBERTA:data/tiny-roberta}}'),
    positional_encoding=dict(num_feats=width // 2),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(self_attn_cfg=dict(embed_dims=width, num_heads=4),
                       ffn_cfg=dict(embed_dims=width, feedforward_channels=64))),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(self_attn_cfg=dict(embed_dims=width, num_heads=4),
                       cross_attn_cfg=dict(embed_dims=width, num_heads=4),
                       ffn_cfg=dict(embed_dims=width, feedforward_channels=64))),
    bbox_head=dict(embed_dims=width, contrastive_dims=16),
    test_cfg=dict(captions_per_batch=8))

data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/flickr30k/'
image_scale = (256, 192)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackGroundingInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackGroundingInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='Flickr30kEntitiesDataset', data_root=data_root, ann_file='train.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='Flickr30kEntitiesDataset', data_root=data_root, ann_file='test.txt', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Flickr30kRecallMetric', protocol='any-box', topk=(1, 5, 10))
test_evaluator = val_evaluator

max_epochs = 3
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# a toy model trained from scratch for a few hundred steps: higher rates than the paper's fine-tuning ones
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(backbone_lr=1e-3, text_encoder_lr=1e-4))
param_scheduler = [dict(type='MDETRLR', lr_drop=max_epochs, max_epochs=max_epochs, warmup_fraction=0.01,
                        begin=0, end=max_epochs, by_epoch=True, convert_to_iter_based=True)]
custom_hooks = []  # no EMA: the few steps would leave it near the random init
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=max_epochs),
                     visualization=dict(draw=False))
log_processor = dict(window_size=5)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
