"""Bad input to the annotation reader and validator: each stops naming file, record (index, id) and field."""
import json

import numpy as np
import pytest

from ovd.data.coco_index import coco_index_from_dict, load_coco_index
from ovd.data.validation import AnnotationError, validate_coco_index
from ovd.data.vocab import get_vocabulary


def small_coco() -> dict:
    """Two images, three boxes, COCO ids (person=1, bicycle=2, toothbrush=90)."""
    return {
        'info': {'description': 'hand-built'},
        'images': [{'id': 10, 'file_name': 'a.jpg', 'height': 100, 'width': 200},
                   {'id': 11, 'file_name': 'b.jpg', 'height': 50, 'width': 60}],
        'annotations': [
            {'id': 1, 'image_id': 10, 'category_id': 1, 'bbox': [0, 0, 10, 20], 'area': 200, 'iscrowd': 0,
             'segmentation': [[0, 0, 10, 0, 10, 20]]},
            {'id': 2, 'image_id': 10, 'category_id': 90, 'bbox': [5.5, 6, 7, 8], 'area': 56, 'iscrowd': 1,
             'segmentation': {'size': [100, 200], 'counts': 'abc'}},
            {'id': 3, 'image_id': 11, 'category_id': 2, 'bbox': [1, 2, 3, 4], 'area': 12, 'iscrowd': 0},
        ],
        'categories': [{'id': 1, 'name': 'person'}, {'id': 2, 'name': 'bicycle'},
                       {'id': 90, 'name': 'toothbrush'}],
    }


def write(tmp_path, data, name='ann.json') -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def load_and_check(tmp_path, data, vocab='coco', **kwargs):
    index = load_coco_index(write(tmp_path, data))
    return validate_coco_index(index, get_vocabulary(vocab), **kwargs)


def test_good_file_reads_into_arrays(tmp_path):
    index = load_coco_index(write(tmp_path, small_coco()), keep_segmentation=True)
    assert index.ann_ids.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(index.ann_bboxes[1], [5.5, 6, 7, 8])
    assert index.ann_iscrowd.tolist() == [False, True, False]
    assert index.ann_segmentations[1] == {'size': [100, 200], 'counts': 'abc'}
    assert index.extra == {'info': {'description': 'hand-built'}}
    same = coco_index_from_dict(small_coco(), 'x.json')
    np.testing.assert_array_equal(same.ann_bboxes, index.ann_bboxes)
    checked = validate_coco_index(index, get_vocabulary('coco'))
    assert checked.image_pos.tolist() == [0, 0, 1] and checked.keep.all()


def expect(tmp_path, data, match, section=None, index=None, record_id=None, field=None, **kwargs):
    with pytest.raises(AnnotationError, match=match) as info:
        load_and_check(tmp_path, data, **kwargs)
    err = info.value
    assert err.file.endswith('ann.json') and 'ann.json' in str(err)
    assert (err.section, err.index, err.record_id, err.field) == (section, index, record_id, field)
    return str(err)


def test_malformed_json(tmp_path):
    text = json.dumps(small_coco(), indent=1)
    msg = expect(tmp_path, text[:200] + ',,' + text[200:], 'malformed JSON at line')
    assert 'column' in msg


def test_missing_top_level_key(tmp_path):
    data = small_coco()
    del data['categories']
    expect(tmp_path, data, "missing top-level key 'categories'")


@pytest.mark.parametrize('section, position, key', [
    ('annotations', 1, 'bbox'), ('annotations', 2, 'category_id'), ('annotations', 0, 'id'),
    ('images', 1, 'height'), ('categories', 2, 'name')])
def test_missing_keys(tmp_path, section, position, key):
    data = small_coco()
    record = data[section][position]
    del record[key]
    msg = expect(tmp_path, data, 'missing key', section, position, record.get('id'), key)
    assert f"{section}[{position}]" in msg and f"'{key}'" in msg


def test_annotation_without_image_id_or_bbox(tmp_path):
    data = small_coco()
    del data['annotations'][2]['image_id'], data['annotations'][2]['bbox']
    expect(tmp_path, data, 'missing key', 'annotations', 2, 3, 'image_id')


@pytest.mark.parametrize('bbox', [[1, 2, 0, 4], [1, 2, 3, -1], [1, 2, float('nan'), 3]])
def test_non_positive_box(tmp_path, bbox):
    data = small_coco()
    data['annotations'][2]['bbox'] = bbox
    expect(tmp_path, data, 'non-positive or non-finite box size', 'annotations', 2, 3, 'bbox')
    checked = load_and_check(tmp_path, data, bad_boxes='drop')
    assert checked.keep.tolist() == [True, True, False]


@pytest.mark.parametrize('bbox', [[1, 2, 3], 'box', [1, 'x', 3, 4]])
def test_malformed_box(tmp_path, bbox):
    data = small_coco()
    data['annotations'][0]['bbox'] = bbox
    expect(tmp_path, data, 'bbox|4 numbers', 'annotations', 0, 1, 'bbox')


def test_non_integer_id(tmp_path):
    data = small_coco()
    data['annotations'][1]['image_id'] = '10'
    expect(tmp_path, data, 'must be an integer', 'annotations', 1, 2, 'image_id')


def test_category_not_in_file(tmp_path):
    data = small_coco()
    data['annotations'][2]['category_id'] = 3
    expect(tmp_path, data, "category_id 3 is not in the file's categories", 'annotations', 2, 3,
           'category_id')


def test_category_not_in_vocabulary(tmp_path):
    data = small_coco()
    data['categories'].append({'id': 91, 'name': 'unicorn'})
    data['annotations'][0]['category_id'] = 91
    expect(tmp_path, data, "category_id 91 is not in vocabulary 'coco'", 'annotations', 0, 1, 'category_id')
    # OV-COCO drops what it excludes (toothbrush is base, so use traffic light = 10).
    data = small_coco()
    data['categories'].append({'id': 10, 'name': 'traffic light'})
    data['annotations'][1]['category_id'] = 10
    checked = load_and_check(tmp_path, data, vocab='ov_coco', unknown_categories='drop')
    assert checked.keep.tolist() == [True, False, True]


def test_category_name_of_another_dataset(tmp_path):
    data = small_coco()
    expect(tmp_path, data, "does not match vocabulary 'lvis_v1'", 'categories', 0, 1, 'name', vocab='lvis_v1')


@pytest.mark.parametrize('section, position, dup_of', [('images', 1, 0), ('annotations', 2, 0),
                                                       ('categories', 1, 0)])
def test_duplicate_ids(tmp_path, section, position, dup_of):
    data = small_coco()
    dup_id = data[section][dup_of]['id']
    data[section][position]['id'] = dup_id
    if section == 'categories':
        data['annotations'][2]['category_id'] = 1
    expect(tmp_path, data, f'duplicate id {dup_id}', section, position, dup_id, 'id')


def test_annotation_for_unknown_image(tmp_path):
    data = small_coco()
    data['annotations'][1]['image_id'] = 12
    expect(tmp_path, data, "image_id 12 is not in the file's images", 'annotations', 1, 2, 'image_id')


def test_missing_image_files(tmp_path):
    (tmp_path / 'a.jpg').write_bytes(b'jpeg')
    index = load_coco_index(write(tmp_path, small_coco()))
    paths = [str(tmp_path / im['file_name']) for im in index.images]
    with pytest.raises(AnnotationError, match='image file not found') as info:
        validate_coco_index(index, get_vocabulary('coco'), image_paths=paths)
    assert (info.value.section, info.value.index, info.value.record_id, info.value.field) == \
        ('images', 1, 11, 'file_name')
    checked = validate_coco_index(index, get_vocabulary('coco'), image_paths=paths,
                                  allowed_missing=[str(tmp_path / 'b.jpg')])
    assert checked.missing_images == [1]


def test_missing_file(tmp_path):
    with pytest.raises(AnnotationError, match='file not found'):
        load_coco_index(tmp_path / 'nope.json')


@pytest.mark.parametrize('name', ['coco_instances_val2014_100.json', 'lvis_v0.5_val_100.json'])
def test_polygon_blanking_changes_nothing_else(fixtures_dir, name):
    """The fast path (polygons blanked before parsing) reads the same boxes as a plain json.load."""
    fast = load_coco_index(fixtures_dir / name)
    with open(fixtures_dir / name) as f:
        data = json.load(f)
    slow = coco_index_from_dict(data, fixtures_dir / name)
    for key in ('image_ids', 'ann_ids', 'ann_image_ids', 'ann_category_ids', 'ann_bboxes', 'ann_iscrowd'):
        np.testing.assert_array_equal(getattr(fast, key), getattr(slow, key))
    assert fast.images == data['images'] and fast.categories == data['categories']
    full = load_coco_index(fixtures_dir / name, keep_segmentation=True)
    assert full.ann_segmentations == [a['segmentation'] for a in data['annotations']]


def test_load_json_for_other_formats(tmp_path):
    """``load_json`` is the reader other preparers (e.g. Flickr30k's MDETR files) share."""
    from ovd.data.validation import load_json
    good = tmp_path / 'good.json'
    good.write_text('{"a": [1, 2]}')
    assert load_json(good) == {'a': [1, 2]}
    bad = tmp_path / 'bad.json'
    bad.write_text('{"a": [1, 2}\n')
    with pytest.raises(AnnotationError, match=r'bad.json: malformed JSON at line 1 column 12'):
        load_json(bad)
    with pytest.raises(AnnotationError, match='missing.json: file not found'):
        load_json(tmp_path / 'missing.json')
