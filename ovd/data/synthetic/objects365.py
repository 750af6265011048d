"""Synthetic Objects365 v2: ``annotations/zhiyuan_objv2_{split}.json`` + ``{split}/patch<N>/<name>.jpg``.

As in the real v2 release: the 365 categories carry their ORIGINAL names (typos and all, e.g. "Moniter/TV",
column 2 of ``ovd/data/metadata/objects365_v2_names_fix.csv``; the dataset layer applies the fixes); image
``file_name`` values look like ``images/v1/patch8/objects365_v1_00420917.jpg`` (patches 0-15 hold the v1
images, later patches the v2 ones: train patches 16-50, val 16-43) while the files sit at
``{split}/patch8/objects365_v1_00420917.jpg`` (the layout mmdet's Objects365V2Dataset reads). Annotations have
``id``, ``image_id``, ``category_id``, ``bbox``, ``area`` (box area), ``iscrowd``, ``isfake``, ``isreflected``
(no segmentation). With ``include_missing`` the train JSON also lists the three images known to be absent from
the real v2 train download (``patch16/objects365_v2_00908726.jpg``, ``patch6/objects365_v1_00320532.jpg``,
``patch6/objects365_v1_00320534.jpg``) without writing their files, so the "skip with a warning" path runs.
Objects365 v1 (different names and file layout) is not generated.
"""
import csv
import io
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .canvas import Canvas, DrawnObject
from .common import (
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    SYNTHETIC_LICENSE,
    ProgressFn,
    claim_root,
    draw_objects,
    image_rng,
    image_size,
    load_metadata_text,
    report,
    resolve_splits,
    split_rng,
    spread_categories,
    unique_ids,
    write_image,
    write_manifest,
)
from .io import atomic_write_json
from .looks import category_look

DEFAULT_SPLITS = {'train': 48, 'val': 24}
DEFAULT_NUM_CATEGORIES = 24
# (split, version, patch, image id) of the train images listed in the real v2 JSON but absent from the
# download (the same three appear in mmdet's Objects365V2Dataset ignore list)
KNOWN_MISSING = (('train', 2, 16, 908726), ('train', 1, 6, 320532), ('train', 1, 6, 320534))
PATCHES = {'train': (0, 50), 'val': (0, 43)}  # inclusive; patches 0-15 are the v1 images
V1_LAST_PATCH = 15


def objects365_v2_categories() -> List[Tuple[int, str, str]]:
    """(id, original name, fixed name) of the 365 Objects365 v2 categories, sorted by id."""
    rows = csv.reader(io.StringIO(load_metadata_text('objects365_v2_names_fix.csv')))
    return sorted((int(r[0]), r[1], r[2]) for r in rows if r)


def image_file_name(version: int, patch: int, image_id: int) -> str:
    """The ``file_name`` of an image record, e.g. ``images/v1/patch8/objects365_v1_00420917.jpg``."""
    return f'images/v{version}/patch{patch}/objects365_v{version}_{image_id:08d}.jpg'


def image_path(split: str, file_name: str) -> str:
    """Where the image of ``file_name`` lies, relative to the root: ``{split}/patch<N>/<name>.jpg``."""
    patch, name = file_name.split('/')[-2:]
    return f'{split}/{patch}/{name}'


def _choose_categories(seed: int, categories, n: int) -> List[int]:
    if not 1 <= n <= len(categories):
        raise ValueError(f'num_categories must be in [1, {len(categories)}], got {n}')
    rng = split_rng(seed, 'objects365', 'categories')
    renamed = [c[0] for c in categories if c[1] != c[2]]
    plain = [c[0] for c in categories if c[1] == c[2]]
    n_renamed = min(len(renamed), max(1, n // 4))  # a few whose names the dataset layer must fix
    chosen = list(rng.choice(renamed, size=n_renamed, replace=False)) + \
        list(rng.choice(plain, size=n - n_renamed, replace=False))
    return sorted(int(c) for c in chosen)


def _annotation(ann_id: int, image_id: int, category_id: int, obj: DrawnObject) -> dict:
    _, _, w, h = obj.bbox
    return {'id': ann_id, 'iscrowd': int(obj.iscrowd), 'isfake': 0, 'area': round(w * h, 2), 'isreflected': 0,
            'bbox': obj.bbox, 'image_id': image_id, 'category_id': int(category_id)}


def generate_objects365(root: Union[str, Path], version: str = 'v2', *,
                        splits: Optional[Union[Mapping[str, int], Sequence[str]]] = None, seed: int = 0,
                        num_images: Optional[int] = None, category_ids: Optional[Sequence[int]] = None,
                        num_categories: int = DEFAULT_NUM_CATEGORIES, include_missing: bool = True,
                        min_objects: int = 2, max_objects: int = 5, crowd_fraction: float = 0.1,
                        min_size: Tuple[int, int] = DEFAULT_MIN_SIZE,
                        max_size: Tuple[int, int] = DEFAULT_MAX_SIZE,
                        progress: Optional[ProgressFn] = None) -> Dict:
    """Write a synthetic Objects365 v2 dataset under ``root``.

    Args:
        root: output folder; gets ``annotations/zhiyuan_objv2_{train,val}.json``, ``train/``, ``val/`` and
            ``synthetic_manifest.json``.
        version: only ``'v2'`` is generated.
        splits: split names (``train``, ``val``) or a mapping split -> number of images; default
            ``{'train': 48, 'val': 24}``.
        seed: the seed; the same seed writes byte-identical files.
        num_images: if given, the number of (written) images of every split.
        category_ids: Objects365 ids objects are drawn from (default: ``num_categories`` picked by seed, a
            quarter of them among the categories whose original name has a typo). The JSON lists all 365.
        num_categories: how many categories to pick when ``category_ids`` is None.
        include_missing: list the three known-missing train images in the train JSON without their files.
        min_objects: fewest objects per image.
        max_objects: most objects per image.
        crowd_fraction: fraction of images with one ``iscrowd=1`` box (a painted cluster).
        min_size: smallest (width, height) of an image.
        max_size: largest (width, height) of an image.
        progress: optional ``progress(done, total, label)`` callback, called after each image.

    Returns:
        The manifest (also written to ``root/synthetic_manifest.json``) plus ``root``.
    """
    if version != 'v2':
        raise ValueError(f"only Objects365 version 'v2' is generated, got {version!r}")
    root = Path(root)
    split_sizes = resolve_splits(splits, num_images, DEFAULT_SPLITS)
    categories = objects365_v2_categories()
    valid = {c[0] for c in categories}
    if category_ids is None:
        category_ids = _choose_categories(seed, categories, num_categories)
    unknown = sorted(set(category_ids) - valid)
    if unknown:
        raise ValueError(f'category_ids {unknown} are not Objects365 v2 category ids')
    category_ids = sorted({int(c) for c in category_ids})
    json_categories = [{'name': original, 'id': cid} for cid, original, _ in categories]
    renamed = {cid for cid, original, fixed in categories if original != fixed}

    claim_root(root, 'generate_objects365', ['annotations', *DEFAULT_SPLITS])
    reserved = {m[3] for m in KNOWN_MISSING}
    id_rng = split_rng(seed, 'objects365', 'image_ids')
    pool = unique_ids(id_rng, 0, 2_100_000, sum(split_sizes.values()), exclude=reserved)
    total, done, ann_id = sum(split_sizes.values()), 0, 1
    manifest_splits = {}
    for split, n_images in split_sizes.items():
        ids, pool = sorted(pool[:n_images]), pool[n_images:]
        rng = split_rng(seed, 'objects365', split)
        per_image = spread_categories(rng, category_ids, n_images, min_objects, max_objects)
        n_crowd = 0 if crowd_fraction <= 0 else max(1, round(crowd_fraction * n_images))
        crowd_images = set(rng.choice(n_images, size=min(n_crowd, n_images), replace=False).tolist())
        lo, hi = PATCHES[split]
        images, annotations = [], []

        for i, (image_id, cats) in enumerate(zip(ids, per_image)):
            irng = image_rng(seed, 'objects365', split, i)
            patch = int(irng.integers(lo, hi + 1))
            version_n = 1 if patch <= V1_LAST_PATCH else 2
            width, height = image_size(irng, min_size, max_size)
            canvas = Canvas(irng, width, height)
            crowd_cat = None
            if i in crowd_images:
                crowd_cat = int(category_ids[int(irng.integers(len(category_ids)))])
            objects, crowd = draw_objects(canvas, [c - 1 for c in cats],
                                          None if crowd_cat is None else crowd_cat - 1)
            file_name = image_file_name(version_n, patch, image_id)
            write_image(root / image_path(split, file_name), canvas)
            images.append({'height': height, 'id': image_id, 'license': 1, 'width': width,
                           'file_name': file_name, 'url': ''})
            drawn = [(c, o) for c, o in zip(cats, objects) if o is not None]
            if crowd is not None:
                drawn.append((crowd_cat, crowd))
            annotations.extend(_annotation(ann_id + k, image_id, c, o) for k, (c, o) in enumerate(drawn))
            ann_id += len(drawn)
            done += 1
            report(progress, done, total, f'objects365 {split}')
        missing = []
        if include_missing:
            for m_split, version_n, patch, image_id in KNOWN_MISSING:
                if m_split != split:
                    continue
                # annotated like any other image, but its file is never written
                irng = image_rng(seed, 'objects365', f'{split}-missing', image_id)
                width, height = image_size(irng, min_size, max_size)
                canvas = Canvas(irng, width, height)
                n_cats = min(2, len(category_ids))
                cats = [int(c) for c in irng.choice(category_ids, size=n_cats, replace=False)]
                objects, _ = draw_objects(canvas, [c - 1 for c in cats])
                file_name = image_file_name(version_n, patch, image_id)
                images.append({'height': height, 'id': image_id, 'license': 1, 'width': width,
                               'file_name': file_name, 'url': ''})
                drawn = [(c, o) for c, o in zip(cats, objects) if o is not None]
                annotations.extend(_annotation(ann_id + k, image_id, c, o) for k, (c, o) in enumerate(drawn))
                ann_id += len(drawn)
                missing.append(file_name)
        ann_file = f'annotations/zhiyuan_objv2_{split}.json'
        atomic_write_json(root / ann_file, {'images': images, 'annotations': annotations,
                                            'categories': json_categories, 'licenses': [SYNTHETIC_LICENSE]})
        used = sorted({a['category_id'] for a in annotations})
        manifest_splits[split] = {
            'ann_file': ann_file, 'image_dir': split, 'images': len(images), 'images_written': n_images,
            'missing_images': missing, 'annotations': len(annotations),
            'crowd_annotations': sum(a['iscrowd'] for a in annotations), 'categories_used': used,
            'renamed_categories_used': sorted(set(used) & renamed)}
    manifest = {
        'dataset': 'objects365_v2', 'generator': 'ovd.data.synthetic.generate_objects365', 'seed': seed,
        'num_categories': len(categories), 'category_ids': category_ids, 'splits': manifest_splits,
        'looks': {str(c): category_look(c - 1).describe() for c in category_ids}}
    return write_manifest(root, manifest)
