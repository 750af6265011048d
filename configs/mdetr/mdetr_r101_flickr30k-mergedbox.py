# Flickr30k Entities, merged-box protocol (one box enclosing all boxes of a phrase), ResNet-101: trained on
# the merged ground truth (official .github/flickr.md, GT_type "merged"). Published test R@1/5/10: 83.8 / 92.7
# / 94.4.
_base_ = ['./mdetr_r101_flickr30k-anybox.py']

ann_root = 'mdetr_annotations/'  # relative to the datasets' data_root
train_dataloader = dict(dataset=dict(ann_file=ann_root + 'final_flickr_mergedGT_train.json'))
val_evaluator = dict(type='Flickr30kRecallMetric', protocol='merged-box', topk=(1, 5, 10))
test_evaluator = val_evaluator
