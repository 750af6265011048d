# MDETR with a ResNet-101 backbone and RoBERTa-base (Kamath et al., ICCV 2021, Sec. 2 and the official
# defaults in github.com/ashkamath/mdetr main.py): width 256, 8 heads, FFN 2048, dropout 0.1, 6 joint-encoder
# and 6 decoder layers, 100 queries, 256 soft-token slots (255 token positions + no-object), contrastive
# space 64-d at temperature 0.07; matching costs soft-token 1 / L1 5 / GIoU 2; loss weights soft-token 1,
# L1 5, GIoU 2, contrastive alignment 1; no-object weight 0.1; auxiliary losses on every decoder layer.
# Text encoder: hub name 'roberta-base' or a local directory holding it (no download happens offline).
text_encoder_name = 'roberta-base'

model = dict(
    type='MDETR',
    num_queries=100,
    num_tokens=256,
    text_dropout=0.1,
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_size_divisor=1),
    # torchvision-layout ResNet-101 with frozen BN; stem and layer1 frozen, as in DETR/MDETR
    backbone=dict(
        type='ResNet', depth=101, num_stages=4, out_indices=(3, ), frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    # MDETR's input_proj: 1x1 conv C5 -> 256
    neck=dict(type='ChannelMapper', in_channels=[2048], kernel_size=1, out_channels=256, act_cfg=None,
              norm_cfg=None, num_outs=1),
    text_encoder=dict(name_or_path=text_encoder_name, pretrained=True, max_tokens=256, padding='longest',
                      freeze=False),
    positional_encoding=dict(num_feats=128, normalize=True),
    encoder=dict(  # the joint image-text encoder
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, attn_drop=0.1, proj_drop=0.1, batch_first=True),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, num_fcs=2, ffn_drop=0.1,
                         act_cfg=dict(type='ReLU', inplace=True)))),
    decoder=dict(
        num_layers=6,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, attn_drop=0.1, proj_drop=0.1, batch_first=True),
            cross_attn_cfg=dict(embed_dims=256, num_heads=8, attn_drop=0.1, proj_drop=0.1, batch_first=True),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, num_fcs=2, ffn_drop=0.1,
                         act_cfg=dict(type='ReLU', inplace=True))),
        return_intermediate=True),
    bbox_head=dict(
        type='MDETRHead', embed_dims=256, num_tokens=256, contrastive_dims=64, temperature=0.07,
        no_object_weight=0.1,
        # official training path: 0/1 soft-token targets, contrastive normaliser over padded positions too
        # (configs/mdetr/README.md, fidelity table)
        normalized_soft_targets=False, contrastive_mask_padding=False,
        assigner=dict(type='HungarianAssigner', match_costs=[
            dict(type='SoftTokenCost', weight=1.0),
            dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
            dict(type='IoUCost', iou_mode='giou', weight=2.0)]),
        loss_weights=dict(soft_token=1.0, bbox=5.0, giou=2.0, contrastive_align=1.0)),
    train_cfg=None,
    # grounding: phrase score = max probability on the phrase's tokens (official Flickr30k evaluator);
    # detection prompts: one class name per caption (paper's LVIS protocol), captions batched over the
    # image features computed once
    test_cfg=dict(grounding_reduce='max', names_per_caption=1, captions_per_batch=16, max_per_img=None,
                  cache_text=True))

# AdamW, lr 1e-4 (transformer, resizer, heads), 1e-5 backbone (R101), 5e-5 text encoder, weight decay 1e-4,
# gradient clipping at 0.1 (official main.py defaults)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='MDETROptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    paramwise_cfg=dict(backbone_lr=1e-5, text_encoder_lr=5e-5),
    clip_grad=dict(max_norm=0.1, norm_type=2))

# exponential moving average of the weights, decay 0.9998 (used for evaluation, as the official --ema)
custom_hooks = [dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=0.0002, priority=49)]
