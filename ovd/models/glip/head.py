"""GLIP's dense head: the vision-language DyHead, the token alignment logits, ATSS targets and losses.

Built on mmdet 3.3's ``ATSSHead`` (anchors, ATSS assignment, centerness targets, box coder); the tower is
:class:`.dyhead.VLDyHead` (mmdet's DyHead and fusion blocks, mmdet's key names under ``head.``). What differs
from mmdet's ``ATSSVLFusionHead``:

- the tower and the alignment are separate steps (:meth:`run_tower`, :meth:`align`): without deep fusion the
  tower does not depend on the text, so chunked inference runs it once per image (see the detector);
- the language features dict is copied before the tower (mmdet's fusion layers overwrite ``lang['hidden']``
  in place, which would corrupt text features cached across chunks and images);
- targets are ``[anchors, tokens]`` with the prompt's real token count (mmdet's sizes them with
  ``feat_channels``, right only when prompts are padded to exactly 256 tokens);
- the alignment loss is the token-level sigmoid focal loss of :mod:`.loss` with the text mask passed
  explicitly (no state kept on the head between calls);
- post-processing scores each label of a prompt by the mean sigmoid of its tokens through one matrix
  product with a normalised positive map ``[labels, tokens]``, then follows the official
  ``ATSSPostProcessor`` by default (candidates ranked by score x centerness, inclusive-pixel NMS before
  rescaling); mmdet's ranking is the switch ``test_cfg.candidate_ranking='mmdet'`` (see :mod:`.postprocess`).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads.atss_head import ATSSHead
from mmdet.models.utils import unpack_gt_instances
from mmdet.models.utils.vlfuse_helper import MAX_CLAMP_VALUE
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from ovd.registry import MODELS
from .dyhead import VLDyHead
from .postprocess import check_ranking, official_nms_and_cap, select_candidates

LanguageFeatures = Dict[str, Tensor]  # 'hidden' / 'embedded': [B, T, D_lang], 'masks': [B, T]


@MODELS.register_module()
class GLIPHead(ATSSHead):
    """ATSS head whose classifier is the alignment of anchors with prompt tokens.

    Args:
        lang_model_name: Hub name or local directory of the BERT (its config sizes the fusion layers).
        early_fuse: Deep vision-language fusion in the tower (GLIP-T(B) onwards).
        num_dyhead_blocks: DyHead blocks (6 for Swin-T, 8 for Swin-L).
        fusion_cfg: Extra arguments of :class:`VLDyHead` (fusion width/heads/dropout, DyHead switches).
        loss_align: Config of the token alignment loss (default :class:`TokenSigmoidFocalLoss`).
        num_classes: Unused by the alignment classifier (kept for mmdet's base class).
        **kwargs: Passed to mmdet's ``ATSSHead`` (``in_channels``, ``feat_channels``, anchor generator,
            box coder, ``loss_bbox``, ``loss_centerness``, train/test configs).
    """

    def __init__(self, lang_model_name: str, early_fuse: bool = False, num_dyhead_blocks: int = 6,
                 fusion_cfg: Optional[dict] = None, loss_align: Optional[dict] = None, num_classes: int = 1,
                 init_cfg: Optional[dict] = None, **kwargs) -> None:
        # _init_layers runs inside the base constructor and needs these.
        self._tower_cfg = dict(lang_model_name=lang_model_name, early_fuse=early_fuse,
                               num_blocks=num_dyhead_blocks, **(fusion_cfg or {}))
        super().__init__(num_classes=num_classes, init_cfg=init_cfg, **kwargs)
        self.loss_align = MODELS.build(loss_align or dict(type='TokenSigmoidFocalLoss', alpha=0.25, gamma=2.0))
        if self.num_base_priors != 1:
            raise ValueError(f'GLIPHead expects one anchor per location, got {self.num_base_priors}')

    def _init_layers(self) -> None:
        """The VL DyHead replaces ATSS's conv towers and classifiers."""
        self.head = VLDyHead(self.in_channels, self.feat_channels, **self._tower_cfg)

    @property
    def early_fuse(self) -> bool:
        return self.head.early_fuse

    # ---------------------------------------------------------------- forward
    def run_tower(self, visual_feats: Sequence[Tensor],
                  language_feats: Optional[LanguageFeatures]) -> Tuple[List[Tensor], Optional[Tensor]]:
        """Run the DyHead tower (with fusion layers when ``early_fuse``).

        Args:
            visual_feats: Neck outputs, 5 levels of [B, C, H_l, W_l].
            language_feats: Text features of the prompts (``None`` allowed without fusion).

        Returns:
            The tower's visual features (5 levels of [B, C, H_l, W_l]) and the token embedding the
            alignment uses ([B, T, D_lang]: fused ``hidden`` with fusion, BERT's ``embedded`` without;
            ``None`` when no language features were given).
        """
        lang = dict(language_feats) if language_feats is not None else {}
        if self.early_fuse and not lang:
            raise ValueError('a fused GLIP head needs the language features to run its tower')
        out = self.head.dyhead_tower({'visual': list(visual_feats), 'lang': lang})
        if not lang:
            return out['visual'], None
        embedding = out['lang']['hidden'] if self.early_fuse else language_feats['embedded']
        return out['visual'], embedding

    def align(self, tower_feats: Sequence[Tensor],
              embedding: Tensor) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Alignment logits (S_ground = O P^T), box deltas and centerness from the tower's features.

        Args:
            tower_feats: 5 levels of [B, C, H_l, W_l] (B may be 1 with ``embedding`` batched: broadcast).
            embedding: Token features, [B, T, D_lang].

        Returns:
            ``cls_logits`` (levels of [B, H_l * W_l, T]), ``bbox_preds`` (levels of [B, 4, H_l, W_l]),
            ``centerness`` (levels of [B, 1, H_l, W_l]).
        """
        head = self.head
        embedding = F.normalize(embedding, p=2, dim=-1)
        proj_tokens = head.dot_product_projection_text(embedding / 2.0)  # [B, T, C]
        token_bias = torch.matmul(embedding, head.bias_lang) + head.bias0  # [B, T]
        cls_logits, bbox_preds, centerness = [], [], []
        for level, visual in enumerate(tower_feats):
            bbox_preds.append(head.scales[level](head.bbox_pred(visual)))
            centerness.append(head.centerness(visual))
            queries = visual.flatten(2).transpose(1, 2)  # [B, H*W, C]
            logits = torch.matmul(queries, proj_tokens.transpose(-1, -2)) / head.log_scale.exp()
            logits = (logits + token_bias[:, None, :]).clamp(min=-MAX_CLAMP_VALUE, max=MAX_CLAMP_VALUE)
            cls_logits.append(logits)
        return cls_logits, bbox_preds, centerness

    def forward(self, visual_feats: Sequence[Tensor],
                language_feats: LanguageFeatures) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
        """Tower then alignment; see :meth:`align` for the outputs."""
        tower_feats, embedding = self.run_tower(visual_feats, language_feats)
        return self.align(tower_feats, embedding)

    # ---------------------------------------------------------------- training
    def loss(self, visual_feats: Sequence[Tensor], language_feats: LanguageFeatures,
             batch_data_samples) -> Dict[str, Tensor]:
        """Losses; each sample's ``gt_instances.positive_maps`` is a binary [num_gt, T] token map."""
        batch_gt_instances, batch_gt_instances_ignore, batch_img_metas = unpack_gt_instances(batch_data_samples)
        cls_logits, bbox_preds, centerness = self(visual_feats, language_feats)
        return self.loss_by_feat(cls_logits, bbox_preds, centerness, batch_gt_instances, batch_img_metas,
                                 language_feats['masks'], batch_gt_instances_ignore)

    def loss_by_feat(self, cls_logits: List[Tensor], bbox_preds: List[Tensor], centernesses: List[Tensor],
                     batch_gt_instances: InstanceList, batch_img_metas: List[dict], text_masks: Tensor,
                     batch_gt_instances_ignore: OptInstanceList = None) -> Dict[str, Tensor]:
        """Alignment, GIoU and centerness losses.

        Args:
            cls_logits: Levels of [B, H_l * W_l, T].
            bbox_preds: Levels of [B, 4, H_l, W_l].
            centernesses: Levels of [B, 1, H_l, W_l].
            batch_gt_instances: Per image ``bboxes`` [G, 4] and ``positive_maps`` [G, T].
            batch_img_metas: Per image meta information.
            text_masks: Valid tokens, [B, T].
            batch_gt_instances_ignore: Boxes to ignore, per image.

        Returns:
            ``loss_cls`` (alignment), ``loss_bbox`` (GIoU), ``loss_centerness``.
        """
        num_imgs = len(batch_img_metas)
        featmap_sizes = [p.shape[-2:] for p in bbox_preds]
        device = bbox_preds[0].device
        anchor_list, valid_flag_list = self.get_anchors(featmap_sizes, batch_img_metas, device=device)
        (anchor_list, labels_list, label_weights_list, bbox_targets_list, bbox_weights_list,
         avg_factor) = self.get_targets(anchor_list, valid_flag_list, batch_gt_instances, batch_img_metas,
                                        batch_gt_instances_ignore=batch_gt_instances_ignore)
        num_pos = reduce_mean(torch.tensor(avg_factor, dtype=torch.float, device=device)).item()

        anchors = torch.cat(anchor_list, dim=1).reshape(-1, 4)  # [B*N, 4], x2/y2 shifted by -1 (official)
        labels = torch.cat(labels_list, dim=1)  # [B, N, T]
        label_weights = torch.cat(label_weights_list, dim=1)  # [B, N]
        bbox_targets = torch.cat(bbox_targets_list, dim=1).reshape(-1, 4)
        pos = torch.cat(bbox_weights_list, dim=1).reshape(-1, 4)[:, 0] > 0  # [B*N]
        logits = torch.cat(cls_logits, dim=1)  # [B, N, T]
        bbox_pred = torch.cat([p.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4) for p in bbox_preds], 1)
        centerness = torch.cat([c.permute(0, 2, 3, 1).reshape(num_imgs, -1) for c in centernesses], 1)
        bbox_pred, centerness = bbox_pred.reshape(-1, 4), centerness.reshape(-1)

        loss_cls = self.loss_align(logits, labels, text_masks.bool(), label_weights, avg_factor=num_pos)
        if pos.any():
            pos_anchors = anchors[pos]
            pos_targets = bbox_targets[pos]
            centerness_targets = self.centerness_target(pos_anchors, pos_targets)
            # GLIP's box coder counts the +1 pixel: decode from the unshifted anchors.
            decoded = self.bbox_coder.decode(pos_anchors + pos_anchors.new_tensor([0, 0, 1, 1]), bbox_pred[pos])
            bbox_norm = reduce_mean(centerness_targets.sum().detach()).clamp_(min=1).item()
            loss_bbox = self.loss_bbox(decoded, pos_targets, weight=centerness_targets, avg_factor=bbox_norm)
            loss_centerness = self.loss_centerness(centerness[pos], centerness_targets, avg_factor=num_pos)
        else:
            loss_bbox = bbox_pred.sum() * 0
            loss_centerness = centerness.sum() * 0
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_centerness=loss_centerness)

    def _get_targets_single(self, flat_anchors: Tensor, valid_flags: Tensor, num_level_anchors: List[int],
                            gt_instances: InstanceData, img_meta: dict,
                            gt_instances_ignore: Optional[InstanceData] = None,
                            unmap_outputs: bool = True) -> tuple:
        """ATSS assignment of one image; the label of a positive anchor is its object's token map.

        Returns mmdet's tuple ``(anchors [N, 4], labels [N, T], label_weights [N], bbox_targets [N, 4],
        bbox_weights [N, 4], pos_inds, neg_inds, sampling_result)``.
        """
        anchors = flat_anchors.clone()
        anchors[:, 2:] -= 1  # the official implementation's inclusive-pixel anchors
        assign_result = self.assigner.assign(InstanceData(priors=anchors), num_level_anchors, gt_instances,
                                             gt_instances_ignore)
        sampling_result = self.sampler.sample(assign_result, InstanceData(priors=anchors), gt_instances)
        num_tokens = gt_instances.positive_maps.shape[1]
        bbox_targets = torch.zeros_like(anchors)
        bbox_weights = torch.zeros_like(anchors)
        labels = anchors.new_zeros((anchors.shape[0], num_tokens))
        label_weights = anchors.new_zeros(anchors.shape[0])
        pos_inds, neg_inds = sampling_result.pos_inds, sampling_result.neg_inds
        if len(pos_inds) > 0:
            bbox_targets[pos_inds] = sampling_result.pos_gt_bboxes
            bbox_weights[pos_inds] = 1.0
            labels[pos_inds] = gt_instances.positive_maps[sampling_result.pos_assigned_gt_inds].to(labels.dtype)
            pos_weight = self.train_cfg.get('pos_weight', -1)
            label_weights[pos_inds] = 1.0 if pos_weight <= 0 else pos_weight
        if len(neg_inds) > 0:
            label_weights[neg_inds] = 1.0
        return (anchors, labels, label_weights, bbox_targets, bbox_weights, pos_inds, neg_inds,
                sampling_result)

    # ---------------------------------------------------------------- inference
    def predict_prompt(self, cls_logits: List[Tensor], bbox_preds: List[Tensor], centernesses: List[Tensor],
                       label_token_map: Tensor, batch_img_metas: List[dict], rescale: bool = True,
                       cfg: Optional[ConfigDict] = None) -> InstanceList:
        """Detections of one prompt (one chunk of a vocabulary, or one caption) for each image.

        Args:
            cls_logits: Levels of [B, H_l * W_l, T] (B = 1 broadcasts over the images).
            bbox_preds: Levels of [B, 4, H_l, W_l].
            centernesses: Levels of [B, 1, H_l, W_l].
            label_token_map: [L, T], row l = the tokens of the prompt's label l, each row summing to 1
                (the score of a label is the mean sigmoid of its tokens).
            batch_img_metas: Per image meta information (``img_shape``, ``scale_factor``).
            rescale: Map boxes back to the original image.
            cfg: Test config, the head's by default: ``candidate_ranking`` ('official' by default or 'mmdet',
                see :mod:`.postprocess`), ``score_thr``, ``nms_pre``, ``nms``, ``max_per_img`` and
                ``box_end_offset`` (added to x2/y2 at the end: 1 by default, the official COCO writer's
                convention; 0 for the official LVIS and Flickr30k writers).

        Returns:
            Per image ``InstanceData`` with ``bboxes`` [K, 4], ``scores`` [K], ``labels`` [K] in [0, L).
        """
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        ranking = check_ranking(cfg.get('candidate_ranking', 'official'))
        nms_pre, score_thr = cfg.get('nms_pre', -1), cfg.get('score_thr', 0)
        featmap_sizes = [p.shape[-2:] for p in bbox_preds]
        mlvl_priors = self.prior_generator.grid_priors(featmap_sizes, dtype=bbox_preds[0].dtype,
                                                       device=bbox_preds[0].device)
        token_map_t = label_token_map.to(cls_logits[0]).t()  # [T, L]
        results = []
        for img_id, img_meta in enumerate(batch_img_metas):
            boxes, scores, labels = [], [], []
            for logit, bbox_pred, ctr, priors in zip(cls_logits, bbox_preds, centernesses, mlvl_priors):
                pick = img_id if logit.shape[0] > 1 else 0
                level_scores = logit[pick].detach().sigmoid() @ token_map_t  # [H*W, L]
                deltas = bbox_pred[img_id].detach().permute(1, 2, 0).reshape(-1, 4)
                ctr = ctr[img_id].detach().permute(1, 2, 0).reshape(-1).sigmoid()
                s, anchor_ids, lab = select_candidates(level_scores, ctr, score_thr, nms_pre, ranking)
                # mmdet's GLIP coder on mmdet's anchors gives the official inclusive-pixel boxes, clipped
                # to [0, size - 1] as the official BoxList.clip_to_image.
                boxes.append(self.bbox_coder.decode(priors[anchor_ids], deltas[anchor_ids],
                                                    max_shape=img_meta['img_shape']))
                scores.append(s)
                labels.append(lab)
            res = InstanceData(bboxes=torch.cat(boxes), scores=torch.cat(scores), labels=torch.cat(labels))
            if ranking == 'official':
                keep = official_nms_and_cap(res.bboxes, res.scores, res.labels, cfg['nms']['iou_threshold'],
                                            cfg.get('max_per_img', -1))
                res = res[keep]
                if rescale and len(res) > 0:
                    res.bboxes = res.bboxes / res.bboxes.new_tensor(img_meta['scale_factor']).repeat((1, 2))
            else:
                res = self._bbox_post_process(res, cfg, rescale=rescale, with_nms=True, img_meta=img_meta)
            if len(res) > 0:
                res.bboxes[:, 2:] = res.bboxes[:, 2:] + cfg.get('box_end_offset', 1)
            results.append(res)
        return results
