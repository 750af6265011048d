# Flickr30k Entities, any-box protocol, EfficientNet-B5 (Kamath et al. 2021, Table 2). Published test
# R@1/5/10: 84.3 / 93.9 / 95.8.
_base_ = ['./mdetr_r101_flickr30k-anybox.py']

model = dict(
    backbone=dict(_delete_=True, type='TimmBackbone', model_name='tf_efficientnet_b5.ns_jft_in1k',
                  pretrained=True, out_indices=(4, ), freeze_bn=True),
    neck=dict(in_channels=[512]))
optim_wrapper = dict(paramwise_cfg=dict(backbone_lr=5e-5))
