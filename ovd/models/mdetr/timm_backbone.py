"""A timm CNN as an mmdet backbone (MDETR's EfficientNet-B5), with frozen batch norm.

mmdet 3.3 has no timm wrapper of its own (mmpretrain's ``TIMMBackbone`` would pull in a whole package for ten
lines), so this thin one builds ``timm.create_model(..., features_only=True)`` and returns the requested
stages. As in MDETR, batch norm statistics and affine parameters are frozen (``FrozenBatchNorm2d``), since the
per-GPU batches are tiny.
"""
from typing import Optional, Sequence, Tuple

import timm
from mmengine.model import BaseModule
from timm.layers import freeze_batch_norm_2d
from torch import Tensor

from ovd.registry import MODELS


@MODELS.register_module()
class TimmBackbone(BaseModule):
    """Feature maps of a timm model.

    Args:
        model_name (str): timm model name, e.g. ``'tf_efficientnet_b5.ns_jft_in1k'`` (the Noisy-Student
            EfficientNet-B5 MDETR uses).
        pretrained (bool | str): False: random init; True: timm's pretrained weights (hub); a path: a local
            weight file for this model.
        out_indices (sequence[int]): timm feature indices to return (``(4,)``: stride 32, as MDETR).
        freeze_bn (bool): Replace batch norm by frozen batch norm.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self, model_name: str, pretrained: object = False, out_indices: Sequence[int] = (4,),
                 freeze_bn: bool = True, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        kwargs = dict(features_only=True, out_indices=tuple(out_indices))
        if isinstance(pretrained, str):
            kwargs.update(pretrained=True, pretrained_cfg_overlay=dict(file=pretrained))
        else:
            kwargs.update(pretrained=bool(pretrained))
        self.body = timm.create_model(model_name, **kwargs)
        if freeze_bn:
            self.body = freeze_batch_norm_2d(self.body)
        self.out_channels = list(self.body.feature_info.channels())

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``[B, 3, H, W]`` -> tuple of ``[B, C_i, H / s_i, W / s_i]``."""
        return tuple(self.body(x))
