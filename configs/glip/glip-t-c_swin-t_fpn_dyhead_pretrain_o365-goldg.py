# GLIP-T (C): deep fusion, Objects365 + GoldG (Flickr30k + mixed VG/GQA grounding, 0.8M human-annotated grounding
# boxes) mixed in one run (GLIP Table 1).
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

model = dict(bbox_head=dict(early_fuse=True))
train_dataloader = dict(
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[_base_.o365, _base_.flickr, _base_.mixed_vg]))
