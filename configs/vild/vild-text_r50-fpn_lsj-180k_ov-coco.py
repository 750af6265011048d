# ViLD-text on OV-COCO (48 base / 17 novel classes, protocol ov-coco-65: box AP50 novel/base/all), R50-FPN.
# OV-COCO recipe: the released ViLD configs cover LVIS only; we keep the LVIS architecture and schedule.
_base_ = [
    './_base_/vild-mask-rcnn_r50-fpn.py', './_base_/schedule_lsj-180k.py', './_base_/ov-coco_lsj-1024.py',
    '../_base_/default_runtime.py',
]
image_size = (1024, 1024)

model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=image_size)]),
    roi_head=dict(
        distill_weight=0.0,
        bbox_head=dict(num_classes=65, class_embeddings=dict(vocabulary='ov_coco'), base_classes='ov_coco'),
        mask_roi_extractor=None, mask_head=None))  # OV-COCO is evaluated on boxes: no mask branch

default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
