# Open-vocabulary COCO (OVR-CNN split: 48 base / 17 novel; 15 classes excluded), protocol 'ov-coco-65'.
# Train: base annotations only (`ovd prepare coco-ov` -> instances_train2017_ov_base.json; vocabulary
# 'ov_coco:base', 48 classes). Evaluate: the 65 OV classes on val2017 (instances_val2017_ov65.json; vocabulary
# 'ov_coco'), AP50 on novel / base / all. For the 'ov-coco-80' protocol use vocabulary='ov_coco_80' with the
# original instances_val2017.json.
# Evaluator: the evaluation layer's 'ov-coco-65' protocol (AP50 novel/base/all; for 'ov-coco-80' use
# vocabulary='ov_coco_80', the original instances_val2017.json and protocol='ov-coco-80').
dataset_type = 'OVCocoDataset'
data_root = '{{$OVD_DATA_ROOT:data}}/coco/'
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'flip', 'flip_direction', 'text')),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'text')),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='ov_coco', category_split='base',
        ann_file='annotations/instances_train2017_ov_base.json', data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='ov_coco',
        ann_file='annotations/instances_val2017_ov65.json', data_prefix=dict(img='val2017/'),
        test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='OVDetectionMetric', protocol='ov-coco-65',
                     ann_file=data_root + 'annotations/instances_val2017_ov65.json',
                     backend_args=backend_args)
test_evaluator = val_evaluator
