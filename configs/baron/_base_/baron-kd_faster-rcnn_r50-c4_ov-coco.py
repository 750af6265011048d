# BARON-KD, Faster R-CNN R50-C4 (caffe-style ResNet, res5 as the RoI head), OV-COCO.
# Values of ovdet configs/baron/ov_coco/baron_kd_faster_rcnn_r50_caffe_c4_90k.py ([C]) on mmdet's
# faster-rcnn_r50-caffe-c4 base; each setting with its ovdet line in ../README.md (fidelity table). The caffe
# preprocessor keeps BGR; the teacher flips to RGB.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py'

clip = dict(model_name='ViT-B-32', pretrained='openai')
vocabulary = 'ov_coco'
name_rule = 'baron'  # class-name text as ovdet spells it (configs/baron/README.md, "Fidelity: class names")
feat_dim = 2048

model = dict(
    _scope_='ovd',
    type='Baron',
    train_label_space='base',
    data_preprocessor=dict(type='BaronDataPreprocessor'),  # two-branch batches (det_batch / kd_batch)
    rpn_head=dict(anchor_generator=dict(scale_major=False)),
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
            num_words=4, word_dim=512, words_drop_ratio=0.5, cls_temp=50.0,
            use_attn12_output=True,  # [C]:120-121
            class_embeddings=dict(vocabulary=vocabulary, templates='vild', feature='attn12',
                                  name_rule=name_rule),
            base_classes=vocabulary, num_classes=65,
            in_channels=feat_dim, roi_feat_size=7, with_avg_pool=True, num_shared_fcs=0,
            reg_predictor_cfg=[dict(type='Linear', in_features=feat_dim, out_features=feat_dim),
                               dict(type='ReLU', inplace=True),
                               dict(type='Linear', in_features=feat_dim, out_features=4)],  # [C]:16-20,115
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    test_cfg=dict(rcnn=dict(score_thr=0.05)))
