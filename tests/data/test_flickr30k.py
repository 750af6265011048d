"""Flickr30k Entities: raw sentence/XML parsing (hand-written files, bad input), datasets on synthetic data,
the prepared index, merged-box mode, and MDETR's preprocessed JSON."""

import json
from pathlib import Path

import pytest

from ovd.data.datasets.flickr30k import (
    Flickr30kEntitiesDataset,
    MDETRFlickr30kDataset,
    load_mdetr_flickr,
    samples_from_record,
)
from ovd.data.flickr30k.index import build_index
from ovd.data.flickr30k.raw import (
    Flickr30kFormatError,
    merge_boxes,
    parse_annotation_xml,
    parse_sentence,
    parse_sentences_file,
    read_split_ids,
)
from ovd.data.synthetic import generate_flickr30k

SENTENCE = (
    '[/EN#18/people A child] in [/EN#19/clothing/other a pink dress] is climbing up '
    '[/EN#20/other a set of stairs] [/EN#0/notvisual who] in [/EN#21/scene an entry way] .'
)

XML = """<annotation>
  <filename>42.jpg</filename>
  <size><width>100</width><height>80</height><depth>3</depth></size>
  <object><name>18</name><name>22</name>
    <bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
  <object><name>18</name>
    <bndbox><xmin>51</xmin><ymin>1</ymin><xmax>60</xmax><ymax>10</ymax></bndbox></object>
  <object><name>19</name>
    <bndbox><xmin>5</xmin><ymin>5</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>
  <object><name>20</name><nobndbox>1</nobndbox><scene>0</scene></object>
  <object><name>21</name><nobndbox>0</nobndbox><scene>1</scene></object>
</annotation>
"""


def write_raw(root: Path, sentences=(SENTENCE,), xml=XML, image_id='42', split='val'):
    (root / 'Sentences').mkdir(parents=True, exist_ok=True)
    (root / 'Annotations').mkdir(parents=True, exist_ok=True)
    (root / 'Sentences' / f'{image_id}.txt').write_text('\n'.join(sentences) + '\n')
    (root / 'Annotations' / f'{image_id}.xml').write_text(xml)
    (root / f'{split}.txt').write_text(f'{image_id}\n')
    return root


def test_parse_sentence_spans_types_and_ids():
    s = parse_sentence(SENTENCE)
    assert s.caption == ('A child in a pink dress is climbing up a set of stairs who in an entry way .')
    assert [p.text for p in s.phrases] == [
        'A child',
        'a pink dress',
        'a set of stairs',
        'who',
        'an entry way',
    ]
    assert [(p.start, p.end) for p in s.phrases] == [(0, 7), (11, 23), (39, 54), (55, 58), (62, 74)]
    assert all(s.caption[p.start : p.end] == p.text for p in s.phrases)
    assert [p.entity_id for p in s.phrases] == [18, 19, 20, 0, 21]
    assert s.phrases[1].types == ('clothing', 'other') and s.phrases[3].types == ('notvisual',)
    assert [p.first_word for p in s.phrases] == [0, 3, 9, 13, 15]


@pytest.mark.parametrize(
    'line,field,problem',
    [
        ('[/EN#1/people A man is here .', 'phrase', 'not closed'),
        ('[/EN#x/people A man] .', 'entity id', 'not an integer'),
        ('[EN#1/people A man] .', 'phrase header', 'malformed'),
        ('[/EN#1/people A [/EN#2/people man]] .', 'phrase', 'inside another phrase'),
        ('[/EN#1/people] man .', 'phrase', 'no words'),
        ('A man] .', 'phrase', 'outside a phrase'),
    ],
)
def test_parse_sentence_errors_name_file_line_and_field(line, field, problem):
    with pytest.raises(Flickr30kFormatError, match=problem) as err:
        parse_sentence(line, 'Sentences/7.txt', 3)
    assert str(err.value).startswith('Sentences/7.txt: line 3: ') and err.value.field == field


def test_sentence_file_errors(tmp_path):
    f = tmp_path / '1.txt'
    f.write_text('[/EN#1/people A man] runs .\n\n[/EN#2/people A boy .\n')
    with pytest.raises(Flickr30kFormatError, match='line 3'):
        parse_sentences_file(f)
    f.write_text('\n\n')
    with pytest.raises(Flickr30kFormatError, match='no sentence'):
        parse_sentences_file(f)
    with pytest.raises(Flickr30kFormatError, match='file not found'):
        parse_sentences_file(tmp_path / 'missing.txt')


def test_parse_xml_boxes_shared_nobox_scene(tmp_path):
    f = tmp_path / '42.xml'
    f.write_text(XML)
    ann = parse_annotation_xml(f)  # default: the integers as written (MDETR's evaluator, MDETR/GLIP training)
    assert (ann.width, ann.height, ann.filename) == (100, 80, '42.jpg')
    assert ann.boxes == {18: [[11, 21, 30, 40], [51, 1, 60, 10]], 22: [[11, 21, 30, 40]], 19: [[5, 5, 9, 9]]}
    assert ann.nobox == [20] and ann.scene == [21]
    pixel = parse_annotation_xml(f, convention='pixel')
    assert pixel.boxes[18] == [[10, 20, 30, 40], [50, 0, 60, 10]]
    assert merge_boxes(ann.boxes[18]) == [11, 1, 60, 40]
    with pytest.raises(ValueError, match="one of \\('raw', 'pixel'\\)"):
        parse_annotation_xml(f, convention='xyxy')


def test_one_pixel_wide_box_is_kept_in_both_conventions(tmp_path):
    # xmin == xmax is one pixel column (1-based inclusive): zero width as written, as MDETR keeps it
    f = tmp_path / '42.xml'
    f.write_text(XML.replace('<xmin>5</xmin>', '<xmin>9</xmin>'))
    assert parse_annotation_xml(f).boxes[19] == [[9, 5, 9, 9]]
    assert parse_annotation_xml(f, convention='pixel').boxes[19] == [[8, 4, 9, 9]]


def test_sentence_ids_count_whitespace_only_lines_as_the_release_reader_does(tmp_path):
    f = tmp_path / '42.txt'
    f.write_text('[/EN#1/people A man] .\n   \n\n[/EN#2/people A woman] .\n')
    sentences = parse_sentences_file(f)
    assert [s.caption for s in sentences] == ['A man .', '', 'A woman .']  # the empty line is skipped


@pytest.mark.parametrize(
    'xml,record,field',
    [
        (XML.replace('<width>100</width>', ''), '<size>', 'width'),
        (XML.replace('<ymin>21</ymin>', '<ymin>abc</ymin>'), 'object 0', 'bndbox/ymin'),
        (XML.replace('<xmax>60</xmax>', '<xmax>50</xmax>'), 'object 1', 'bndbox'),
        (XML.replace('<name>19</name>', ''), 'object 2', 'name'),
        (XML.replace('<nobndbox>1</nobndbox><scene>0</scene>', ''), 'object 3', 'bndbox'),
    ],
)
def test_xml_errors_name_object_and_field(tmp_path, xml, record, field):
    f = tmp_path / '42.xml'
    f.write_text(xml)
    with pytest.raises(Flickr30kFormatError) as err:
        parse_annotation_xml(f)
    assert err.value.file == str(f) and err.value.record == record and err.value.field == field


def test_xml_bad_box_drop_and_malformed(tmp_path):
    f = tmp_path / '42.xml'
    f.write_text(XML.replace('<xmax>60</xmax>', '<xmax>50</xmax>'))
    ann = parse_annotation_xml(f, bad_boxes='drop')
    assert ann.bad_boxes == 1 and ann.boxes[18] == [[11, 21, 30, 40]]
    f.write_text('<annotation><size>')
    with pytest.raises(Flickr30kFormatError, match='malformed XML'):
        parse_annotation_xml(f)


def test_split_list_errors(tmp_path):
    f = tmp_path / 'val.txt'
    f.write_text('1\n2\n1\n')
    with pytest.raises(Flickr30kFormatError, match='line 3.*repeated'):
        read_split_ids(f)
    f.write_text('1\nabc.jpg\n')
    with pytest.raises(Flickr30kFormatError, match='line 2'):
        read_split_ids(f)


def test_dataset_on_hand_written_raw_files(tmp_path):
    root = write_raw(tmp_path, sentences=(SENTENCE, '[/EN#20/other Stairs] only .'))
    ds = Flickr30kEntitiesDataset(
        data_root=str(root), ann_file='val.txt', data_prefix=dict(img='images/'), test_mode=True
    )
    assert len(ds) == 1  # the second sentence names only a box-less entity: not evaluated, skipped
    s = ds.get_data_info(0)
    assert s['phrases'] == ['A child', 'a pink dress'] and s['phrase_ids'] == [18, 19]
    assert s['tokens_positive'] == [[[0, 7]], [[11, 23]]] and s['img_id'] == 42 and s['sentence_id'] == 0
    assert [(i['bbox'], i['bbox_label']) for i in s['instances']] == [
        ([11, 21, 30, 40], 0),
        ([51, 1, 60, 10], 0),
        ([5, 5, 9, 9], 1),
    ]
    assert s['img_path'].endswith('images/42.jpg')
    pixel = Flickr30kEntitiesDataset(data_root=str(root), ann_file='val.txt', box_convention='pixel',
                                     test_mode=True)
    assert [i['bbox'] for i in pixel.get_data_info(0)['instances']] == [[10, 20, 30, 40], [50, 0, 60, 10],
                                                                        [4, 4, 9, 9]]
    kept = Flickr30kEntitiesDataset(
        data_root=str(root), ann_file='val.txt', keep_boxless_phrases=True, merge_boxes=True, test_mode=True
    )
    s = kept.get_data_info(0)
    assert s['phrases'] == ['A child', 'a pink dress', 'a set of stairs', 'who', 'an entry way']
    assert s['phrase_has_box'] == [True, True, False, False, False]
    assert s['phrase_is_nobox'] == [False, False, True, False, False]
    assert s['phrase_is_scene'] == [False, False, False, False, True]
    assert s['phrase_is_notvisual'] == [False, False, False, True, False]
    assert [(i['bbox'], i['bbox_label']) for i in s['instances']] == [([11, 1, 60, 40], 0), ([5, 5, 9, 9], 1)]


def test_dataset_error_names_the_bad_file(tmp_path):
    root = write_raw(tmp_path, sentences=('[/EN#1/people A man .',))
    with pytest.raises(Flickr30kFormatError, match=r'Sentences/42.txt: line 1'):
        Flickr30kEntitiesDataset(data_root=str(root), ann_file='val.txt', test_mode=True)


@pytest.fixture(scope='module')
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('flickr')
    manifest = generate_flickr30k(root, splits={'train': 3, 'val': 4}, seed=3)
    return root, manifest


def test_synthetic_counts_match_manifest(synth_root):
    root, manifest = synth_root
    for split in ('train', 'val'):
        expect = manifest['splits'][split]
        index = build_index(root, f'{split}.txt')
        c = index['counts']
        assert (c['images'], c['sentences'], c['phrases']) == (
            expect['images'],
            expect['sentences'],
            expect['phrases'],
        )
        assert c['entity_boxes'] == expect['boxes'] + expect['shared_boxes']
        all_phrases = [
            s for r in index['images'] for s in samples_from_record(r, '', keep_boxless_phrases=True)
        ]
        n_notvisual = sum(sum(s['phrase_is_notvisual']) for s in all_phrases)
        assert n_notvisual == expect['notvisual_phrases']


def test_index_and_raw_give_identical_samples(synth_root, tmp_path):
    root, _ = synth_root
    index = build_index(root, 'val.txt')
    (tmp_path / 'idx.json').write_text(json.dumps(index))
    raw = Flickr30kEntitiesDataset(data_root=str(root), ann_file='val.txt', test_mode=True)
    fast = Flickr30kEntitiesDataset(
        ann_file=str(tmp_path / 'idx.json'), data_prefix=dict(img=f'{root}/flickr30k-images/'), test_mode=True
    )
    assert len(raw) == len(fast) > 0
    for i in range(len(raw)):
        a, b = raw.get_data_info(i), fast.get_data_info(i)
        assert {k: v for k, v in a.items() if k != 'img_path'} == {
            k: v for k, v in b.items() if k != 'img_path'
        }
        assert (
            Path(a['img_path']).resolve() == Path(b['img_path']).resolve() and Path(a['img_path']).is_file()
        )
        for inst in a['instances']:
            x1, y1, x2, y2 = inst['bbox']
            assert 0 <= x1 < x2 <= a['width'] and 0 <= y1 < y2 <= a['height']


def test_merged_mode_one_enclosing_box_per_phrase(synth_root):
    root, _ = synth_root
    sep = Flickr30kEntitiesDataset(data_root=str(root), ann_file='val.txt', test_mode=True)
    merged = Flickr30kEntitiesDataset(
        data_root=str(root), ann_file='val.txt', merge_boxes=True, test_mode=True
    )
    multi = 0
    for i in range(len(sep)):
        a, b = sep.get_data_info(i), merged.get_data_info(i)
        assert sorted(x['bbox_label'] for x in b['instances']) == list(range(len(b['phrases'])))
        for label in range(len(a['phrases'])):
            boxes = [x['bbox'] for x in a['instances'] if x['bbox_label'] == label]
            multi += len(boxes) > 1
            assert [x['bbox'] for x in b['instances'] if x['bbox_label'] == label] == [merge_boxes(boxes)]
    assert multi > 0  # the synthetic data has phrases with several boxes


MDETR_JSON = {
    'images': [
        {
            'file_name': '42.jpg',
            'height': 80,
            'width': 100,
            'id': 0,
            'caption': 'A child in a pink dress .',
            'dataset_name': 'flickr',
            'tokens_negative': [[0, 7], [11, 23]],
            'sentence_id': 0,
            'original_img_id': 42,
            'tokens_positive_eval': [[[0, 7]], [[11, 23]]],
        },
        {
            'file_name': '42.jpg',
            'height': 80,
            'width': 100,
            'id': 1,
            'caption': 'A kid .',
            'sentence_id': 1,
            'original_img_id': 42,
            'tokens_positive_eval': [[[0, 5]]],
        },
    ],
    'annotations': [
        {
            'area': 400,
            'iscrowd': 0,
            'image_id': 0,
            'category_id': 1,
            'id': 0,
            'bbox': [10, 20, 20, 20],
            'tokens_positive': [[11, 23]],
            'phrase_ids': 19,
        },
        {
            'area': 100,
            'iscrowd': 0,
            'image_id': 0,
            'category_id': 1,
            'id': 1,
            'bbox': [50, 0, 10, 10],
            'tokens_positive': [[0, 7]],
            'phrase_ids': 18,
        },
        {
            'area': 100,
            'iscrowd': 0,
            'image_id': 1,
            'category_id': 1,
            'id': 2,
            'bbox': [50, 0, 10, 10],
            'tokens_positive': [[0, 5]],
            'phrase_ids': 18,
        },
    ],
    'categories': [{'supercategory': 'object', 'id': 1, 'name': 'object'}],
}


def test_mdetr_json(tmp_path):
    f = tmp_path / 'final_flickr_separateGT_val.json'
    f.write_text(json.dumps(MDETR_JSON))
    ds = MDETRFlickr30kDataset(ann_file=str(f), data_prefix=dict(img='imgs/'), test_mode=True)
    assert len(ds) == 2
    s = ds.get_data_info(0)
    assert s['phrases'] == ['A child', 'a pink dress'] and s['phrase_ids'] == [18, 19]
    assert s['img_id'] == 42 and s['sentence_id'] == 0 and s['img_path'] == 'imgs/42.jpg'
    assert [(i['bbox'], i['bbox_label']) for i in s['instances']] == [
        ([10, 20, 30, 40], 1),
        ([50, 0, 60, 10], 0),
    ]


@pytest.mark.parametrize(
    'mutate,match',
    [
        (lambda d: d['images'][0].pop('caption'), r"images\[0\] \(id=0\): field 'caption': missing"),
        (lambda d: d['annotations'][0].update(image_id=7), r"annotations\[0\] \(id=0\): field 'image_id'"),
        (lambda d: d['annotations'][1].update(bbox=[1, 1, 0, 5]), r"annotations\[1\] \(id=1\): field 'bbox'"),
        (lambda d: d['annotations'][2].update(tokens_positive=[[1, 3]]), r"field 'tokens_positive'"),
        (
            lambda d: d['images'][1].update(tokens_positive_eval=[[[0, 50]]]),
            r"field 'tokens_positive_eval\[0\]'",
        ),
        (lambda d: d['images'][1].update(id=0), 'duplicate image id'),
    ],
)
def test_mdetr_json_errors(tmp_path, mutate, match):
    data = json.loads(json.dumps(MDETR_JSON))
    mutate(data)
    f = tmp_path / 'bad.json'
    f.write_text(json.dumps(data))
    with pytest.raises(Flickr30kFormatError, match=match):
        load_mdetr_flickr(f)
    f.write_text('{"images": [')
    with pytest.raises(Flickr30kFormatError, match='malformed JSON'):
        load_mdetr_flickr(f)


def test_dataset_without_data_root_reads_a_relative_split_list(tmp_path, monkeypatch):
    root = write_raw(tmp_path / 'flickr')
    monkeypatch.chdir(tmp_path)
    ds = Flickr30kEntitiesDataset(ann_file=str(root.relative_to(tmp_path) / 'val.txt'), test_mode=True)
    assert len(ds) == 1 and ds.get_data_info(0)['phrases'] == ['A child', 'a pink dress']
