# Base-only baseline (Mask R-CNN; ovdet's configs/baron/ov_lvis/mask_rcnn_r50_fpn_syncbn_45kx4_lvis.py) of
# baron-kd_r50-fpn_45kx4_ov-lvis.py: the same detector, pseudo-word classifier and schedule, trained on base
# classes only, without bags of regions (no distillation, no CLIP teacher).
_base_ = ['./_base_/baron-kd_mask-rcnn_r50-fpn_ov-lvis.py', './_base_/ov-lvis_ms-rfs.py',
          './_base_/schedule_45k.py', '../_base_/default_runtime.py']

model = dict(roi_head=dict(distill=None))
load_from = 'checkpoints/res50_fpn_soco_star_400.pth'
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
