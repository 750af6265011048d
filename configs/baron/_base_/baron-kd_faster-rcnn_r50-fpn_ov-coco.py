# BARON-KD, Faster R-CNN R50-FPN, OV-COCO (48 base / 17 novel; the head scores the 65 OV classes).
# Values from ovdet configs/baron/ov_coco/baron_kd_faster_rcnn_r50_fpn_syncbn_90kx2.py (Wu et al., CVPR 2023):
# SyncBN backbone/neck trained from SOCO (load_from in the leaf), 4-conv 1-fc box head with SyncBN, class-agnostic
# regression, 6 pseudo words of CLIP ViT-B/32 (512-d tokens), classifier temperature 50, word dropout 0.5;
# distillation: bag / region loss weights 1.0 / 0.1, temperatures 30 / 50, queues of 1024, top 300 proposals with
# objectness > 0.85, aspect ratio in (1/4, 4), NMS 0.1, GT boxes added; up to 3 bags x 2 orders per proposal,
# alpha 3, base probability 0.3, cut-off 0.3, interval -0.1.
# Differences kept on purpose: mmdet's single-linear box regressor (ovdet: Linear-ReLU-Linear); the class
# embeddings are CLIP's projected end-token features of ViLD's prompts (ovdet COCO: the last attention layer's
# output of hand-crafted prompts, "attn12"); one batch serves detection and distillation (ovdet's share_batch
# variant; the default ovdet config draws separate 2 + 2 images per GPU).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
clip = dict(model_name='ViT-B-32', pretrained='openai')
vocabulary = 'ov_coco'
name_rule = 'baron'  # class-name text as ovdet spells it (configs/baron/README.md, "Fidelity: class names")

model = dict(
    _scope_='ovd',  # the mmdet:: base tags this dict with scope mmdet; BARON's classes live in scope ovd
    type='Baron',
    train_label_space='base',
    backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    rpn_head=dict(anchor_generator=dict(scale_major=False)),  # detectron2's anchor order, as ovdet
    roi_head=dict(
        type='BaronRoIHead',
        clip=clip,
        distill=dict(
            bag_weight=1.0, single_weight=0.1, bag_temp=30.0, single_temp=50.0, queue_length=1024,
            seeds=dict(topk=300, use_gt=True, shape_ratio_thr=0.25, area_ratio_thr=0.01, objectness_thr=0.85,
                       nms_thr=0.1),
            sampling=dict(max_groups=3, max_permutations=2, alpha=3.0, cut_off_thr=0.3, base_probability=0.3,
                          interval=-0.1)),
        bbox_head=dict(
            _delete_=True,
            type='BaronBBoxHead',
            num_words=6, word_dim=512, words_drop_ratio=0.5, cls_temp=50.0,
            class_embeddings=dict(vocabulary=vocabulary, templates='vild', name_rule=name_rule),
            base_classes=vocabulary, num_classes=65,
            in_channels=256, roi_feat_size=7, num_shared_convs=4, num_shared_fcs=1, conv_out_channels=256,
            fc_out_channels=1024, norm_cfg=norm_cfg,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    test_cfg=dict(rcnn=dict(score_thr=0.05)))
