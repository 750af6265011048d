"""GLIP (Li et al., CVPR 2022): detection as phrase grounding with deep vision-language fusion.

Reads top to bottom: :mod:`.detector` (prompts, chunked inference) -> :mod:`.head` (ATSS head with token
alignment) -> :mod:`.dyhead` (VL DyHead tower) -> :mod:`.loss` (token-level sigmoid focal loss) ->
:mod:`.postprocess` (the official ATSS post-processing and box conventions).
"""
from .detector import GLIPDetector, merge_detections
from .dyhead import VLDyHead
from .head import GLIPHead
from .loss import TokenSigmoidFocalLoss, token_sigmoid_focal_loss

__all__ = ['GLIPDetector', 'GLIPHead', 'VLDyHead', 'TokenSigmoidFocalLoss', 'merge_detections',
           'token_sigmoid_focal_loss']
