"""The evaluation layer: protocols as plain functions on arrays, and mmengine metrics wrapping them.

Protocols ('lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80', 'coco'/'objects365', 'flickr30k-any-box',
'flickr30k-merged-box') are documented in docs/evaluation.md and in their modules. The protocols need numpy
only; the mmengine metrics (:mod:`ovd.evaluation.metrics`) need mmengine and torch. Every exported name is
imported on first access, so ``import ovd.evaluation`` loads nothing heavy and ``ovd eval`` neither mmengine nor
torch.
"""
import importlib

# exported name -> its module; each is imported on first access, so that reading the protocol table
# (ovd.evaluation.protocols, what the benchmark runner needs) does not load numpy and every evaluator.
_EXPORTS = {
    'evaluate_coco': 'coco_ap', 'evaluate_lvis': 'lvis_ap', 'evaluate_ov_coco': 'ov_coco',
    'OV_COCO_BASE': 'ov_coco', 'OV_COCO_NOVEL': 'ov_coco',
    'evaluate_flickr30k': 'flickr30k', 'GroundedPhrase': 'flickr30k', 'SentencePrediction': 'flickr30k',
    'PROTOCOLS': 'protocols', 'evaluate_detections': 'protocols', 'evaluate_files': 'protocols',
    'Detections': 'records', 'GroundTruth': 'records', 'EvaluationInputError': 'records',
    'load_ground_truth': 'records', 'load_results': 'records',
    'OVDetectionMetric': 'metrics', 'Flickr30kRecallMetric': 'metrics',
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f'{__name__}.{_EXPORTS[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
