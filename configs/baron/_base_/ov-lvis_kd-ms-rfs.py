# OV-LVIS for BARON-KD as ovdet trains it (configs/_base_/datasets/lvis_v1_ovd_kd.py): each batch of 4 images per GPU
# holds 2 detection images (base annotations) and 2 distillation images (filter_empty_gt=False), both sources with
# repeat-factor sampling at 0.001 (:40,52), drawn by mmdet's GroupMultiSourceSampler and packed into the branches
# det_batch / kd_batch (mmdet MultiBranch; BaronDataPreprocessor pads each branch on its own). Masks loaded;
# multi-scale training: shorter side 640..800 in steps of 32 (:11-15,25-29).
_base_ = '../../_base_/datasets/ov_lvis.py'

train_scales = [(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)]
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'text')
branch_field = ['det_batch', 'kd_batch']
augment = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
train_images = dict(type='OVLVISDataset', data_root='data/', vocabulary='ov_lvis', category_split='base',
                    ann_file='lvis/annotations/lvis_v1_train_ov_base.json', data_prefix=dict(img='coco/'),
                    with_mask=True, backend_args=None)
batch_split = [2, 2]  # detection, distillation images per GPU
train_dataloader = dict(
    batch_size=sum(batch_split), num_workers=sum(batch_split),
    sampler=dict(_delete_=True, type='GroupMultiSourceSampler', batch_size=sum(batch_split), source_ratio=batch_split),
    batch_sampler=None,
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
        dict(type='ClassBalancedDataset', oversample_thr=1e-3, dataset=dict(
            train_images, filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=augment + [
                dict(type='MultiBranch', branch_field=branch_field,
                     det_batch=dict(type='PackDetInputs', meta_keys=meta_keys))])),
        dict(type='ClassBalancedDataset', oversample_thr=1e-3, dataset=dict(
            train_images, filter_cfg=dict(filter_empty_gt=False), pipeline=augment + [
                dict(type='MultiBranch', branch_field=branch_field,
                     kd_batch=dict(type='PackDetInputs', meta_keys=meta_keys))])),
    ]))
val_evaluator = dict(iou_types=('bbox', 'segm'))
test_evaluator = val_evaluator
