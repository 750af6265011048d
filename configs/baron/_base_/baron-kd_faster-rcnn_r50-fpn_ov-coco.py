# BARON-KD, Faster R-CNN R50-FPN, OV-COCO (48 base / 17 novel; the head scores the 65 OV classes).
# Values of ovdet configs/baron/ov_coco/baron_kd_faster_rcnn_r50_fpn_syncbn_90kx2.py ([F]) and its base
# configs/_base_/models/faster-rcnn_r50_fpn_syncbn.py; each setting with its ovdet line in ../README.md (fidelity
# table). Differences from ovdet are listed there too.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
clip = dict(model_name='ViT-B-32', pretrained='openai')
vocabulary = 'ov_coco'
name_rule = 'baron'  # class-name text as ovdet spells it (configs/baron/README.md, "Fidelity: class names")
num_classes = 65
fc_dim = 1024

model = dict(
    _scope_='ovd',  # the mmdet:: base tags this dict with scope mmdet; BARON's classes live in scope ovd
    type='Baron',
    train_label_space='base',
    data_preprocessor=dict(type='BaronDataPreprocessor'),  # two-branch batches (det_batch / kd_batch)
    backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    # objectness on detached features ([F]:97); detectron2's anchor order ([F]:99)
    rpn_head=dict(type='DetachRPNHead', anchor_generator=dict(scale_major=False)),
    roi_head=dict(
        type='BaronRoIHead',
        clip=clip,
        distill=dict(
            bag_weight=1.0, single_weight=0.1, bag_temp=30.0, single_temp=50.0, queue_length=1024,
            seeds=dict(topk=300, use_gt=True, shape_ratio_thr=0.25, area_ratio_thr=0.01, objectness_thr=0.85,
                       nms_thr=0.1),
            boxes_cache=dict(start_iter=20000),  # [F]:52-53
            sampling=dict(max_groups=3, max_permutations=2, alpha=3.0, cut_off_thr=0.3, base_probability=0.3,
                          interval=-0.1)),
        bbox_head=dict(
            _delete_=True,
            type='BaronBBoxHead',
            num_words=6, word_dim=512, words_drop_ratio=0.5, cls_temp=50.0,
            # the end token's residual stream after all 12 text blocks, for regions and classes ([F]:114,116)
            use_attn12_output=True,
            class_embeddings=dict(vocabulary=vocabulary, templates='vild', feature='attn12',
                                  name_rule=name_rule),
            base_classes=vocabulary, num_classes=num_classes,
            in_channels=256, roi_feat_size=7, num_shared_convs=4, num_shared_fcs=1, conv_out_channels=256,
            fc_out_channels=fc_dim,
            norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,  # frozen head BN, ovdet's base :15-16
            reg_predictor_cfg=[dict(type='Linear', in_features=fc_dim, out_features=fc_dim),
                               dict(type='ReLU', inplace=True),
                               dict(type='Linear', in_features=fc_dim, out_features=4)],  # [F]:16-20,109
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            # background weight 0.7 ([F]:14); novel classes leave the softmax (ovdet: class weight 0 -> -inf)
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                          class_weight=[1.0] * num_classes + [0.7]),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    test_cfg=dict(rcnn=dict(score_thr=0.01)))  # [F]:124
