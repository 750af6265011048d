# Tiny MDETR for CPU tests and CI: the paper's architecture and losses at toy width (ResNet-18 at quarter width,
# a 2-layer 32-wide RoBERTa built offline, 2+2 transformer layers of width 32, 10 queries), trained on synthetic
# Flickr30k Entities. Same code path as the paper configs.
# Data: `ovd synth --dataset flickr30k --out data/synthetic` (or OVD_DATA_ROOT); tiny RoBERTa:
# `python -c "from ovd.testing import save_tiny_roberta; save_tiny_roberta('data/tiny-roberta')"` (or
# OVD_TINY_ROBERTA).
_base_ = ['../_base_/default_runtime.py', './_base_/mdetr_r101.py']

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
