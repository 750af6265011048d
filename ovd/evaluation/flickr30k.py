"""The 'flickr30k' protocols: phrase-grounding Recall@k on Flickr30k Entities, any-box and merged-box.

The reference is MDETR's evaluator (ashkamath/mdetr ``datasets/flickr_eval.py``, which MDETR and GLIP report
with); these functions return its numbers (tests/parity/test_flickr30k_mdetr_parity.py):
- The evaluated phrases are those whose entity has boxes in the image's XML (``nobndbox``, ``scene``-only and
  ``notvisual`` phrases are not); a sentence without such a phrase is not evaluated. Ground-truth boxes are the
  XML integers as written (``'raw'``; ``'pixel'`` edges are a named switch, off by default).
- Each evaluated phrase has its own ranked list of predicted boxes. It is a hit at k if one of the first k boxes
  has IoU >= 0.5 with any of the phrase's ground-truth boxes ('any-box') or with the box enclosing all of them
  ('merged-box', Kamath et al. 2021 after Plummer et al.).
- ``UB`` (MDETR's k = -1, "Upper_bound") is the same test over the phrase's whole list: the best a re-ranking of
  that phrase's own boxes could reach.
- Recall is reported for all phrases and per phrase type (people, clothing, bodyparts, animals, vehicles,
  instruments, scene, other, notvisual); a phrase counts once for each type written in its header.
- IoU = intersection / union of the continuous boxes (no +1). As in MDETR (numpy's ``max`` propagates NaN), a
  0/0 IoU (a zero-area predicted box on a zero-area ground-truth box) within the first k boxes makes the phrase
  a miss at k.

Predictions come either per sentence (:class:`SentencePrediction`: boxes, scores, labels = phrase index; the
boxes of a phrase are ranked by score, ties in prediction order) or already ranked per phrase
(:class:`RankedPredictions`, what MDETR's format holds). The scoring is vectorised over all phrases at once.
Metric names: R@1, R@5, R@10, UB, and '<type>/R@1', ... per type.
"""
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .records import EvaluationInputError

PROTOCOLS = ('any-box', 'merged-box')
SentenceKey = Tuple[str, str]
PhraseKey = Tuple[SentenceKey, int]
_NEVER = np.iinfo(np.int64).max


@dataclass
class GroundedPhrase:
    """One phrase of one sentence with its ground-truth boxes.

    Attributes:
        key: (image id, sentence id) as strings.
        index: the phrase's label in its sentence (the ``labels`` value predictions use).
        types: its Flickr30k Entities types.
        boxes: [n, 4] xyxy ground-truth boxes (n may be 0: excluded from recall).
    """
    key: SentenceKey
    index: int
    types: List[str]
    boxes: np.ndarray


@dataclass
class SentencePrediction:
    """Predicted boxes of one sentence: boxes [N, 4] xyxy, scores [N], labels [N] phrase index."""
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


@dataclass
class RankedPredictions:
    """Predicted boxes already ranked per phrase (MDETR's format).

    Attributes:
        phrases: per list, the phrase it ranks boxes for: ((image id, sentence id), phrase label).
        lengths: [L] number of boxes of each list.
        boxes: [sum(lengths), 4] xyxy, the lists one after the other, each in rank order.
    """
    phrases: List[PhraseKey]
    lengths: np.ndarray
    boxes: np.ndarray


@dataclass
class Flickr30kGroundTruth:
    """The phrases of a split plus every sentence it has (also those with nothing to evaluate).

    Attributes:
        phrases: the phrases (with or without boxes).
        slots: per sentence, how many phrase labels it has (valid labels are 0 .. slots - 1).
        source: where it was read from, for messages.
    """
    phrases: List[GroundedPhrase]
    slots: Dict[SentenceKey, int]
    source: str = 'flickr30k ground truth'
    images: set = field(default_factory=set)

    def __post_init__(self):
        self.images = {k[0] for k in self.slots}

    @classmethod
    def from_phrases(cls, phrases: Sequence[GroundedPhrase], source: str = 'flickr30k ground truth'
                     ) -> 'Flickr30kGroundTruth':
        slots: Dict[SentenceKey, int] = {}
        for p in phrases:
            slots[p.key] = max(slots.get(p.key, 0), p.index + 1)
        return cls(list(phrases), slots, source)

    @cached_property
    def table(self) -> '_PhraseTable':
        """The arrays the scoring needs, built once (the counterpart of MDETR's evaluator set-up)."""
        return _PhraseTable.build(self.phrases)

    @cached_property
    def phrase_keys(self) -> Dict[SentenceKey, List[PhraseKey]]:
        """Per sentence, the (key, label) of its phrases with boxes, in label order."""
        return {key: [(key, p.index) for p in phrases] for key, phrases in self.evaluated.items()}

    @cached_property
    def evaluated(self) -> Dict[SentenceKey, List[GroundedPhrase]]:
        """The phrases with boxes, by sentence, in label order."""
        out: Dict[SentenceKey, List[GroundedPhrase]] = defaultdict(list)
        for p in self.phrases:
            if len(p.boxes):
                out[p.key].append(p)
        return out


@dataclass
class _PhraseTable:
    """The evaluated phrases (those with boxes) as arrays: ground-truth boxes phrase after phrase (``gt``,
    ``gt_counts``), the merged boxes, the type memberships, and a phrase's position by (sentence key, label)."""
    evaluated: List[GroundedPhrase]
    gt: np.ndarray
    gt_counts: np.ndarray
    merged: np.ndarray
    groups: List[str]
    member_phrase: np.ndarray
    member_group: np.ndarray
    position: Dict[PhraseKey, int]

    @classmethod
    def build(cls, phrases: Iterable[GroundedPhrase]) -> '_PhraseTable':
        evaluated = [p for p in phrases if len(p.boxes)]
        n = len(evaluated)
        gt_counts = np.fromiter((len(p.boxes) for p in evaluated), np.int64, n)
        gt = np.concatenate([np.asarray(p.boxes, np.float64).reshape(-1, 4) for p in evaluated]) if n else \
            np.zeros((0, 4))
        merged = gt
        if n:
            starts = _group_starts(gt_counts)
            merged = np.stack([np.minimum.reduceat(gt[:, 0], starts), np.minimum.reduceat(gt[:, 1], starts),
                               np.maximum.reduceat(gt[:, 2], starts), np.maximum.reduceat(gt[:, 3], starts)], 1)
        # each type written in a phrase's header counts (a repeated type twice, as MDETR's tracker counts it)
        groups = sorted({t for p in evaluated for t in p.types})
        gid = {g: i for i, g in enumerate(groups)}
        member_phrase = np.fromiter(chain.from_iterable([i] * len(p.types) for i, p in enumerate(evaluated)),
                                    np.int64)
        member_group = np.fromiter((gid[t] for p in evaluated for t in p.types), np.int64, len(member_phrase))
        position = {(p.key, p.index): i for i, p in enumerate(evaluated)}
        return cls(evaluated, gt, gt_counts, merged, groups, member_phrase, member_group, position)


def box_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes: a [N, 4], b [M, 4] -> [N, M] (0 where the union is 0)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (area_a[:, None] + area_b[None, :] - inter)
    return np.nan_to_num(iou, nan=0.0)


def _iou_columns(px1, py1, px2, py2, gx1, gy1, gx2, gy2, area_p=None) -> np.ndarray:
    """Pairwise IoU (element i with element i) on coordinate columns, with MDETR's operations in MDETR's
    order, so equal inputs give equal bits, and 0/0 stays NaN as there; in place where possible (speed)."""
    if area_p is None:
        area_p = (px2 - px1) * (py2 - py1)
    union = gx2 - gx1
    union *= gy2 - gy1
    union += area_p  # area_p + area_g - inter, summed in that order
    inter = np.minimum(px2, gx2)
    inter -= np.maximum(px1, gx1)
    np.maximum(inter, 0, out=inter)
    h = np.minimum(py2, gy2)
    h -= np.maximum(py1, gy1)
    np.maximum(h, 0, out=h)
    inter *= h
    union -= inter
    with np.errstate(divide='ignore', invalid='ignore'):
        inter /= union
    return inter


def _group_starts(counts: np.ndarray) -> np.ndarray:
    return np.cumsum(counts) - counts


@dataclass
class _Segments:
    """Predicted boxes as ranked lists: ``boxes`` [N, 4] list after list, each in rank order; list s ranks
    ``lengths[s]`` boxes for the evaluated phrase ``phrase[s]`` (a position in the evaluated phrases)."""
    phrase: np.ndarray
    lengths: np.ndarray
    boxes: np.ndarray


def _segments_of_sentence_predictions(table: _PhraseTable,
                                      predictions: Mapping[SentenceKey, SentencePrediction]) -> _Segments:
    by_key: Dict[SentenceKey, List[Tuple[int, int]]] = defaultdict(list)
    for pos, p in enumerate(table.evaluated):
        by_key[p.key].append((p.index, pos))
    phr_parts, score_parts, box_parts = [], [], []
    for key, items in by_key.items():
        pred = predictions.get(key)
        if pred is None or not len(pred.labels):
            continue
        labels = np.asarray(pred.labels, np.int64)
        lut = np.full(max(i for i, _ in items) + 1, -1, np.int64)
        for index, pos in items:
            lut[index] = pos
        valid = (labels >= 0) & (labels < len(lut))
        phr = np.full(len(labels), -1, np.int64)
        phr[valid] = lut[labels[valid]]
        keep = phr >= 0
        phr_parts.append(phr[keep])
        score_parts.append(np.asarray(pred.scores, np.float64)[keep])
        box_parts.append(np.asarray(pred.boxes, np.float64).reshape(-1, 4)[keep])
    if not phr_parts:
        return _Segments(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)))
    phr, scores, boxes = np.concatenate(phr_parts), np.concatenate(score_parts), np.concatenate(box_parts)
    order = np.lexsort((np.arange(len(phr)), -scores, phr))  # by phrase, score descending, then file order
    seg_phrase, seg_lengths = np.unique(phr[order], return_counts=True)
    return _Segments(seg_phrase, seg_lengths, boxes[order])


def _segments_of_ranked_predictions(table: _PhraseTable, predictions: RankedPredictions) -> _Segments:
    pos = table.position
    seg_phrase = np.fromiter((pos.get(k, -1) for k in predictions.phrases), np.int64, len(predictions.phrases))
    lengths = np.asarray(predictions.lengths, np.int64)
    boxes = np.asarray(predictions.boxes, np.float64).reshape(-1, 4)
    keep = seg_phrase >= 0
    if not keep.all():  # lists of phrases that are not evaluated
        boxes = boxes[np.repeat(keep, lengths)]
        seg_phrase, lengths = seg_phrase[keep], lengths[keep]
    return _Segments(seg_phrase, lengths, boxes)


def _box_iou_per_prediction(seg: _Segments, gt: np.ndarray, gt_counts: np.ndarray) -> np.ndarray:
    """[N] each predicted box's IoU with its phrase's ground truth: the max over the phrase's boxes, NaN if one
    is NaN (numpy's max in MDETR)."""
    if not len(seg.boxes):
        return np.zeros(0)
    seg_gt = _group_starts(gt_counts)[seg.phrase]  # each list's phrase's first ground-truth box
    seg_count = gt_counts[seg.phrase]
    pred = np.ascontiguousarray(seg.boxes.T)  # coordinate columns: ~2x faster arithmetic than strided views
    gt_cols = np.ascontiguousarray(gt.T)
    area = (pred[2] - pred[0]) * (pred[3] - pred[1])
    box_iou = _iou_columns(*pred, *np.repeat(gt_cols[:, seg_gt], seg.lengths, axis=1), area)
    starts = _group_starts(seg.lengths)
    for j in range(1, int(seg_count.max())):  # the phrases' 2nd, 3rd, ... ground-truth boxes
        lists = np.flatnonzero(seg_count > j)
        lengths = seg.lengths[lists]
        idx = np.repeat(starts[lists] - _group_starts(lengths), lengths) + np.arange(int(lengths.sum()))
        iou = _iou_columns(*np.take(pred, idx, axis=1), *np.repeat(gt_cols[:, seg_gt[lists] + j], lengths, axis=1),
                           area[idx])
        box_iou[idx] = np.maximum(box_iou[idx], iou)  # NaN-propagating, as max() over MDETR's IoU matrix
    return box_iou


def _first_ranks(flags: np.ndarray, seg: _Segments, n: int) -> np.ndarray:
    """Per evaluated phrase, the rank of its first flagged box (``_NEVER`` if none)."""
    idx = np.flatnonzero(flags)
    starts = _group_starts(seg.lengths)
    which = np.searchsorted(starts + seg.lengths, idx, side='right')  # the list of each flagged box
    first = np.ones(len(idx), bool)
    first[1:] = which[1:] != which[:-1]
    out = np.full(n, _NEVER, np.int64)
    np.minimum.at(out, seg.phrase[which[first]], idx[first] - starts[which[first]])
    return out


def evaluate_flickr30k(phrases: Union[Iterable[GroundedPhrase], 'Flickr30kGroundTruth'],
                       predictions: Union[Mapping[SentenceKey, SentencePrediction], RankedPredictions],
                       protocol: str = 'any-box', ks: Sequence[int] = (1, 5, 10), iou_thr: float = 0.5
                       ) -> Dict[str, float]:
    """Recall@k and the upper bound, for all phrases and per phrase type.

    Args:
        phrases: the ground-truth phrases (phrases without boxes are skipped), or a
            :class:`Flickr30kGroundTruth` (its arrays are built once and reused).
        predictions: per sentence key, the predicted boxes with scores and phrase labels; or the boxes ranked
            per phrase. A phrase without predicted boxes is a miss.
        protocol: 'any-box' or 'merged-box'.
        ks: the k of Recall@k (each >= 1).
        iou_thr: IoU for a hit (>=).

    Returns:
        {'R@k' for k in ks, 'UB', '<type>/R@k', '<type>/UB'}; values in [0, 1] (a type with no phrase is
        absent; all zeros when there is no phrase).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f'flickr30k protocol must be one of {PROTOCOLS}, got {protocol!r}')
    if any(int(k) < 1 for k in ks):
        raise ValueError(f'Recall@k needs k >= 1, got {list(ks)}')
    table = phrases.table if isinstance(phrases, Flickr30kGroundTruth) else _PhraseTable.build(phrases)
    n = len(table.evaluated)
    if protocol == 'merged-box':
        gt, gt_counts = table.merged, np.ones(n, np.int64)
    else:
        gt, gt_counts = table.gt, table.gt_counts
    if isinstance(predictions, RankedPredictions):
        seg = _segments_of_ranked_predictions(table, predictions)
    else:
        seg = _segments_of_sentence_predictions(table, predictions)

    box_iou = _box_iou_per_prediction(seg, gt, gt_counts)
    first_hit = _first_ranks(box_iou >= iou_thr, seg, n)
    first_undefined = _first_ranks(np.isnan(box_iou), seg, n)
    names = [f'R@{k}' for k in ks] + ['UB']
    rows = np.stack([(first_hit < k) & (first_undefined >= k) for k in ks]
                    + [(first_hit < _NEVER) & (first_undefined == _NEVER)], 1).astype(np.float64)  # [n, K]

    out: Dict[str, float] = {}
    hits_all = rows.sum(0)
    for j, name in enumerate(names):
        out[name] = float(hits_all[j] / n) if n else 0.0
    counts = np.bincount(table.member_group, minlength=len(table.groups))
    for j, name in enumerate(names):
        group_hits = np.bincount(table.member_group, weights=rows[table.member_phrase, j],
                                 minlength=len(table.groups))
        for g, group in enumerate(table.groups):
            out[f'{group}/{name}'] = float(group_hits[g] / counts[g])
    return out


# ---------------------------------------------------------------------------------------------- ground truth


def load_flickr30k_ground_truth(data: Mapping) -> List[GroundedPhrase]:
    """Read the sentence-list ground-truth JSON (see docs/evaluation.md) into phrases.

    Format: ``{"sentences": [{"image_id", "sentence_id", "phrases": [{"phrase_id", "phrase_type": [..],
    "boxes": [[x1, y1, x2, y2], ...]}]}]}``; a phrase's index in ``phrases`` is its label.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get('sentences'), list):
        raise EvaluationInputError('flickr30k ground truth: expected an object with a list "sentences"')
    out = []
    for i, s in enumerate(data['sentences']):
        where = f'flickr30k ground truth: sentences[{i}]'
        for key in ('image_id', 'sentence_id', 'phrases'):
            if not isinstance(s, Mapping) or key not in s:
                raise EvaluationInputError(f'{where}: missing field "{key}"')
        skey = (str(s['image_id']), str(s['sentence_id']))
        for j, ph in enumerate(s['phrases']):
            try:
                boxes = np.asarray(ph.get('boxes', []), np.float64).reshape(-1, 4) \
                    if isinstance(ph, Mapping) else None
            except (TypeError, ValueError):
                boxes = None
            if boxes is None or not np.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
                raise EvaluationInputError(f'{where}.phrases[{j}]: field "boxes" must be finite '
                                           f'[x1, y1, x2, y2] boxes with x2 >= x1, y2 >= y1')
            types = ph.get('phrase_type', [])
            out.append(GroundedPhrase(skey, j, [types] if isinstance(types, str) else list(types), boxes))
    return out


def ground_truth_from_records(records: Iterable[Mapping], box_convention: str = 'raw',
                              source: str = 'flickr30k ground truth') -> Flickr30kGroundTruth:
    """The evaluated phrases of Flickr30k image records (:mod:`ovd.data.flickr30k.index`): labels are the
    positions among the sentence's phrases with boxes, the order MDETR's per-phrase lists follow."""
    from ovd.data.flickr30k.index import record_phrases
    phrases: List[GroundedPhrase] = []
    slots: Dict[SentenceKey, int] = {}
    for record in records:
        for sentence_id, sentence in enumerate(record['sentences']):
            key = (str(record['id']), str(sentence_id))
            found = record_phrases(record, sentence, box_convention)
            slots[key] = len(found)
            phrases += [GroundedPhrase(key, j, types, np.asarray(boxes, np.float64).reshape(-1, 4))
                        for j, (_, _, _, types, boxes) in enumerate(found)]
    return Flickr30kGroundTruth(phrases, slots, source)


def _read_json(path: Union[str, os.PathLike], what: str):
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        raise EvaluationInputError(f'{what} file {path} does not exist') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise EvaluationInputError(f'{what} file {path} is not valid JSON: {err}') from None


def read_flickr30k_ground_truth(path: Union[str, os.PathLike], split: Optional[str] = None,
                                box_convention: str = 'raw') -> Flickr30kGroundTruth:
    """Ground truth from the raw release root (with ``split``), an index written by ``ovd prepare flickr30k``,
    or the sentence-list JSON.

    Args:
        path: release root (holding ``<split>.txt``, ``Sentences/``, ``Annotations/``), index file or JSON.
        split: 'train', 'val' or 'test'; required with a release root, checked against an index.
        box_convention: 'raw' (the XML integers, MDETR's reference) or 'pixel' (release or index only).
    """
    from ovd.data.flickr30k.index import check_index, iter_raw_records
    from ovd.data.flickr30k.raw import check_box_convention
    from ovd.data.validation import AnnotationError
    check_box_convention(box_convention)
    path = Path(path)
    try:
        if path.is_dir():
            if not split:
                raise EvaluationInputError(f'{path} is a Flickr30k release root: say which split with --split '
                                           f'(train, val or test)')
            return ground_truth_from_records(iter_raw_records(path, path / f'{split}.txt'), box_convention,
                                             f'{path} ({split})')
        data = _read_json(path, 'ground-truth')
        if isinstance(data, Mapping) and 'format' in data:
            check_index(data, path)
            if split and data.get('split') != split:
                raise EvaluationInputError(f'{path}: field "split" is {data.get("split")!r}, not {split!r}')
            return ground_truth_from_records(data['images'], box_convention, str(path))
        if isinstance(data, Mapping) and 'sentences' in data:
            if box_convention != 'raw':
                raise EvaluationInputError(f'{path}: a sentence-list ground truth holds its boxes as given; the '
                                           f'box convention applies to the release and the index only')
            return Flickr30kGroundTruth.from_phrases(load_flickr30k_ground_truth(data), str(path))
    except AnnotationError as err:
        raise EvaluationInputError(str(err)) from None
    except (KeyError, TypeError) as err:
        raise EvaluationInputError(f'{path}: malformed Flickr30k index record ({err!r})') from None
    raise EvaluationInputError(f'{path}: not Flickr30k ground truth (expected a release root, an index written '
                               f'by `ovd prepare flickr30k` or an object with "sentences")')


# ---------------------------------------------------------------------------------------------- predictions


def prediction_format(records: Sequence) -> str:
    """'mdetr' (``{"image_id", "sentence_id", "boxes": [[ranked boxes of phrase 0], ...]}``) or 'ovd'
    (``{"image_id", "sentence_id", "boxes", "scores", "labels"}``), told by the first record."""
    if not isinstance(records, list):
        raise EvaluationInputError(f'flickr30k predictions: expected a JSON list, got {type(records).__name__}')
    first = records[0] if records else {}
    if isinstance(first, Mapping) and 'scores' not in first and 'labels' not in first and 'boxes' in first:
        return 'mdetr'
    return 'ovd'


def _sentence_key(r: Mapping, where: str, fields: Sequence[str]) -> SentenceKey:
    for key in fields:
        if not isinstance(r, dict) or key not in r:  # JSON objects; dict is much faster to test than Mapping
            raise EvaluationInputError(f'{where}: missing field "{key}"')
    sid = r['sentence_id']
    return str(r['image_id']), str(int(sid)) if isinstance(sid, (int, np.integer)) else str(sid)


def _check_known(gt: Flickr30kGroundTruth, key: SentenceKey, where: str) -> None:
    if key not in gt.slots:
        what = 'sentence' if key[0] in gt.images else 'image'
        raise EvaluationInputError(f'{where}: {what} (image_id {key[0]}, sentence_id {key[1]}) is not in the '
                                   f'ground truth ({gt.source})')


def _check_boxes(boxes: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(boxes).all(1) | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(f'{where} box {i} {boxes[i].tolist()} is not a finite xyxy box '
                                   f'(x2 >= x1, y2 >= y1)')


def _flat_boxes(lists: Sequence[Sequence], total: int) -> Optional[np.ndarray]:
    """All boxes of all lists as one [total, 4] array, or None if one is not 4 numbers. One flat conversion
    (numpy.fromiter): reading the JSON's Python floats is most of the scoring time."""
    try:
        if set(map(len, chain.from_iterable(lists))) <= {4}:
            flat = np.fromiter(chain.from_iterable(chain.from_iterable(lists)), np.float64, 4 * total)
            return flat.reshape(-1, 4)
    except (TypeError, ValueError):
        pass
    return None


def _is_xyxy(box) -> bool:
    try:
        x1, y1, x2, y2 = (float(v) for v in box)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite([x1, y1, x2, y2]).all()) and x2 >= x1 and y2 >= y1


def _check_complete(evaluated: Mapping[SentenceKey, list], seen: set) -> None:
    missing = [k for k in evaluated if k not in seen]
    if missing:
        k = missing[0]
        raise EvaluationInputError(
            f'flickr30k predictions: no record for {len(missing)} sentence(s) with boxed phrases, e.g. image_id '
            f'{k[0]} sentence_id {k[1]} (every evaluated sentence needs one, as in MDETR\'s evaluator; a record '
            f'may have empty box lists)')


def load_mdetr_predictions(records: Sequence, gt: Flickr30kGroundTruth) -> RankedPredictions:
    """Read MDETR's format: one record per sentence, ``boxes`` = per evaluated phrase (sentence order) the list
    of its predicted xyxy boxes, best first. Records of sentences without evaluated phrases are ignored."""
    evaluated = gt.evaluated
    phrase_keys = gt.phrase_keys
    keys: List[PhraseKey] = []
    lists: List[Sequence] = []
    seen: Dict[SentenceKey, int] = {}
    for i, r in enumerate(records):
        where = f'flickr30k predictions (MDETR format): record {i}'
        key = _sentence_key(r, where, ('image_id', 'sentence_id', 'boxes'))
        _check_known(gt, key, where)
        if key in seen:
            raise EvaluationInputError(f'{where}: second record for image_id {key[0]} sentence_id {key[1]} '
                                       f'(first: record {seen[key]})')
        seen[key] = i
        phrases = evaluated.get(key, [])
        boxes = r['boxes']
        if type(boxes) is not list or not all(type(b) is list for b in boxes):  # noqa: E721  (JSON lists)
            raise EvaluationInputError(f'{where}: field "boxes" must be a list (one per phrase with boxes) of '
                                       f'lists of [x1, y1, x2, y2] boxes')
        if not phrases:
            continue
        if len(boxes) != len(phrases):
            raise EvaluationInputError(f'{where}: field "boxes" has {len(boxes)} phrase lists, sentence '
                                       f'(image_id {key[0]}, sentence_id {key[1]}) has {len(phrases)} phrases '
                                       f'with boxes')
        keys += phrase_keys[key]
        lists += boxes
    _check_complete(evaluated, set(seen))
    lengths = np.fromiter(map(len, lists), np.int64, len(lists))
    flat = _flat_boxes(lists, int(lengths.sum()))
    if flat is None or not (np.isfinite(flat).all() and (flat[:, 2] >= flat[:, 0]).all()
                            and (flat[:, 3] >= flat[:, 1]).all()):
        for (key, index), boxes in zip(keys, lists):
            for b, box in enumerate(boxes):
                if not _is_xyxy(box):
                    j = [p.index for p in evaluated[key]].index(index)
                    raise EvaluationInputError(
                        f'flickr30k predictions (MDETR format): record {seen[key]} field "boxes"[{j}]: box {b} '
                        f'{box!r} is not a finite [x1, y1, x2, y2] box with x2 >= x1, y2 >= y1')
    return RankedPredictions(keys, lengths, flat)


def load_flickr30k_predictions(records: Sequence,
                               ground_truth: Union[Flickr30kGroundTruth, Sequence[GroundedPhrase]]
                               ) -> Union[Dict[SentenceKey, SentencePrediction], RankedPredictions]:
    """Read predictions in ovd's format or MDETR's (told apart by :func:`prediction_format`).

    ovd's format: a list of ``{"image_id", "sentence_id", "boxes" [[x1, y1, x2, y2], ...], "scores" [...],
    "labels" [phrase label, ...]}``, one record per sentence. Every sentence with an evaluated phrase needs a
    record; bad records raise :class:`EvaluationInputError` naming the record and the field.
    """
    gt = ground_truth if isinstance(ground_truth, Flickr30kGroundTruth) else \
        Flickr30kGroundTruth.from_phrases(ground_truth)
    if prediction_format(records) == 'mdetr':
        return load_mdetr_predictions(records, gt)
    out: Dict[SentenceKey, SentencePrediction] = {}
    seen: Dict[SentenceKey, int] = {}
    for i, r in enumerate(records):
        where = f'flickr30k predictions: record {i}'
        skey = _sentence_key(r, where, ('image_id', 'sentence_id', 'boxes', 'scores', 'labels'))
        _check_known(gt, skey, where)
        if skey in seen:
            raise EvaluationInputError(f'{where}: second record for image_id {skey[0]} sentence_id {skey[1]} '
                                       f'(first: record {seen[skey]})')
        seen[skey] = i
        try:
            boxes = np.asarray(r['boxes'], np.float64).reshape(-1, 4)
            scores = np.asarray(r['scores'], np.float64).reshape(-1)
            labels = np.asarray(r['labels'], np.float64).reshape(-1)
        except (TypeError, ValueError) as err:
            raise EvaluationInputError(f'{where}: boxes/scores/labels are not numeric arrays '
                                       f'({err})') from None
        bad = (labels != np.floor(labels)) | (labels < 0) | (labels >= gt.slots[skey])
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise EvaluationInputError(f'{where}: field "labels"[{j}] = {r["labels"][j]!r} is not a phrase label '
                                       f'of the sentence (0 .. {gt.slots[skey] - 1})')
        out[skey] = check_sentence_prediction(SentencePrediction(boxes, scores, labels.astype(np.int64)), where)
    _check_complete(gt.evaluated, set(seen))
    return out


def check_sentence_prediction(pred: SentencePrediction, where: str) -> SentencePrediction:
    """Raise :class:`EvaluationInputError` for mismatched lengths, non-finite values or inverted boxes."""
    n = len(pred.scores)
    if len(pred.boxes) != n or len(pred.labels) != n:
        raise EvaluationInputError(f'{where}: {len(pred.boxes)} boxes, {n} scores, {len(pred.labels)} labels '
                                   f'(must be equal)')
    bad = ~np.isfinite(pred.scores)
    if bad.any():
        raise EvaluationInputError(f'{where}: score {int(np.flatnonzero(bad)[0])} is not finite')
    _check_boxes(pred.boxes, f'{where}:')
    return pred


def evaluate_flickr30k_files(protocol: str, gt_path: Union[str, os.PathLike], pred_path: Union[str, os.PathLike],
                             split: Optional[str] = None, box_convention: str = 'raw') -> Dict[str, float]:
    """What ``ovd eval --protocol flickr30k-*`` runs: read the ground truth and the predictions, score them.

    Args:
        protocol: 'any-box' or 'merged-box' (also with the 'flickr30k-' prefix).
        gt_path: release root (with ``split``), ``ovd prepare flickr30k`` index, or sentence-list JSON.
        pred_path: predictions JSON in ovd's or MDETR's format.
        split: the release split.
        box_convention: 'raw' (default, MDETR's) or 'pixel'.
    """
    protocol = protocol[len('flickr30k-'):] if protocol.startswith('flickr30k-') else protocol
    gt = read_flickr30k_ground_truth(gt_path, split, box_convention)
    try:
        preds = load_flickr30k_predictions(_read_json(pred_path, 'predictions'), gt)
    except EvaluationInputError as err:
        raise EvaluationInputError(f'{pred_path}: {err}') from None
    return evaluate_flickr30k(gt, preds, protocol)
