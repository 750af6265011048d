"""Synthetic COCO 2017 instances: ``annotations/instances_{split}.json`` + ``{split}/{id:012d}.jpg``.

All 80 COCO categories with their real ids; objects are dealt from all of them (or a chosen subset), so the
OV-COCO filtering meets base, novel and the 15 classes excluded from OV-COCO. Annotations carry polygon
``segmentation`` of the painted shape, ``area`` (polygon area), ``bbox`` [x, y, w, h] and ``iscrowd``; a few
crowd regions (``iscrowd=1``) carry an uncompressed RLE like the real crowd annotations.
"""
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

from .canvas import Canvas
from .common import (
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    SYNTHETIC_LICENSE,
    ProgressFn,
    claim_root,
    draw_objects,
    image_rng,
    image_size,
    load_metadata_json,
    report,
    resolve_splits,
    split_rng,
    spread_categories,
    write_image,
    write_manifest,
)
from .io import atomic_write_json
from .looks import category_look
from ..vocab import OV_COCO_BASE, OV_COCO_NOVEL

DEFAULT_SPLITS = {'train2017': 64, 'val2017': 40}
COCO_INFO = {'description': 'ovd synthetic dataset in COCO 2017 instances format', 'url': '',
             'version': '1.0', 'year': 2017, 'contributor': 'ovd.data.synthetic',
             'date_created': '2017/09/01'}


def coco_categories() -> list:
    """The 80 COCO categories (``id``, ``name``, ``supercategory``) sorted by id."""
    return sorted(load_metadata_json('coco_categories.json'), key=lambda c: c['id'])


def generate_coco(root: Union[str, Path], *, splits: Optional[Union[Mapping[str, int], Sequence[str]]] = None,
                  seed: int = 0, num_images: Optional[int] = None,
                  category_ids: Optional[Sequence[int]] = None,
                  min_objects: int = 2, max_objects: int = 4, crowd_fraction: float = 0.1,
                  min_size: Tuple[int, int] = DEFAULT_MIN_SIZE, max_size: Tuple[int, int] = DEFAULT_MAX_SIZE,
                  progress: Optional[ProgressFn] = None) -> Dict:
    """Write a synthetic COCO 2017 instances dataset under ``root``.

    Args:
        root: output folder; gets ``annotations/instances_{split}.json``, ``{split}/{id:012d}.jpg`` and
            ``synthetic_manifest.json``.
        splits: split names (from ``train2017``, ``val2017``) or a mapping split -> number of images;
            default ``{'train2017': 64, 'val2017': 40}``.
        seed: the seed; the same seed writes byte-identical files.
        num_images: if given, the number of images of every split.
        category_ids: COCO ids objects are drawn from (default: all 80). The JSON always lists all 80.
        min_objects: fewest objects per image.
        max_objects: most objects per image (fewer when the image is full).
        crowd_fraction: fraction of images that also get one ``iscrowd=1`` region (at least one per split when
            > 0).
        min_size: smallest (width, height) of an image.
        max_size: largest (width, height) of an image.
        progress: optional ``progress(done, total, label)`` callback, called after each image.

    Returns:
        The manifest (also written to ``root/synthetic_manifest.json``) plus ``root``.
    """
    root = Path(root)
    split_sizes = resolve_splits(splits, num_images, DEFAULT_SPLITS)
    categories = coco_categories()
    look_of = {c['id']: i for i, c in enumerate(categories)}  # contiguous label index = look index
    if category_ids is None:
        category_ids = [c['id'] for c in categories]
    unknown = sorted(set(category_ids) - set(look_of))
    if unknown:
        raise ValueError(f'category_ids {unknown} are not COCO category ids')

    claim_root(root, 'generate_coco', ['annotations', *DEFAULT_SPLITS])
    id_rng = split_rng(seed, 'coco', 'image_ids')
    # real COCO 2017 image ids lie in 1..581929; draw unique ids from that range for all splits together
    all_ids = (id_rng.choice(581929, size=sum(split_sizes.values()), replace=False) + 1).tolist()
    total, done = sum(split_sizes.values()), 0
    manifest_splits = {}
    ann_id = 1
    for split, n_images in split_sizes.items():
        ids = sorted(all_ids[:n_images])
        all_ids = all_ids[n_images:]
        rng = split_rng(seed, 'coco', split)
        per_image = spread_categories(rng, list(category_ids), n_images, min_objects, max_objects)
        n_crowd = 0 if crowd_fraction <= 0 else max(1, round(crowd_fraction * n_images))
        crowd_images = set(rng.choice(n_images, size=min(n_crowd, n_images), replace=False).tolist())
        images, annotations = [], []
        for i, (image_id, cats) in enumerate(zip(ids, per_image)):
            irng = image_rng(seed, 'coco', split, i)
            width, height = image_size(irng, min_size, max_size)
            canvas = Canvas(irng, width, height)
            crowd_cat = None
            if i in crowd_images:
                crowd_cat = int(category_ids[int(irng.integers(len(category_ids)))])
            objects, crowd = draw_objects(canvas, [look_of[c] for c in cats],
                                          None if crowd_cat is None else look_of[crowd_cat])
            file_name = f'{image_id:012d}.jpg'
            write_image(root / split / file_name, canvas)
            images.append({'license': 1, 'file_name': file_name,
                           'coco_url': f'http://images.cocodataset.org/{split}/{file_name}',
                           'height': height, 'width': width, 'date_captured': '2013-11-14 16:28:13',
                           'flickr_url': '', 'id': image_id})
            drawn = [(c, o) for c, o in zip(cats, objects) if o is not None]
            if crowd is not None:
                drawn.append((crowd_cat, crowd))
            for cat_id, obj in drawn:
                annotations.append({'segmentation': obj.rle if obj.iscrowd else obj.polygons,
                                    'area': obj.area, 'iscrowd': int(obj.iscrowd), 'image_id': image_id,
                                    'bbox': obj.bbox, 'category_id': int(cat_id), 'id': ann_id})
                ann_id += 1
            done += 1
            report(progress, done, total, f'coco {split}')
        ann_file = f'annotations/instances_{split}.json'
        atomic_write_json(root / ann_file, {'info': COCO_INFO, 'licenses': [SYNTHETIC_LICENSE],
                                            'images': images, 'annotations': annotations,
                                            'categories': categories})
        used = sorted({a['category_id'] for a in annotations})
        manifest_splits[split] = {
            'ann_file': ann_file, 'image_dir': split, 'images': len(images), 'annotations': len(annotations),
            'crowd_annotations': sum(a['iscrowd'] for a in annotations), 'categories_used': used}
    manifest = {
        'dataset': 'coco', 'generator': 'ovd.data.synthetic.generate_coco', 'seed': seed,
        'num_categories': len(categories), 'splits': manifest_splits,
        'ov_coco': {'base': list(OV_COCO_BASE), 'novel': list(OV_COCO_NOVEL)},
        'looks': {str(c['id']): category_look(look_of[c['id']]).describe() for c in categories}}
    return write_manifest(root, manifest)
