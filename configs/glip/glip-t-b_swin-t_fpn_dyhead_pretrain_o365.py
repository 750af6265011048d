# GLIP-T (B): GLIP-T (A) plus deep fusion (X-MHA + BERT layers in the 6 DyHead blocks), Objects365 (GLIP Table 1).
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

model = dict(bbox_head=dict(early_fuse=True))
# GLIP samples Objects365 class-aware (see the base); `sampler=_base_.uniform_sampler` samples images uniformly.
train_dataloader = dict(sampler=_base_.o365_class_aware_sampler)
