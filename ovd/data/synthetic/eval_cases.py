"""Generated LVIS/COCO-style ground truth and results for exactness tests and the speed benchmark.

Files in the real formats (LVIS v1-style annotations with ``neg_category_ids`` and
``not_exhaustive_category_ids``; COCO with ``iscrowd``; results lists), built from a seed. Categories and
their frequencies are LVIS v1's real ones (``ovd/data/metadata/lvis_v1_categories.json``: a category
appears in an image with probability proportional to its train ``image_count``, with its mean instances
per image). Detections perturb ground truth or are spurious, and the options switch on the hard cases
the evaluators must agree on: tied scores, duplicated boxes (tied IoUs), crowd / ignored ground truth,
zero-area boxes, categories without ground truth, images without detections.
"""
import json
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..vocab import METADATA_DIR

LVIS_V1_CATEGORIES = METADATA_DIR / 'lvis_v1_categories.json'


def lvis_v1_categories() -> List[Dict[str, Any]]:
    """The 1203 LVIS v1 categories (id, name, frequency, image_count, instance_count)."""
    with open(LVIS_V1_CATEGORIES) as f:
        return json.load(f)


def _boxes(rng: np.random.Generator, n: int, w: int, h: int) -> np.ndarray:
    """[n, 4] xywh boxes inside a w x h image, sizes spanning the small/medium/large ranges."""
    side = np.exp(rng.uniform(np.log(4), np.log(min(w, h) * 0.9), size=(n, 2)))
    x = rng.uniform(0, w - side[:, 0])
    y = rng.uniform(0, h - side[:, 1])
    return np.round(np.stack([x, y, side[:, 0], side[:, 1]], 1), 2)


def make_lvis_like(num_images: int, dets_per_image: int = 300, seed: int = 0,
                   categories: Optional[List[Dict[str, Any]]] = None, score_decimals: Optional[int] = None,
                   hard_cases: bool = False) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """An LVIS v1-like annotation dict and a results list.

    Args:
        num_images: number of images.
        dets_per_image: detections per image (before the hard cases remove some).
        seed: random seed.
        categories: category records (default: LVIS v1's 1203 with their frequencies).
        score_decimals: round scores to this many decimals (many ties) or keep them continuous.
        hard_cases: add ignored ground truth, duplicated boxes, zero-area detections, images without
            detections and detections of categories that have no ground truth anywhere.

    Returns:
        (ground truth dict in the LVIS format, results list in the LVIS/COCO results format).
    """
    rng = np.random.default_rng(seed)
    cats = categories if categories is not None else lvis_v1_categories()
    cat_ids = np.array([c['id'] for c in cats])
    img_count = np.array([max(c.get('image_count', 1), 1) for c in cats], np.float64)
    inst_per_img = np.array([max(c.get('instance_count', 1), 1) / max(c.get('image_count', 1), 1)
                             for c in cats])
    p_cat = img_count / img_count.sum()
    images, anns, results = [], [], []
    no_gt_cats = cat_ids[-3:] if hard_cases else cat_ids[:0]  # categories kept free of ground truth
    usable = ~np.isin(cat_ids, no_gt_cats)
    p_use = p_cat * usable / (p_cat * usable).sum()
    for i in range(num_images):
        img_id = int(i * 7 + 3)  # non-contiguous ids
        w, h = int(rng.integers(320, 641)), int(rng.integers(240, 481))
        pos = rng.choice(len(cats), size=min(1 + rng.poisson(3), len(cats)), replace=False, p=p_use)
        rest = np.setdiff1d(np.arange(len(cats)), pos)
        neg = rng.choice(rest, size=min(int(rng.integers(2, 9)), len(rest)), replace=False)
        nel = [int(cat_ids[c]) for c in pos if rng.random() < 0.15]
        images.append({'id': img_id, 'width': w, 'height': h,
                       'neg_category_ids': [int(cat_ids[c]) for c in neg],
                       'not_exhaustive_category_ids': nel})
        gt_boxes, gt_cats = [], []
        for c in pos:
            n = 1 + min(rng.poisson(max(inst_per_img[c] - 1, 0.1)), 20)
            boxes = _boxes(rng, n, w, h)
            if hard_cases and n > 1 and rng.random() < 0.2:
                boxes[1] = boxes[0]  # identical ground truth: tied IoUs
            for b in boxes:
                ann = {'id': len(anns) + 1, 'image_id': img_id, 'category_id': int(cat_ids[c]),
                       'bbox': b.tolist(), 'area': float(round(b[2] * b[3] * rng.uniform(0.5, 1.0), 2))}
                if hard_cases and rng.random() < 0.05:
                    ann['ignore'] = 1
                anns.append(ann)
                gt_boxes.append(b)
                gt_cats.append(int(cat_ids[c]))
        if hard_cases and i % 17 == 5:
            continue  # an image without detections
        gt_boxes_a = np.array(gt_boxes).reshape(-1, 4)
        n_tp = min(len(gt_boxes), dets_per_image // 3)
        src = rng.integers(0, len(gt_boxes_a), size=n_tp * 2) if len(gt_boxes_a) else np.zeros(0, int)
        src = src[:dets_per_image]
        jitter = rng.normal(0, 0.08, size=(len(src), 4)) * np.repeat(gt_boxes_a[src][:, 2:], 2, axis=1)
        det_boxes = gt_boxes_a[src] + jitter
        det_cats = np.array(gt_cats, np.int64)[src] if len(src) else np.zeros(0, np.int64)
        n_rest = dets_per_image - len(src)
        spurious_cats = np.where(rng.random(n_rest) < 0.5, cat_ids[neg][rng.integers(0, len(neg), n_rest)],
                                 cat_ids[rng.choice(len(cats), size=n_rest, p=p_cat)])
        if hard_cases:
            spurious_cats[:3] = no_gt_cats[: min(3, len(no_gt_cats))]
        det_boxes = np.concatenate([det_boxes, _boxes(rng, n_rest, w, h)])
        det_cats = np.concatenate([det_cats, spurious_cats])
        det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], 1.0)
        if hard_cases:
            det_boxes[rng.random(len(det_boxes)) < 0.01, 2] = 0.0  # zero-area detections
            dup = rng.random(len(det_boxes)) < 0.03
            det_boxes[np.flatnonzero(dup)[1:]] = det_boxes[np.flatnonzero(dup)[:-1]]
        scores = rng.random(len(det_boxes))
        scores[:len(src)] = np.clip(scores[:len(src)] + 0.3, 0, 1)
        if score_decimals is not None:
            scores = np.round(scores, score_decimals)
        for b, c, s in zip(np.round(det_boxes, 2).tolist(), det_cats.tolist(), scores.tolist()):
            results.append({'image_id': img_id, 'category_id': int(c), 'bbox': b, 'score': float(s)})
    order = rng.permutation(len(results)) if hard_cases else np.arange(len(results))
    gt = {'images': images, 'annotations': anns,
          'categories': [{'id': int(c['id']), 'name': c['name'], 'frequency': c['frequency']} for c in cats]}
    return gt, [results[j] for j in order]


def make_coco_like(num_images: int, num_categories: int = 12, dets_per_image: int = 150, seed: int = 0,
                   score_decimals: Optional[int] = 1) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """A COCO-style annotation dict and results with crowd regions and the hard cases.

    More than 100 detections in some (image, category) groups exercise the per-group cap; the last
    category has no ground truth and one category is unused; every 5th image has no detections.

    Returns:
        (ground truth dict in the COCO format, results list).
    """
    rng = np.random.default_rng(seed)
    cat_ids = np.arange(1, num_categories + 1) * 2  # non-contiguous ids
    images, anns, results = [], [], []
    for i in range(num_images):
        img_id = int(1000 + i * 3)
        w, h = int(rng.integers(200, 641)), int(rng.integers(200, 481))
        images.append({'id': img_id, 'width': w, 'height': h})
        boxes = _boxes(rng, int(rng.integers(0, 12)), w, h)
        cats = cat_ids[rng.integers(0, num_categories - 2, size=len(boxes))]  # last two: no ground truth
        if len(boxes) > 1 and rng.random() < 0.3:
            boxes[1], cats[1] = boxes[0], cats[0]  # tied IoUs
        for b, c in zip(boxes, cats):
            crowd = int(rng.random() < 0.08)
            anns.append({'id': len(anns) + 1, 'image_id': img_id, 'category_id': int(c), 'bbox': b.tolist(),
                         'area': float(round(b[2] * b[3] * rng.uniform(0.5, 1.0), 2)), 'iscrowd': crowd})
        if i % 5 == 4:
            continue
        n_tp = 2 * len(boxes)
        src = rng.integers(0, max(len(boxes), 1), size=n_tp)
        det_boxes = boxes[src] + rng.normal(0, 0.1, (n_tp, 4)) * np.repeat(boxes[src][:, 2:], 2, axis=1) \
            if len(boxes) else np.zeros((0, 4))
        det_cats = cats[src] if len(boxes) else np.zeros(0, np.int64)
        n_rest = dets_per_image - n_tp
        # a crowded group: many detections of one category in one image (> 100 per group)
        crowd_cat = cat_ids[rng.integers(0, num_categories - 1)]
        rest_cats = np.where(rng.random(n_rest) < 0.8, crowd_cat, cat_ids[rng.integers(0, num_categories - 1,
                                                                                       n_rest)])
        det_boxes = np.concatenate([det_boxes, _boxes(rng, n_rest, w, h)])
        det_cats = np.concatenate([det_cats, rest_cats])
        det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], 0.5)
        det_boxes[rng.random(len(det_boxes)) < 0.01, 3] = 0.0  # zero-area detections
        scores = rng.random(len(det_boxes))
        scores[:n_tp] = np.clip(scores[:n_tp] + 0.3, 0, 1)
        if score_decimals is not None:
            scores = np.round(scores, score_decimals)
        for b, c, s in zip(np.round(det_boxes, 2).tolist(), det_cats.tolist(), scores.tolist()):
            results.append({'image_id': img_id, 'category_id': int(c), 'bbox': b, 'score': float(s)})
    gt = {'images': images, 'annotations': anns,
          'categories': [{'id': int(c), 'name': f'category_{c}'} for c in cat_ids]}
    return gt, [results[j] for j in rng.permutation(len(results))]
