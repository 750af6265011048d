# GLIP-L zero-shot on LVIS v1 minival, Fixed AP (GLIP Table 2).
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

lvis = _base_.data + 'coco/'
model = dict(
    backbone=dict(embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48], window_size=12,
                  drop_path_rate=0.4, pretrain_img_size=384),
    neck=dict(in_channels=[384, 768, 1536]),
    bbox_head=dict(early_fuse=True, num_dyhead_blocks=8),
    test_cfg=dict(max_per_img=300, merged_max_per_img=-1, chunk_size=40, box_end_offset=0))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis,
                 ann_file='annotations/lvis_v1_minival_inserted_image_name.json', data_prefix=dict(img=''),
                 test_mode=True, name_rule=_base_.name_rule, pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='lvis-fixed',
                     ann_file=lvis + 'annotations/lvis_v1_minival_inserted_image_name.json')
test_evaluator = val_evaluator
