"""GLIP's vision-language DyHead: DyHead blocks with optional deep fusion (X-MHA + extra BERT layers).

Built from mmdet 3.3's blocks (``DyConv``/``Conv3x3Norm`` of the DyHead, ``VLFuse`` bi-directional
cross-attention, ``BertEncoderLayer``) with the same attribute names as mmdet's ``VLFusionModule`` so state
dicts convert one-to-one. Written as its own module (not mmdet's ``VLFusionModule``) because that one builds
``VLFuse()`` with hard-wired BERT-base sizes (768-d text, 2048-d attention), which rules out any other text
width, such as the tiny BERT the tests use; here the fusion sizes come from the language model's config.
Two pieces are computed faster than mmdet's with the same parameters and outputs (to float rounding): the
X-MHA folds its visual projections into the text side (``fusion.py``) and the deformable convs use the
``grid_sample`` CPU path (``ovd.models.glip.deform_conv``).
"""
import math
from typing import Optional

import torch
from mmcv.cnn import Scale
from mmdet.models.dense_heads.atss_vlfusion_head import Conv3x3Norm, DyConv
from mmdet.models.utils.vlfuse_helper import BertEncoderLayer
from mmengine.model import BaseModule
from torch import nn
from transformers import BertConfig

from .deform_conv import FastModulatedDeformConv2d
from .fusion import build_vl_fuse


def conv3x3_norm(in_channels: int, out_channels: int, stride: int, use_dcn: bool) -> Conv3x3Norm:
    """mmdet's DyHead conv + GroupNorm(16), its deformable conv swapped for the fast CPU one (same parameters)."""
    block = Conv3x3Norm(in_channels, out_channels, stride, use_dcn=use_dcn, norm_type=['gn', 16])
    if use_dcn:
        block.conv = FastModulatedDeformConv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
    return block


class VLDyHead(BaseModule):
    """The DyHead tower (``num_blocks`` x [fusion, BERT layer]? + DyConv) and GLIP's prediction layers.

    Args:
        in_channels: Channels of the neck's outputs.
        feat_channels: Channels inside the tower.
        lang_model_name: Hub name or local directory of the BERT whose config sizes the text side.
        early_fuse: Deep fusion (GLIP-T(B) and later); off for GLIP-T(A).
        num_blocks: DyHead blocks (6 for Swin-T, 8 for Swin-L).
        fusion_embed_dim: Width of the X-MHA attention (2048 in GLIP).
        fusion_num_heads: Heads of the X-MHA (8 in GLIP).
        fusion_dropout: Attention dropout of the X-MHA (0.1 in GLIP).
        use_dyrelu, use_dyfuse, use_dcn: DyHead's dynamic ReLU, scale attention and deformable convs.
        use_checkpoint: Gradient checkpointing of the fusion layers.
        num_levels: Pyramid levels (5).
    """

    def __init__(self, in_channels: int, feat_channels: int, lang_model_name: str, early_fuse: bool = False,
                 num_blocks: int = 6, fusion_embed_dim: int = 2048, fusion_num_heads: int = 8,
                 fusion_dropout: float = 0.1, use_dyrelu: bool = True, use_dyfuse: bool = True,
                 use_dcn: bool = True, use_checkpoint: bool = False, num_levels: int = 5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.early_fuse = early_fuse
        self.num_base_priors = 1
        lang_cfg = BertConfig.from_pretrained(lang_model_name)
        self.lang_dim = lang_cfg.hidden_size
        tower = []
        for i in range(num_blocks):
            if early_fuse:
                tower.append(build_vl_fuse(v_dim=in_channels if i == 0 else feat_channels, l_dim=self.lang_dim,
                                    embed_dim=fusion_embed_dim, num_heads=fusion_num_heads,
                                    dropout=fusion_dropout, use_checkpoint=use_checkpoint))
                tower.append(BertEncoderLayer(lang_cfg, clamp_min_for_underflow=True,
                                              clamp_max_for_overflow=True))
            same = in_channels == feat_channels
            tower.append(DyConv(
                lambda i_, o_, s_: conv3x3_norm(i_, o_, s_, use_dcn=use_dcn),
                in_channels if i == 0 else feat_channels, feat_channels,
                use_dyrelu=use_dyrelu and (same or i > 0), use_dyfuse=use_dyfuse and (same or i > 0),
                use_dcn=use_dcn and (same or i > 0)))
        self.dyhead_tower = nn.Sequential(*tower)
        self.bbox_pred = nn.Conv2d(feat_channels, 4, kernel_size=1)
        self.centerness = nn.Conv2d(feat_channels, 1, kernel_size=1)
        self.dot_product_projection_text = nn.Linear(self.lang_dim, feat_channels, bias=True)
        self.log_scale = nn.Parameter(torch.Tensor([0.0]), requires_grad=True)
        self.bias_lang = nn.Parameter(torch.zeros(self.lang_dim), requires_grad=True)
        # Prior probability 0.01 for the alignment logits (as RetinaNet's classifier bias).
        self.bias0 = nn.Parameter(torch.Tensor([-math.log((1 - 0.01) / 0.01)]), requires_grad=True)
        self.scales = nn.ModuleList([Scale(1.0) for _ in range(num_levels)])
