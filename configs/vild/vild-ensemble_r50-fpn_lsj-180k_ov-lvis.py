# ViLD-ensemble on OV-LVIS, R50-FPN, paper recipe: a text head and a separate image head (distillation weight
# 0.5); at test time the class scores are their geometric mean, 2/3 on the text head for base classes and 2/3 on
# the image head for novel ones. Official checkpoint: mask APr 18.0, AP 25.9 (configs/vild/README.md).
# Everything but the second head is ViLD's OV-LVIS config (region cache, pipeline, schedule).
_base_ = './vild_r50-fpn_lsj-180k_ov-lvis.py'

model = dict(
    roi_head=dict(
        image_head=dict(  # ViLD-ensemble: a second head of the same architecture, trained only by distillation
            type='ViLDBBoxHead', in_channels=256, roi_feat_size=7, with_reg=False,
            num_shared_convs=4, num_shared_fcs=2, conv_out_channels=256, fc_out_channels=1024,
            norm_cfg={{_base_.norm_cfg}}),
        ensemble_weight=2 / 3))
