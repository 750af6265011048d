# GLIP-T model (Swin-T, FPN, 6 VL-DyHead blocks, BERT-base) and the pre-training recipe shared by T(A)..GLIP-T.
# Facts from the official GLIP configs (microsoft/GLIP, configs/pretrain/glip_Swin_T_O365.yaml): AdamW, lr 1e-4
# (1e-5 for BERT), weight decay 1e-4, decay x0.1 at 67% and 89% of training, 30 epochs, batch 64, 2000 warm-up
# iterations from 0.001, gradient clipping at norm 1.0, multi-scale training (480..800, max 1333), 85 sampled
# negative classes, 256 text tokens, ATSS top-9, BGR mean/std below. Leaves set the data and the fusion switch.
_base_ = ['../../_base_/default_runtime.py']

lang_model_name = 'bert-base-uncased'  # a hub name or a local directory (config.json, weights, tokenizer)
# Class names -> prompt text as GLIP's code spells them (clean_name: qualifier dropped, '/' kept); every detection
# dataset of a GLIP config sets name_rule=name_rule (configs/glip/README.md, "Fidelity: class names").
name_rule = 'glip'

model = dict(
    type='GLIPDetector',
    max_tokens=256,
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False, pad_size_divisor=32),
    backbone=dict(
        type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7,
        mlp_ratio=4, qkv_bias=True, qk_scale=None, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.2,
        patch_norm=True, out_indices=(1, 2, 3), with_cp=False, convert_weights=False),
    neck=dict(
        type='FPN', in_channels=[192, 384, 768], out_channels=256, start_level=0, relu_before_extra_convs=True,
        add_extra_convs='on_output', num_outs=5),
    bbox_head=dict(
        type='GLIPHead',
        lang_model_name=lang_model_name,
        early_fuse=True,
        num_dyhead_blocks=6,
        in_channels=256,
        feat_channels=256,
        anchor_generator=dict(
            type='AnchorGenerator', ratios=[1.0], octave_base_scale=8, scales_per_octave=1,
            strides=[8, 16, 32, 64, 128], center_offset=0.5),
        bbox_coder=dict(type='DeltaXYWHBBoxCoderForGLIP', target_means=[.0, .0, .0, .0],
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_align=dict(type='TokenSigmoidFocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    language_model=dict(type='BertModel', name=lang_model_name, max_tokens=256, pad_to_max=False),
    train_cfg=dict(
        assigner=dict(type='ATSSAssigner', topk=9, iou_calculator=dict(type='BboxOverlaps2D_GLIP')),
        allowed_border=-1, pos_weight=-1, debug=False, num_negatives=85, full_negatives_prob=0.5),
    # Official post-processing (microsoft/GLIP ATSSPostProcessor, MODEL.ATSS.*): candidates above 0.05, top 1000 per
    # level by score x centerness, NMS 0.6, 100 per image; boxes written as the official COCO path does (+1 on
    # x2/y2). candidate_ranking='mmdet' is mmdet 3.3's variant (ovd/models/glip/postprocess.py).
    test_cfg=dict(
        candidate_ranking='official', nms_pre=1000, min_bbox_size=0, score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6), max_per_img=100, box_end_offset=1, chunk_size=40,
        fast_chunked=True, chunk_batch_size=4))

meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'text',
             'tokens_positive')
# Official data path (maskrcnn_benchmark): PIL images without EXIF rotation (Image.open(...).convert('RGB'));
# boxes inclusive-pixel from loading on (x2 = x + w - 1, the convention of GLIP's anchors and box coder); shorter
# side 480..800 (test: 800), longer <= 1333, truncated as Resize.get_size does; horizontal flip with
# x1' = W - x2 - 1 (BoxList.transpose).
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='InclusivePixelBoxes'),
    dict(type='TruncatingResize', sizes=[480, 560, 640, 720, 800], max_size=1333, backend='pillow'),
    dict(type='RandomFlip_GLIP', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation'),
    dict(type='TruncatingResize', sizes=800, max_size=1333, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'language_model': dict(lr_mult=0.1)}),
    clip_grad=dict(max_norm=1.0, norm_type=2))
max_epochs = 30
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[20, 27], gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=64)

# Pre-training data (GLIP Table 1); leaves pick their mix. Flickr30k and the mixed VG/GQA set are GoldG in MDETR's
# annotation format; Cap4M/Cap24M (not public) are GLIP-teacher pseudo-labelled captions in the same format.
data = '{{$OVD_DATA_ROOT:data}}/'
o365 = dict(
    type='Objects365V1Dataset', data_root=data + 'objects365/', ann_file='annotations/objects365_train.json',
    data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True, min_size=1), name_rule=name_rule,
    pipeline=train_pipeline)
flickr = dict(
    type='MDETRFlickr30kDataset', data_root=data, ann_file='mdetr_annotations/final_flickr_separateGT_train.json',
    data_prefix=dict(img='flickr30k_entities/flickr30k-images/'), pipeline=train_pipeline)
mixed_vg = dict(
    type='MDETRFlickr30kDataset', data_root=data, ann_file='mdetr_annotations/final_mixed_train_no_coco.json',
    data_prefix=dict(img='gqa/images/'), pipeline=train_pipeline)
cap4m = dict(
    type='MDETRFlickr30kDataset', data_root=data + 'cap4m/', ann_file='annotations/cap4m_pseudo.json',
    data_prefix=dict(img='images/'), pipeline=train_pipeline)

# Objects365 sampling: GLIP pre-trains on a class-aware list of its O365 images (microsoft/GLIP
# maskrcnn_benchmark/config/paths_catalog.py:113-117 'object365_dt_train' -> objects365_train_vgoiv6.cas2000.yaml;
# DATA.md:39 train.label.linelist.cas.2000.tsv). mmdet's ClassAwareSampler is the class-aware sampler used here (a
# class uniformly, then one of its images); the O365-only configs select it, `uniform_sampler` switches back.
o365_class_aware_sampler = dict(_delete_=True, type='ClassAwareSampler', num_sample_class=1)
uniform_sampler = dict(_delete_=True, type='DefaultSampler', shuffle=True)
train_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=o365)
# Zero-shot COCO val2017 during pre-training (the paper's Table 2 protocol).
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDetDataset', data_root=data + 'coco/', ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'), test_mode=True, name_rule=name_rule, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data + 'coco/annotations/instances_val2017.json', metric='bbox')
test_evaluator = val_evaluator
