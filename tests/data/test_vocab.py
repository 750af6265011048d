"""Vocabularies: default name text, uniqueness, built-in sizes and splits, agreement with the shipped/real metadata."""
import copy
import csv
import json
import pickle

import numpy as np
import pytest

from ovd.data.vocab import (
    BUILTIN_VOCABULARIES,
    OV_COCO_BASE,
    OV_COCO_NOVEL,
    Category,
    Vocabulary,
    get_vocabulary,
    normalize_name,
    vocabulary_from_categories,
)


@pytest.mark.parametrize('raw, expected', [
    ('traffic light', 'traffic light'),
    ('aerosol_can', 'aerosol can'),
    ('bat_(animal)', 'bat (animal)'),
    ('railcar_(part_of_a_train)', 'railcar (part of a train)'),
    ('monitor_(computer_equipment) computer_monitor', 'monitor (computer equipment) computer monitor'),
    ('Cabinet/shelf', 'Cabinet/shelf'),
    ('Tape Measure/ Ruler', 'Tape Measure/Ruler'),
    ('salad_plate/side_plate', 'salad plate/side plate'),
    ('Cigar/Cigarette ', 'Cigar/Cigarette'),
    ('tissue ', 'tissue'),
    ('cup_(drinking_vessel)/mug', 'cup (drinking vessel)/mug'),
    ('(blank)', '(blank)'),
    ('Band_Aid', 'Band Aid'),
])
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize('name', BUILTIN_VOCABULARIES)
def test_no_two_categories_share_a_prompt_text(name):
    """The architecture's invariant, on every built-in: distinct default texts, also ignoring case and the
    outer whitespace (CLIP's and BERT's tokenizers do), so no two classes can get the same text embedding."""
    vocab = get_vocabulary(name)
    for key in (lambda t: t, lambda t: t.strip().lower()):
        seen = {}
        for cat in vocab:
            other = seen.setdefault(key(cat.prompt_name), cat)
            assert other is cat, f'{name}: {other.name!r} and {cat.name!r} share {cat.prompt_name!r}'
    assert vocab.prompt_texts() == vocab.prompt_names == vocab.prompt_texts('default')


def test_lvis_qualified_names_stay_apart():
    """The five LVIS v1 pairs that the old qualifier-dropping text merged (five of them rare) are distinct."""
    lvis = get_vocabulary('lvis_v1')
    text = dict(zip(lvis.names, lvis.prompt_names))
    pairs = [('bow_(weapon)', 'bow_(decorative_ribbons)'), ('pan_(metal_container)', 'pan_(for_cooking)'),
             ('salmon_(food)', 'salmon_(fish)'), ('octopus_(food)', 'octopus_(animal)'), ('fish', 'fish_(food)')]
    for a, b in pairs:
        assert text[a] != text[b]
    assert (text['bow_(weapon)'], text['fish_(food)']) == ('bow (weapon)', 'fish (food)')


def test_builtin_sizes_and_splits():
    sizes = {name: len(get_vocabulary(name)) for name in BUILTIN_VOCABULARIES}
    assert sizes == {'coco': 80, 'ov_coco': 65, 'ov_coco_80': 80, 'lvis_v1': 1203, 'ov_lvis': 1203,
                     'lvis_v0.5': 1230, 'objects365_v1': 365, 'objects365_v2': 365, 'ov_world': 32}
    ov_coco = get_vocabulary('ov_coco')
    assert (len(ov_coco.indices('base')), len(ov_coco.indices('novel'))) == (48, 17)
    lvis = get_vocabulary('lvis_v1')
    assert [len(lvis.indices(frequency=f)) for f in 'rcf'] == [337, 461, 405]
    ov_lvis = get_vocabulary('ov_lvis')
    assert (len(ov_lvis.indices('base')), len(ov_lvis.indices('novel'))) == (866, 337)
    assert ov_lvis.indices('novel') == lvis.indices(frequency='r')
    assert ov_lvis.indices('base') == lvis.indices(frequency='cf')
    world = get_vocabulary('ov_world')
    assert (len(world.indices('base')), len(world.indices('novel'))) == (24, 8)
    assert world.indices('novel') == world.indices(frequency='r')
    v05 = get_vocabulary('lvis_v0.5')
    assert [len(v05.indices(frequency=f)) for f in 'rcf'] == [454, 461, 315]


def test_ov_coco_split_is_the_ovrcnn_one():
    ov = get_vocabulary('ov_coco')
    assert set(ov.names) == set(OV_COCO_BASE) | set(OV_COCO_NOVEL)
    assert not set(OV_COCO_BASE) & set(OV_COCO_NOVEL)
    excluded = set(get_vocabulary('coco').names) - set(ov.names)
    assert excluded == {'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'sports ball',
                        'baseball bat', 'baseball glove', 'tennis racket', 'wine glass', 'hot dog',
                        'potted plant', 'dining table', 'cell phone', 'teddy bear', 'hair drier'}
    # Label order is COCO id order, which is what COCO-style evaluators assume.
    assert list(ov.ids) == sorted(ov.ids)
    assert [ov[i].name for i in ov.indices('novel')][:4] == ['airplane', 'bus', 'cat', 'dog']
    ov80 = get_vocabulary('ov_coco_80')
    assert sum(s is None for s in ov80.splits) == 15
    assert ov80.names == get_vocabulary('coco').names


def test_coco_matches_real_annotation_file(fixtures_dir):
    with open(fixtures_dir / 'coco_instances_val2014_100.json') as f:
        cats = json.load(f)['categories']
    coco = get_vocabulary('coco')
    assert [(c['id'], c['name']) for c in cats] == list(zip(coco.ids.tolist(), coco.names))


def test_lvis_v1_matches_real_metadata(fixtures_dir):
    with open(fixtures_dir / 'lvis_v1_cat_info.json') as f:
        cats = sorted(json.load(f), key=lambda c: c['id'])
    lvis = get_vocabulary('lvis_v1')
    assert [(c['id'], c['name'], c['frequency']) for c in cats] == \
        [(c.id, c.name, c.frequency) for c in lvis]
    cat = lvis[lvis.index_of_id(cats[0]['id'])]
    assert cat.synonyms == tuple(cats[0]['synonyms'])
    assert lvis[lvis.names.index('bat_(animal)')].prompt_name == 'bat (animal)'


def test_lvis_v05_matches_real_annotation_file(fixtures_dir):
    with open(fixtures_dir / 'lvis_v0.5_val_100.json') as f:
        cats = sorted(json.load(f)['categories'], key=lambda c: c['id'])
    world = get_vocabulary('ov_world')
    assert (len(world.indices('base')), len(world.indices('novel'))) == (24, 8)
    assert world.indices('novel') == world.indices(frequency='r')
    v05 = get_vocabulary('lvis_v0.5')
    assert [(c['id'], c['name'], c['frequency']) for c in cats] == [(c.id, c.name, c.frequency) for c in v05]


def test_objects365_name_fixes(fixtures_dir):
    v2 = get_vocabulary('objects365_v2')
    tv = v2[v2.index_of_id(38)]
    assert (tv.source_name, tv.name, tv.prompt_name) == ('Moniter/TV', 'Monitor/TV', 'Monitor/TV')
    # the release's own spelling, trailing spaces included (mmdet's Objects365V2Dataset lists them so)
    assert [v2[v2.index_of_id(i)].source_name for i in (197, 309, 365)] == \
        ['Cigar/Cigarette ', 'Formula 1 ', 'Table Tennis ']
    assert [v2[v2.index_of_id(i)].name for i in (197, 309, 365)] == ['Cigar/Cigarette', 'Formula 1', 'Table Tennis']
    assert v2[v2.index_of_id(229)].name == 'Hot air balloon'
    with open(fixtures_dir / 'objects365_names_fix.csv', newline='') as f:
        rows = [r for r in csv.reader(f) if r]
    assert [(int(r[0]), r[2].strip()) for r in rows] == [(c.id, c.name) for c in v2]
    v1 = get_vocabulary('objects365_v1')
    assert [c.name for c in v1][:5] == ['person', 'sneakers', 'chair', 'hat', 'lamp']
    tissue = v1[v1.names.index('tissue')]
    assert tissue.source_name == 'tissue ' and tissue.prompt_name == 'tissue'
    assert v1[v1.index_of_id(229)].name == 'pineapple'
    # Same ids, different classes: the two releases are not interchangeable.
    assert v1[v1.index_of_id(4)].name == 'hat' and v2[v2.index_of_id(4)].name == 'Other Shoes'


def test_subsets_and_label_mapping():
    base = get_vocabulary('ov_lvis:base')
    assert len(base) == 866 and base.name == 'ov_lvis:base'
    assert all(c.frequency in 'cf' for c in base)
    assert len(get_vocabulary('lvis_v1:r')) == 337
    ov = get_vocabulary('ov_coco')
    # person (1) -> 0, bicycle (2) -> 1, traffic light (10, excluded) -> -1, unknown 1000 -> -1
    np.testing.assert_array_equal(ov.labels_of_ids(np.array([1, 2, 10, 1000, 90])), [0, 1, -1, -1, 64])
    assert ov.index_of_id(90) == 64
    with pytest.raises(KeyError, match="not in vocabulary 'ov_coco'"):
        ov.index_of_id(10)
    meta = ov.metainfo()
    assert meta['classes'] == ov.names and meta['vocabulary'] is ov


def test_vocabulary_is_immutable_and_picklable():
    v = get_vocabulary('ov_lvis')
    assert copy.deepcopy(v) is v
    assert get_vocabulary('ov_lvis') is v  # cached
    clone = pickle.loads(pickle.dumps(v))
    assert clone == v and clone.prompt_names == v.prompt_names


def test_errors():
    with pytest.raises(KeyError, match='unknown vocabulary'):
        get_vocabulary('coco_90')
    with pytest.raises(KeyError, match='unknown subset'):
        get_vocabulary('ov_lvis:rare')
    with pytest.raises(ValueError, match='duplicate category ids'):
        Vocabulary('x', [Category.make(1, 'a'), Category.make(1, 'b')])
    with pytest.raises(ValueError, match='frequency'):
        Category.make(1, 'a', frequency='x')


def test_vocabulary_from_categories():
    v = vocabulary_from_categories('custom', [{'id': 5, 'name': 'hair_drier'}, {'id': 2, 'name': 'cat'}])
    assert v.ids.tolist() == [2, 5] and v.prompt_names == ('cat', 'hair drier')
