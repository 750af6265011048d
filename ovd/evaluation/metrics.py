"""mmengine metrics (scope 'ovd') that feed ``pred_instances`` to the protocol functions.

``OVDetectionMetric`` covers the detection protocols ('lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80',
'coco', 'objects365'); ``Flickr30kRecallMetric`` the grounding ones. Both keep per-sample numpy results;
mmengine's ``BaseMetric.evaluate`` gathers them from every rank (dropping the sampler's padding) and calls
``compute_metrics`` on rank 0, so the protocol runs once on the whole dataset.

Predictions follow the project contract: ``bboxes`` [N, 4] xyxy in pixels of the original image,
``scores`` [N], ``labels`` [N] = index into the evaluated vocabulary (or the phrase index for
grounding), optional ``masks`` [N, H, W] (evaluated as RLE for ``iou_types`` 'segm').
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger

from ovd.data.vocab import Vocabulary
from ovd.registry import METRICS

from .flickr30k import GroundedPhrase, SentencePrediction, check_sentence_prediction, evaluate_flickr30k
from .lvis_ap import MAX_DETS_PER_CATEGORY, MAX_DETS_PER_IMAGE, _top_k_in_groups
from .protocols import DETECTION_PROTOCOLS, check_protocol, evaluate_detections
from .records import Detections, EvaluationInputError, GroundTruth, load_ground_truth


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def encode_masks(masks: np.ndarray) -> List[Dict[str, Any]]:
    """[N, H, W] binary masks -> N compressed RLEs (pycocotools)."""
    from pycocotools import mask as mask_utils
    return [mask_utils.encode(np.asfortranarray(m.astype(np.uint8))) for m in masks]


def label_category_ids(dataset_meta: Optional[Dict[str, Any]]) -> np.ndarray:
    """The dataset category id of each label: the ids of ``dataset_meta['vocabulary']``, in label order.

    The vocabulary is the one the dataset's labels index into (every ovd detection dataset puts it in its
    ``metainfo``; mmengine's loops hand that to the metric as ``dataset_meta``). A metric used on its own is given
    one the same way: ``metric.dataset_meta = vocabulary.metainfo()``.

    Returns:
        [V] int64 category ids.

    Raises:
        EvaluationInputError: when ``dataset_meta`` carries no :class:`~ovd.data.vocab.Vocabulary`.
    """
    vocab = (dataset_meta or {}).get('vocabulary')
    if not isinstance(vocab, Vocabulary):
        raise EvaluationInputError(
            f'OVDetectionMetric: dataset_meta["vocabulary"] must be an ovd Vocabulary (the one the labels index '
            f'into), got {type(vocab).__name__}; evaluate an ovd dataset, or set '
            f'metric.dataset_meta = vocabulary.metainfo()')
    return vocab.ids


@METRICS.register_module()
class OVDetectionMetric(BaseMetric):
    """Detection metrics of a named protocol, from the ground-truth annotation file.

    Args:
        ann_file: COCO/LVIS/Objects365 annotation JSON (local path or any mmengine file backend).
        protocol: 'lvis', 'lvis-fixed', 'ov-coco-65', 'ov-coco-80', 'coco' or 'objects365'.
        iou_types: 'bbox' and/or 'segm'.
        collect_device, prefix: as mmengine's ``BaseMetric``; the prefix defaults to the protocol.
        backend_args: mmengine file-backend arguments for ``ann_file``.
        prune_rows: for 'lvis-fixed', how many new detections to collect before dropping those outside every
            category's top 10,000 (bounds memory; the result is unchanged). 'lvis' keeps 300 per image as
            results arrive.
    """

    def __init__(self, ann_file: str, protocol: str = 'coco', iou_types: Sequence[str] = ('bbox',),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None, backend_args: Optional[dict] = None,
                 prune_rows: int = 2_000_000) -> None:
        check_protocol(protocol)
        if protocol not in DETECTION_PROTOCOLS:
            raise ValueError(f'OVDetectionMetric: {protocol!r} is not a detection protocol '
                             f'({", ".join(DETECTION_PROTOCOLS)}); use Flickr30kRecallMetric')
        iou_types = [iou_types] if isinstance(iou_types, str) else list(iou_types)
        bad = [t for t in iou_types if t not in ('bbox', 'segm')]
        if bad or not iou_types:
            raise ValueError(f'OVDetectionMetric: iou_types must be "bbox" and/or "segm", got {iou_types}')
        super().__init__(collect_device=collect_device, prefix=prefix or protocol)
        self.protocol = protocol
        self.iou_types = iou_types
        self.ann_file = ann_file
        self.backend_args = backend_args
        self.prune_rows = prune_rows
        self._rows_since_prune = 0
        self._gt: Optional[GroundTruth] = None

    def ground_truth(self) -> GroundTruth:
        if self._gt is None:
            with get_local_path(self.ann_file, backend_args=self.backend_args) as path:
                self._gt = load_ground_truth(path)
        return self._gt

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_instances']
            result = {
                'img_id': sample['img_id'],
                'bboxes': _numpy(pred['bboxes']).astype(np.float64).reshape(-1, 4),
                'scores': _numpy(pred['scores']).astype(np.float64).reshape(-1),
                'labels': _numpy(pred['labels']).astype(np.int64).reshape(-1),
            }
            if 'segm' in self.iou_types:
                if 'masks' not in pred:
                    raise EvaluationInputError(f'OVDetectionMetric: image {sample["img_id"]}: mask AP needs '
                                               f'pred_instances.masks')
                masks = pred['masks']
                result['masks'] = masks if isinstance(masks, list) else encode_masks(_numpy(masks))
            self.results.append(self._cap_image(result))
            self._rows_since_prune += len(result['scores'])
        if self.protocol == 'lvis-fixed' and self._rows_since_prune > self.prune_rows:
            self._prune_to_top_k_per_category()

    # LVIS-style evaluation of a large vocabulary sees up to 1203 x 100 detections per image. The caps the
    # protocol applies anyway are applied while results arrive, so memory stays bounded; the kept set is
    # exactly what the protocol keeps (same score order, earlier arrival first among ties), so the metrics
    # do not change.
    def _cap_image(self, result: dict) -> dict:
        if self.protocol != 'lvis' or len(result['scores']) <= MAX_DETS_PER_IMAGE:
            return result
        keep = _top_k_in_groups(np.zeros(len(result['scores']), np.int64), result['scores'], MAX_DETS_PER_IMAGE)
        return self._subset(result, keep)

    def _prune_to_top_k_per_category(self) -> None:
        """Fixed AP keeps the top 10,000 detections of each category over the dataset: drop the rest now."""
        self._rows_since_prune = 0
        if not self.results:
            return
        labels = np.concatenate([r['labels'] for r in self.results])
        scores = np.concatenate([r['scores'] for r in self.results])
        keep = _top_k_in_groups(labels, scores, MAX_DETS_PER_CATEGORY)
        bounds = np.cumsum([0] + [len(r['scores']) for r in self.results])
        self.results = [self._subset(r, keep[start:end]) for r, start, end in
                        zip(self.results, bounds[:-1], bounds[1:])]

    @staticmethod
    def _subset(result: dict, keep: np.ndarray) -> dict:
        out = dict(result, bboxes=result['bboxes'][keep], scores=result['scores'][keep],
                   labels=result['labels'][keep])
        if 'masks' in result:
            out['masks'] = [m for m, k in zip(result['masks'], keep) if k]
        return out

    def detections(self, results: List[dict], segm: bool) -> Detections:
        """Gathered per-image results -> :class:`Detections` (xywh boxes, dataset category ids)."""
        label_ids = label_category_ids(self.dataset_meta)
        if not results:
            return Detections.empty()
        boxes = np.concatenate([r['bboxes'] for r in results])
        labels = np.concatenate([r['labels'] for r in results])
        bad = (labels < 0) | (labels >= len(label_ids))
        if bad.any():
            raise EvaluationInputError(f'OVDetectionMetric: label {labels[bad][0]} is outside the evaluated '
                                       f'vocabulary of {len(label_ids)} categories')
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        segs = [m for r in results for m in r['masks']] if segm else None
        return Detections(np.concatenate([np.full(len(r['scores']), r['img_id'], np.int64) for r in results]),
                          label_ids[labels], xywh, np.concatenate([r['scores'] for r in results]), segs,
                          source=f'{type(self).__name__} predictions')

    def compute_metrics(self, results: list) -> Dict[str, float]:
        gt = self.ground_truth()
        out: Dict[str, float] = {}
        for iou_type in self.iou_types:
            dets = self.detections(results, iou_type == 'segm')
            metrics = evaluate_detections(self.protocol, gt, dets, iou_type)
            out.update({f'{iou_type}_{k}': v for k, v in metrics.items()})
        MMLogger.get_current_instance().info(
            f'{self.protocol}: ' + ', '.join(f'{k}={v:.4f}' for k, v in out.items()))
        return out


@METRICS.register_module()
class Flickr30kRecallMetric(BaseMetric):
    """Phrase-grounding Recall@k (and the upper bound) on Flickr30k Entities.

    Ground truth comes from each sample: ``gt_instances.bboxes`` (xyxy, original-image pixels: load the
    annotations after resizing, as mmdet's grounding test pipelines do) with ``gt_instances.labels`` =
    phrase index, and ``phrase_types`` (one list or string per phrase, optional).

    Args:
        protocol: 'any-box' or 'merged-box' (also accepted with the 'flickr30k-' prefix).
        topk: the k of Recall@k.
        iou_thr: IoU for a hit.
        collect_device, prefix: as mmengine's ``BaseMetric``; the prefix defaults to 'flickr30k-<protocol>'.
    """

    def __init__(self, protocol: str = 'any-box', topk: Sequence[int] = (1, 5, 10), iou_thr: float = 0.5,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        protocol = protocol[len('flickr30k-'):] if protocol.startswith('flickr30k-') else protocol
        check_protocol(f'flickr30k-{protocol}')
        super().__init__(collect_device=collect_device, prefix=prefix or f'flickr30k-{protocol}')
        self.protocol = protocol
        self.topk = tuple(topk)
        self.iou_thr = iou_thr

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_instances']
            gt = sample['gt_instances']
            key = (str(sample.get('img_id', '')), str(sample.get('sentence_id', len(self.results))))
            types = sample.get('phrase_types')
            gt_labels = _numpy(gt['labels']).astype(np.int64).reshape(-1)
            num_phrases = len(types) if types is not None else int(gt_labels.max(initial=-1)) + 1
            self.results.append({
                'key': key,
                'pred': (_numpy(pred['bboxes']).astype(np.float64).reshape(-1, 4),
                         _numpy(pred['scores']).astype(np.float64).reshape(-1),
                         _numpy(pred['labels']).astype(np.int64).reshape(-1)),
                'gt_boxes': _numpy(gt['bboxes']).astype(np.float64).reshape(-1, 4),
                'gt_labels': gt_labels,
                'types': [[t] if isinstance(t, str) else list(t) for t in types] if types is not None
                else [[] for _ in range(num_phrases)],
            })

    def compute_metrics(self, results: list) -> Dict[str, float]:
        phrases: List[GroundedPhrase] = []
        preds: Dict[Tuple[str, str], SentencePrediction] = {}
        for n, r in enumerate(results):
            key = (r['key'][0], f'{r["key"][1]}#{n}')  # unique even if sentence ids repeat
            preds[key] = check_sentence_prediction(SentencePrediction(*r['pred']), f'sample {r["key"]}')
            for i, types in enumerate(r['types']):
                phrases.append(GroundedPhrase(key, i, types, r['gt_boxes'][r['gt_labels'] == i]))
        out = evaluate_flickr30k(phrases, preds, self.protocol, self.topk, self.iou_thr)
        MMLogger.get_current_instance().info(
            f'flickr30k-{self.protocol}: '
            + ', '.join(f'{k}={v:.4f}' for k, v in out.items() if '/' not in k))
        return out
