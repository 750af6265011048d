# MDETR pre-training with EfficientNet-B5 (Noisy Student, timm 'tf_efficientnet_b5.ns_jft_in1k'), backbone
# learning rate 5e-5 (official .github/pretrain.md for the EfficientNet backbones); the rest as the R101
# config.
_base_ = ['./mdetr_r101_pretrain-flickr-mixed.py']

model = dict(
    backbone=dict(_delete_=True, type='TimmBackbone', model_name='tf_efficientnet_b5.ns_jft_in1k',
                  pretrained=True, out_indices=(4, ), freeze_bn=True),
    neck=dict(in_channels=[512]))
optim_wrapper = dict(paramwise_cfg=dict(backbone_lr=5e-5))
