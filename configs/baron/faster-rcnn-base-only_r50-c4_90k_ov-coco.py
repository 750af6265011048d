# Base-only baseline (Faster R-CNN; ovdet's faster_rcnn / mask_rcnn configs) of baron-kd_r50-c4_90k_ov-coco.py:
# the same detector, pseudo-word classifier and schedule, trained on base classes only, without bags of
# regions (no distillation, no CLIP teacher).
_base_ = ['./_base_/baron-kd_faster-rcnn_r50-c4_ov-coco.py', '../_base_/datasets/ov_coco.py',
          './_base_/schedule_90k.py', '../_base_/default_runtime.py']

val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='ov-coco-65', iou_types=('bbox',),
                     ann_file='data/coco/annotations/instances_val2017_ov65.json')
test_evaluator = val_evaluator
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
model = dict(roi_head=dict(distill=None))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
