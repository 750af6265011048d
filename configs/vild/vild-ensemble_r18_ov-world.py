# ViLD-ensemble on the synthetic open-vocabulary world: vild_r18_ov-world.py plus a second box head of the same
# architecture trained only by distillation (the image head); at test time the class scores are the weighted
# geometric mean of the two heads, 2/3 on the text head for base classes and 2/3 on the image head for novel ones
# (the paper's recipe, configs/vild/vild-ensemble_r50-fpn_lsj-180k_ov-lvis.py). Same region cache as ViLD.
_base_ = ['./vild_r18_ov-world.py']

model = dict(
    roi_head=dict(
        image_head=dict(
            type='ViLDBBoxHead', in_channels=32, roi_feat_size=7, with_reg=False,
            num_shared_convs=1, num_shared_fcs=1, conv_out_channels=32, fc_out_channels=128,
            norm_cfg={{_base_.norm_cfg}}),
        ensemble_weight=2 / 3))
