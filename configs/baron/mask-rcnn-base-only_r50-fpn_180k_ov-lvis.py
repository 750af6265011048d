# Base-only baseline (Mask R-CNN; ovdet's faster_rcnn / mask_rcnn configs) of baron-kd_r50-fpn_180k_ov-lvis.py:
# the same detector, pseudo-word classifier and schedule, trained on base classes only, without bags of
# regions (no distillation, no CLIP teacher).
_base_ = ['./_base_/baron-kd_mask-rcnn_r50-fpn_ov-lvis.py', '../_base_/datasets/ov_lvis.py',
          './_base_/schedule_180k.py', '../_base_/default_runtime.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(dataset=dict(with_mask=True, pipeline=train_pipeline)))
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='lvis', iou_types=('bbox', 'segm'),
                     ann_file='data/lvis/annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
load_from = 'checkpoints/res50_fpn_soco_star_400.pth'
model = dict(roi_head=dict(distill=None))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=30000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
