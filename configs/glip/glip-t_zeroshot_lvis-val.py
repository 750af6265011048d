# GLIP-T zero-shot on LVIS v1 val (19.8k images), standard LVIS AP (300 detections per image), 31 prompts of 40 names.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

lvis = _base_.data + 'lvis/'
model = dict(test_cfg=dict(max_per_img=300, chunk_size=40, score_thr=0.0))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis, ann_file='annotations/lvis_v1_val.json',
                 data_prefix=dict(img=''), test_mode=True, name_rule=_base_.name_rule,
                 pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='lvis',
                     ann_file=lvis + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
