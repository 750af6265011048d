"""From the metrics dict an mmengine evaluation returns (``runner.test()``) to leaderboard columns, by table.

Keys are ``<prefix>/<name>``; the prefix is the metric's (ovd's metrics: the protocol name; mmdet's: 'coco',
'lvis', ...), and mmdet's ``MultiDatasetsEvaluator`` puts the dataset in front (``<dataset>/<prefix>/<name>``).
A name is a protocol metric of :data:`ovd.evaluation.protocols.PROTOCOLS`, for detection preceded by the IoU
type (``bbox_APr``; mask AP becomes the ``mask_`` column), or mmdet's ``CocoMetric`` name for it (``bbox_mAP_50``).
A key with more parts (``flickr30k-any-box/people/R@1``) is a breakdown, not a headline number.

Column values are percentages, the way papers print them; mmengine metrics report fractions, so a fraction is
multiplied by 100 (:func:`normalize_metrics`).
"""
from typing import Any, Dict, Mapping

from .protocols import FAMILIES, PROTOCOLS

IOU_TYPE_COLUMN_PREFIX = {'bbox': '', 'segm': 'mask_'}
# mmdet's CocoMetric names -> the protocol metric names (mmdet's LVISMetric and LVISFixedAPMetric use ovd's).
MMDET_COCO_NAMES = {'mAP': 'AP', 'mAP_50': 'AP50', 'mAP_75': 'AP75', 'mAP_s': 'APs', 'mAP_m': 'APm',
                    'mAP_l': 'APl'}
# mmdet's metric types -> the protocol they implement (ovd's metrics name their protocol, see protocol_of_evaluator).
MMDET_METRIC_PROTOCOLS = {'CocoMetric': 'coco', 'LVISMetric': 'lvis', 'LVISFixedAPMetric': 'lvis-fixed',
                          'Flickr30kMetric': 'flickr30k-any-box'}


def column_for(key: str, protocol: str) -> str:
    """The leaderboard column of one key of an evaluation's metrics dict, or '' when it is not one.

    Args:
        key: e.g. ``coco/bbox_mAP_50``, ``lvis/segm_APr``, ``ov-coco-65/bbox_AP50_novel``, ``flickr30k-any-box/R@5``,
            ``lvis/lvis/bbox_AP`` (MultiDatasetsEvaluator).
        protocol: a key of :data:`PROTOCOLS`: only its family's columns are columns.

    Returns:
        e.g. ``AP50``, ``mask_APr``, ``AP50_novel``, ``R@5``; '' otherwise.
    """
    parts = key.split('/')
    if len(parts) >= 3 and parts[1] == protocol:  # MultiDatasetsEvaluator: '<dataset>/<protocol>/<metric>'
        parts = parts[1:]
    if len(parts) > 2:  # a breakdown (e.g. flickr30k-any-box/people/R@1), not the headline number
        return ''
    name, prefix = parts[-1], ''
    iou_type, sep, rest = name.partition('_')
    if sep and iou_type in IOU_TYPE_COLUMN_PREFIX:
        prefix, name = IOU_TYPE_COLUMN_PREFIX[iou_type], rest
    column = prefix + MMDET_COCO_NAMES.get(name, name)
    return column if column in FAMILIES[PROTOCOLS[protocol].family].columns else ''


def normalize_metrics(raw: Mapping[str, Any], protocol: str, scale: str = 'fraction') -> Dict[str, float]:
    """Leaderboard columns (percentages) from an evaluation's metrics dict.

    Args:
        raw: metric key -> value, as ``runner.test()`` returns it (values that are not numbers are skipped).
        protocol: a key of :data:`PROTOCOLS`; only its family's columns are kept.
        scale: 'fraction' (mmengine convention, values in [0, 1]) or 'percent'.

    Returns:
        column -> value in percent, rounded to 0.01; the first key (in sorted order) wins when two map to the same
        column; negative values (mmdet's "not computable") are left out.
    """
    factor = 100.0 if scale == 'fraction' else 1.0
    out: Dict[str, float] = {}
    for key in sorted(raw):
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        col = column_for(key, protocol)
        # mmdet reports -1 for an AP it could not compute (no ground truth in that group): left out.
        if col and col not in out and value >= 0:
            out[col] = round(float(value) * factor, 2)
    return out


def protocol_of_evaluator(evaluator: object) -> str:
    """The protocol a config's ``test_evaluator`` implements, or '' when it cannot tell.

    Args:
        evaluator: the config's ``test_evaluator`` (a dict, or a list of dicts: the first one decides).
    """
    if isinstance(evaluator, (list, tuple)):
        evaluator = evaluator[0] if evaluator else {}
    if not hasattr(evaluator, 'get'):
        return ''
    kind = str(evaluator.get('type', '')).split('.')[-1]
    if kind == 'MultiDatasetsEvaluator':  # several datasets: the first one's metric decides
        return protocol_of_evaluator(evaluator.get('metrics', []))
    if kind == 'OVDetectionMetric':
        proto = str(evaluator.get('protocol', 'coco'))
    elif kind == 'Flickr30kRecallMetric':
        proto = str(evaluator.get('protocol', 'any-box'))
        proto = proto if proto.startswith('flickr30k-') else f'flickr30k-{proto}'
    else:
        proto = MMDET_METRIC_PROTOCOLS.get(kind, '')
    return proto if proto in PROTOCOLS else ''
