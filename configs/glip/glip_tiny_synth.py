# Tiny GLIP for CPU: the real GLIPDetector code path (Swin, FPN, VL-DyHead with deep fusion, token alignment loss,
# chunked inference) at toy sizes, trained on mixed synthetic detection (COCO) + grounding (Flickr30k) data and
# evaluated on synthetic LVIS (APr/AP) and Flickr30k (R@k). Trains in seconds.
# Data: `ovd synth --out data/synthetic` (OVD_DATA_ROOT overrides data/); the tiny BERT directory is written by
# `python -c "from ovd.data.synthetic.tiny_text import save_tiny_bert; save_tiny_bert('data/synthetic/tiny_bert')"`.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/'
lang_model_name = data_root + 'tiny_bert'
image_scale = (128, 96)

model = dict(
    max_tokens=256,
    backbone=dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=4, drop_path_rate=0.0),
    neck=dict(in_channels=[32, 64, 128], out_channels=32),
    bbox_head=dict(
        lang_model_name=lang_model_name, num_dyhead_blocks=2, in_channels=32, feat_channels=32,
        fusion_cfg=dict(fusion_embed_dim=64, fusion_num_heads=4)),
    language_model=dict(name=lang_model_name, max_tokens=256),
    train_cfg=dict(num_negatives=8),
    # LVIS and Flickr30k evaluation: boxes written as the official LVIS/Flickr30k paths do (no +1)
    test_cfg=dict(nms_pre=200, score_thr=0.0, max_per_img=100, chunk_size=40, box_end_offset=0))

det_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='InclusivePixelBoxes'),  # GLIP's box convention (see the base config)
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip_GLIP', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    # detection -> grounding: the image's classes plus sampled negatives (GLIP's recipe, 85 at full size)
    dict(type='DetectionToGroundingPrompt', training=True, num_negatives=8, max_tokens=256,
         tokenizer=lang_model_name),
    dict(type='PackGroundingInputs'),
]
grounding_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='InclusivePixelBoxes'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
    dict(type='PackGroundingInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    # annotations loaded after the resize stay in original pixels (what the grounding recall metric expects)
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackGroundingInputs'),
]

train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=0, persistent_workers=False,
    # 16 samples an epoch, half detection, half grounding
    sampler=dict(type='MixedRatioSampler', ratios=[1, 1], num_samples=16, seed=0),
    dataset=dict(
        type='MixedSourceDataset', source_names=['coco', 'flickr30k'],
        datasets=[
            dict(type='CocoDetDataset', data_root=data_root + 'coco/', ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'), filter_cfg=dict(filter_empty_gt=True, min_size=4),
                 name_rule=_base_.name_rule, pipeline=det_train_pipeline),
            dict(type='Flickr30kEntitiesDataset', data_root=data_root + 'flickr30k/', ann_file='train.txt',
                 pipeline=grounding_train_pipeline),
        ]))
# Evaluation on two sources at once: synthetic LVIS val (all its classes, 'lvis' protocol: AP, APr/APc/APf) and
# synthetic Flickr30k val (Recall@k), one evaluator per source.
val_dataloader = dict(
    # one batch runs every prompt chunk once for all its images (the detector groups images by prompt)
    _delete_=True, batch_size=8, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        # mmdet's ConcatDataset (MultiDatasetsEvaluator needs its cumulative_sizes) compares the sources' metainfo;
        # ignoring the keys that legitimately differ keeps LVIS's (first) metainfo for the LVIS metric.
        type='mmdet.ConcatDataset', ignore_keys=['classes', 'vocabulary', 'dataset_type', 'name'],
        datasets=[
            dict(type='LVISV1Dataset', data_root=data_root + 'lvis/', ann_file='annotations/lvis_v1_val.json',
                 data_prefix=dict(img=''), test_mode=True, name_rule=_base_.name_rule, pipeline=test_pipeline),
            dict(type='Flickr30kEntitiesDataset', data_root=data_root + 'flickr30k/', ann_file='val.txt',
                 test_mode=True, pipeline=test_pipeline),
        ]))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='MultiDatasetsEvaluator', dataset_prefixes=['lvis', 'flickr30k'],
    metrics=[dict(type='OVDetectionMetric', protocol='lvis', ann_file=data_root + 'lvis/annotations/lvis_v1_val.json'),
             dict(type='Flickr30kRecallMetric', protocol='any-box', topk=(1, 5, 10))])
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=1e-4))
max_epochs = 3
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)]
default_hooks = dict(logger=dict(interval=1), visualization=dict(draw=False))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
