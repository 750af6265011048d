# GLIP-L: Swin-L (window 12, ImageNet-22k 384), 8 DyHead blocks, FourODs + GoldG + Cap24M (GLIP Table 1). Official
# configs/pretrain/glip_Swin_L.yaml: AdamW lr 1e-4 (BERT 1e-5), weight decay 0.01, 1M iterations at batch 64, decay
# x0.1 at 67% / 89%, 2000 warm-up iterations. Of FourODs only Objects365 has an ovd vocabulary so far; OpenImages,
# Visual Genome and ImageNetBoxes join the ConcatDataset as CocoStyleDetDataset entries once their vocabularies exist.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

model = dict(
    backbone=dict(embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48], window_size=12,
                  drop_path_rate=0.4, pretrain_img_size=384),
    neck=dict(in_channels=[384, 768, 1536]),
    bbox_head=dict(early_fuse=True, num_dyhead_blocks=8))

cap24m = dict(
    type='MDETRFlickr30kDataset', data_root=_base_.data + 'cap24m/', ann_file='annotations/cap24m_pseudo.json',
    data_prefix=dict(img='images/'), pipeline=_base_.train_pipeline)
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[_base_.o365, _base_.flickr, _base_.mixed_vg, cap24m]))
max_iters = 1000000
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[670000, 890000], gamma=0.1),
]
