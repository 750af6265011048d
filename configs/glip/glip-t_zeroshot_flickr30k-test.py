# GLIP-T phrase grounding on Flickr30k Entities test (GLIP Table 3): each caption is one prompt, each phrase a label;
# Recall@1/5/10, any-box protocol (a phrase counts as found when a predicted box hits any of its boxes at IoU 0.5).
_base_ = ['./_base_/glip_swin-t_fpn_dyhead.py']

# Official post-processing with 100 detections per caption; boxes as the official Flickr30k path writes them
# (xyxy, no +1: flickr_post_process, flickr_eval.py box_iou).
model = dict(test_cfg=dict(max_per_img=100, box_end_offset=0))
# Ground-truth boxes stay in original-image pixels (annotations loaded after the resize) for the recall metric.
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', color_type='color_ignore_orientation'),
    dict(type='TruncatingResize', sizes=800, max_size=1333, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=_base_.meta_keys + ('phrase_ids', 'phrase_types', 'sentence_id')),
]
val_dataloader = dict(
    # the raw release, as the official evaluator reads it (flickr_eval.py: Sentences/ and Annotations/, the XML
    # integers as written); each sentence is one prompt and each of its boxed phrases a label
    dataset=dict(_delete_=True, type='Flickr30kEntitiesDataset', data_root=_base_.data + 'flickr30k_entities/',
                 ann_file='test.txt', data_prefix=dict(img='flickr30k-images/'), test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='Flickr30kRecallMetric', protocol='any-box', topk=(1, 5, 10))
test_evaluator = val_evaluator
