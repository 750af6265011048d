"""Benchmark: build the index of an LVIS-v1-train-scale annotation file, ovd's LVISV1Dataset vs mmdet's.

Generates (once, cached) a synthetic file with the shape of ``lvis_v1_train.json``: ~100k images, ~1.27M boxes
whose categories follow the real LVIS v1 train instance counts
(``ovd/data/metadata/lvis_v1_categories.json``),
one 8-point polygon per box, ``neg_category_ids`` / ``not_exhaustive_category_ids`` per image. Then each
dataset is built in its own fresh subprocess (same arguments: no pipeline, ``serialize_data=True``) and the
script prints wall time of the index build, peak RSS above the post-import baseline, and the ratios
ovd / mmdet. Goal (issue 3): <= 0.5x time and <= 0.5x memory.

Usage::

    python benchmarks/perf/dataset_index.py [--images 100170] [--boxes 1270141] [--workdir /tmp/ovd-bench]

This is a benchmark, not a test; it needs several GB of RAM for the mmdet side.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
LVIS_CATEGORIES = REPO / 'ovd' / 'data' / 'metadata' / 'lvis_v1_categories.json'


def generate(path: Path, num_images: int, num_boxes: int, seed: int = 0) -> None:
    """Write an LVIS-v1-train-shaped file with vectorised numpy and plain string formatting (seconds)."""
    rng = np.random.default_rng(seed)
    cats = json.loads(LVIS_CATEGORIES.read_text())
    cat_ids = np.asarray([c['id'] for c in cats])
    freq = np.asarray([max(c['instance_count'], 1) for c in cats], dtype=np.float64)
    ann_cat = rng.choice(cat_ids, size=num_boxes, p=freq / freq.sum())
    # Boxes per image: skewed like LVIS (many images with few boxes, some with hundreds).
    weights = rng.gamma(0.8, size=num_images)
    ann_img = np.sort(rng.choice(num_images, size=num_boxes, p=weights / weights.sum()))
    widths = rng.choice([640, 480, 500, 427], size=num_images)
    heights = rng.choice([480, 640, 375, 333], size=num_images)
    img_ids = np.arange(1, num_images + 1) * 3 + 7
    w_img, h_img = widths[ann_img], heights[ann_img]
    bw = np.maximum(1.0, rng.random(num_boxes) * w_img * 0.5).round(2)
    bh = np.maximum(1.0, rng.random(num_boxes) * h_img * 0.5).round(2)
    bx = (rng.random(num_boxes) * (w_img - bw)).round(2)
    by = (rng.random(num_boxes) * (h_img - bh)).round(2)
    t = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    cx, cy = bx + bw / 2, by + bh / 2
    px = (cx[:, None] + np.cos(t)[None] * bw[:, None] / 2).round(2)
    py = (cy[:, None] + np.sin(t)[None] * bh[:, None] / 2).round(2)
    poly = np.stack([px, py], axis=2).reshape(num_boxes, 16)

    with open(path, 'w') as f:
        f.write('{"info":{"description":"synthetic LVIS v1 train scale","version":"1.0"},"licenses":[],')
        f.write('"categories":' + json.dumps(cats) + ',"images":[')
        neg_pool = rng.choice(cat_ids, size=(num_images, 6))
        for i in range(num_images):
            if i:
                f.write(',')
            neg = neg_pool[i, :rng.integers(0, 7)].tolist()
            ne = neg_pool[i, :rng.integers(0, 2)].tolist()
            f.write(f'{{"id":{img_ids[i]},"coco_url":"http://images.cocodataset.org/train2017/'
                    f'{img_ids[i]:012d}.jpg","height":{heights[i]},"width":{widths[i]},"license":1,'
                    f'"neg_category_ids":{neg},"not_exhaustive_category_ids":{ne}}}')
        f.write('],"annotations":[')
        fmt = ('{"id":%d,"image_id":%d,"category_id":%d,"bbox":[%.2f,%.2f,%.2f,%.2f],"area":%.2f,'
               '"segmentation":[[' + ','.join(['%.2f'] * 16) + ']]}')
        chunk = 100_000
        for s in range(0, num_boxes, chunk):
            e = min(s + chunk, num_boxes)
            rows = np.column_stack([np.arange(s + 1, e + 1), img_ids[ann_img[s:e]], ann_cat[s:e], bx[s:e],
                                    by[s:e], bw[s:e], bh[s:e], (bw[s:e] * bh[s:e]).round(2), poly[s:e]])
            f.write(('' if s == 0 else ',') + ','.join(fmt % tuple(r) for r in rows.tolist()))
        f.write(']}')


CHILD = r'''
import gc, json, resource, sys, time
which, ann_file = sys.argv[1], sys.argv[2]
import ovd.setup  # noqa: F401  (both sides get the same imports and compat fixes)
if which == 'ovd':
    from ovd.data.datasets import LVISV1Dataset as Dataset
else:
    from mmdet.datasets import LVISV1Dataset as Dataset
gc.collect()
def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
base = rss_mb()
t0 = time.perf_counter()
ds = Dataset(ann_file=ann_file, data_prefix=dict(img=''), pipeline=[], serialize_data=True)
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
gc.collect()
n_inst = sum(len(ds.get_data_info(i)['instances']) for i in range(0, len(ds), 97))
print(json.dumps(dict(which=which, seconds=elapsed, base_mb=base, peak_mb=peak,
                      peak_above_base_mb=peak - base,
                      retained_mb=rss_mb() - base, images=len(ds), sampled_instances=n_inst)))
'''


def measure(which: str, ann_file: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=f'{REPO}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    out = subprocess.run([sys.executable, '-c', CHILD, which, str(ann_file)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=100_170, help='LVIS v1 train: 100,170 images')
    parser.add_argument('--boxes', type=int, default=1_270_141, help='LVIS v1 train: 1,270,141 boxes')
    parser.add_argument('--workdir', default='/tmp/ovd-bench-dataset-index')
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    ann = work / f'lvis_v1_train_synthetic_{args.images}_{args.boxes}.json'
    if not ann.is_file():
        t0 = time.perf_counter()
        generate(ann.with_suffix('.tmp'), args.images, args.boxes)
        os.replace(ann.with_suffix('.tmp'), ann)
        print(f'generated {ann} ({ann.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f}s')
    results = {which: measure(which, ann) for which in ('ovd', 'mmdet')}
    for r in results.values():
        print(f"{r['which']:>5}: build {r['seconds']:7.2f}s  "
              f"peak RSS above baseline {r['peak_above_base_mb']:8.1f}"
              f" MiB  retained {r['retained_mb']:8.1f} MiB  images {r['images']}  "
              f"(sampled instances {r['sampled_instances']})")
    o, m = results['ovd'], results['mmdet']
    print(f"ratio ovd/mmdet: time {o['seconds'] / m['seconds']:.3f}x (goal <= 0.5x), "
          f"peak memory {o['peak_above_base_mb'] / m['peak_above_base_mb']:.3f}x (goal <= 0.5x), "
          f"retained memory {o['retained_mb'] / max(m['retained_mb'], 1e-9):.3f}x")
    return 0


if __name__ == '__main__':
    sys.exit(main())
