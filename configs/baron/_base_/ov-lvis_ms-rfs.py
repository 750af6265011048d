# OV-LVIS as ovdet trains BARON (configs/_base_/datasets/lvis_v1_ovd_kd.py): multi-scale training (shorter side
# 640..800 in steps of 32, :11-15,25-29), masks loaded, and repeat-factor sampling at 0.001 (:40,52), stated here
# so BARON keeps it whatever the shared OV-LVIS dataset config does.
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
