# 180k iterations, step at 120k/160k, 5k-iteration linear warm-up; SGD at lr 0.02 for 16 images per step
# (ovdet configs/_base_/schedules/schedule_180k.py).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=180000, val_interval=30000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.0002, by_epoch=False, begin=0, end=5000),
    dict(type='MultiStepLR', begin=0, end=180000, by_epoch=False, milestones=[120000, 160000], gamma=0.1),
]
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=16)
