"""Helpers for the runner tests: a small synthetic COCO dataset and sweep specs over the smoke config."""
import json
import textwrap
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = 'configs/smoke/faster-rcnn_r18_tiny_synth-coco.py'
# (COCO id, COCO name, colour): the smoke config keeps COCO's 80 names, so the categories use real ones.
CATEGORIES = [(1, 'person', (220, 40, 40)), (3, 'car', (40, 200, 40)), (18, 'dog', (40, 40, 220))]


def write_coco_split(root: Path, split: str, n_images: int, seed: int) -> None:
    """A COCO-format split of n_images 160x120 JPEGs, each with 1-3 solid rectangles of category colours."""
    rng = np.random.default_rng(seed)
    img_dir = root / f'{split}2017'
    img_dir.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(n_images):
        img = np.full((120, 160, 3), 128, np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            cat_id, _, colour = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
            w, h = int(rng.integers(24, 60)), int(rng.integers(24, 50))
            x, y = int(rng.integers(0, 160 - w)), int(rng.integers(0, 120 - h))
            img[y:y + h, x:x + w] = colour
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=cat_id, bbox=[x, y, w, h],
                             area=w * h, iscrowd=0))
        name = f'{i + 1:06d}.jpg'
        Image.fromarray(img).save(img_dir / name, quality=95)
        images.append(dict(id=i + 1, file_name=name, width=160, height=120))
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    # All 80 COCO categories (the smoke model predicts 80 labels); only CATEGORIES appear in the images.
    cats = json.loads((REPO / 'ovd' / 'data' / 'metadata' / 'coco_categories.json').read_text())
    (root / 'annotations' / f'instances_{split}2017.json').write_text(
        json.dumps(dict(images=images, annotations=anns, categories=cats)))


def make_synthetic_coco(data_root: Path) -> Path:
    """``<data_root>/synthetic/coco`` as the smoke config expects it (OVD_DATA_ROOT=data_root)."""
    coco = data_root / 'synthetic' / 'coco'
    if not (coco / 'annotations' / 'instances_val2017.json').is_file():
        write_coco_split(coco, 'train', 8, seed=0)
        write_coco_split(coco, 'val', 4, seed=1)
    return coco


def write_spec(path: Path, body: str, data_root: Optional[Path] = None) -> Path:
    text = textwrap.dedent(body)
    if data_root is not None:
        text = text.replace('@DATA_ROOT@', str(data_root))
    path.write_text(text.replace('@SMOKE@', str(REPO / SMOKE_CONFIG)))
    return path
