# MDETR pre-training, ResNet-101 (Kamath et al., ICCV 2021, Sec. 3 and Appendix; official
# configs/pretrain.json and .github/pretrain.md): Flickr30k Entities + the "mixed" COCO/Visual Genome/GQA
# grounding data, 40 epochs, batch 64 (32 GPUs x 2), lr drop at epoch 35, EMA 0.9998 (in the model base).
# Data (the official preprocessed annotations, github.com/ashkamath/mdetr .github/pretrain.md):
#   data/mdetr_annotations/final_flickr_separateGT_train.json, final_mixed_train_no_coco.json,
#   data/flickr30k_entities/flickr30k-images/, data/coco/train2014/, data/gqa/images/.
_base_ = ['../_base_/default_runtime.py', './_base_/mdetr_r101.py', './_base_/grounding_data.py']

data_root = _base_.data
ann_root = 'mdetr_annotations/'  # relative to data_root
flickr = dict(type='MDETRFlickr30kDataset', data_root=data_root,
              ann_file=ann_root + 'final_flickr_separateGT_train.json',
              data_prefix=dict(img='flickr30k_entities/flickr30k-images/'), filter_cfg=dict(filter_empty_gt=True),
              pipeline={{_base_.train_pipeline}})
# the mixed file picks each image's folder from its "data_source" (coco: train2014, vg: GQA images)
mixed = dict(type='MDETRGroundingDataset', data_root=data_root,
             ann_file=ann_root + 'final_mixed_train_no_coco.json',
             data_prefix=dict(coco='coco/train2014/', vg='gqa/images/'),
             filter_cfg=dict(filter_empty_gt=True), pipeline={{_base_.train_pipeline}})
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=[flickr, mixed]))

val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='MDETRFlickr30kDataset', data_root=data_root,
                 ann_file=ann_root + 'final_flickr_separateGT_val.json',
                 data_prefix=dict(img='flickr30k_entities/flickr30k-images/'), test_mode=True,
                 pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(type='Flickr30kRecallMetric', protocol='any-box', topk=(1, 5, 10))
test_evaluator = val_evaluator

max_epochs = 40
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='MDETRLR', lr_drop=35, max_epochs=max_epochs, warmup_fraction=0.01, begin=0,
                        end=max_epochs, by_epoch=True, convert_to_iter_based=True)]
# 64 images per batch in the paper: scale the learning rates if training with another total batch
auto_scale_lr = dict(enable=False, base_batch_size=64)
randomness = dict(seed=42)
