# OV-LVIS in one batch of 2 images per GPU, for the base-only baseline (ovdet configs/_base_/datasets/
# lvis_v1_ovd_base.py on mmdet's lvis_v1_instance.py): multi-scale training (shorter side 640..800 in steps of 32),
# masks loaded, repeat-factor sampling at 0.001, stated here so BARON keeps it whatever the shared OV-LVIS dataset
# config does. BARON-KD uses ov-lvis_kd-ms-rfs.py (separate detection and distillation images).
_base_ = '../../_base_/datasets/ov_lvis.py'

train_scales = [(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'flip', 'flip_direction', 'text')),
]
train_dataloader = dict(dataset=dict(
    _delete_=True, type='ClassBalancedDataset', oversample_thr=1e-3,
    dataset=dict(
        type='OVLVISDataset', data_root='data/', vocabulary='ov_lvis', category_split='base',
        ann_file='lvis/annotations/lvis_v1_train_ov_base.json', data_prefix=dict(img='coco/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32), with_mask=True, pipeline=train_pipeline,
        backend_args=None)))
val_evaluator = dict(iou_types=('bbox', 'segm'))
test_evaluator = val_evaluator
