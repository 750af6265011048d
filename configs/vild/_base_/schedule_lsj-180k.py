# ViLD's training recipe (official vild_resnet.yaml): 180k iterations at batch 256 (about 460 LVIS epochs), SGD
# momentum 0.9, lr 0.32 with 1k linear warm-up from 0.0032, x0.1 at 162k and 171k, weight decay 4e-5 on weights
# only (not on norms and biases). The yaml lists three steps (162k, 171k, 175.5k) but only two rates
# (0.032, 0.0032); the official step schedule zips them (learning_rates.py:41-44), so the third step never fires.
# The large-scale jittering pipeline lives in the dataset part of each config.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=180000, val_interval=180000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.32, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=180000, milestones=[162000, 171000],
         gamma=0.1),
]
# 256 = e.g. 32 GPUs x 8 images; `mim train ... --auto-scale-lr` scales lr 0.32 to the batch actually used
auto_scale_lr = dict(enable=False, base_batch_size=256)
