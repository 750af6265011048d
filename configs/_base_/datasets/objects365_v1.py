# Objects365 v1 (2019 release: ~600k train / 30k val images, objects365_{train,val}.json, one image folder
# per split).
# Annotation files from `ovd prepare objects365 --version v1` (objects365_v1_{train,val}_ovd.json): the
# release's category names kept (fixed names as `display_name`; vocabulary 'objects365_v1' maps by id).
# Evaluator: the evaluation layer's 'objects365' protocol (COCO AP arithmetic).
dataset_type = 'Objects365V1Dataset'
data_root = '{{$OVD_DATA_ROOT:data}}/objects365/'
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
        type=dataset_type, data_root=data_root, vocabulary='objects365_v1',
        ann_file='annotations/objects365_v1_train_ovd.json', data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='objects365_v1',
        ann_file='annotations/objects365_v1_val_ovd.json', data_prefix=dict(img='val/'),
        test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='OVDetectionMetric', protocol='objects365',
                     ann_file=data_root + 'annotations/objects365_v1_val_ovd.json', backend_args=backend_args)
test_evaluator = val_evaluator
