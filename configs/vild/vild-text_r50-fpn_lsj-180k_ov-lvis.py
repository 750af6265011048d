# ViLD-text on OV-LVIS (train: 866 base classes; test: 1203, APr on the 337 rare = novel), R50-FPN, paper recipe.
# Region embeddings are classified against CLIP ViT-B/32 text embeddings (63 ViLD prompts) + a learned background.
# Paper (Gu et al., ICLR 2022, R50): see configs/vild/README.md for the published numbers.
_base_ = [
    './_base_/vild-mask-rcnn_r50-fpn.py', './_base_/schedule_lsj-180k.py', './_base_/ov-lvis_lsj-1024.py',
    '../_base_/default_runtime.py',
]
image_size = (1024, 1024)

model = dict(
    data_preprocessor=dict(batch_augments=[dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)]),
    roi_head=dict(distill_weight=0.0))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
