# Tiny BARON-KD on synthetic OV-COCO: CPU, well under a minute. The paper configs' code path, scaled down:
# ResNet-18 at quarter width, 32-channel FPN, 2-fc box head, a tiny randomly initialised CLIP (ViT 32 px, 8 px
# patches, 32-d tokens; the same open_clip code and tokenizer as ViT-B/32) as frozen text encoder and teacher.
# Train on the 48 base classes, test on the 65 OV classes (protocol 'ov-coco-65': AP50 novel / base / all).
#   ovd synth --dataset coco --out data/synthetic/coco        (or OVD_DATA_ROOT=<folder holding synthetic/coco>)
#   mim train ovd configs/baron/baron-kd_r18-tiny_synth-ov-coco.py --work-dir work_dirs/baron_tiny
#   mim test ovd configs/baron/baron-kd_r18-tiny_synth-ov-coco.py --checkpoint work_dirs/baron_tiny/iter_40.pth
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', '../_base_/default_runtime.py']

data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/coco/'
image_scale = (256, 192)
norm_cfg = dict(type='BN', requires_grad=True)
# ovd.data.synthetic.tiny_text.TINY_CLIP_CONFIG, written out so the config stands alone
tiny_clip = dict(model_cfg=dict(
    embed_dim=32,
    vision_cfg=dict(image_size=32, layers=2, width=32, head_width=16, patch_size=8),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)), pretrained=None)

model = dict(
    _scope_='ovd',  # the mmdet:: base tags this dict with scope mmdet; BARON's classes live in scope ovd
    type='Baron',
    train_label_space='base',
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(depth=18, base_channels=16, frozen_stages=-1, norm_eval=False, init_cfg=None, norm_cfg=norm_cfg),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32, anchor_generator=dict(scales=[4], ratios=[0.5, 1.0, 2.0])),
    roi_head=dict(
        type='BaronRoIHead',
        clip=tiny_clip,
        distill=dict(bag_weight=1.0, single_weight=0.1, bag_temp=30.0, single_temp=50.0, queue_length=64,
                     seeds=dict(topk=50, use_gt=True),
                     sampling=dict(max_groups=3, max_permutations=2)),
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(
            _delete_=True, type='BaronBBoxHead', num_words=6, word_dim=32,
            class_embeddings=dict(vocabulary='ov_coco', templates='single', cache=False),
            base_classes='ov_coco', num_classes=65, cls_temp=50.0,
            in_channels=32, num_shared_fcs=2, fc_out_channels=64, roi_feat_size=7,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(score_thr=0.01, max_per_img=50)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='OVCocoDataset', data_root=data_root, vocabulary='ov_coco', category_split='base',
        unknown_categories='drop', ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'), filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OVCocoDataset', data_root=data_root, vocabulary='ov_coco', unknown_categories='drop',
        ann_file='annotations/instances_val2017.json', data_prefix=dict(img='val2017/'), test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVDetectionMetric', protocol='ov-coco-65', iou_types=('bbox',),
                     ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=40, val_interval=40)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)]

default_hooks = dict(logger=dict(interval=5), visualization=dict(draw=False),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=40))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(enable=False, base_batch_size=4)
