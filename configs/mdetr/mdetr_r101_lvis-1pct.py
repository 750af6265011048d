# MDETR fine-tuned on 1 % of LVIS v1 train from the R101 pre-trained model, Fixed AP on LVIS v1 minival
# (Kamath et al. 2021, Table 5; official .github/lvis.md). Published: see configs/mdetr/README.md.
# Schedule: the official fine-tuning command (150 epochs, lr drop at 120, EMA; the README gives one command
# for all subsets); load the pre-trained checkpoint with load_from. Training data: the official preprocessed
# finetune_lvis1_train.json (data/mdetr_annotations/), images from COCO 2017 (data/coco/).
_base_ = ['../_base_/default_runtime.py', './_base_/mdetr_r101.py', './_base_/grounding_data.py',
          './_base_/lvis_data.py']

model = dict(test_cfg=dict(names_per_caption=1, captions_per_batch=32, max_per_img=None))
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='MDETRGroundingDataset', data_root=_base_.data,
                 ann_file='mdetr_annotations/finetune_lvis1_train.json',
                 data_prefix=dict(img='coco/'), pipeline={{_base_.train_pipeline}}))
val_dataloader = {{_base_.lvis_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.lvis_evaluator}}
test_evaluator = val_evaluator

max_epochs = 150
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='MDETRLR', lr_drop=120, max_epochs=max_epochs, warmup_fraction=0.01, begin=0,
                        end=max_epochs, by_epoch=True, convert_to_iter_based=True)]
auto_scale_lr = dict(enable=False, base_batch_size=64)
randomness = dict(seed=42)
