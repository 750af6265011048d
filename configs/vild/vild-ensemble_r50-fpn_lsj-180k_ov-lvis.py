# ViLD-ensemble on OV-LVIS, R50-FPN, paper recipe: a text head and a separate image head (distillation weight
# 0.5); at test time the class scores are their geometric mean, 2/3 on the text head for base classes and 2/3 on
# the image head for novel ones. Official checkpoint: mask APr 18.0, AP 25.9 (configs/vild/README.md).
_base_ = [
    './_base_/vild-mask-rcnn_r50-fpn.py', './_base_/schedule_lsj-180k.py', './_base_/ov-lvis_lsj-1024.py',
    '../_base_/default_runtime.py',
]
image_size = (1024, 1024)

model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    roi_head=dict(
        distill_weight=0.5,
        image_head=dict(  # ViLD-ensemble: a second head of the same architecture, trained only by distillation
            type='ViLDBBoxHead', in_channels=256, roi_feat_size=7, with_reg=False,
            num_shared_convs=4, num_shared_fcs=2, conv_out_channels=256, fc_out_channels=1024,
            norm_cfg={{_base_.norm_cfg}}),
        ensemble_weight=2 / 3,
    ))

region_cache_root = 'data/ovd_cache/vild_ov-lvis_vit-b-32'
# ovd precompute-regions --config <this file> --shard I/N  (or as a SLURM array: --num-shards N)
region_cache = dict(
    root=region_cache_root,
    # proposals of a base-class detector (the ViLD-text model trained first)
    proposal_model=dict(config='configs/vild/vild-text_r50-fpn_lsj-180k_ov-lvis.py',
                        checkpoint='work_dirs/vild-text_r50-fpn_lsj-180k_ov-lvis/iter_180000.pth'),
    num_regions=300, rpn_nms_iou=0.7, test_scale=image_size,
    clip={{_base_.clip_model}}, crop_scales=(1.0, 1.5), chunk_size=256, batch_size=1, num_workers=4)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size, recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='LoadRegionEmbeddings', cache_root=region_cache_root, num_regions=300),  # official max_num_rois
    dict(type='PackRegionDetInputs'),
]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
