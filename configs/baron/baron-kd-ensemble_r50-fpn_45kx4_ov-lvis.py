# BARON-KD with the ensemble head on OV-LVIS (ovdet configs/baron/ov_lvis/
# baron_kd_ens_mask_rcnn_r50_fpn_syncbn_45kx4_lvis.py): a separate distillation branch (SyncBN, trained),
# combined with the detection branch at test time with lambda = 2/3; otherwise baron-kd_r50-fpn_45kx4_ov-lvis.py.
_base_ = ['./_base_/baron-kd_mask-rcnn_r50-fpn_ov-lvis.py', './_base_/ov-lvis_kd-ms-rfs.py',
          './_base_/schedule_45k.py', '../_base_/default_runtime.py']

model = dict(roi_head=dict(bbox_head=dict(type='BaronEnsembleBBoxHead', ensemble_weight=2 / 3)))
load_from = 'checkpoints/res50_fpn_soco_star_400.pth'
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
