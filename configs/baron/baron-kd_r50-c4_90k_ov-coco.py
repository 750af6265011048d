# BARON-KD R50-C4 on OV-COCO (ovdet configs/baron/ov_coco/baron_kd_faster_rcnn_r50_caffe_c4_90k.py; 8 GPUs in the
# ovdet README): lr 0.02, weight decay 1e-4, AMP, gradient clipping 35, 90k iterations, single-scale training
# (ovdet README: novel AP50 34.0 with CLIP distillation; the paper's C4 row, 33.1, is caption supervision).
# ImageNet caffe-style ResNet-50 (mmdet's detectron2 weights, as the base config's init_cfg).
_base_ = ['./_base_/baron-kd_faster-rcnn_r50-c4_ov-coco.py', './_base_/ov-coco_kd.py',
          './_base_/schedule_90k.py', '../_base_/default_runtime.py']

val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='ov-coco-65', iou_types=('bbox',),
                     ann_file='data/coco/annotations/instances_val2017_ov65.json')
test_evaluator = val_evaluator
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
