# GLIP-T (A): Swin-T + DyHead with the alignment loss, no deep fusion, pre-trained on Objects365 (GLIP Table 1;
# official configs/pretrain/glip_A_Swin_T_O365.yaml). Schedule, optimiser and data in the base.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

model = dict(bbox_head=dict(early_fuse=False))
# GLIP samples Objects365 class-aware (see the base); `sampler=_base_.uniform_sampler` samples images uniformly.
train_dataloader = dict(sampler=_base_.o365_class_aware_sampler)
