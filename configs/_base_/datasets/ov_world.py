# The synthetic open-vocabulary world (docs/ov_world.md): 32 categories named by their looks, 24 base (LVIS
# frequency c/f) and 8 novel (r). Train boxes are base only; val has every category, evaluated with the 'lvis'
# protocol, whose AP50_novel / AP50_base are AP50 over the rare (novel) and common+frequent (base) categories.
# Data: `ovd synth --dataset ov-world --out data/synthetic/ov_world` (also pretrains the world's tiny CLIP,
# published at clip/current). OVD_DATA_ROOT (default: data) moves it.
dataset_type = 'OVLVISDataset'
data_root = '{{$OVD_DATA_ROOT:data}}/synthetic/ov_world/'
world_clip = dict(model_name='local-dir:{{$OVD_DATA_ROOT:data}}/synthetic/ov_world/clip/current', pretrained=None)
image_scale = (192, 192)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'flip', 'flip_direction', 'text')),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                          'text', 'neg_category_ids', 'not_exhaustive_category_ids')),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='ov_world', category_split='base',
        ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, vocabulary='ov_world',
        ann_file='annotations/lvis_v1_val.json', data_prefix=dict(img=''),
        test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='OVDetectionMetric', protocol='lvis',
                     ann_file=data_root + 'annotations/lvis_v1_val.json', backend_args=backend_args)
test_evaluator = val_evaluator
