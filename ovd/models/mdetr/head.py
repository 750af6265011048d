"""MDETR's prediction head: soft-token logits, boxes and contrastive-alignment projections per query.

Layer names follow the official model (``class_embed``, ``bbox_embed``, ``contrastive_align_projection_*``)
so that the checkpoint converter maps them one to one.
"""
from typing import Dict, List, Optional, Tuple

import torch.nn.functional as F
from mmdet.models.layers.transformer.utils import MLP
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ovd.registry import MODELS

from .criterion import MDETRCriterion


@MODELS.register_module()
class MDETRHead(BaseModule):
    """Per-query heads of MDETR and its losses.

    Args:
        embed_dims (int): Width of the decoder (256).
        num_tokens (int): Soft-token slots, the last being no-object (256 in the paper: 255 token positions).
        contrastive_dims (int): Width of the contrastive alignment space (64).
        assigner (dict): Hungarian assigner config, see :class:`MDETRCriterion`.
        loss_weights (dict): Weights of the loss terms, see :class:`MDETRCriterion`.
        no_object_weight (float): Soft-token loss weight of unmatched queries (0.1).
        temperature (float): Contrastive alignment temperature (0.07).
        normalized_soft_targets (bool): Uniform soft-token targets (paper text) instead of the official 0/1 map;
            see :class:`MDETRCriterion`. Default False.
        contrastive_mask_padding (bool): Leave padded token positions out of the contrastive object -> tokens
            normaliser; see :class:`MDETRCriterion`. Default False (official).
        train_cfg, test_cfg (dict, optional): kept for the mmdet detector interface.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, embed_dims: int = 256, num_tokens: int = 256, contrastive_dims: int = 64,
                 assigner: Optional[dict] = None, loss_weights: Optional[Dict[str, float]] = None,
                 no_object_weight: float = 0.1, temperature: float = 0.07, normalized_soft_targets: bool = False,
                 contrastive_mask_padding: bool = False, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_tokens = num_tokens
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg or {}
        self.class_embed = nn.Linear(embed_dims, num_tokens)
        self.bbox_embed = MLP(embed_dims, embed_dims, 4, 3)
        self.contrastive_align_projection_image = nn.Linear(embed_dims, contrastive_dims)
        self.contrastive_align_projection_text = nn.Linear(embed_dims, contrastive_dims)
        if assigner is None:
            assigner = dict(type='HungarianAssigner', match_costs=[
                dict(type='SoftTokenCost', weight=1.0),
                dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
                dict(type='IoUCost', iou_mode='giou', weight=2.0)])
        if loss_weights is None:
            loss_weights = dict(soft_token=1.0, bbox=5.0, giou=2.0, contrastive_align=1.0)
        self.criterion = MDETRCriterion(assigner, loss_weights, no_object_weight, temperature,
                                        normalized_soft_targets=normalized_soft_targets,
                                        contrastive_mask_padding=contrastive_mask_padding)

    def forward(self, hidden_states: Tensor) -> Tuple[Tensor, Tensor]:
        """Soft-token logits and boxes of every query.

        Args:
            hidden_states (Tensor): ``[num_layers, B, Q, C]`` (or any leading shape) decoder outputs.

        Returns:
            tuple[Tensor, Tensor]: logits ``[..., Q, T]`` and normalised (cx, cy, w, h) boxes ``[..., Q, 4]``.
        """
        return self.class_embed(hidden_states), self.bbox_embed(hidden_states).sigmoid()

    def loss(self, hidden_states: Tensor, text_memory: Tensor, text_pad_mask: Tensor,
             batch_gt_instances: List[InstanceData], batch_img_metas: List[dict]) -> Dict[str, Tensor]:
        """Losses of all decoder layers.

        Args:
            hidden_states (Tensor): ``[num_layers, B, Q, C]``.
            text_memory (Tensor): ``[B, L, C]`` joint-encoder outputs at the caption's token positions.
            text_pad_mask (Tensor): ``[B, L]`` True at padding.
            batch_gt_instances (list[InstanceData]): ``bboxes``, ``labels``, ``positive_maps`` ``[G, T]``.
            batch_img_metas (list[dict]): with ``img_shape``.

        Returns:
            dict[str, Tensor]: weighted losses (see :class:`MDETRCriterion`).
        """
        logits, boxes = self(hidden_states)
        proj_queries = F.normalize(self.contrastive_align_projection_image(hidden_states), p=2, dim=-1)
        proj_tokens = F.normalize(self.contrastive_align_projection_text(text_memory), p=2, dim=-1)
        return self.criterion(logits, boxes, proj_queries, proj_tokens, text_pad_mask, batch_gt_instances,
                              batch_img_metas)
