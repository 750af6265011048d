# ViLD's detector (Gu et al., ICLR 2022): Mask R-CNN R50-FPN with the ViLD RoI head, for OV-LVIS (1203 classes).
# Architecture facts from the official configs (tensorflow/tpu, models/official/detection/projects/vild/configs/
# vild_resnet.yaml): sync BN everywhere, box head 4 convs (256, BN) + 2 fcs (1024), class-agnostic box and mask
# heads, mask head 4 convs, CLIP dim 512, temperature 100 (= 1/0.01), 512 sampled RoIs/image at 25% foreground,
# RPN 2000 -> 1000 proposals in training, test NMS 0.5 with up to 300 detections per image.
# Differences kept on purpose: mmdet's RPN head has one conv and no BN (official: 2 convs with BN); mmdet's fcs
# have no BN (official: BN after each fc). Fidelity table with the official file:line: configs/vild/README.md.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

# official batch_norm_momentum 0.997 / epsilon 1e-4 (vild_resnet.yaml:25-26); TF's momentum is the decay of the
# running statistics, torch's the weight of the new batch, so torch momentum = 1 - 0.997
norm_cfg = dict(type='SyncBN', requires_grad=True, momentum=0.003, eps=1e-4)
# Official: trained from scratch (vild_resnet.yaml:120-123, no checkpoint), convs drawn with TF's
# variance_scaling_initializer (std 1/sqrt(fan_in)), BN scale 1 everywhere (no zero-init of the last BN of a block).
# Switch: model.backbone.init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50') (ImageNet weights).
backbone_init_cfg = [dict(type='Kaiming', layer='Conv2d', mode='fan_in', nonlinearity='linear'),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
clip_model = dict(model_name='ViT-B-32', pretrained='openai')  # ViLD's teacher: CLIP ViT-B/32
vocabulary = 'ov_lvis'  # 866 base (c+f) + 337 novel (r) classes
name_rule = 'vild'  # class-name text as ViLD's code spells it (configs/vild/README.md, "Fidelity: class names")
num_classes = 1203

model = dict(
    _scope_='ovd',  # the mmdet:: base tags this dict with scope mmdet; ViLD's classes live in scope ovd
    type='ViLD',
    train_label_space='base',  # the OV training set uses category_split='base'
    backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, zero_init_residual=False,
                  init_cfg=backbone_init_cfg),
    neck=dict(norm_cfg=norm_cfg),
    roi_head=dict(
        type='ViLDRoIHead',
        distill_weight=0.5,  # official feat_distill_weight for ResNet-50
        bbox_head=dict(
            _delete_=True,
            type='ViLDBBoxHead',
            in_channels=256, roi_feat_size=7, num_classes=num_classes,
            class_embeddings=dict(clip=clip_model, vocabulary=vocabulary, templates='vild', name_rule=name_rule),
            base_classes=vocabulary, temperature=0.01,
            num_shared_convs=4, num_shared_fcs=2, conv_out_channels=256, fc_out_channels=1024,
            norm_cfg=norm_cfg, reg_class_agnostic=True,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),  # official box weights (10, 10, 5, 5)
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),  # official huber delta 1.0
            # official: divided by 4 x #foreground RoIs (losses.py:298-314); 'sampled' = mmdet's #sampled RoIs
            bbox_loss_normalizer='foreground'),
        mask_head=dict(num_classes=num_classes, class_agnostic=True, norm_cfg=norm_cfg)),
    test_cfg=dict(
        # the official score threshold is 0.0; 1e-4 (as mmdet's LVIS configs) keeps NMS over 1203 classes
        # tractable and cannot change the top-300 detections that LVIS AP sees in practice
        rcnn=dict(score_thr=0.0001, nms=dict(type='nms', iou_threshold=0.5), max_per_img=300)))
