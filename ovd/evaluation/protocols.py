"""The protocol table, and protocol names -> evaluation of files (what ``ovd eval`` and the metrics dispatch on).

One row per protocol (:data:`PROTOCOLS`): its name, kind (detection or grounding), the metric names its evaluation
returns, its leaderboard family (:data:`FAMILIES`: the display columns) with its variant label there, and the
evaluation set published numbers under it are reported on. The benchmark runner reads names, families and columns
from here (:mod:`ovd.evaluation.metric_names` maps an evaluator's metrics dict to the columns).

Names: 'lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80', 'coco', 'objects365' (the COCO protocol),
'flickr30k-any-box', 'flickr30k-merged-box'. The bare names 'ov-coco' and 'flickr30k' are refused with a
message naming the variants, so that a reported number always says which protocol produced it.
"""
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Union

if TYPE_CHECKING:  # the readers need numpy; the table is read without it (the benchmark runner)
    from .records import Detections, GroundTruth


@dataclass(frozen=True)
class Family:
    """One leaderboard table: the metric columns it shows (percentages; ``mask_`` for mask AP) and the ones a
    paper row is compared on."""
    name: str
    title: str
    columns: Tuple[str, ...]
    delta_columns: Tuple[str, ...]
    variant_title: str


@dataclass(frozen=True)
class Protocol:
    """A protocol: its kind ('detection' or 'grounding'), the metric names its evaluation returns (headline
    numbers; detection metrics also come per IoU type, see :mod:`ovd.evaluation.metric_names`), its leaderboard
    family and variant label there, and the evaluation set the published numbers under it are reported on."""
    name: str
    kind: str
    metrics: Tuple[str, ...]
    family: str
    variant: str
    paper_dataset: str


FAMILIES: Dict[str, Family] = {
    'lvis': Family('lvis', 'LVIS', ('AP', 'APr', 'APc', 'APf', 'AP50', 'AP75', 'AP50_base', 'AP50_novel',
                                    'mask_AP', 'mask_APr', 'mask_APc', 'mask_APf'),
                   ('APr', 'AP', 'mask_APr', 'mask_AP'), 'protocol'),
    'ov-coco': Family('ov-coco', 'OV-COCO', ('AP50_novel', 'AP50_base', 'AP50_all'),
                      ('AP50_novel', 'AP50_base', 'AP50_all'), 'classes'),
    'flickr30k': Family('flickr30k', 'Flickr30k Entities', ('R@1', 'R@5', 'R@10'),
                        ('R@1', 'R@5', 'R@10'), 'protocol'),
    'coco': Family('coco', 'COCO / Objects365', ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'),
                   ('AP', 'AP50'), 'dataset'),
}

_COCO_AP = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')
_LVIS_AP = _COCO_AP + ('APr', 'APc', 'APf', 'AP50_novel', 'AP50_base')
_OV_COCO_AP = ('AP50_novel', 'AP50_base', 'AP50_all', 'AP_novel', 'AP_base', 'AP_all')
_RECALL = ('R@1', 'R@5', 'R@10', 'UB')  # Flickr30kRecallMetric's default top-k

PROTOCOLS: Dict[str, Protocol] = {p.name: p for p in (
    Protocol('lvis', 'detection', _LVIS_AP, 'lvis', 'std', 'LVIS v1 val'),
    Protocol('lvis-fixed', 'detection', _LVIS_AP, 'lvis', 'fixed', 'LVIS minival'),
    Protocol('ov-coco-65', 'detection', _OV_COCO_AP, 'ov-coco', '65 classes (48 base + 17 novel)', 'COCO val2017'),
    Protocol('ov-coco-80', 'detection', _OV_COCO_AP, 'ov-coco', '80 classes', 'COCO val2017'),
    Protocol('coco', 'detection', _COCO_AP, 'coco', 'COCO', 'COCO val2017'),
    Protocol('objects365', 'detection', _COCO_AP, 'coco', 'Objects365', 'Objects365 val'),
    Protocol('flickr30k-any-box', 'grounding', _RECALL, 'flickr30k', 'any-box', 'Flickr30k Entities test'),
    Protocol('flickr30k-merged-box', 'grounding', _RECALL, 'flickr30k', 'merged-box', 'Flickr30k Entities test'),
)}
DETECTION_PROTOCOLS = tuple(name for name, p in PROTOCOLS.items() if p.kind == 'detection')
GROUNDING_PROTOCOLS = tuple(name for name, p in PROTOCOLS.items() if p.kind == 'grounding')
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


def evaluate_detections(protocol: str, gt: 'GroundTruth', dets: 'Detections', iou_type: str = 'bbox'
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
    from .records import load_ground_truth, load_results
    gt = load_ground_truth(gt_path)
    dets = load_results(pred_path, gt)
    return evaluate_detections(protocol, gt, dets, iou_type)
