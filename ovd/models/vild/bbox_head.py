"""ViLD's box head: mmdet's conv/fc box trunk, a class-agnostic box regressor and the ViLD-text classifier.

Paper-faithful trunk (official ``vild_resnet.yaml``): 4 shared 3x3 convs (256 channels, BN) and 2 fcs of 1024, a
class-agnostic box regressor, and the cosine classifier of :mod:`ovd.models.vild.text_classifier`. The head adds to
mmdet's ``ConvFCBBoxHead``:

- :meth:`forward_embeddings`: the normalised region embedding (what ViLD-image distils and the ensemble scores);
- novel classes are never training targets: in :meth:`loss` their logits are removed from the softmax (set to
  -inf), so the cross-entropy is over base classes + background exactly as in the paper (the official code instead
  multiplies the rare logits by 0, which keeps them in the softmax denominator as a constant);
- the box-regression loss is normalised as in the official code by default: the summed smooth-L1 (= Huber,
  delta 1) over the foreground RoIs divided by the number of non-zero box weights, i.e. 4 x #foreground
  (``bbox_loss_normalizer='foreground'``); mmdet divides by the number of sampled RoIs (``'sampled'``), which at
  32 foreground of 512 sampled RoIs weighs the box loss 4x less;
- :meth:`instances_from_scores`: NMS post-processing from class *probabilities*, so the ensemble can hand over
  its geometric-mean scores instead of logits.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from mmdet.models.utils import empty_instances
from mmdet.structures.bbox import get_box_tensor, scale_boxes
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from ovd.registry import MODELS

from .text_classifier import EmbeddingSource, ViLDTextClassifier

BaseClasses = Union[None, str, Sequence[int]]
# 'foreground': official ViLD / TF detection (FastrcnnBoxLoss, Huber with SUM_BY_NONZERO_WEIGHTS) divides by the
# number of non-zero box weights = 4 x #foreground RoIs; 'sampled': mmdet's BBoxHead divides by #sampled RoIs.
BBOX_LOSS_NORMALIZERS = ('foreground', 'sampled')


def resolve_base_mask(base_classes: BaseClasses, num_classes: int) -> Tensor:
    """Boolean mask ``[num_classes]`` of the classes that may be training targets.

    Args:
        base_classes: None (every class is base), a vocabulary name (its categories with ``split == 'base'``,
            e.g. 'ov_lvis' -> 866 of 1203, 'ov_coco' -> 48 of 65), or the base class indices.
        num_classes: size of the classifier's vocabulary.
    """
    mask = torch.zeros(num_classes, dtype=torch.bool)
    if base_classes is None:
        mask[:] = True
        return mask
    if isinstance(base_classes, str):
        from ovd.data.vocab import get_vocabulary
        vocab = get_vocabulary(base_classes)
        if len(vocab) != num_classes:
            raise ValueError(f'base_classes={base_classes!r} has {len(vocab)} categories but the head has '
                             f'num_classes={num_classes}')
        indices = vocab.indices(split='base')
        if not indices:
            raise ValueError(f'vocabulary {base_classes!r} marks no category as split="base"')
    else:
        indices = list(base_classes)
    idx = torch.as_tensor(indices, dtype=torch.long)
    if idx.numel() and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f'base class indices must lie in [0, {num_classes}), got {idx.min()}..{idx.max()}')
    mask[idx] = True
    return mask


@MODELS.register_module()
class ViLDBBoxHead(ConvFCBBoxHead):
    """Box head whose classifier is :class:`ViLDTextClassifier`.

    Args:
        class_embeddings: text embeddings of the classes, ``[num_classes, dim]`` (file, array or a dict for the
            shared class-embedding helper); see :func:`~ovd.models.vild.text_classifier.load_class_embeddings`.
        base_classes: which classes may be targets in training; see :func:`resolve_base_mask`.
        temperature: cosine logits are divided by it (0.01 in the paper).
        num_shared_convs, num_shared_fcs, conv_out_channels, fc_out_channels, norm_cfg: the trunk
            (paper: 4 convs with BN, 2 fcs of 1024).
        reg_class_agnostic: ViLD regresses one box per RoI, whatever the class (True in the paper).
        bbox_loss_normalizer: 'foreground' (official: divide the box loss by the number of non-zero box weights,
            4 x #foreground RoIs) or 'sampled' (mmdet: divide by the number of sampled RoIs).
        **kwargs: passed to mmdet's ``BBoxHead`` (``num_classes``, ``bbox_coder``, ``loss_bbox``, ``with_reg``...).
    """

    def __init__(self, class_embeddings: EmbeddingSource, base_classes: BaseClasses = None,
                 temperature: float = 0.01, num_shared_convs: int = 4, num_shared_fcs: int = 2,
                 conv_out_channels: int = 256, fc_out_channels: int = 1024, norm_cfg: Optional[dict] = None,
                 reg_class_agnostic: bool = True, bbox_loss_normalizer: str = 'foreground', **kwargs) -> None:
        if bbox_loss_normalizer not in BBOX_LOSS_NORMALIZERS:
            raise ValueError(f'bbox_loss_normalizer must be one of {BBOX_LOSS_NORMALIZERS}, '
                             f'got {bbox_loss_normalizer!r}')
        cls_predictor_cfg = dict(type=ViLDTextClassifier, class_embeddings=class_embeddings,
                                 temperature=temperature)
        super().__init__(num_shared_convs=num_shared_convs, num_shared_fcs=num_shared_fcs,
                         conv_out_channels=conv_out_channels, fc_out_channels=fc_out_channels,
                         norm_cfg=norm_cfg, reg_class_agnostic=reg_class_agnostic,
                         cls_predictor_cfg=cls_predictor_cfg, **kwargs)
        self.bbox_loss_normalizer = bbox_loss_normalizer
        self.register_buffer('base_mask', resolve_base_mask(base_classes, self.num_classes), persistent=False)

    @property
    def classifier(self) -> ViLDTextClassifier:
        return self.fc_cls

    def forward_trunk(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Shared convs/fcs and the cls/reg branches.

        Args:
            x: RoI features ``[N, C_in, 7, 7]``.

        Returns:
            ``(x_cls, x_reg)``, each ``[N, fc_out_channels]`` (for the paper's trunk).
        """
        for conv in self.shared_convs:
            x = conv(x)
        if self.num_shared_fcs > 0:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
            for fc in self.shared_fcs:
                x = self.relu(fc(x))
        x_cls, x_reg = x, x
        for conv in self.cls_convs:
            x_cls = conv(x_cls)
        x_cls = x_cls.flatten(1) if x_cls.dim() > 2 else x_cls
        for fc in self.cls_fcs:
            x_cls = self.relu(fc(x_cls))
        for conv in self.reg_convs:
            x_reg = conv(x_reg)
        x_reg = x_reg.flatten(1) if x_reg.dim() > 2 else x_reg
        for fc in self.reg_fcs:
            x_reg = self.relu(fc(x_reg))
        return x_cls, x_reg

    def forward(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Class logits ``[N, C + 1]`` (background last) and box deltas ``[N, 4]`` (None without regression)."""
        x_cls, x_reg = self.forward_trunk(x)
        bbox_pred = self.fc_reg(x_reg) if self.with_reg else None
        return self.classifier(x_cls), bbox_pred

    def forward_embeddings(self, x: Tensor) -> Tensor:
        """Normalised region embeddings ``[N, dim]`` of RoI features ``[N, C_in, 7, 7]``."""
        x_cls, _ = self.forward_trunk(x)
        return self.classifier.embed(x_cls)

    def mask_novel_logits(self, cls_score: Tensor) -> Tensor:
        """Remove novel classes from the softmax: their logits become -inf (background, last column, stays)."""
        keep = torch.cat([self.base_mask, self.base_mask.new_ones(1)])
        return cls_score.masked_fill(~keep, float('-inf'))

    def loss(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor, labels: Tensor, label_weights: Tensor,
             bbox_targets: Tensor, bbox_weights: Tensor, reduction_override: Optional[str] = None) -> dict:
        """mmdet's box-head loss over base classes + background only (novel targets are an error).

        With ``bbox_loss_normalizer='foreground'`` the box loss mmdet averaged over the ``N`` sampled RoIs is
        rescaled to the official average over the non-zero box weights (4 per foreground RoI): exactly
        ``sum(huber) / nnz``; 0 when no RoI is foreground.
        """
        if cls_score is not None and cls_score.numel() > 0:
            fg = labels < self.num_classes
            if fg.any() and not self.base_mask[labels[fg]].all():
                bad = sorted(set(labels[fg][~self.base_mask[labels[fg]]].tolist()))
                raise ValueError(f'novel classes {bad[:10]} appear as training targets; ViLD trains on base '
                                 f'classes only (the detector drops novel instances before the heads)')
            cls_score = self.mask_novel_logits(cls_score)
        losses = super().loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets, bbox_weights,
                              reduction_override=reduction_override)
        mean = (reduction_override or self.loss_bbox.reduction) == 'mean'
        if self.bbox_loss_normalizer == 'foreground' and mean and 'loss_bbox' in losses:
            fg = (labels >= 0) & (labels < self.num_classes)
            nonzero = (bbox_weights[fg] > 0).sum().clamp(min=1)
            losses['loss_bbox'] = losses['loss_bbox'] * bbox_targets.size(0) / nonzero
        return losses

    def _predict_by_feat_single(self, roi: Tensor, cls_score: Tensor, bbox_pred: Optional[Tensor],
                                img_meta: dict, rescale: bool = False,
                                rcnn_test_cfg: Optional[ConfigDict] = None) -> InstanceData:
        """ViLD-text inference: softmax over all classes + background, then :meth:`instances_from_scores`."""
        return self.instances_from_scores(roi, cls_score.softmax(-1), bbox_pred, img_meta, rescale, rcnn_test_cfg)

    def instances_from_scores(self, roi: Tensor, scores: Tensor, bbox_pred: Optional[Tensor], img_meta: dict,
                              rescale: bool = False, rcnn_test_cfg: Optional[ConfigDict] = None) -> InstanceData:
        """Decode boxes and run per-class NMS on class probabilities.

        Args:
            roi: ``[N, 5]`` (batch index, x1, y1, x2, y2) in the network input frame.
            scores: ``[N, C + 1]`` probabilities, background last (ignored by NMS).
            bbox_pred: class-agnostic deltas ``[N, 4]`` or None.
            img_meta: needs ``img_shape`` and, with ``rescale``, ``scale_factor``.
            rescale: map boxes back to the original image.
            rcnn_test_cfg: ``score_thr``, ``nms``, ``max_per_img``; None returns raw boxes and scores.

        Returns:
            ``bboxes [K, 4]``, ``scores [K]``, ``labels [K]``.
        """
        if roi.shape[0] == 0:
            return empty_instances([img_meta], roi.device, task_type='bbox', box_type=self.predict_box_type,
                                   use_box_type=False, num_classes=self.num_classes,
                                   score_per_cls=rcnn_test_cfg is None)[0]
        img_shape = img_meta['img_shape']
        if bbox_pred is not None:
            bboxes = self.bbox_coder.decode(roi[:, 1:], bbox_pred.view(-1, self.bbox_coder.encode_size),
                                            max_shape=img_shape)
        else:
            bboxes = roi[:, 1:].clone()
            bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, img_shape[1])
            bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, img_shape[0])
        if rescale and bboxes.size(0) > 0:
            bboxes = scale_boxes(bboxes, [1 / s for s in img_meta['scale_factor']])
        bboxes = get_box_tensor(bboxes).view(roi.shape[0], -1)
        results = InstanceData()
        if rcnn_test_cfg is None:
            results.bboxes, results.scores = bboxes, scores
            return results
        det_bboxes, det_labels = multiclass_nms(bboxes, scores, rcnn_test_cfg.score_thr, rcnn_test_cfg.nms,
                                                rcnn_test_cfg.max_per_img, box_dim=4)
        results.bboxes = det_bboxes[:, :-1]
        results.scores = det_bboxes[:, -1]
        results.labels = det_labels
        return results


def split_by_image(tensors: List[Tensor], counts: Sequence[int]) -> List[Tuple[Tensor, ...]]:
    """Split row-stacked tensors into per-image tuples (None entries stay None)."""
    parts = [t.split(list(counts), 0) if t is not None else (None,) * len(counts) for t in tensors]
    return list(zip(*parts))
