"""Synthetic LVIS v1: ``annotations/lvis_v1_{train,val}.json`` + images at the paths their ``coco_url`` names.

As in the real LVIS v1 release: image records have no ``file_name`` but a ``coco_url``
(``http://images.cocodataset.org/{train2017|val2017}/{id:012d}.jpg``) from which the file path
``{train2017|val2017}/{id:012d}.jpg`` is derived; train images all come from COCO train2017 while val images
come from both train2017 and val2017 (so "val images not in COCO train2017" can be derived); every image lists
``neg_category_ids`` (categories verified absent) and ``not_exhaustive_category_ids`` (present but not all
instances annotated: the generator paints one extra, unannotated instance of such a category). Annotations
have ``id``, ``image_id``, ``category_id``, polygon ``segmentation``, ``area`` and ``bbox`` (no ``iscrowd``).

The JSON lists all 1203 categories with their real ``name``, ``synonyms``, ``def``, ``synset`` and
``frequency`` (so the OV-LVIS rare/base split is the real one); ``image_count``/``instance_count`` are
RECOMPUTED for the synthetic split the file describes (the real ones describe the real train set and would
mislead e.g. a federated loss trained on this data). Objects use a configurable subset of categories mixing
r/c/f; rare categories appear in at most one train image (the real ones are in 1-10) and in val.
"""
from collections import Counter
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .canvas import Canvas
from .common import (
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    MIN_OBJECT_SIDE,
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

DEFAULT_SPLITS = {'train': 48, 'val': 32}
DEFAULT_NUM_CATEGORIES = (8, 8, 8)  # rare, common, frequent
LVIS_INFO = {'description': 'ovd synthetic dataset in LVIS v1 format', 'url': '', 'version': '1.0',
             'year': 2020, 'contributor': 'ovd.data.synthetic', 'date_created': '2020-01-01'}


def lvis_categories() -> List[dict]:
    """The 1203 LVIS v1 categories (metadata record per category) sorted by id."""
    return sorted(load_metadata_json('lvis_v1_categories.json'), key=lambda c: c['id'])


def _choose_categories(seed: int, categories: List[dict], num_categories: Tuple[int, int, int]) -> List[int]:
    rng = split_rng(seed, 'lvis', 'categories')
    chosen: List[int] = []
    for freq, n in zip('rcf', num_categories):
        pool = [c['id'] for c in categories if c['frequency'] == freq]
        if not 0 <= n <= len(pool):
            raise ValueError(f'num_categories asks for {n} {freq!r} categories; there are {len(pool)}')
        chosen.extend(int(i) for i in rng.choice(pool, size=n, replace=False))
    return sorted(chosen)


def generate_lvis(root: Union[str, Path], *, splits: Optional[Union[Mapping[str, int], Sequence[str]]] = None,
                  seed: int = 0, num_images: Optional[int] = None,
                  category_ids: Optional[Sequence[int]] = None,
                  num_categories: Tuple[int, int, int] = DEFAULT_NUM_CATEGORIES,
                  val_from_val2017: float = 0.5, min_objects: int = 2, max_objects: int = 4,
                  max_neg_categories: int = 3, not_exhaustive_fraction: float = 0.25,
                  min_size: Tuple[int, int] = DEFAULT_MIN_SIZE, max_size: Tuple[int, int] = DEFAULT_MAX_SIZE,
                  progress: Optional[ProgressFn] = None) -> Dict:
    """Write a synthetic LVIS v1 dataset under ``root``.

    Args:
        root: output folder; gets ``annotations/lvis_v1_{train,val}.json``, ``train2017/``, ``val2017/`` and
            ``synthetic_manifest.json``.
        splits: split names (``train``, ``val``) or a mapping split -> number of images; default
            ``{'train': 48, 'val': 32}``.
        seed: the seed; the same seed writes byte-identical files.
        num_images: if given, the number of images of every split.
        category_ids: LVIS ids objects are drawn from (default: ``num_categories`` picked by seed). The JSON
            always lists all 1203 categories.
        num_categories: how many (rare, common, frequent) categories to pick when ``category_ids`` is None.
        val_from_val2017: fraction of val images that are COCO val2017 images (the rest are train2017 images
            not in LVIS train, as in the real LVIS v1 val).
        min_objects: fewest annotated objects per image.
        max_objects: most annotated objects per image.
        max_neg_categories: most ``neg_category_ids`` per image (at least one when a used category is absent).
        not_exhaustive_fraction: fraction of images with one category in ``not_exhaustive_category_ids``.
        min_size: smallest (width, height) of an image.
        max_size: largest (width, height) of an image.
        progress: optional ``progress(done, total, label)`` callback, called after each image.

    Returns:
        The manifest (also written to ``root/synthetic_manifest.json``) plus ``root``.
    """
    root = Path(root)
    split_sizes = resolve_splits(splits, num_images, DEFAULT_SPLITS)
    if not 0 <= val_from_val2017 <= 1:
        raise ValueError(f'val_from_val2017 must be in [0, 1], got {val_from_val2017}')
    categories = lvis_categories()
    by_id = {c['id']: c for c in categories}
    if category_ids is None:
        category_ids = _choose_categories(seed, categories, num_categories)
    unknown = sorted(set(category_ids) - set(by_id))
    if unknown:
        raise ValueError(f'category_ids {unknown} are not LVIS v1 category ids')
    category_ids = sorted({int(c) for c in category_ids})
    rare = [c for c in category_ids if by_id[c]['frequency'] == 'r']
    non_rare = [c for c in category_ids if by_id[c]['frequency'] != 'r'] or rare

    claim_root(root, 'generate_lvis', ['annotations', 'train2017', 'val2017'])
    # COCO-2017-like image ids, unique over everything written
    id_rng = split_rng(seed, 'lvis', 'image_ids')
    pool = (id_rng.choice(581929, size=sum(split_sizes.values()), replace=False) + 1).tolist()
    plan: Dict[str, List[Tuple[int, str]]] = {}
    for split, n in split_sizes.items():
        ids, pool = pool[:n], pool[n:]
        n_val2017 = round(val_from_val2017 * n) if split == 'val' else 0
        plan[split] = sorted([(i, 'val2017') for i in ids[:n_val2017]]
                             + [(i, 'train2017') for i in ids[n_val2017:]])

    total, done, ann_id = sum(split_sizes.values()), 0, 1
    manifest_splits = {}
    for split, images_plan in plan.items():
        rng = split_rng(seed, 'lvis', split)
        n = len(images_plan)
        if split == 'train':
            per_image = spread_categories(rng, non_rare, n, min_objects, max_objects)
            for cat in rare:  # each rare category in exactly one train image, as LVIS rare = 1..10 images
                per_image[int(rng.integers(n))].append(cat)
        else:
            per_image = spread_categories(rng, category_ids, n, min_objects, max_objects)
        images, annotations = [], []
        for i, ((image_id, coco_split), cats) in enumerate(zip(images_plan, per_image)):
            irng = image_rng(seed, 'lvis', split, i)
            width, height = image_size(irng, min_size, max_size)
            canvas = Canvas(irng, width, height)
            objects, _ = draw_objects(canvas, [c - 1 for c in cats])  # LVIS ids are 1..1203: look = id - 1
            drawn = [(c, o) for c, o in zip(cats, objects) if o is not None]
            present = sorted({c for c, _ in drawn})
            not_exhaustive: List[int] = []
            if present and irng.random() < not_exhaustive_fraction:
                cat = present[int(irng.integers(len(present)))]
                box = canvas.place(MIN_OBJECT_SIDE, int(min(width, height) * 0.4))
                if box is not None:  # an instance that is there but left unannotated
                    canvas.draw_object(category_look(cat - 1), box)
                    not_exhaustive.append(cat)
            absent = [c for c in category_ids if c not in present]
            n_neg = 0
            if max_neg_categories:
                n_neg = min(len(absent), int(irng.integers(1, max_neg_categories + 1)))
            neg = sorted(int(c) for c in irng.choice(absent, size=n_neg, replace=False)) if n_neg else []
            file_name = f'{image_id:012d}.jpg'
            write_image(root / coco_split / file_name, canvas)
            images.append({'id': image_id,
                           'coco_url': f'http://images.cocodataset.org/{coco_split}/{file_name}',
                           'height': height, 'width': width, 'license': 1, 'flickr_url': '',
                           'date_captured': '2013-11-14 16:28:13', 'neg_category_ids': neg,
                           'not_exhaustive_category_ids': not_exhaustive})
            for cat_id, obj in drawn:
                annotations.append({'id': ann_id, 'image_id': image_id, 'category_id': int(cat_id),
                                    'segmentation': obj.polygons, 'area': obj.area, 'bbox': obj.bbox})
                ann_id += 1
            done += 1
            report(progress, done, total, f'lvis {split}')
        instance_count = Counter(a['category_id'] for a in annotations)
        image_count = Counter(cat for _, cat in {(a['image_id'], a['category_id']) for a in annotations})
        out_categories = [dict(c, image_count=image_count[c['id']], instance_count=instance_count[c['id']])
                          for c in categories]
        ann_file = f'annotations/lvis_v1_{split}.json'
        atomic_write_json(root / ann_file, {'info': LVIS_INFO, 'licenses': [SYNTHETIC_LICENSE],
                                            'images': images, 'annotations': annotations,
                                            'categories': out_categories})
        used = sorted(instance_count)
        manifest_splits[split] = {
            'ann_file': ann_file, 'images': len(images), 'annotations': len(annotations),
            'images_from_train2017': sum(1 for _, s in images_plan if s == 'train2017'),
            'images_from_val2017': sum(1 for _, s in images_plan if s == 'val2017'),
            'not_exhaustive_images': sum(1 for im in images if im['not_exhaustive_category_ids']),
            'categories_used': used,
            'categories_used_by_frequency': {f: sum(1 for c in used if by_id[c]['frequency'] == f)
                                             for f in 'rcf'}}
    manifest = {
        'dataset': 'lvis_v1', 'generator': 'ovd.data.synthetic.generate_lvis', 'seed': seed,
        'num_categories': len(categories), 'category_ids': category_ids, 'category_counts': 'recomputed',
        'splits': manifest_splits,
        'looks': {str(c): category_look(c - 1).describe() for c in category_ids}}
    return write_manifest(root, manifest)
