"""The 'flickr30k' protocols: phrase-grounding Recall@k on Flickr30k Entities, any-box and merged-box.

For every phrase that has ground-truth boxes (phrases without boxes, e.g. "notvisual", are excluded),
the predicted boxes labelled with that phrase are ranked by score (ties keep the prediction order); the
phrase is a hit at k if one of the top k boxes has IoU >= 0.5 with
- 'any-box': any of the phrase's ground-truth boxes (the protocol of most grounding papers), or
- 'merged-box': the box enclosing all of the phrase's ground-truth boxes (MDETR's default, Kamath et al.
  2021, following Plummer et al.'s practice of merging a phrase's boxes).
The upper bound 'UB' counts a phrase as a hit if *any* predicted box of the sentence, whatever its phrase
label, matches: the best any re-ranking of the predicted boxes could reach. Recall is reported for all
phrases and per phrase type (Flickr30k Entities types: people, clothing, bodyparts, animals, vehicles,
instruments, scene, other; a phrase with several types counts in each).

Boxes are xyxy pixels; IoU = intersection / union of the continuous boxes (no +1).
Metric names: R@1, R@5, R@10, UB, and '<type>/R@1', ... per type.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import numpy as np

from .records import EvaluationInputError

PROTOCOLS = ('any-box', 'merged-box')
SentenceKey = Tuple[str, str]


@dataclass
class GroundedPhrase:
    """One phrase of one sentence with its ground-truth boxes.

    Attributes:
        key: (image id, sentence id) as strings.
        index: the phrase's index in its sentence (the ``labels`` value predictions use).
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


def box_iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes: a [N, 4], b [M, 4] -> [N, M]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (area_a[:, None] + area_b[None, :] - inter)
    return np.nan_to_num(iou, nan=0.0)


def evaluate_flickr30k(phrases: Iterable[GroundedPhrase],
                       predictions: Mapping[SentenceKey, SentencePrediction], protocol: str = 'any-box',
                       ks: Sequence[int] = (1, 5, 10), iou_thr: float = 0.5) -> Dict[str, float]:
    """Recall@k and the upper bound, for all phrases and per phrase type.

    Args:
        phrases: the ground-truth phrases (all sentences).
        predictions: per sentence key, the predicted boxes; a sentence without predictions scores no hit.
        protocol: 'any-box' or 'merged-box'.
        ks: the k of Recall@k.
        iou_thr: IoU for a hit (>=).

    Returns:
        {'R@k' for k in ks, 'UB', '<type>/R@k', '<type>/UB'}; values in [0, 1] (NaN-free: a type with no
        phrase is absent).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f'flickr30k protocol must be one of {PROTOCOLS}, got {protocol!r}')
    names = [f'R@{k}' for k in ks] + ['UB']
    hits: Dict[str, np.ndarray] = {}
    counts: Dict[str, int] = {}
    empty = SentencePrediction(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))
    for ph in phrases:
        if len(ph.boxes) == 0:
            continue
        gt = np.asarray(ph.boxes, np.float64).reshape(-1, 4)
        if protocol == 'merged-box':
            gt = np.concatenate([gt[:, :2].min(0), gt[:, 2:].max(0)])[None]
        pred = predictions.get(ph.key, empty)
        box_hit = (box_iou_xyxy(pred.boxes, gt) >= iou_thr).any(axis=1) if len(pred.boxes) else \
            np.zeros(0, bool)  # [N]
        mine = np.flatnonzero(pred.labels == ph.index)
        ranked = box_hit[mine[np.argsort(-pred.scores[mine], kind='stable')]]
        row = np.array([ranked[:k].any() for k in ks] + [box_hit.any()], np.float64)
        for group in ['all'] + list(dict.fromkeys(ph.types)):
            hits[group] = hits.get(group, 0) + row
            counts[group] = counts.get(group, 0) + 1
    out: Dict[str, float] = {}
    total = counts.get('all', 0)
    for j, name in enumerate(names):
        out[name] = float(hits['all'][j] / total) if total else 0.0
    for group in sorted(g for g in counts if g != 'all'):
        for j, name in enumerate(names):
            out[f'{group}/{name}'] = float(hits[group][j] / counts[group])
    return out


def load_flickr30k_ground_truth(data: Mapping) -> List[GroundedPhrase]:
    """Read the documented ground-truth JSON (see docs/evaluation.md) into phrases.

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
            boxes = np.asarray(ph.get('boxes', []), np.float64).reshape(-1, 4) if isinstance(ph, Mapping) \
                else None
            if boxes is None or not np.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
                raise EvaluationInputError(f'{where}.phrases[{j}]: field "boxes" must be finite '
                                           f'[x1, y1, x2, y2] boxes with x2 >= x1, y2 >= y1')
            types = ph.get('phrase_type', [])
            out.append(GroundedPhrase(skey, j, [types] if isinstance(types, str) else list(types), boxes))
    return out


def load_flickr30k_predictions(records: Sequence, phrases: Sequence[GroundedPhrase]
                               ) -> Dict[SentenceKey, SentencePrediction]:
    """Read the documented predictions JSON: a list of ``{"image_id", "sentence_id", "boxes" [[x1, y1, x2,
    y2], ...], "scores" [...], "labels" [phrase index, ...]}``, one record per sentence."""
    if not isinstance(records, list):
        raise EvaluationInputError(f'flickr30k predictions: expected a JSON list, '
                                   f'got {type(records).__name__}')
    num_phrases: Dict[SentenceKey, int] = {}
    for p in phrases:
        num_phrases[p.key] = max(num_phrases.get(p.key, 0), p.index + 1)
    known = set(num_phrases)
    out: Dict[SentenceKey, SentencePrediction] = {}
    for i, r in enumerate(records):
        where = f'flickr30k predictions: record {i}'
        for key in ('image_id', 'sentence_id', 'boxes', 'scores', 'labels'):
            if not isinstance(r, Mapping) or key not in r:
                raise EvaluationInputError(f'{where}: missing field "{key}"')
        skey = (str(r['image_id']), str(r['sentence_id']))
        if skey not in known:
            raise EvaluationInputError(f'{where}: sentence (image_id {skey[0]}, sentence_id {skey[1]}) '
                                       f'is not in the ground truth')
        if skey in out:
            raise EvaluationInputError(f'{where}: second record for sentence {skey}')
        try:
            boxes = np.asarray(r['boxes'], np.float64).reshape(-1, 4)
            scores = np.asarray(r['scores'], np.float64).reshape(-1)
            labels = np.asarray(r['labels'], np.int64).reshape(-1)
        except (TypeError, ValueError) as err:
            raise EvaluationInputError(f'{where}: boxes/scores/labels are not numeric arrays '
                                       f'({err})') from None
        out[skey] = check_sentence_prediction(SentencePrediction(boxes, scores, labels), where)
        bad = np.flatnonzero((labels < 0) | (labels >= num_phrases[skey]))
        if len(bad):
            raise EvaluationInputError(f'{where}: labels[{bad[0]}] is {labels[bad[0]]}, but the sentence has '
                                       f'{num_phrases[skey]} phrase(s) (labels are phrase indices from 0)')
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
    bad = ~np.isfinite(pred.boxes).all(1) | (pred.boxes[:, 2] < pred.boxes[:, 0]) | \
        (pred.boxes[:, 3] < pred.boxes[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise EvaluationInputError(f'{where}: box {i} {pred.boxes[i].tolist()} is not a finite xyxy box')
    return pred
