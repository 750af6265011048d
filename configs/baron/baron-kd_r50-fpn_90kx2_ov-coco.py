# BARON-KD R50-FPN on OV-COCO, ovdet's "90kx2" recipe (configs/baron/ov_coco/
# baron_kd_faster_rcnn_r50_fpn_syncbn_90kx2.py; 16 GPUs in the ovdet README): lr 0.04, weight decay 2.5e-5, AMP,
# no gradient clipping, 90k iterations, multi-scale training, boxes cache from iteration 20000 (ovdet README: novel
# AP50 34.6; paper 34.0). Results depend on GPUs x images per GPU (batch statistics of SyncBN, in-batch negatives
# of the InfoNCE losses): see the README caveat (ovdet #11, #24).
# Needs checkpoints/res50_fpn_soco_star_400.pth (SOCO pre-training, from the ovdet README) and CLIP ViT-B/32.
_base_ = ['./_base_/baron-kd_faster-rcnn_r50-fpn_ov-coco.py', './_base_/ov-coco_kd-ms.py',
          './_base_/schedule_90k.py', '../_base_/default_runtime.py']

val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='ov-coco-65', iou_types=('bbox',),
                     ann_file='data/coco/annotations/instances_val2017_ov65.json')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=0.04, weight_decay=2.5e-5))
auto_scale_lr = dict(base_batch_size=32)
load_from = 'checkpoints/res50_fpn_soco_star_400.pth'
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
