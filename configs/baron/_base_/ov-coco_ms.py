# OV-COCO in one batch of 2 images per GPU with ovdet's multi-scale training, for the base-only baseline (ovdet
# configs/_base_/datasets/coco_ovd_base_ms.py): the shorter side drawn from 640..800 in steps of 32, the longer side
# at most 1333 (mmcv RandomChoiceResize, keep_ratio). BARON-KD uses ov-coco_kd-ms.py (separate detection and
# distillation images).
_base_ = '../../_base_/datasets/ov_coco.py'

train_scales = [(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'flip', 'flip_direction', 'text')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
