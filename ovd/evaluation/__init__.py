"""The evaluation layer: protocols as plain functions on arrays, and mmengine metrics wrapping them.

Protocols ('lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80', 'coco'/'objects365', 'flickr30k-any-box',
'flickr30k-merged-box') are documented in docs/evaluation.md and in their modules. The protocols need numpy
only; the mmengine metrics (:mod:`ovd.evaluation.metrics`) are imported on first access, so ``ovd eval`` and
``import ovd.evaluation`` load neither mmengine nor torch.
"""
from .coco_ap import evaluate_coco
from .flickr30k import GroundedPhrase, SentencePrediction, evaluate_flickr30k
from .lvis_ap import evaluate_lvis
from .ov_coco import OV_COCO_BASE, OV_COCO_NOVEL, evaluate_ov_coco
from .protocols import PROTOCOLS, evaluate_detections, evaluate_files
from .records import Detections, EvaluationInputError, GroundTruth, load_ground_truth, load_results

__all__ = ['evaluate_coco', 'evaluate_lvis', 'evaluate_ov_coco', 'evaluate_flickr30k', 'evaluate_detections',
           'evaluate_files', 'GroundedPhrase', 'SentencePrediction', 'OVDetectionMetric',
           'Flickr30kRecallMetric', 'OV_COCO_BASE', 'OV_COCO_NOVEL', 'PROTOCOLS', 'Detections', 'GroundTruth',
           'EvaluationInputError', 'load_ground_truth', 'load_results']

_METRIC_CLASSES = ('OVDetectionMetric', 'Flickr30kRecallMetric')


def __getattr__(name: str):
    if name in _METRIC_CLASSES:
        from . import metrics
        return getattr(metrics, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
