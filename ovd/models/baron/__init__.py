"""BARON (Wu et al., CVPR 2023): aligning bags of regions with a frozen CLIP text encoder.

Reading order: detector -> roi_head -> bbox_head (pseudo words, ensemble) -> proposals / neighborhood (bags) ->
distill (losses) -> frozen_clip (pseudo-text and dense-image encoding).
"""
from .bbox_head import BaronBBoxHead, BaronEnsembleBBoxHead
from .detector import Baron
from .roi_head import BaronRoIHead

__all__ = ['Baron', 'BaronBBoxHead', 'BaronEnsembleBBoxHead', 'BaronRoIHead']
