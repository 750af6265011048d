"""Tests of the synthetic dataset generators (ovd.data.synthetic): real formats, pixels that match the
annotations, determinism by seed, distinct looks, manifests that match what was written."""
import filecmp
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ovd.data.synthetic import (MANIFEST_NAME, MAX_LOOKS, OV_COCO_BASE, OV_COCO_NOVEL, category_look,
                                generate_coco)
from ovd.data.synthetic.io import atomic_write_json

COCO_SMALL = {'train2017': 24, 'val2017': 12}


def _tree(root: Path):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file())


def _foreground(pixels: np.ndarray) -> np.ndarray:
    """Pixels of painted objects: every palette colour has a channel <= 18 or >= 237 (after jitter) while
    backgrounds stay within 75..170, so a loose threshold separates them even after JPEG."""
    return (pixels.min(axis=2) <= 55) | (pixels.max(axis=2) >= 195)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth') / 'coco'
    manifest = generate_coco(root, splits=COCO_SMALL, seed=3)
    return root, manifest


# ----------------------------------------------------------------------------------------------- looks
def test_looks_are_distinct_up_to_lvis_size():
    keys = {(lk.shape, lk.colour[0], lk.texture, lk.second[0]) for lk in map(category_look, range(1500))}
    assert len(keys) == 1500
    assert MAX_LOOKS >= 1500
    # the first 96 (COCO's 80 among them) are solid and differ by shape or colour
    assert all(category_look(i).texture == 'solid' for i in range(96))
    assert category_look(96).texture != 'solid' and category_look(96).second != category_look(96).colour
    with pytest.raises(ValueError, match='out of range'):
        category_look(MAX_LOOKS)


# ------------------------------------------------------------------------------------------------ COCO
def test_coco_loads_with_pycocotools_and_matches_manifest(coco_root):
    from pycocotools.coco import COCO
    root, manifest = coco_root
    on_disk = json.loads((root / MANIFEST_NAME).read_text())
    assert on_disk['splits'] == manifest['splits']
    real_ids = [c['id'] for c in json.loads(
        (Path(__file__).resolve().parents[2] / 'ovd/data/metadata/coco_categories.json').read_text())]
    for split, n_images in COCO_SMALL.items():
        info = manifest['splits'][split]
        coco = COCO(str(root / info['ann_file']))
        assert sorted(coco.getCatIds()) == sorted(real_ids) and len(real_ids) == 80
        assert len(coco.getImgIds()) == info['images'] == n_images
        assert len(coco.getAnnIds()) == info['annotations']
        assert sum(a['iscrowd'] for a in coco.dataset['annotations']) == info['crowd_annotations'] >= 1
        assert sorted({a['category_id'] for a in coco.dataset['annotations']}) == info['categories_used']
        assert set(coco.dataset) >= {'info', 'licenses', 'images', 'annotations', 'categories'}
        for img in coco.dataset['images']:
            assert img['file_name'] == f"{img['id']:012d}.jpg"
            with Image.open(root / split / img['file_name']) as im:
                assert im.format == 'JPEG' and im.size == (img['width'], img['height'])
    # image and annotation ids are unique across the two splits, as in real COCO 2017
    ids = [json.loads((root / i['ann_file']).read_text()) for i in manifest['splits'].values()]
    img_ids = [im['id'] for d in ids for im in d['images']]
    ann_ids = [a['id'] for d in ids for a in d['annotations']]
    assert len(set(img_ids)) == len(img_ids) and len(set(ann_ids)) == len(ann_ids)


def test_coco_covers_ov_coco_base_novel_and_excluded(coco_root):
    root, manifest = coco_root
    data = json.loads((root / manifest['splits']['train2017']['ann_file']).read_text())
    names = {c['id']: c['name'] for c in data['categories']}
    used = {names[a['category_id']] for a in data['annotations']}
    excluded = set(names.values()) - set(OV_COCO_BASE) - set(OV_COCO_NOVEL)
    assert len(OV_COCO_BASE) == 48 and len(OV_COCO_NOVEL) == 17 and len(excluded) == 15
    assert used & set(OV_COCO_BASE) and used & set(OV_COCO_NOVEL) and used & excluded


def test_coco_boxes_masks_and_pixels_agree(coco_root):
    from pycocotools.coco import COCO
    root, manifest = coco_root
    split = 'val2017'
    coco = COCO(str(root / manifest['splits'][split]['ann_file']))
    look_index = {c: i for i, c in enumerate(sorted(coco.getCatIds()))}
    checked = 0
    for img in coco.dataset['images']:
        pixels = np.asarray(Image.open(root / split / img['file_name']).convert('RGB')).astype(np.int16)
        fg = _foreground(pixels)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img['id'])):
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and x + w <= img['width'] and y + h <= img['height']
            mask = coco.annToMask(ann).astype(bool)
            ys, xs = np.nonzero(mask)
            # the segmentation's extent is the box (pycocotools' raster may drop a sharp apex's last pixels)
            assert abs(xs.min() - x) <= 2 and abs(ys.min() - y) <= 2
            assert abs(xs.max() + 1 - (x + w)) <= 2 and abs(ys.max() + 1 - (y + h)) <= 2
            assert ann['area'] == pytest.approx(mask.sum(), rel=0.15, abs=15)
            # the painted pixels around the box are exactly the object's: their extent is the box
            x0, y0 = max(int(x) - 3, 0), max(int(y) - 3, 0)
            x1, y1 = min(int(np.ceil(x + w)) + 3, img['width']), min(int(np.ceil(y + h)) + 3, img['height'])
            fys, fxs = np.nonzero(fg[y0:y1, x0:x1])
            assert abs(fxs.min() + x0 - x) <= 2 and abs(fys.min() + y0 - y) <= 2
            assert abs(fxs.max() + x0 + 1 - (x + w)) <= 2 and abs(fys.max() + y0 + 1 - (y + h)) <= 2
            # inside the mask (eroded away from JPEG-blurred edges) the colour is the category's look
            look = category_look(look_index[ann['category_id']])
            inner = mask & np.roll(mask, 2, 0) & np.roll(mask, -2, 0) & np.roll(mask, 2, 1) & np.roll(mask, -2, 1)
            if inner.sum() >= 10 and look.texture == 'solid':
                mean = pixels[inner].mean(axis=0)
                assert np.abs(mean - np.asarray(look.colour[1])).max() < 30, (ann, look)
            checked += 1
    assert checked == manifest['splits'][split]['annotations']


def test_coco_crowd_regions_are_rle_of_the_painted_union(coco_root):
    from pycocotools import mask as mask_utils
    root, manifest = coco_root
    data = json.loads((root / manifest['splits']['train2017']['ann_file']).read_text())
    crowds = [a for a in data['annotations'] if a['iscrowd']]
    assert crowds
    for ann in crowds:
        seg = ann['segmentation']
        h, w = seg['size']
        rle = mask_utils.frPyObjects(seg, h, w)
        mask = mask_utils.decode(rle)
        assert int(mask.sum()) == ann['area'] == int(mask_utils.area(rle))
        ys, xs = np.nonzero(mask)
        assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert list(mask_utils.toBbox(rle)) == pytest.approx(ann['bbox'])


def test_coco_is_deterministic_by_seed(tmp_path):
    a = generate_coco(tmp_path / 'a', splits={'train2017': 6, 'val2017': 3}, seed=7)
    b = generate_coco(tmp_path / 'b', splits={'train2017': 6, 'val2017': 3}, seed=7)
    c = generate_coco(tmp_path / 'c', splits={'train2017': 6, 'val2017': 3}, seed=8)
    files = _tree(tmp_path / 'a')
    assert files == _tree(tmp_path / 'b') and len(files) == 9 + 2 + 1
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)
    assert not mismatch and not errors
    assert a['splits'] == b['splits']
    assert (tmp_path / 'a/annotations/instances_train2017.json').read_bytes() != \
        (tmp_path / 'c/annotations/instances_train2017.json').read_bytes()
    assert c['seed'] == 8


def test_coco_category_subset_and_bad_arguments(tmp_path):
    m = generate_coco(tmp_path, splits={'val2017': 4}, num_images=5, category_ids=[1, 5, 90], seed=0)
    assert list(m['splits']) == ['val2017'] and m['splits']['val2017']['images'] == 5
    assert set(m['splits']['val2017']['categories_used']) <= {1, 5, 90}
    with pytest.raises(ValueError, match='not COCO category ids'):
        generate_coco(tmp_path, category_ids=[12])
    with pytest.raises(ValueError, match='unknown split'):
        generate_coco(tmp_path, splits=['test2017'])


# ------------------------------------------------------------------------------------------------ writes
def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / 'x.json'
    atomic_write_json(target, {'a': 1})

    def boom(*args, **kwargs):
        raise OSError('killed')
    monkeypatch.setattr(os, 'replace', boom)
    with pytest.raises(OSError, match='killed'):
        atomic_write_json(target, {'a': 2})
    assert json.loads(target.read_text()) == {'a': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['x.json']
