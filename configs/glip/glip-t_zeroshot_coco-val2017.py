# GLIP-T zero-shot on COCO val2017 (GLIP Table 2): the 80 names fit in one 256-token prompt; 100 detections per image.
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

model = dict(test_cfg=dict(chunk_size=80, max_per_img=100))
val_evaluator = dict(_delete_=True, type='OVDetectionMetric', protocol='coco',
                     ann_file=_base_.data + 'coco/annotations/instances_val2017.json')
test_evaluator = val_evaluator
