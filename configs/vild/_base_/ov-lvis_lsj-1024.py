# OV-LVIS data for ViLD: the shared OV-LVIS dataset config (train: 866 base classes; test: all 1203 on LVIS v1
# val) with ViLD's large-scale jittering at 1024 (official vild_parser: output 1024x1024, scale 0.1-2.0, random
# flip), masks, and the evaluation layer's LVIS metric (box and mask APr/c/f, AP).
# No repeat-factor sampling: the released ViLD code samples each image uniformly. The shared config's
# ClassBalancedDataset stays, at oversample_thr=0.0, where every repeat factor is max(1, sqrt(0 / f)) = 1: each
# image once per epoch. Switch: train_dataloader.dataset.oversample_thr=1e-3 (the LVIS repeat-factor sampling).
_base_ = '../../_base_/datasets/ov_lvis.py'

image_size = (1024, 1024)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=4,  # x 32 GPUs = the paper's batch of 256
    dataset=dict(oversample_thr=0.0, dataset=dict(with_mask=True, pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='lvis', iou_types=('bbox', 'segm'),
                     ann_file='data/lvis/annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
