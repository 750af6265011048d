"""Protocol names -> evaluation of files: what ``ovd eval`` and the metrics dispatch on.

Names: 'lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80', 'coco', 'objects365' (the COCO protocol),
'flickr30k-any-box', 'flickr30k-merged-box'. The bare names 'ov-coco' and 'flickr30k' are refused with a
message naming the variants, so that a reported number always says which protocol produced it.
"""
import os
from typing import Dict, Optional, Union

from .records import Detections, GroundTruth, load_ground_truth, load_results

DETECTION_PROTOCOLS = ('lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80', 'coco', 'objects365')
GROUNDING_PROTOCOLS = ('flickr30k-any-box', 'flickr30k-merged-box')
PROTOCOLS = DETECTION_PROTOCOLS + GROUNDING_PROTOCOLS
AMBIGUOUS = {
    'ov-coco': "say which OV-COCO protocol: 'ov-coco-65' (generalized, the 65 split classes, as OVR-CNN and "
               "Detic report) or 'ov-coco-80' (all 80 classes with base/novel subsets, as ovdet reports)",
    'flickr30k': "say which Flickr30k protocol: 'flickr30k-any-box' (a hit matches any ground-truth box of "
                 "the phrase) or 'flickr30k-merged-box' (the phrase's boxes merged into their enclosing box)",
}


def check_protocol(protocol: str) -> str:
    """Return the protocol name or raise ValueError naming the valid ones."""
    if protocol in AMBIGUOUS:
        raise ValueError(f'protocol {protocol!r} is ambiguous: {AMBIGUOUS[protocol]}')
    if protocol not in PROTOCOLS:
        raise ValueError(f'unknown protocol {protocol!r}; choose one of {", ".join(PROTOCOLS)}')
    return protocol


def evaluate_detections(protocol: str, gt: GroundTruth, dets: Detections, iou_type: str = 'bbox'
                        ) -> Dict[str, float]:
    """Run a detection protocol on arrays.

    Args:
        protocol: one of :data:`DETECTION_PROTOCOLS`.
        gt: the ground truth; dets: the detections (dataset category ids, xywh boxes).
        iou_type: 'bbox' or 'segm'.

    Returns:
        The protocol's named metrics.
    """
    from .coco_ap import evaluate_coco
    from .lvis_ap import evaluate_lvis
    from .ov_coco import evaluate_ov_coco
    check_protocol(protocol)
    if protocol in ('lvis', 'lvis-fixed'):
        return evaluate_lvis(gt, dets, iou_type, fixed_ap=protocol == 'lvis-fixed')
    if protocol.startswith('ov-coco-'):
        return evaluate_ov_coco(gt, dets, protocol.rsplit('-', 1)[1], iou_type)
    if protocol in ('coco', 'objects365'):
        return evaluate_coco(gt, dets, iou_type)
    raise ValueError(f'{protocol!r} is not a detection protocol')


def evaluate_files(protocol: str, gt_path: Union[str, os.PathLike], pred_path: Union[str, os.PathLike],
                   iou_type: str = 'bbox', split: Optional[str] = None,
                   box_convention: Optional[str] = None) -> Dict[str, float]:
    """Evaluate a results file against a ground-truth file.

    Args:
        protocol: a name from :data:`PROTOCOLS`.
        gt_path: COCO/LVIS/Objects365 annotation JSON; for Flickr30k the release root (with ``split``), the
            index ``ovd prepare flickr30k`` writes, or the sentence-list ground-truth JSON.
        pred_path: COCO/LVIS results JSON (a list of detections), or Flickr30k predictions (ovd's or MDETR's
            format).
        iou_type: 'bbox' or 'segm' (detection protocols).
        split: Flickr30k only: the release split ('train', 'val', 'test').
        box_convention: Flickr30k only: 'raw' (default, the XML integers as MDETR's evaluator reads them) or
            'pixel'.

    Returns:
        The protocol's named metrics.
    """
    check_protocol(protocol)
    if protocol in GROUNDING_PROTOCOLS:
        from .flickr30k import evaluate_flickr30k_files
        return evaluate_flickr30k_files(protocol, gt_path, pred_path, split, box_convention or 'raw')
    if split is not None or box_convention is not None:
        raise ValueError(f'--split and the box convention apply to the flickr30k protocols, not {protocol!r}')
    gt = load_ground_truth(gt_path)
    dets = load_results(pred_path, gt)
    return evaluate_detections(protocol, gt, dets, iou_type)
