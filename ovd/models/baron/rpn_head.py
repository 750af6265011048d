"""BARON's RPN head on OV-COCO R50-FPN (ovdet ``DetachRPNHead``, ``ovdet/models/dense_heads/rpn_head.py:92-123``).

mmdet's ``RPNHead`` with one change to the objectness branch: it reads the shared 3x3 conv's output *detached*
and has its own extra 3x3 conv + ReLU before the 1x1 classifier. The objectness loss (trained on base-class boxes
only) then cannot shape the shared RPN features, so regions of novel objects are not pushed towards background
("to avoid suppression on novel categories", ovdet's comment); box regression still trains them. ovdet's other
RPN head, ``CustomRPNHead`` (C4 and LVIS configs), is mmdet's ``RPNHead`` with scores cast to float before NMS,
an AMP dtype fix that mmdet's head needs no copy of here.
"""
from typing import Tuple

import torch.nn.functional as F
from mmdet.models.dense_heads import RPNHead
from torch import Tensor, nn

from ovd.registry import MODELS


@MODELS.register_module()
class DetachRPNHead(RPNHead):
    """``RPNHead`` whose objectness branch (conv3x3-ReLU-conv1x1) sees the shared features detached."""

    def _init_layers(self) -> None:
        super()._init_layers()
        self.rpn_cls = nn.Sequential(
            nn.Conv2d(self.feat_channels, self.feat_channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(self.feat_channels, self.num_base_priors * self.cls_out_channels, 1))

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        x = F.relu(self.rpn_conv(x))
        return self.rpn_cls(x.detach()), self.rpn_reg(x)
