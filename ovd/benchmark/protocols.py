"""Evaluation protocols the runner knows (the names of ``ovd.evaluation``), their leaderboard table (family) and
columns, and the mapping from the metric names evaluators log (mmdet's ``coco/bbox_mAP_50``, ``lvis/bbox_APr``,
ours) to those columns.

Column values are percentages, the way papers print them; mmengine metrics log fractions, so a fraction is
multiplied by 100 (:func:`normalize_metrics`).
"""
import re
from dataclasses import dataclass
from typing import Dict, Mapping, Tuple


@dataclass(frozen=True)
class Family:
    """One leaderboard table: the metric columns it shows and the ones a paper row is compared on."""
    name: str
    title: str
    columns: Tuple[str, ...]
    delta_columns: Tuple[str, ...]
    variant_title: str


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


@dataclass(frozen=True)
class Protocol:
    """A protocol's leaderboard family, its variant label there, and the evaluation set the published numbers
    under it are reported on (the dataset column of paper rows)."""
    name: str
    family: str
    variant: str
    paper_dataset: str = ''


PROTOCOLS: Dict[str, Protocol] = {p.name: p for p in (
    Protocol('lvis', 'lvis', 'std', 'LVIS v1 val'),
    Protocol('lvis-fixed', 'lvis', 'fixed', 'LVIS minival'),
    Protocol('ov-coco-65', 'ov-coco', '65 classes (48 base + 17 novel)', 'COCO val2017'),
    Protocol('ov-coco-80', 'ov-coco', '80 classes', 'COCO val2017'),
    Protocol('flickr30k-any-box', 'flickr30k', 'any-box', 'Flickr30k Entities test'),
    Protocol('flickr30k-merged-box', 'flickr30k', 'merged-box', 'Flickr30k Entities test'),
    Protocol('coco', 'coco', 'COCO', 'COCO val2017'),
    Protocol('objects365', 'coco', 'Objects365', 'Objects365 val'),
)}

_AP = re.compile(r'^m?ap(?:_?(50|75|s|m|l|r|c|f))?$', re.IGNORECASE)
_SPLIT_AP50 = re.compile(r'^(?:(novel|base|all)_m?ap_?50|m?ap_?50_(novel|base|all))$', re.IGNORECASE)
_RECALL = re.compile(r'^(?:recall|r)@(\d+)(?:_(?:any|merged)(?:_?box)?)?$', re.IGNORECASE)


def column_for(key: str) -> str:
    """Map one logged metric name to a leaderboard column, or '' when it is not a leaderboard metric.

    Args:
        key: e.g. ``coco/bbox_mAP_50``, ``lvis/segm_APr``, ``ov_coco/novel_ap50``, ``flickr/Recall@5``.

    Returns:
        e.g. ``AP50``, ``mask_APr``, ``AP50_novel``, ``R@5``; '' if unknown.
    """
    parts = key.split('/')
    if len(parts) > 2:  # a breakdown (e.g. flickr30k-any-box/people/R@1), not the headline number
        return ''
    name = parts[-1]
    prefix = ''
    low = name.lower()
    if low.startswith(('segm_', 'mask_')):
        prefix, name = 'mask_', name[5:]
    elif low.startswith('bbox_'):
        name = name[5:]
    m = _AP.match(name)
    if m:
        suffix = (m.group(1) or '')
        suffix = suffix if suffix.isdigit() else suffix.lower()
        return prefix + 'AP' + suffix
    m = _SPLIT_AP50.match(name)
    if m and not prefix:
        return 'AP50_' + (m.group(1) or m.group(2)).lower()
    m = _RECALL.match(name)
    if m and not prefix:
        return f'R@{int(m.group(1))}'
    return ''


def normalize_metrics(raw: Mapping[str, float], protocol: str, scale: str = 'fraction') -> Dict[str, float]:
    """Leaderboard columns (percentages) from an evaluator's logged metrics.

    Args:
        raw: logged metric name -> value.
        protocol: a key of :data:`PROTOCOLS`; only its family's columns are kept.
        scale: 'fraction' (mmengine convention, values in [0, 1]) or 'percent'.

    Returns:
        column -> value in percent, rounded to 0.01; the first logged key (in sorted order) wins when two
        map to the same column; negative values (mmdet's "not computable") are left out.
    """
    family = FAMILIES[PROTOCOLS[protocol].family]
    factor = 100.0 if scale == 'fraction' else 1.0
    out: Dict[str, float] = {}
    for key in sorted(raw):
        value = raw[key]
        parts = key.split('/')
        if len(parts) >= 3 and parts[1] == protocol:  # MultiDatasetsEvaluator: '<dataset>/<protocol>/<metric>'
            key = '/'.join(parts[1:])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        col = column_for(key)
        # mmdet logs -1 for an AP it could not compute (no ground truth in that group): left out.
        if col and col in family.columns and col not in out and value >= 0:
            out[col] = round(float(value) * factor, 2)
    return out


# test_evaluator type -> protocol, for ``protocol: auto`` in sweep specs; ovd's metrics carry a ``protocol``.
_EVALUATOR_PROTOCOLS = {'CocoMetric': 'coco', 'LVISMetric': 'lvis', 'LVISFixedAPMetric': 'lvis-fixed',
                        'Flickr30kMetric': 'flickr30k-any-box'}


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
        proto = _EVALUATOR_PROTOCOLS.get(kind, '')
    return proto if proto in PROTOCOLS else ''
