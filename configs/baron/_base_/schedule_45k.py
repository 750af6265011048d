# 45k iterations, step at 30k/40k, 1k-iteration linear warm-up from 0.001 (ovdet
# configs/_base_/schedules/schedule_45k.py:2,9,15). ovdet's OV-LVIS config sets lr 0.02 * 4 = 0.08, weight decay
# 2.5e-5, gradient clipping 35 and AMP (configs/baron/ov_lvis/baron_kd_mask_rcnn_r50_fpn_syncbn_45kx4_lvis.py:126-128).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=45000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=45000, by_epoch=False, milestones=[30000, 40000], gamma=0.1),
]
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.08, momentum=0.9, weight_decay=2.5e-5),
                     clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=16)
