# Tiny MDETR on synthetic LVIS v1: detection-as-grounding training and Fixed AP evaluation with one caption
# per class name (all 1203), through the same code as mdetr_r101_lvis-*. Data: `ovd synth --dataset lvis`.
_base_ = ['./mdetr_tiny_synth-flickr30k.py', './_base_/lvis_data.py']

lvis_root = '{{$OVD_DATA_ROOT:data}}/synthetic/lvis/'
tiny_tokenizer = '{{$OVD_TINY_ROBERTA:data/synthetic/tiny_roberta}}'
model = dict(test_cfg=dict(names_per_caption=1, captions_per_batch=128, max_per_img=None))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(256, 192), keep_ratio=True),
    dict(type='DetectionToGroundingPrompt', training=True, max_tokens=255, tokenizer=tiny_tokenizer),
    dict(type='PackGroundingInputs'),
]
train_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis_root,
                 ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
                 filter_cfg=dict(filter_empty_gt=True), name_rule=_base_.name_rule, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis_root,
                 ann_file='annotations/lvis_v1_val.json', data_prefix=dict(img=''), test_mode=True,
                 name_rule=_base_.name_rule, pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='OVDetectionMetric',
                     ann_file=lvis_root + 'annotations/lvis_v1_val.json', protocol='lvis-fixed')
test_evaluator = val_evaluator
