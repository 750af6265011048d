"""ViLD (Gu et al., ICLR 2022): vision and language knowledge distillation from CLIP.

Reading order: :mod:`.detector` (Mask R-CNN that trains on base classes only) -> :mod:`.roi_head` (ViLD-text,
ViLD, ViLD-ensemble) -> :mod:`.bbox_head` and :mod:`.text_classifier` (cosine classifier) -> :mod:`.losses`
(L1 distillation) -> :mod:`.ensemble` (geometric-mean scores, formula in :mod:`ovd.models.common.ensemble`);
:mod:`.clip_region_teacher` and :mod:`.region_precompute` fill the region cache, which with its pipeline transforms
is method-agnostic and lives in the data layer (:mod:`ovd.data.region_cache`, :mod:`ovd.data.region_transforms`).
"""
from .bbox_head import ViLDBBoxHead, resolve_base_mask
from .detector import ViLD
from .ensemble import ensemble_scores
from .losses import distillation_l1_loss, valid_regions
from .roi_head import ViLDRoIHead
from .text_classifier import ViLDTextClassifier, load_class_embeddings

__all__ = ['ViLD', 'ViLDBBoxHead', 'ViLDRoIHead', 'ViLDTextClassifier', 'distillation_l1_loss', 'ensemble_scores',
           'load_class_embeddings', 'resolve_base_mask', 'valid_regions']
