"""BARON (Wu et al., CVPR 2023): aligning bags of regions with a frozen CLIP text encoder.

Reading order: detector (+ rpn_head, data_preprocessor) -> roi_head -> bbox_head (pseudo words, ensemble) ->
proposals (+ boxes_cache) / neighborhood (bags) -> distill (losses) -> frozen_clip (pseudo-text and dense-image
encoding).
"""
from .bbox_head import BaronBBoxHead, BaronEnsembleBBoxHead
from .data_preprocessor import BaronDataPreprocessor
from .detector import Baron
from .roi_head import BaronRoIHead
from .rpn_head import DetachRPNHead

__all__ = ['Baron', 'BaronBBoxHead', 'BaronDataPreprocessor', 'BaronEnsembleBBoxHead', 'BaronRoIHead', 'DetachRPNHead']
