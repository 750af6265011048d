"""Tests of the synthetic dataset generators (ovd.data.synthetic): real formats, pixels that match the
annotations, determinism by seed, distinct looks, manifests that match what was written."""
import filecmp
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ovd.data.synthetic import (
    MANIFEST_NAME,
    MAX_LOOKS,
    OV_COCO_BASE,
    OV_COCO_NOVEL,
    category_look,
    generate_coco,
    generate_flickr30k,
    generate_lvis,
    generate_objects365,
    noun_look_index,
)
from ovd.data.synthetic.io import atomic_write_json
from ovd.data.synthetic.looks import shape_polygon

COCO_SMALL = {'train2017': 24, 'val2017': 12}


def _tree(root: Path):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file())


def _foreground(pixels: np.ndarray) -> np.ndarray:
    """Pixels of painted objects: every palette colour has a channel <= 18 or >= 237 (after jitter) while
    backgrounds stay within 84..161, so a loose threshold separates them even after JPEG; a pixel counts only
    with at least 2 of its 8 neighbours, which drops the odd JPEG-noise pixel of the background."""
    fg = (pixels.min(axis=2) <= 50) | (pixels.max(axis=2) >= 205)
    padded = np.pad(fg, 1).astype(np.int8)
    neighbours = sum(np.roll(np.roll(padded, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if dy or dx)[1:-1, 1:-1]
    return fg & (neighbours >= 2)


def _assert_box_is_painted_extent(fg: np.ndarray, bbox) -> np.ndarray:
    """The foreground pixels within 3 px around ``bbox`` [x, y, w, h] span the box (+-2 px each side).

    Returns:
        The signed deviations of the painted extent's (left, top, right, bottom) from the box's.
    """
    x, y, w, h = bbox
    x0, y0 = max(int(x) - 3, 0), max(int(y) - 3, 0)
    x1, y1 = min(int(np.ceil(x + w)) + 3, fg.shape[1]), min(int(np.ceil(y + h)) + 3, fg.shape[0])
    fys, fxs = np.nonzero(fg[y0:y1, x0:x1])
    dev = np.array([fxs.min() + x0 - x, fys.min() + y0 - y, fxs.max() + x0 + 1 - (x + w),
                    fys.max() + y0 + 1 - (y + h)])
    assert np.abs(dev).max() <= 2, (bbox, dev)
    return dev


def _eroded(mask: np.ndarray) -> np.ndarray:
    """``mask`` without a 2-pixel border (away from the JPEG-blurred edges)."""
    return mask & np.roll(mask, 2, 0) & np.roll(mask, -2, 0) & np.roll(mask, 2, 1) & np.roll(mask, -2, 1)


def _unexplained_foreground(fg: np.ndarray, bboxes) -> int:
    """Foreground pixels farther than 3 px from every box: paint that no annotation accounts for."""
    covered = np.zeros_like(fg)
    for x, y, w, h in bboxes:
        covered[max(int(y) - 3, 0):int(np.ceil(y + h)) + 3, max(int(x) - 3, 0):int(np.ceil(x + w)) + 3] = True
    return int((fg & ~covered).sum())


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
    checked, deviations = 0, []
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
            deviations.append(_assert_box_is_painted_extent(fg, ann['bbox']))
            # the painted pixels have the annotated shape (a ring's hole, a star's notches stay background)
            if not ann['iscrowd']:
                near = np.zeros_like(mask)
                y0, x0 = max(int(y) - 3, 0), max(int(x) - 3, 0)
                near[y0:int(np.ceil(y + h)) + 3, x0:int(np.ceil(x + w)) + 3] = True
                painted = fg & near
                assert (painted & mask).sum() / (painted | mask).sum() > 0.8, ann
            # inside the mask (eroded away from JPEG-blurred edges) the colour is the category's look
            look = category_look(look_index[ann['category_id']])
            inner = _eroded(mask)
            if inner.sum() >= 10 and look.texture == 'solid':
                mean = pixels[inner].mean(axis=0)
                assert np.abs(mean - np.asarray(look.colour[1])).max() < 30, (ann, look)
            checked += 1
        # and nothing is painted that no annotation explains
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert _unexplained_foreground(fg, [a['bbox'] for a in anns]) == 0
    assert checked == manifest['splits'][split]['annotations']
    # the boxes sit on the painted pixels: a one-pixel offset would show here
    assert np.abs(np.array(deviations)).mean(axis=0).max() < 0.5, np.array(deviations).mean(axis=0)


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
    assert files == _tree(tmp_path / 'b') and len(files) == 9 + 2 + 1 + 1  # images, JSONs, manifest, marker
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)
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


# ------------------------------------------------------------------------------------------------ LVIS
LVIS_SMALL = {'train': 20, 'val': 16}


@pytest.fixture(scope='module')
def lvis_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth') / 'lvis'
    return root, generate_lvis(root, splits=LVIS_SMALL, seed=2, num_categories=(4, 4, 4))


def _lvis_metadata():
    path = Path(__file__).resolve().parents[2] / 'ovd/data/metadata/lvis_v1_categories.json'
    return {c['id']: c for c in json.loads(path.read_text())}


def test_lvis_loads_with_lvis_api_and_matches_manifest(lvis_root):
    from lvis import LVIS

    import ovd.setup  # noqa: F401  (applies the numpy-2 fix to lvis-api)
    root, manifest = lvis_root
    meta = _lvis_metadata()
    image_ids = {}
    for split, n_images in LVIS_SMALL.items():
        info = manifest['splits'][split]
        lvis = LVIS(str(root / info['ann_file']))
        assert len(lvis.get_img_ids()) == info['images'] == n_images
        assert len(lvis.get_ann_ids()) == info['annotations']
        cats = lvis.dataset['categories']
        assert len(cats) == 1203 and [c['id'] for c in cats] == sorted(meta)
        assert all(c['frequency'] == meta[c['id']]['frequency'] and c['synonyms'] == meta[c['id']]['synonyms']
                   and c['synset'] == meta[c['id']]['synset'] and c['def'] == meta[c['id']]['def']
                   for c in cats)
        # counts are recomputed for this file's own annotations
        anns = lvis.dataset['annotations']
        instances = Counter(a['category_id'] for a in anns)
        images = Counter(c for _, c in {(a['image_id'], a['category_id']) for a in anns})
        assert all(c['instance_count'] == instances[c['id']] and c['image_count'] == images[c['id']]
                   for c in cats)
        assert sum(c['instance_count'] for c in cats) == len(anns)
        assert sorted({a['category_id'] for a in anns}) == info['categories_used']
        assert set(anns[0]) == {'id', 'image_id', 'category_id', 'segmentation', 'area', 'bbox'}
        image_ids[split] = set(lvis.get_img_ids())
        sources = []
        for img in lvis.dataset['images']:
            assert 'file_name' not in img
            prefix = 'http://images.cocodataset.org/'
            assert img['coco_url'].startswith(prefix)
            rel = img['coco_url'][len(prefix):]
            coco_split, name = rel.split('/')
            assert name == f"{img['id']:012d}.jpg" and coco_split in ('train2017', 'val2017')
            sources.append(coco_split)
            with Image.open(root / rel) as im:
                assert im.size == (img['width'], img['height'])
        assert sources.count('train2017') == info['images_from_train2017']
        assert sources.count('val2017') == info['images_from_val2017']
    # train comes from COCO train2017 only; val from both, and shares no image with train
    assert manifest['splits']['train']['images_from_val2017'] == 0
    val = manifest['splits']['val']
    assert val['images_from_val2017'] > 0 and val['images_from_train2017'] > 0
    assert not image_ids['train'] & image_ids['val']


def test_lvis_negative_and_not_exhaustive_labels_match_the_pixels(lvis_root):
    root, manifest = lvis_root
    meta = _lvis_metadata()
    seen_not_exhaustive = seen_neg = 0
    for split in LVIS_SMALL:
        data = json.loads((root / manifest['splits'][split]['ann_file']).read_text())
        for img in data['images']:
            anns = [a for a in data['annotations'] if a['image_id'] == img['id']]
            present = {a['category_id'] for a in anns}
            assert not set(img['neg_category_ids']) & present
            assert set(img['not_exhaustive_category_ids']) <= present
            seen_neg += bool(img['neg_category_ids'])
            rel = img['coco_url'].split('images.cocodataset.org/')[1]
            fg = _foreground(np.asarray(Image.open(root / rel).convert('RGB')).astype(np.int16))
            for a in anns:
                _assert_box_is_painted_extent(fg, a['bbox'])
            # a not-exhaustive category has a painted instance that no annotation explains
            unexplained = _unexplained_foreground(fg, [a['bbox'] for a in anns])
            if img['not_exhaustive_category_ids']:
                seen_not_exhaustive += 1
                assert unexplained >= 100
            else:
                assert unexplained == 0
    assert seen_not_exhaustive >= 1 and seen_neg >= 1
    # rare categories: in val, and in at most one train image each (real LVIS rare: 1-10 train images)
    rare = [c for c in manifest['category_ids'] if meta[c]['frequency'] == 'r']
    assert len(rare) == 4 and set(rare) <= set(manifest['splits']['val']['categories_used'])
    train = json.loads((root / manifest['splits']['train']['ann_file']).read_text())
    for c in rare:
        assert len({a['image_id'] for a in train['annotations'] if a['category_id'] == c}) <= 1


def test_lvis_eval_of_the_ground_truth_is_perfect(lvis_root):
    from lvis import LVIS, LVISEval, LVISResults

    import ovd.setup  # noqa: F401  (applies the numpy-2 fix to lvis-api)
    root, manifest = lvis_root
    gt = LVIS(str(root / manifest['splits']['val']['ann_file']))
    dets = [{'image_id': a['image_id'], 'category_id': a['category_id'], 'bbox': a['bbox'], 'score': 0.9}
            for a in gt.dataset['annotations']]
    evaluator = LVISEval(gt, LVISResults(gt, dets), iou_type='bbox')
    evaluator.params.cat_ids = manifest['splits']['val']['categories_used']
    evaluator.run()
    assert evaluator.results['AP'] == pytest.approx(1.0)


def test_lvis_is_deterministic_and_checks_arguments(tmp_path):
    kwargs = {'splits': {'train': 4, 'val': 4}, 'num_categories': (2, 2, 2)}
    generate_lvis(tmp_path / 'a', seed=1, **kwargs)
    generate_lvis(tmp_path / 'b', seed=1, **kwargs)
    files = _tree(tmp_path / 'a')
    assert files == _tree(tmp_path / 'b')
    assert not filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)[1]
    with pytest.raises(ValueError, match='not LVIS v1 category ids'):
        generate_lvis(tmp_path / 'c', category_ids=[0, 1204])
    with pytest.raises(ValueError, match='unknown split'):
        generate_lvis(tmp_path / 'c', splits={'minival': 3})


# ------------------------------------------------------------------------------------------- Flickr30k
FLICKR_SMALL = {'train': 8, 'val': 4, 'test': 4}
FLICKR_TYPES = {'people', 'clothing', 'bodyparts', 'animals', 'vehicles', 'instruments', 'scene', 'other',
                'notvisual'}


def _parse_sentence(line: str):
    """(entity id, types, words) per bracketed phrase, read token by token as the release's reader does."""
    phrases, current = [], None
    for token in line.split():
        if current is None and token.startswith('[/EN#'):
            parts = token[1:].split('/')
            current = (parts[1][3:], parts[2:], [])
        elif current is not None:
            current[2].append(token.rstrip(']'))
            if token.endswith(']'):
                phrases.append(current)
                current = None
    assert current is None, f'unclosed phrase in {line!r}'
    return phrases


def _parse_xml(path: Path):
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    size = {el.tag: int(el.text) for el in root.find('size')}
    boxes, scene, nobox = {}, set(), set()
    for obj in root.findall('object'):
        names = [n.text for n in obj.findall('name')]
        bnd = obj.find('bndbox')
        if bnd is not None:
            box = [int(bnd.find(t).text) - 1 for t in ('xmin', 'ymin', 'xmax', 'ymax')]
            for n in names:
                boxes.setdefault(n, []).append(box)
        else:
            assert len(names) == 1
            if int(obj.find('scene').text):
                scene.add(names[0])
            if int(obj.find('nobndbox').text):
                nobox.add(names[0])
    return root.find('filename').text, size, boxes, scene, nobox


@pytest.fixture(scope='module')
def flickr_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth') / 'flickr30k'
    return root, generate_flickr30k(root, splits=FLICKR_SMALL, seed=4)


def test_flickr30k_layout_and_split_lists(flickr_root):
    root, manifest = flickr_root
    seen = set()
    for split, n in FLICKR_SMALL.items():
        ids = (root / f'{split}.txt').read_text().split()
        assert len(ids) == n == manifest['splits'][split]['images'] and all(i.isdigit() for i in ids)
        assert not seen & set(ids)
        seen |= set(ids)
        for image_id in ids:
            for rel in (f'flickr30k-images/{image_id}.jpg', f'Sentences/{image_id}.txt',
                        f'Annotations/{image_id}.xml'):
                assert (root / rel).is_file(), rel
            filename, size, _, _, _ = _parse_xml(root / f'Annotations/{image_id}.xml')
            assert filename == f'{image_id}.jpg'
            with Image.open(root / f'flickr30k-images/{image_id}.jpg') as im:
                assert im.format == 'JPEG' and im.size == (size['width'], size['height'])
                assert size['depth'] == 3


def test_flickr30k_sentences_and_xml_agree_and_boxes_show_the_named_noun(flickr_root):
    root, manifest = flickr_root
    totals = {'multi': 0, 'shared': 0, 'scene': 0, 'nobox': 0, 'notvisual': 0, 'several_sentences': 0}
    deviations = []
    for split, info in manifest['splits'].items():
        phrases_n = boxes_n = 0
        for image_id in (root / f'{split}.txt').read_text().split():
            lines = (root / f'Sentences/{image_id}.txt').read_text().splitlines()
            assert len(lines) == 5 and all(line.endswith(' .') for line in lines)
            _, size, boxes, scene, nobox = _parse_xml(root / f'Annotations/{image_id}.xml')
            pixels = np.asarray(Image.open(root / f'flickr30k-images/{image_id}.jpg').convert('RGB'))
            fg = _foreground(pixels.astype(np.int16))
            mentions = {}
            for line in lines:
                for entity, types, words in _parse_sentence(line):
                    assert set(types) <= FLICKR_TYPES and types, types
                    phrases_n += 1
                    if 'notvisual' in types:
                        assert entity == '0' and entity not in boxes
                        totals['notvisual'] += 1
                        continue
                    mentions[entity] = mentions.get(entity, 0) + 1
                    if 'scene' in types and entity in scene:
                        continue
                    if entity in nobox:
                        continue
                    # every other bracketed entity has its boxes in the XML, and they show the noun's look
                    assert entity in boxes, (image_id, entity, words)
                    look = category_look(noun_look_index(words[-1]))
                    assert (len(boxes[entity]) > 1) == (words[0] in ('two', 'three')), words
                    for x0, y0, x1, y1 in boxes[entity]:
                        assert 0 <= x0 < x1 < size['width'] and 0 <= y0 < y1 < size['height']
                        bbox = [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
                        deviations.append(_assert_box_is_painted_extent(fg, bbox))
                        mask = Image.new('L', (size['width'], size['height']))
                        ImageDraw.Draw(mask).polygon(shape_polygon(look.shape, x0, y0, x1, y1), fill=1)
                        m = np.asarray(mask).astype(bool)
                        inner = _eroded(m)
                        mean = pixels[inner].astype(float).mean(axis=0)
                        assert np.abs(mean - np.asarray(look.colour[1])).max() < 30, (words, look)
            # every XML entity is mentioned; scene/nobox entities are typed accordingly
            assert set(boxes) | scene | nobox == set(mentions)
            totals['multi'] += sum(len(b) > 1 for b in boxes.values())
            all_boxes = [tuple(b) for bs in boxes.values() for b in bs]
            totals['shared'] += len(all_boxes) - len(set(all_boxes))
            boxes_n += len(set(all_boxes))
            totals['scene'] += len(scene)
            totals['nobox'] += len(nobox)
            totals['several_sentences'] += sum(n > 1 for n in mentions.values())
        assert phrases_n == info['phrases'] and boxes_n == info['boxes']
    assert all(v >= 1 for v in totals.values()), totals
    # the 1-based inclusive XML coordinates sit on the painted pixels: a one-pixel offset would show here
    assert np.abs(np.array(deviations)).mean(axis=0).max() < 0.5, np.array(deviations).mean(axis=0)
    assert totals['multi'] == sum(i['multi_box_entities'] for i in manifest['splits'].values())
    assert totals['shared'] == sum(i['shared_boxes'] for i in manifest['splits'].values())


def test_flickr30k_is_deterministic(tmp_path):
    generate_flickr30k(tmp_path / 'a', num_images=3, seed=9)
    generate_flickr30k(tmp_path / 'b', num_images=3, seed=9)
    files = _tree(tmp_path / 'a')
    assert files == _tree(tmp_path / 'b') and len(files) == 9 * 3 + 3 + 1 + 1
    assert not filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)[1]


# ------------------------------------------------------------------------------------------ Objects365
O365_SMALL = {'train': 12, 'val': 6}


@pytest.fixture(scope='module')
def o365_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth') / 'objects365'
    return root, generate_objects365(root, splits=O365_SMALL, seed=1, num_categories=12)


def test_objects365_v2_layout_names_and_missing_images(o365_root):
    import csv
    import re

    from pycocotools.coco import COCO
    root, manifest = o365_root
    csv_path = Path(__file__).resolve().parents[2] / 'ovd/data/metadata/objects365_v2_names_fix.csv'
    original = {int(r[0]): r[1] for r in csv.reader(csv_path.open()) if r}
    pattern = re.compile(r'^images/v([12])/patch(\d+)/objects365_v([12])_(\d{8})\.jpg$')
    for split, n_written in O365_SMALL.items():
        info = manifest['splits'][split]
        coco = COCO(str(root / info['ann_file']))
        assert {c['id']: c['name'] for c in coco.dataset['categories']} == original and len(original) == 365
        assert coco.dataset['categories'][37] == {'name': 'Moniter/TV', 'id': 38}  # the unfixed name
        assert len(coco.getImgIds()) == info['images'] and len(coco.getAnnIds()) == info['annotations']
        assert info['renamed_categories_used']
        missing = []
        for img in coco.dataset['images']:
            m = pattern.match(img['file_name'])
            assert m, img['file_name']
            version, patch, number = int(m.group(1)), int(m.group(2)), int(m.group(4))
            assert m.group(3) == m.group(1) and number == img['id'] and (version == 1) == (patch <= 15)
            assert patch <= (50 if split == 'train' else 43)
            path = root / split / f'patch{patch}' / img['file_name'].rsplit('/', 1)[1]
            if not path.is_file():
                missing.append(img['file_name'])
                continue
            with Image.open(path) as im:
                assert im.size == (img['width'], img['height'])
            fg = _foreground(np.asarray(Image.open(path).convert('RGB')).astype(np.int16))
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
            for a in anns:
                assert set(a) == {'id', 'iscrowd', 'isfake', 'area', 'isreflected', 'bbox', 'image_id',
                                  'category_id'}
                assert a['area'] == pytest.approx(a['bbox'][2] * a['bbox'][3])
                _assert_box_is_painted_extent(fg, a['bbox'])
            assert _unexplained_foreground(fg, [a['bbox'] for a in anns]) == 0
        assert missing == info['missing_images']
        assert len(coco.getImgIds()) - len(missing) == n_written == info['images_written']
    assert sorted(manifest['splits']['train']['missing_images']) == [
        'images/v1/patch6/objects365_v1_00320532.jpg', 'images/v1/patch6/objects365_v1_00320534.jpg',
        'images/v2/patch16/objects365_v2_00908726.jpg']
    assert manifest['splits']['train']['crowd_annotations'] >= 1


def test_objects365_options(tmp_path):
    m = generate_objects365(tmp_path / 'a', num_images=3, include_missing=False, category_ids=[1, 38], seed=0)
    assert m['splits']['train']['missing_images'] == [] and m['splits']['train']['images'] == 3
    assert set(m['splits']['train']['categories_used']) <= {1, 38}
    generate_objects365(tmp_path / 'b', num_images=3, include_missing=False, category_ids=[1, 38], seed=0)
    files = _tree(tmp_path / 'a')
    assert files == _tree(tmp_path / 'b')
    assert not filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', files, shallow=False)[1]
    with pytest.raises(ValueError, match="only Objects365 version 'v2'"):
        generate_objects365(tmp_path / 'c', version='v1')
    with pytest.raises(ValueError, match='not Objects365 v2 category ids'):
        generate_objects365(tmp_path / 'c', category_ids=[366])


# ------------------------------------------------------------- mmdet's own dataset classes read the files
@pytest.mark.slow  # importing mmdet.datasets takes seconds; the test itself about one
def test_mmdet_dataset_classes_read_the_synthetic_files(tmp_path):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset, LVISV1Dataset, Objects365V2Dataset
    from mmdet.datasets.transforms import LoadAnnotations

    import ovd.setup  # noqa: F401  (lvis-api numpy fix)

    pipeline = [LoadImageFromFile(), LoadAnnotations(with_bbox=True)]
    coco = generate_coco(tmp_path / 'coco', splits={'val2017': 3}, seed=0)
    lvis = generate_lvis(tmp_path / 'lvis', splits={'val': 4}, seed=0)
    o365 = generate_objects365(tmp_path / 'o365', splits={'train': 3}, seed=0)
    cases = [
        (CocoDataset, tmp_path / 'coco', coco['splits']['val2017'], {'img': 'val2017/'}),
        (LVISV1Dataset, tmp_path / 'lvis', lvis['splits']['val'], {'img': ''}),  # path from coco_url
        (Objects365V2Dataset, tmp_path / 'o365', o365['splits']['train'], {'img': 'train/'}),
    ]
    for cls, root, info, prefix in cases:
        dataset = cls(data_root=str(root), ann_file=info['ann_file'], data_prefix=prefix, pipeline=pipeline,
                      filter_cfg=None)
        # Objects365V2Dataset skips the three known-missing images by its own ignore list
        assert len(dataset) == info.get('images_written', info['images']), cls.__name__
        total = 0
        for i in range(len(dataset)):
            sample = dataset[i]
            assert sample['img'].shape[:2] == sample['ori_shape']
            total += len(sample['gt_bboxes'])
        missing_anns = 0
        if info.get('missing_images'):
            data = json.loads((root / info['ann_file']).read_text())
            gone = {im['id'] for im in data['images'] if im['file_name'] in info['missing_images']}
            missing_anns = sum(a['image_id'] in gone for a in data['annotations'])
        assert total == info['annotations'] - missing_anns, cls.__name__


# ------------------------------------------------------------------------------------------------ writes
def test_refuses_a_foreign_folder_and_cleans_its_own_reruns(tmp_path):
    real = tmp_path / 'real_coco'
    (real / 'annotations').mkdir(parents=True)
    (real / 'annotations/instances_val2017.json').write_text('{"real": true}')
    with pytest.raises(ValueError, match='not empty and was not written by ovd synth'):
        generate_coco(real)
    assert (real / 'annotations/instances_val2017.json').read_text() == '{"real": true}'

    root = tmp_path / 'synth'
    generate_coco(root, splits={'train2017': 6, 'val2017': 3}, seed=1)
    generate_coco(tmp_path / 'fresh', splits={'train2017': 2, 'val2017': 1}, seed=1)
    # a killed rerun: marker present, manifest gone, stray partial files
    (root / MANIFEST_NAME).unlink()
    (root / 'train2017/.000000000001.jpg.tmp').write_bytes(b'partial')
    generate_coco(root, splits={'train2017': 2, 'val2017': 1}, seed=1)
    # nothing stale is left: the folder equals a fresh generation with the same arguments
    assert _tree(root) == _tree(tmp_path / 'fresh')
    assert not filecmp.cmpfiles(root, tmp_path / 'fresh', _tree(root), shallow=False)[1]



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


# ------------------------------------------------------------------------------------------------- CLI
def test_ovd_synth_cli_writes_and_reports(tmp_path, capsys):
    from ovd.cli import main
    argv = ['synth', '--dataset', 'all', '--out', str(tmp_path), '--num-images', '2', '--seed', '5']
    assert main(argv) == 0
    out = capsys.readouterr().out
    top = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert set(top['datasets']) == {'coco', 'lvis', 'flickr30k', 'objects365'} and top['seed'] == 5
    for name, info in top['datasets'].items():
        sub = json.loads((tmp_path / name / MANIFEST_NAME).read_text())
        assert sub['splits'] == info['splits'] and f'{name}: {tmp_path / name}' in out
        for split in sub['splits'].values():
            assert split.get('images_written', split['images']) == 2
    assert (tmp_path / 'coco/annotations/instances_val2017.json').is_file()
    assert main(['synth', '--dataset', 'coco', '--out', str(tmp_path / 'x'), '--num-images', '0']) == 2
    assert '--num-images must be >= 1' in capsys.readouterr().err
    assert not (tmp_path / 'x').exists()
