# BARON-KD Mask R-CNN R50-FPN on OV-LVIS, ovdet's "45kx4" recipe (configs/baron/ov_lvis/
# baron_kd_mask_rcnn_r50_fpn_syncbn_45kx4_lvis.py): 45k iterations at lr 0.08 (0.02 x 4), weight decay 2.5e-5,
# AMP, gradient clipping 35, multi-scale training, repeat-factor sampling 0.001, DetPro class embeddings
# (data/metadata/lvis_v1_clip_detpro.npy from the ovdet repository). Needs checkpoints/res50_fpn_soco_star_400.pth.
_base_ = ['./_base_/baron-kd_mask-rcnn_r50-fpn_ov-lvis.py', './_base_/ov-lvis_kd-ms-rfs.py',
          './_base_/schedule_45k.py', '../_base_/default_runtime.py']

load_from = 'checkpoints/res50_fpn_soco_star_400.pth'
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
