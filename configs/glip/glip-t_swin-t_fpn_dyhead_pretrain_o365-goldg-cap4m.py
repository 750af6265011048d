# GLIP-T: Objects365 + GoldG + Cap4M (4M web image-caption pairs pseudo-labelled by a GLIP teacher; GLIP Sec. 3.3,
# Table 1). Cap4M is not public: its pseudo-grounded captions are expected in MDETR's grounding format.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

model = dict(bbox_head=dict(early_fuse=True))
train_dataloader = dict(
    dataset=dict(_delete_=True, type='ConcatDataset',
                 datasets=[_base_.o365, _base_.flickr, _base_.mixed_vg, _base_.cap4m]))
