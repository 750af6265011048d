# LVIS v1 data for MDETR fine-tuning and Fixed AP evaluation (Kamath et al. 2021, Sec. 4.4; official
# .github/lvis.md). Training turns each detection sample into a grounding caption of its categories plus
# sampled negative names (the shared detection-to-grounding prompt, ovd.data.transforms); evaluation keeps the
# vocabulary's 1203 names in `text` and the model runs one caption per name. Evaluation set: LVIS v1
# "minival", the val images not in COCO train2017 (`ovd prepare lvis-minival`), Fixed AP (Dave et al. 2021).
backend_args = None
train_scales = [(1333, s) for s in range(480, 801, 32)]
lvis_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='DetectionToGroundingPrompt', training=True, max_tokens=255, tokenizer='roberta-base'),
    dict(type='PackGroundingInputs'),
]
lvis_test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackGroundingInputs'),
]
lvis_val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LVISV1Dataset', data_root='data/coco/',
                 ann_file='data/lvis/annotations/lvis_v1_minival.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=lvis_test_pipeline))
lvis_evaluator = dict(type='OVDetectionMetric', ann_file='data/lvis/annotations/lvis_v1_minival.json',
                      protocol='lvis-fixed')
