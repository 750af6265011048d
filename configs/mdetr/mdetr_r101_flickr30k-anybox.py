# Flickr30k Entities phrase grounding, any-box protocol, ResNet-101 (Kamath et al. 2021, Table 2; official
# .github/flickr.md): the pre-trained model is evaluated directly (load the pre-training checkpoint, e.g. the
# official one converted with scripts/convert_mdetr_checkpoint.py); the training part fine-tunes on Flickr30k.
# Published test R@1/5/10: 83.4 / 93.5 / 95.3.
_base_ = ['../_base_/default_runtime.py', './_base_/mdetr_r101.py', './_base_/grounding_data.py']

data_root = _base_.data
ann_root = 'mdetr_annotations/'  # relative to data_root
gt_type = 'separateGT'  # one box per annotated box (any-box); mergedGT for merged-box
img_prefix = dict(img='flickr30k_entities/flickr30k-images/')
# Evaluation reads the raw release as the official evaluator does (datasets/flickr_eval.py reads Sentences/ and
# Annotations/; boxes are the XML integers as written); the protocol decides any-box or merged-box.
release_root = data_root + 'flickr30k_entities/'
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='MDETRFlickr30kDataset', data_root=data_root,
                 ann_file=ann_root + f'final_flickr_{gt_type}_train.json', data_prefix=img_prefix,
                 filter_cfg=dict(filter_empty_gt=True), pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='Flickr30kEntitiesDataset', data_root=release_root, ann_file='val.txt',
                 data_prefix=dict(img='flickr30k-images/'), test_mode=True, pipeline={{_base_.test_pipeline}}))
test_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='Flickr30kEntitiesDataset', data_root=release_root, ann_file='test.txt',
                 data_prefix=dict(img='flickr30k-images/'), test_mode=True, pipeline={{_base_.test_pipeline}}))
val_evaluator = dict(type='Flickr30kRecallMetric', protocol='any-box', topk=(1, 5, 10))
test_evaluator = val_evaluator

max_epochs = 40
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='MDETRLR', lr_drop=35, max_epochs=max_epochs, warmup_fraction=0.01, begin=0,
                        end=max_epochs, by_epoch=True, convert_to_iter_based=True)]
auto_scale_lr = dict(enable=False, base_batch_size=64)
randomness = dict(seed=42)
