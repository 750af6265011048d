# Runtime shared by every ovd config: the ovd registry scope, hooks, logging. One file, no further _base_.
default_scope = 'ovd'
# ovd.setup applies the compatibility fixes; ovd's modules register on a registry's first lookup (ovd/registry.py)
custom_imports = dict(imports=['ovd.setup'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # the loop's dataset vocabulary (metainfo) -> the model's set_vocabulary, as the evaluator gets dataset_meta
    vocabulary=dict(type='VocabularyHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
