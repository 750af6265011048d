"""MDETR (Kamath et al., ICCV 2021): modulated detection for end-to-end multi-modal understanding.

Reads top to bottom: :mod:`.detector` (joint image-text transformer, inference modes) -> :mod:`.head`
(per-query predictions) -> :mod:`.criterion` (matching and losses, with :mod:`.match_cost` and
:mod:`.targets`) -> :mod:`.postprocess`; :mod:`.timm_backbone` wraps the EfficientNet backbone and
:mod:`.optim` holds the official parameter groups and learning-rate schedule.
"""
from .criterion import MDETRCriterion
from .detector import MDETR
from .head import MDETRHead
from .match_cost import SoftTokenCost
from .optim import MDETRLR, MDETROptimWrapperConstructor
from .timm_backbone import TimmBackbone

__all__ = ['MDETR', 'MDETRHead', 'MDETRCriterion', 'SoftTokenCost', 'TimmBackbone', 'MDETRLR',
           'MDETROptimWrapperConstructor']
