# LVIS v1 evaluation data for MDETR (Kamath et al. 2021, Sec. 4.4; official .github/lvis.md and
# scripts/eval_lvis.py): the model gets the dataset's 1203-name vocabulary from its metainfo (VocabularyHook) and
# runs one caption per name. Evaluation set: LVIS v1 "minival", the val images not in COCO train2017 (`ovd prepare
# lvis-minival`), Fixed AP (Dave et al. 2021). Fine-tuning reads the official preprocessed grounding files
# (finetune_lvis{1,10}_train.json / finetune_lvis_train.json: LVIS images with captions of class names) with
# the cautious grounding augmentation of grounding_data.py (official datasets/lvis_modulation.py).
# Class names -> caption text as MDETR's code spells them (clean_name: qualifier dropped leaving a trailing space,
# '/' kept; configs/mdetr/README.md, "Fidelity: class names"). The fine-tuning files already hold that text.
name_rule = 'mdetr'
# Official evaluation input (datasets/coco.py make_coco_transforms('val') on PIL images, no EXIF rotation): shorter
# side 800, longer <= 1333, the longer side truncated (datasets/transforms.py resize), PIL bilinear.
lvis_test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation', backend_args=None),
    dict(type='TruncatingResize', sizes=800, max_size=1333, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackGroundingInputs'),
]
lvis_val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LVISV1Dataset', data_root='{{$OVD_DATA_ROOT:data}}/',
                 ann_file='lvis/annotations/lvis_v1_minival.json', data_prefix=dict(img='coco/'),
                 test_mode=True, name_rule=name_rule, pipeline=lvis_test_pipeline))
lvis_evaluator = dict(type='OVDetectionMetric', protocol='lvis-fixed',
                      ann_file='{{$OVD_DATA_ROOT:data}}/lvis/annotations/lvis_v1_minival.json')
