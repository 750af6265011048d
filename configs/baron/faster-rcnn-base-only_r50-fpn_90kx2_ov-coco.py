# Base-only baseline (Faster R-CNN; ovdet's configs/baron/ov_coco/faster_rcnn_r50_fpn_syncbn_90kx2.py) of
# baron-kd_r50-fpn_90kx2_ov-coco.py: the same detector, pseudo-word classifier and schedule, trained on base
# classes only, without bags of regions (no distillation, no CLIP teacher). As that ovdet config: background class
# weight 1 and mmdet's test score threshold 0.05.
_base_ = ['./_base_/baron-kd_faster-rcnn_r50-fpn_ov-coco.py', './_base_/ov-coco_ms.py',
          './_base_/schedule_90k.py', '../_base_/default_runtime.py']

val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='ov-coco-65', iou_types=('bbox',),
                     ann_file='data/coco/annotations/instances_val2017_ov65.json')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.04, weight_decay=2.5e-5))
auto_scale_lr = dict(base_batch_size=32)
load_from = 'checkpoints/res50_fpn_soco_star_400.pth'
model = dict(roi_head=dict(distill=None, bbox_head=dict(loss_cls=dict(class_weight=None))),
             test_cfg=dict(rcnn=dict(score_thr=0.05)))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
