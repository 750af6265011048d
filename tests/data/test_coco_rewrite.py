"""The preparers' streaming reader/writer: annotations kept as spans of the source text round-trip exactly."""
import io
import json

import numpy as np
import pytest

from ovd.data.prepare.coco_file import read_coco_source
from ovd.data.validation import AnnotationError


def rewrite(source, **kwargs):
    buf = io.BytesIO()
    source.write(buf, **kwargs)
    return json.loads(buf.getvalue().decode('utf-8'))


@pytest.mark.parametrize('name', ['coco_instances_val2014_100.json', 'lvis_v0.5_val_100.json'])
@pytest.mark.parametrize('indent', [None, 2])
def test_round_trip(tmp_path, fixtures_dir, name, indent):
    data = json.loads((fixtures_dir / name).read_text())
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data, indent=indent))
    source = read_coco_source(path)
    assert rewrite(source) == data
    assert source.index.num_annotations == len(data['annotations'])
    assert list(source.spans) == list(data)  # key order kept


def test_replace_and_keep(tmp_path, fixtures_dir):
    data = json.loads((fixtures_dir / 'coco_instances_val2014_100.json').read_text())
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data, indent=1))
    source = read_coco_source(path)
    keep = np.zeros(len(data['annotations']), dtype=bool)
    keep[[0, 5, 838]] = True
    out = rewrite(source, replace={'categories': data['categories'][:2], 'extra': [1]}, keep_annotations=keep)
    assert out['annotations'] == [data['annotations'][i] for i in (0, 5, 838)]
    assert out['categories'] == data['categories'][:2] and out['extra'] == [1]
    assert out['images'] == data['images'] and list(out)[-1] == 'extra'
    assert rewrite(source, keep_annotations=np.zeros(len(keep), dtype=bool))['annotations'] == []


@pytest.mark.parametrize('text, message', [
    ('{"images": [] "annotations": [], "categories": []}', "line 1 column 15: expected ',' or '}'"),
    ('{"images": [], "annotations": [{"id": 1,}], "categories": []}', 'line 1 column 41'),
    ('{"images": [], "annotations": [], "categories": []} x', 'extra data after the top-level object'),
    ('[1, 2]', 'expected an object at the top level'),
    ('{"images": [], "annotations": {}, "categories": []}', "'annotations' must be a list"),
    ('{"images": [], "categories": []}', "missing top-level key 'annotations'"),
    ('{"images": [], "annotations": [{"id": 1, "image_id": 1, "category_id": 1}], "categories": []}',
     "annotations[0] (id=1): field 'bbox': missing key"),
    ('{"images": [], "annotations": [], "categories": [],\n "info": }', 'line 2 column 10'),
])
def test_malformed(tmp_path, text, message):
    path = tmp_path / 'ann.json'
    path.write_text(text)
    with pytest.raises(AnnotationError) as info:
        read_coco_source(path)
    assert message in str(info.value) and str(path) in str(info.value)
