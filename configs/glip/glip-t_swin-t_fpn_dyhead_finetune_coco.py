# GLIP-T fine-tuned on COCO train2017 (GLIP Table 2, "fine-tune" column): from the converted GLIP-T checkpoint
# (scripts/convert_glip_checkpoint.py), 80-name prompts without negatives, 2x schedule (24 epochs, decay at 16, 22),
# AdamW lr 2e-5, weight decay 0.05, no decay on norms and Swin's position tables (mmdet 3.3's GLIP fine-tune recipe).
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

load_from = 'checkpoints/glip_tiny_model_o365_goldg_cc_sbu_ovd.pth'
coco = _base_.data + 'coco/'
model = dict(train_cfg=dict(num_negatives=0), test_cfg=dict(chunk_size=80, max_per_img=100))
train_dataloader = dict(
    batch_size=2,
    dataset=dict(_delete_=True, type='CocoDetDataset', data_root=coco, ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'), filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 name_rule=_base_.name_rule, pipeline=_base_.train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-5, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'absolute_pos_embed': dict(decay_mult=0.),
                                    'relative_position_bias_table': dict(decay_mult=0.),
                                    'norm': dict(decay_mult=0.)}))
max_epochs = 24
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs, milestones=[16, 22], gamma=0.1),
]
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='coco',
                     ann_file=coco + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
auto_scale_lr = dict(enable=False, base_batch_size=32)
