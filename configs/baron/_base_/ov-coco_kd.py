# OV-COCO for BARON-KD as ovdet trains it (configs/_base_/datasets/coco_ovd_kd.py): each batch of 4 images per GPU
# holds 2 detection images (base annotations, filter_empty_gt) and 2 distillation images (filter_empty_gt=False: also
# images without base boxes), drawn by mmdet's GroupMultiSourceSampler from the same annotation file and packed into
# the branches det_batch / kd_batch (mmdet MultiBranch; BaronDataPreprocessor pads each branch on its own).
# Single-scale training (1333, 800), as ovdet's configs/_base_/datasets/coco_ovd_kd.py for the R50-C4 config.
_base_ = '../../_base_/datasets/ov_coco.py'

train_scales = [(1333, 800)]
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'text')
branch_field = ['det_batch', 'kd_batch']
augment = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
train_images = dict(type='OVCocoDataset', data_root='data/coco/', vocabulary='ov_coco', category_split='base',
                    ann_file='annotations/instances_train2017_ov_base.json', data_prefix=dict(img='train2017/'),
                    backend_args=None)
batch_split = [2, 2]  # detection, distillation images per GPU
train_dataloader = dict(
    batch_size=sum(batch_split), num_workers=sum(batch_split),
    sampler=dict(_delete_=True, type='GroupMultiSourceSampler', batch_size=sum(batch_split), source_ratio=batch_split),
    batch_sampler=None,
    dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
        dict(train_images, filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=augment + [
            dict(type='MultiBranch', branch_field=branch_field,
                 det_batch=dict(type='PackDetInputs', meta_keys=meta_keys))]),
        dict(train_images, filter_cfg=dict(filter_empty_gt=False), pipeline=augment + [
            dict(type='MultiBranch', branch_field=branch_field,
                 kd_batch=dict(type='PackDetInputs', meta_keys=meta_keys))]),
    ]))
