# Zero-shot transfer to LVIS v1 minival (the val images not in COCO train2017, `ovd prepare lvis-minival`;
# ~5k images, the split MDETR and GLIP report): evaluation only, all 1203 classes (vocabulary 'lvis_v1').
# Evaluators: Fixed AP (Dave et al., 2021; the number GLIP and MDETR report for zero-shot LVIS) and the
# standard LVIS AP, both from the evaluation layer (metric prefixes 'lvis-fixed' and 'lvis').
dataset_type = 'LVISV1Dataset'
data_root = '{{$OVD_DATA_ROOT:data}}/'
lvis_ann_file = 'lvis/annotations/lvis_v1_minival.json'
backend_args = None

test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'text', 'neg_category_ids', 'not_exhaustive_category_ids')),
]
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='lvis_v1',
        ann_file=lvis_ann_file, data_prefix=dict(img='coco/'),
        test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='OVDetectionMetric', protocol=protocol, ann_file=data_root + lvis_ann_file,
         backend_args=backend_args) for protocol in ('lvis-fixed', 'lvis')
]
test_evaluator = val_evaluator
