"""ViLD's RoI head: Mask R-CNN's standard head with text classification, image distillation and the ensemble.

One class covers the three variants of the paper, chosen by two arguments:

- ViLD-text: ``distill_weight=0``: the cosine classifier against text embeddings only;
- ViLD: ``distill_weight=w`` (0.5), no ``image_head``: the same head also embeds the cached proposals, and the
  embeddings are pulled to CLIP's with L1;
- ViLD-ensemble: ``distill_weight=w`` and an ``image_head`` (its own trunk) that alone learns the L1 target; at
  inference the scores are the per-class geometric mean of both heads.

Distillation targets come from each data sample's ``regions`` (``bboxes [M, 4]`` in the network input frame,
``embeddings [M, D]``), put there by :class:`~ovd.data.region_transforms.LoadRegionEmbeddings` from the
precomputed cache, or by the detector's online teacher.
"""
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList
from torch import Tensor

from ovd.registry import MODELS

from .bbox_head import ViLDBBoxHead, split_by_image
from .ensemble import ensemble_scores
from .losses import distillation_l1_loss, valid_regions


@MODELS.register_module()
class ViLDRoIHead(StandardRoIHead):
    """Standard RoI head with ViLD's distillation and ensemble.

    Args:
        distill_weight: ``w``, the weight of the ViLD-image L1 loss (0 disables distillation: ViLD-text).
        image_head: config of a second :class:`ViLDBBoxHead` (usually ``with_reg=False``) for ViLD-ensemble.
            Its ``class_embeddings``, ``num_classes`` and ``base_classes`` default to the text head's.
        ensemble_weight: lambda of :func:`~ovd.models.vild.ensemble.ensemble_scores` (2/3 in the paper).
        **kwargs: :class:`mmdet.models.roi_heads.StandardRoIHead` arguments (``bbox_head`` must be a
            :class:`ViLDBBoxHead`).
    """

    def __init__(self, *args, distill_weight: float = 0.5, image_head: Optional[ConfigType] = None,
                 ensemble_weight: float = 2 / 3, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.bbox_head, ViLDBBoxHead):
            raise TypeError(f'ViLDRoIHead needs bbox_head of type ViLDBBoxHead, got {type(self.bbox_head).__name__}')
        if distill_weight < 0:
            raise ValueError(f'distill_weight must be >= 0, got {distill_weight}')
        if image_head is not None and distill_weight == 0:
            raise ValueError('an image_head (ViLD-ensemble) is trained only by distillation: set distill_weight > 0')
        self.distill_weight = float(distill_weight)
        self.ensemble_weight = float(ensemble_weight)
        self.image_head: Optional[ViLDBBoxHead] = None
        if image_head is not None:
            cfg = dict(image_head)
            text_cls = self.bbox_head.classifier
            cfg.setdefault('class_embeddings', text_cls.class_embeddings.clone())
            cfg.setdefault('num_classes', self.bbox_head.num_classes)
            cfg.setdefault('base_classes', self.bbox_head.base_mask.nonzero().flatten().tolist())
            cfg.setdefault('temperature', text_cls.temperature)
            self.image_head = MODELS.build(cfg)
            if not isinstance(self.image_head, ViLDBBoxHead):
                raise TypeError(f'image_head must be a ViLDBBoxHead, got {type(self.image_head).__name__}')

    @property
    def with_distillation(self) -> bool:
        return self.distill_weight > 0

    def _distill_targets(self, batch_data_samples: SampleList) -> Tuple[Tensor, Tensor, Tensor]:
        """Cached (or online) region boxes as RoIs ``[K, 5]``, their teacher embeddings ``[K, D]`` and which of
        them count in the loss ``[K]`` (:func:`~ovd.models.vild.losses.valid_regions`, the official mask)."""
        boxes, embeddings = [], []
        for sample in batch_data_samples:
            regions = sample.get('regions')
            if regions is None or 'embeddings' not in regions:
                raise ValueError(
                    f'ViLD distillation (distill_weight={self.distill_weight}) needs region embeddings for image '
                    f'{sample.metainfo.get("img_id", "?")} ({sample.metainfo.get("img_path", "?")}): add '
                    f'LoadRegionEmbeddings to the train pipeline (a cache built by `ovd precompute-regions`) or '
                    f'give the detector an online_teacher')
            boxes.append(regions.bboxes)
            embeddings.append(regions.embeddings)
        rois = bbox2roi(boxes)
        return rois, torch.cat(embeddings), valid_regions(rois[:, 1:])

    def loss(self, x: Tuple[Tensor], rpn_results_list: InstanceList, batch_data_samples: SampleList) -> dict:
        """Detection losses of the sampled proposals plus ``loss_distill`` on the cached regions.

        Args:
            x: FPN features, each ``[B, 256, H_l, W_l]``.
            rpn_results_list: per image, proposals ``bboxes [P, 4]``.
            batch_data_samples: with ``gt_instances`` (base classes only) and, when distilling, ``regions``.

        Returns:
            ``loss_cls``, ``acc``, ``loss_bbox``, ``loss_mask`` and, when distilling, ``loss_distill``.
        """
        batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(batch_data_samples)
        sampling_results = []
        for i, rpn_results in enumerate(rpn_results_list):
            rpn_results.priors = rpn_results.pop('bboxes')
            assign_result = self.bbox_assigner.assign(rpn_results, batch_gt_instances[i],
                                                      batch_gt_instances_ignore[i])
            sampling_results.append(self.bbox_sampler.sample(assign_result, rpn_results, batch_gt_instances[i],
                                                             feats=[lvl[i][None] for lvl in x]))
        distill = self._distill_targets(batch_data_samples) if self.with_distillation else None
        bbox_results = self.bbox_loss(x, sampling_results, distill)
        losses = dict(bbox_results['loss_bbox'])
        if self.with_mask:
            mask_results = self.mask_loss(x, sampling_results, bbox_results['bbox_feats'], batch_gt_instances)
            losses.update(mask_results['loss_mask'])
        return losses

    def bbox_loss(self, x: Tuple[Tensor], sampling_results: list,
                  distill: Optional[Tuple[Tensor, Tensor, Tensor]] = None) -> dict:
        """Box head forward + losses; with ``distill = (rois [K, 5], teacher [K, D], valid [K])`` also
        ``loss_distill`` (invalid regions still pass through the head, as in the official code, but not the loss).

        For ViLD (no image head) the sampled RoIs and the distillation RoIs go through the head in one pass, as in
        the official implementation; for ViLD-ensemble the distillation RoIs go through the image head only.
        """
        rois = bbox2roi([res.priors for res in sampling_results])
        num_sampled = rois.shape[0]
        student = None
        if distill is not None and self.image_head is None:
            all_rois = torch.cat([rois, distill[0]])
            all_feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], all_rois)
            if self.with_shared_head:
                all_feats = self.shared_head(all_feats)
            x_cls, x_reg = self.bbox_head.forward_trunk(all_feats)
            embeddings = self.bbox_head.classifier.embed(x_cls)  # [num_sampled + K, D]
            cls_score = self.bbox_head.classifier.similarity(embeddings[:num_sampled])
            bbox_pred = self.bbox_head.fc_reg(x_reg[:num_sampled]) if self.bbox_head.with_reg else None
            student = embeddings[num_sampled:]
            bbox_results = dict(cls_score=cls_score, bbox_pred=bbox_pred, bbox_feats=all_feats[:num_sampled])
        else:
            bbox_results = self._bbox_forward(x, rois)
            if distill is not None:
                feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], distill[0])
                if self.with_shared_head:
                    feats = self.shared_head(feats)
                student = self.image_head.forward_embeddings(feats)
        loss_and_target = self.bbox_head.loss_and_target(
            cls_score=bbox_results['cls_score'], bbox_pred=bbox_results['bbox_pred'], rois=rois,
            sampling_results=sampling_results, rcnn_train_cfg=self.train_cfg)
        losses = dict(loss_and_target['loss_bbox'])
        if student is not None:
            losses['loss_distill'] = self.distill_weight * distillation_l1_loss(student, distill[1],
                                                                                valid=distill[2])
        bbox_results.update(loss_bbox=losses)
        return bbox_results

    def predict_bbox(self, x: Tuple[Tensor], batch_img_metas: List[dict], rpn_results_list: InstanceList,
                     rcnn_test_cfg: ConfigType, rescale: bool = False) -> InstanceList:
        """Detections over the whole vocabulary (base and novel); with an image head, the ViLD-ensemble scores.

        Returns:
            Per image, ``bboxes [K, 4]``, ``scores [K]``, ``labels [K]`` (indices into the vocabulary).
        """
        proposals = [res.bboxes for res in rpn_results_list]
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            return empty_instances(batch_img_metas, rois.device, task_type='bbox',
                                   box_type=self.bbox_head.predict_box_type, num_classes=self.bbox_head.num_classes,
                                   score_per_cls=rcnn_test_cfg is None)
        bbox_results = self._bbox_forward(x, rois)
        scores = bbox_results['cls_score'].softmax(-1)  # [N, C + 1]
        if self.image_head is not None:
            image_embeddings = self.image_head.forward_embeddings(bbox_results['bbox_feats'])
            image_probs = self.image_head.classifier.similarity(image_embeddings, with_background=False).softmax(-1)
            scores = ensemble_scores(scores, image_probs, self.bbox_head.base_mask, self.ensemble_weight)
        per_image = split_by_image([rois, scores, bbox_results['bbox_pred']], [len(p) for p in proposals])
        return [self.bbox_head.instances_from_scores(roi, score, pred, meta, rescale, rcnn_test_cfg)
                for (roi, score, pred), meta in zip(per_image, batch_img_metas)]
