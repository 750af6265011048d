# Open-vocabulary LVIS v1: train on the 866 base (common + frequent) classes, evaluate on all 1203 (APr on the
# 337 rare = novel ones). Train file from `ovd prepare lvis-ov` (lvis_v1_train_ov_base.json), repeat-factor
# sampling (t = 0.001) as in Detic, BARON and mmdet's LVIS configs (the released ViLD code has none, so
# configs/vild sets oversample_thr=0.0). Images are COCO's: paths come from coco_url under
# data/coco/.
# Evaluator: the evaluation layer's 'lvis' protocol (standard LVIS AP with APr/APc/APf, what ViLD, Detic and
# BARON report; add iou_types=('bbox', 'segm') for mask AP when the model predicts masks).
dataset_type = 'OVLVISDataset'
data_root = '{{$OVD_DATA_ROOT:data}}/'
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
                                          'text', 'neg_category_ids', 'not_exhaustive_category_ids')),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='ClassBalancedDataset', oversample_thr=1e-3,
        dataset=dict(
            type=dataset_type, data_root=data_root, vocabulary='ov_lvis', category_split='base',
            ann_file='lvis/annotations/lvis_v1_train_ov_base.json', data_prefix=dict(img='coco/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=train_pipeline,
            backend_args=backend_args)))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='ov_lvis',
        ann_file='lvis/annotations/lvis_v1_val.json', data_prefix=dict(img='coco/'),
        test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='OVDetectionMetric', protocol='lvis',
                     ann_file=data_root + 'lvis/annotations/lvis_v1_val.json', backend_args=backend_args)
test_evaluator = val_evaluator
