# MDETR on the synthetic open-vocabulary world (docs/ov_world.md): trained on the base boxes only, as
# detection-as-grounding captions of class names; evaluated with the paper's LVIS protocol (one caption per class
# name, score 1 - p(no-object)) on all 32 categories, lvis metric (AP50_base / AP50_novel).
# Text encoder: the tiny RoBERTa (ovd.data.synthetic.tiny_text.save_tiny_roberta; `ovd synth --dataset all` writes it;
# OVD_TINY_ROBERTA moves it), randomly initialised and trained with the model: MDETR's text encoder is a
# Hugging Face RoBERTa, and the world has no pretrained one (the world's CLIP text tower is open_clip's, which
# MDETR's code cannot load). Its BPE, learnt on COCO names, splits the world's words into 1-4 pieces.
# Deviations from the paper recipe (world scale; configs/mdetr/README.md, "OV world"): width 64, 2+2 layers,
# 10 queries, ResNet-18 at quarter width from scratch on C4 (stride 16) with trainable BN, no dropout, one lr
# 2e-4 for every group, clipping at 10, uniform soft-token targets (normalized_soft_targets, a switch), no EMA,
# horizontal flip (the captions have no left/right words), 1-2 names per training caption (24-token budget).
# Measured (seed 0, 1200 iterations of batch 8 at 192 px, one thread: 219 CPU s train + test, ~0.17 s/iter):
# AP50_base 0.8, AP50_novel 2.6, AP 0.2 (%): MDETR does NOT reach the goals in this budget. Why
# (README "OV world"): its queries are still collapsed and its scores do not depend on the caption.
_base_ = ['../_base_/default_runtime.py', './_base_/mdetr_r101.py', '../_base_/datasets/ov_world.py']

tiny_roberta = '{{$OVD_TINY_ROBERTA:data/synthetic/tiny_roberta}}'
width = 64
model = dict(
    num_queries=10,
    backbone=dict(depth=18, base_channels=16, out_indices=(2, ), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64], out_channels=width),
    text_encoder=dict(name_or_path=tiny_roberta),
    positional_encoding=dict(num_feats=width // 2),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(self_attn_cfg=dict(embed_dims=width, num_heads=4, attn_drop=0.0, proj_drop=0.0),
                       ffn_cfg=dict(embed_dims=width, feedforward_channels=128, ffn_drop=0.0))),
    decoder=dict(
        num_layers=2,
        layer_cfg=dict(self_attn_cfg=dict(embed_dims=width, num_heads=4, attn_drop=0.0, proj_drop=0.0),
                       cross_attn_cfg=dict(embed_dims=width, num_heads=4, attn_drop=0.0, proj_drop=0.0),
                       ffn_cfg=dict(embed_dims=width, feedforward_channels=128, ffn_drop=0.0))),
    bbox_head=dict(embed_dims=width, contrastive_dims=32, normalized_soft_targets=True),
    test_cfg=dict(names_per_caption=1, captions_per_batch=32, max_per_img=None))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=_base_.image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='DetectionToGroundingPrompt', training=True, num_negatives=4, max_tokens=24,
         tokenizer=tiny_roberta),
    dict(type='PackGroundingInputs'),
]
# MDETR's official class-name rule (the world's names read the same under every rule: 'blue striped star')
name_rule = 'mdetr'
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline, name_rule=name_rule))
val_dataloader = dict(dataset=dict(name_rule=name_rule))
test_dataloader = val_dataloader

max_iters = 1200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(lr=2e-4), paramwise_cfg=dict(backbone_lr=2e-4, text_encoder_lr=2e-4),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20)]
custom_hooks = []  # no EMA: a few hundred steps
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(by_epoch=False, interval=max_iters),
                     visualization=dict(draw=False))
log_processor = dict(by_epoch=False, window_size=10)
randomness = dict(seed=0, deterministic=False)
