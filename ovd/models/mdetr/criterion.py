"""MDETR's set criterion: Hungarian matching, then soft-token, box and contrastive-alignment losses.

All the loss terms live here (the shape of DETR's ``SetCriterion``): one method per term, each returning the
unweighted term normalised by the number of ground-truth boxes in the batch; weights are applied once, at the
end; the auxiliary decoder layers reuse the same code and get the mmdet ``d{i}.`` prefix.

Losses (Kamath et al., ICCV 2021, Sec. 2.2 and Appendix):
- soft-token: cross-entropy between each query's predicted distribution over token slots and its target
  (1 on each of its phrase's tokens when matched, as the official training path, see below; no-object otherwise;
  unmatched queries weighted 0.1);
- boxes: L1 on normalised (cx, cy, w, h) and generalised IoU;
- contrastive alignment: InfoNCE-style loss in a 64-d space (temperature 0.07) between query embeddings and
  the token embeddings of their phrase, in both directions (object -> tokens over the tokens of the caption,
  token -> objects over the queries), averaged, and normalised by the number of boxes.

Defaults are the official training path (ashkamath/mdetr); two switches, off by default, give the forms the
paper's text suggests (listed in ``configs/mdetr/README.md``'s fidelity table):
- ``normalized_soft_targets``: the official ``collate_fn`` turns each normalised positive map into a 0/1 map
  before the criterion and the matcher see it, so a matched query's target is 1 on each of its phrase's tokens
  (``loss_ce`` sums ``-log p`` over them); True uses the uniform distribution over the phrase's tokens instead,
  in the matcher's class cost too.
- ``contrastive_mask_padding``: the official object -> tokens normaliser runs over all token positions of the
  batch, padded ones included (a caption's loss then depends on the longest caption it is batched with); True
  leaves padded positions out.
"""
import copy
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy, bbox_overlaps, bbox_xyxy_to_cxcywh
from mmdet.utils import reduce_mean
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from torch import Tensor

from ovd.registry import TASK_UTILS

from .targets import query_token_map, soft_token_target_matrix

#: (query indices, gt indices) of one image's matching
Match = Tuple[Tensor, Tensor]


class MDETRCriterion:
    """Computes MDETR's training losses for every decoder layer.

    Args:
        assigner (dict): Config of the Hungarian assigner (mmdet ``HungarianAssigner`` with ``SoftTokenCost``
            1, ``BBoxL1Cost`` 5 (xywh), ``IoUCost`` GIoU 2 in the paper).
        loss_weights (dict): Weight of each term: ``soft_token``, ``bbox``, ``giou``, ``contrastive_align``.
        no_object_weight (float): Weight of the soft-token loss of unmatched queries (0.1).
        temperature (float): Temperature of the contrastive alignment loss (0.07).
        normalized_soft_targets (bool): Uniform soft-token targets over a phrase's tokens instead of the
            official 0/1 map (also sets ``normalize`` of every ``SoftTokenCost`` of the assigner that does not
            set it). Default False (official).
        contrastive_mask_padding (bool): Leave padded token positions out of the object -> tokens normaliser.
            Default False (official: they are included).
    """

    TERMS = ('soft_token', 'bbox', 'giou', 'contrastive_align')

    def __init__(self, assigner: dict, loss_weights: Dict[str, float], no_object_weight: float = 0.1,
                 temperature: float = 0.07, normalized_soft_targets: bool = False,
                 contrastive_mask_padding: bool = False) -> None:
        unknown = set(loss_weights) - set(self.TERMS)
        if unknown:
            raise KeyError(f'unknown MDETR loss terms {sorted(unknown)}; known: {self.TERMS}')
        # mmdet's HungarianAssigner builds its costs from mmdet's registry: resolve them in scope 'ovd' so
        # that SoftTokenCost is found whatever the caller's default scope
        assigner = copy.deepcopy(assigner)
        for cost in assigner.get('match_costs', []):
            if cost.get('type') in ('SoftTokenCost', 'ovd.SoftTokenCost'):
                cost.setdefault('normalize', normalized_soft_targets)
        with DefaultScope.overwrite_default_scope('ovd'):
            self.assigner = TASK_UTILS.build(assigner)
        self.loss_weights = dict(loss_weights)
        self.no_object_weight = no_object_weight
        self.temperature = temperature
        self.normalized_soft_targets = normalized_soft_targets
        self.contrastive_mask_padding = contrastive_mask_padding

    # ------------------------------------------------------------------ entry point
    def __call__(self, all_logits: Tensor, all_boxes: Tensor, all_proj_queries: Tensor, proj_tokens: Tensor,
                 text_pad_mask: Tensor, batch_gt_instances: List[InstanceData],
                 batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Match and compute the weighted losses of every decoder layer.

        Args:
            all_logits (Tensor): ``[num_layers, B, Q, T]`` soft-token logits (last slot = no-object).
            all_boxes (Tensor): ``[num_layers, B, Q, 4]`` boxes, normalised (cx, cy, w, h) in [0, 1].
            all_proj_queries (Tensor): ``[num_layers, B, Q, D]`` L2-normalised query embeddings (D = 64).
            proj_tokens (Tensor): ``[B, L, D]`` L2-normalised token embeddings of the encoded captions.
            text_pad_mask (Tensor): ``[B, L]`` bool, True at padded token positions.
            batch_gt_instances (list[InstanceData]): per image ``bboxes`` ``[G, 4]`` xyxy pixels (of the
                resized image), ``labels`` ``[G]`` (phrase index) and ``positive_maps`` ``[G, T]``.
            batch_img_metas (list[dict]): per image meta with ``img_shape`` (h, w).

        Returns:
            dict[str, Tensor]: ``loss_<term>`` for the last layer and ``d{i}.loss_<term>`` for the others.
        """
        num_layers = all_logits.shape[0]
        num_boxes = sum(len(gt) for gt in batch_gt_instances)
        num_boxes = reduce_mean(all_logits.new_tensor(float(num_boxes))).clamp(min=1.0)
        losses = {}
        for layer in range(num_layers):
            prefix = '' if layer == num_layers - 1 else f'd{layer}.'
            terms = self.layer_losses(all_logits[layer], all_boxes[layer], all_proj_queries[layer],
                                      proj_tokens, text_pad_mask, batch_gt_instances, batch_img_metas,
                                      num_boxes)
            for name, value in terms.items():
                losses[f'{prefix}loss_{name}'] = value * self.loss_weights.get(name, 0.0)
        return losses

    def layer_losses(self, logits: Tensor, boxes: Tensor, proj_queries: Tensor, proj_tokens: Tensor,
                     text_pad_mask: Tensor, batch_gt_instances: List[InstanceData],
                     batch_img_metas: List[dict], num_boxes: Tensor) -> Dict[str, Tensor]:
        """Unweighted loss terms of one decoder layer (shapes as in ``__call__`` without the layer axis)."""
        matches = [self.match(logits[i], boxes[i], gt, meta)
                   for i, (gt, meta) in enumerate(zip(batch_gt_instances, batch_img_metas))]
        terms = {'soft_token': self.loss_soft_token(logits, matches, batch_gt_instances, num_boxes)}
        terms.update(self.loss_boxes(boxes, matches, batch_gt_instances, batch_img_metas, num_boxes))
        terms['contrastive_align'] = self.loss_contrastive_align(
            proj_queries, proj_tokens, text_pad_mask, matches, batch_gt_instances, num_boxes)
        return terms

    # ------------------------------------------------------------------ matching
    @torch.no_grad()
    def match(self, logits: Tensor, boxes: Tensor, gt: InstanceData, img_meta: dict) -> Match:
        """Hungarian matching of one image's queries to its boxes.

        Args:
            logits (Tensor): ``[Q, T]`` soft-token logits.
            boxes (Tensor): ``[Q, 4]`` normalised (cx, cy, w, h).
            gt (InstanceData): ``bboxes`` ``[G, 4]`` xyxy pixels, ``labels`` ``[G]``, ``positive_maps`` ``[G,
            T]``. img_meta (dict): with ``img_shape``.

        Returns:
            tuple[Tensor, Tensor]: matched query indices ``[M]`` and their gt indices ``[M]``.
        """
        img_h, img_w = img_meta['img_shape'][:2]
        factor = boxes.new_tensor([img_w, img_h, img_w, img_h])
        pred = InstanceData(scores=logits.softmax(-1), bboxes=bbox_cxcywh_to_xyxy(boxes) * factor)
        assigned = self.assigner.assign(pred, gt, img_meta=img_meta).gt_inds
        queries = torch.nonzero(assigned > 0, as_tuple=False).squeeze(-1)
        return queries, assigned[queries] - 1

    # ------------------------------------------------------------------ loss terms
    def loss_soft_token(self, logits: Tensor, matches: List[Match], batch_gt: List[InstanceData],
                        num_boxes: Tensor) -> Tensor:
        """Soft-token cross-entropy, unmatched queries (target: no-object) weighted ``no_object_weight``.

        A matched query's target is its box's 0/1 positive map (official), or that map normalised to sum to 1
        with ``normalized_soft_targets``.

        Args:
            logits (Tensor): ``[B, Q, T]``.

        Returns:
            Tensor: scalar, summed over queries and images, divided by ``num_boxes``.
        """
        log_prob = logits.log_softmax(-1)  # [B, Q, T]
        num_queries, num_tokens = logits.shape[1:]
        total = logits.new_zeros(())
        for i, ((queries, gt_idx), gt) in enumerate(zip(matches, batch_gt)):
            target = soft_token_target_matrix(num_queries, num_tokens, queries,
                                              gt.positive_maps[gt_idx].to(logits.dtype),
                                              normalize=self.normalized_soft_targets)
            per_query = -(log_prob[i] * target).sum(-1)  # [Q]
            weight = per_query.new_full((num_queries,), self.no_object_weight)
            weight[queries] = 1.0
            total = total + (per_query * weight).sum()
        return total / num_boxes

    def loss_boxes(self, boxes: Tensor, matches: List[Match], batch_gt: List[InstanceData],
                   batch_img_metas: List[dict], num_boxes: Tensor) -> Dict[str, Tensor]:
        """L1 on normalised (cx, cy, w, h) and ``1 - GIoU`` of the matched pairs.

        Args:
            boxes (Tensor): ``[B, Q, 4]`` normalised (cx, cy, w, h).

        Returns:
            dict: ``bbox`` and ``giou`` scalars divided by ``num_boxes``.
        """
        src, tgt = [], []
        for i, ((queries, gt_idx), gt, meta) in enumerate(zip(matches, batch_gt, batch_img_metas)):
            img_h, img_w = meta['img_shape'][:2]
            factor = boxes.new_tensor([img_w, img_h, img_w, img_h])
            src.append(boxes[i, queries])
            tgt.append(bbox_xyxy_to_cxcywh(gt.bboxes[gt_idx].to(boxes.dtype) / factor))
        src, tgt = torch.cat(src), torch.cat(tgt)  # [M, 4] each
        if len(src) == 0:
            zero = boxes.sum() * 0.0  # keeps the graph (and DDP) happy
            return {'bbox': zero, 'giou': zero}
        l1 = F.l1_loss(src, tgt, reduction='sum')
        giou = bbox_overlaps(bbox_cxcywh_to_xyxy(src), bbox_cxcywh_to_xyxy(tgt), mode='giou', is_aligned=True)
        return {'bbox': l1 / num_boxes, 'giou': (1 - giou).sum() / num_boxes}

    def loss_contrastive_align(self, proj_queries: Tensor, proj_tokens: Tensor, text_pad_mask: Tensor,
                               matches: List[Match], batch_gt: List[InstanceData],
                               num_boxes: Tensor) -> Tensor:
        """Symmetric contrastive alignment between matched queries and their phrase's tokens.

        With ``s = <q, t> / temperature`` and ``P`` the set of (query, token) positives:
        object -> tokens: for every query with positives, ``-mean_{t in P(q)} s(q, t) + logsumexp_t s(q, t)``
        (over all ``L`` token positions of the batch, padded ones included, as the official code; over the
        caption's real tokens with ``contrastive_mask_padding``); token -> objects: for every token with
        positives, ``-mean_{q in P(t)} s(q, t) + logsumexp_q s(q, t)`` (over all queries). The means divide by
        ``|P| + 1e-6`` (the official expression). Both are summed over the batch, averaged together and divided
        by ``num_boxes``.

        Args:
            proj_queries (Tensor): ``[B, Q, D]`` normalised query embeddings.
            proj_tokens (Tensor): ``[B, L, D]`` normalised token embeddings.
            text_pad_mask (Tensor): ``[B, L]`` True at padding.

        Returns:
            Tensor: scalar.
        """
        logits = proj_queries @ proj_tokens.transpose(-1, -2) / self.temperature  # [B, Q, L]
        num_queries, num_tokens = logits.shape[1:]
        positive = torch.stack([
            query_token_map(num_queries, num_tokens, queries, gt.positive_maps[gt_idx])
            for (queries, gt_idx), gt in zip(matches, batch_gt)])  # [B, Q, L] bool
        pos_logits = logits.masked_fill(~positive, 0.0)

        # object -> tokens
        token_logits = logits
        if self.contrastive_mask_padding:
            token_logits = logits.masked_fill(text_pad_mask[:, None, :], float('-inf'))
        has_pos = positive.any(2)  # [B, Q]
        box_to_token = (-pos_logits.sum(2) / (positive.sum(2) + 1e-6) + token_logits.logsumexp(2))
        box_to_token = box_to_token.masked_fill(~has_pos, 0.0).sum()

        # token -> objects
        has_pos = positive.any(1)  # [B, L]
        token_to_box = (-pos_logits.sum(1) / (positive.sum(1) + 1e-6) + logits.logsumexp(1))
        token_to_box = token_to_box.masked_fill(~has_pos, 0.0).sum()
        return (box_to_token + token_to_box) / 2 / num_boxes
