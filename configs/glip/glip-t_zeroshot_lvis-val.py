# GLIP-T zero-shot on LVIS v1 val (19.8k images) with Fixed AP, as the official evaluation scores val and minival
# alike (DATASETS.LVIS_USE_NORMAL_AP = False; the README runs val with the minival command and
# --task_config configs/lvis/val.yaml). The 1203 names run as 31 prompts of 40; 300 detections per prompt, all
# prompts kept (<= 31 x 300 per image) so the 10,000-per-class cap decides. Boxes are written as the official
# LVIS path does (xyxy -> xywh without +1).
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

lvis_ann = _base_.data + 'lvis/annotations/lvis_v1_val.json'
model = dict(test_cfg=dict(max_per_img=300, merged_max_per_img=-1, chunk_size=40, box_end_offset=0))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=_base_.data,
                 ann_file='lvis/annotations/lvis_v1_val.json', data_prefix=dict(img='coco/'), test_mode=True,
                 name_rule=_base_.name_rule,
                 pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='lvis-fixed', ann_file=lvis_ann)
test_evaluator = val_evaluator
