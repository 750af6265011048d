# ViLD-ensemble on OV-COCO (48 base / 17 novel), R50-FPN: text head + image head, geometric-mean scores.
# Everything but the second head is ViLD's OV-COCO config (region cache, pipeline, schedule).
_base_ = './vild_r50-fpn_lsj-180k_ov-coco.py'

model = dict(
    roi_head=dict(
        image_head=dict(  # ViLD-ensemble: a second head of the same architecture, trained only by distillation
            type='ViLDBBoxHead', in_channels=256, roi_feat_size=7, with_reg=False,
            num_shared_convs=4, num_shared_fcs=2, conv_out_channels=256, fc_out_channels=1024,
            norm_cfg={{_base_.norm_cfg}}),
        ensemble_weight=2 / 3))
