# 90k iterations, step at 60k/80k, 1k-iteration linear warm-up; SGD at lr 0.02 for 16 images per step
# (ovdet configs/_base_/schedules/schedule_90k.py). Leaf configs scale lr / set AMP and gradient clipping.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=90000, by_epoch=False, milestones=[60000, 80000], gamma=0.1),
]
optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
auto_scale_lr = dict(enable=False, base_batch_size=16)
