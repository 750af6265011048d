# BARON-KD, Mask R-CNN R50-FPN, OV-LVIS (866 base = common + frequent, 337 novel = rare; 1203 classes scored).
# Values of ovdet configs/baron/ov_lvis/baron_kd_mask_rcnn_r50_fpn_syncbn_45kx4_lvis.py ([L]) and its base
# configs/_base_/models/mask-rcnn_r50_fpn_syncbn.py; each setting with its ovdet line in ../README.md (fidelity
# table). Class embeddings: ovdet's DetPro learned-prompt file ([L]:107, data/metadata/lvis_v1_clip_detpro.npy of the
# ovdet repository); `class_embeddings=dict(vocabulary='ov_lvis', templates='vild')` is the hand-crafted-prompt
# switch of the README.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
clip = dict(model_name='ViT-B-32', pretrained='openai')
vocabulary = 'ov_lvis'
name_rule = 'baron'  # class-name text as ovdet spells it (configs/baron/README.md, "Fidelity: class names")
fc_dim = 1024

model = dict(
    _scope_='ovd',
    type='Baron',
    train_label_space='base',
    data_preprocessor=dict(type='BaronDataPreprocessor'),  # two-branch batches (det_batch / kd_batch)
    backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    neck=dict(norm_cfg=norm_cfg),
    rpn_head=dict(anchor_generator=dict(scale_major=False)),
    roi_head=dict(
        type='BaronRoIHead',
        clip=clip,
        distill=dict(
            bag_weight=1.0, single_weight=0.1, bag_temp=20.0, single_temp=30.0, queue_length=1024,
            seeds=dict(topk=500, use_gt=True, shape_ratio_thr=0.25, area_ratio_thr=0.01, objectness_thr=0.85,
                       nms_thr=0.1),
            sampling=dict(max_groups=6, max_permutations=2, alpha=3.0, cut_off_thr=0.3, base_probability=0.3,
                          interval=-0.1)),
        bbox_head=dict(
            _delete_=True,
            type='BaronBBoxHead',
            num_words=4, word_dim=512, words_drop_ratio=0.5, cls_temp=100.0, test_cls_temp=100.0 / 0.7,
            use_attn12_output=False,
            class_embeddings='data/metadata/lvis_v1_clip_detpro.npy',
            base_classes=vocabulary, num_classes=1203,
            in_channels=256, roi_feat_size=7, num_shared_convs=4, num_shared_fcs=1, conv_out_channels=256,
            fc_out_channels=fc_dim, norm_cfg=norm_cfg,
            reg_predictor_cfg=[dict(type='Linear', in_features=fc_dim, out_features=fc_dim),
                               dict(type='ReLU', inplace=True),
                               dict(type='Linear', in_features=fc_dim, out_features=4)],  # [L]:9-13,101
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        mask_head=dict(num_classes=1203, class_agnostic=True, norm_cfg=norm_cfg)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
