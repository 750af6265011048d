"""ModulatedLVISDataset: LVIS as MDETR's LVIS fine-tuning records (one class-name caption per image and class)."""
import json

import pytest
from det_data_builders import lvis_v1_file

from ovd.data.datasets import ModulatedLVISDataset
from ovd.data.vocab import get_vocabulary


def _train_file(path):
    """The builder's LVIS file whose negatives are its rare class and a common class no image has a box of."""
    facts = lvis_v1_file(path)
    vocab = get_vocabulary('lvis_v1')
    other = next(vocab[i].id for i in vocab.indices(frequency='c') if vocab[i].id != facts['common'])
    for image in facts['data']['images']:
        image['neg_category_ids'] = [facts['rare'], other]
    path.write_text(json.dumps(facts['data']))
    return dict(facts, other=other)


def test_one_record_per_positive_and_negative_class(tmp_path):
    facts = _train_file(tmp_path / 'lvis_v1_train.json')
    vocab = get_vocabulary('ov_lvis').subset(split='base')
    assert not vocab.has_id(facts['rare'])
    ds = ModulatedLVISDataset(ann_file=str(tmp_path / 'lvis_v1_train.json'), data_prefix=dict(img='coco/'),
                              category_split='base', name_rule='mdetr', pipeline=[])
    texts = vocab.prompt_texts('mdetr')
    records = [ds.get_data_info(i) for i in range(len(ds))]
    # image 100: its common box (its rare box is not base); its negatives: the other common class (the rare one
    # is not base)
    first = [r for r in records if r['img_id'] == 100]
    common = vocab.index_of_id(facts['common'])
    assert [r['text'] for r in first] == [texts[common], texts[vocab.index_of_id(facts['other'])]]
    assert first[0]['tokens_positive'] == [[[0, len(texts[common])]]] and first[0]['phrases'] == [texts[common]]
    assert [i['bbox_label'] for i in first[0]['instances']] == [0]
    assert first[0]['phrase_label_ids'] == [common]
    assert first[1]['instances'] == [] and first[1]['tokens_positive'] == [] and first[1]['phrases'] == []
    # image 102: one record holds both boxes of its frequent class, then the negative
    third = [r for r in records if r['img_id'] == 102]
    assert [len(r['instances']) for r in third] == [2, 0]
    # 4 images x 1 base negative + positive records: 100 common, 101 frequent, 102 frequent, 103 common
    assert len(ds) == ds.load_stats['records'] == 8
    assert all(r['img_path'].startswith('coco/') for r in records)


def test_without_negatives_and_min_size(tmp_path):
    _train_file(tmp_path / 'lvis_v1_train.json')
    kwargs = dict(ann_file=str(tmp_path / 'lvis_v1_train.json'), category_split='base', pipeline=[])
    assert len(ModulatedLVISDataset(with_negatives=False, **kwargs)) == 4
    # box-less records are the negatives: filter_empty_gt does not drop them; min_size filters whole images
    assert len(ModulatedLVISDataset(filter_cfg=dict(filter_empty_gt=True), **kwargs)) == 8
    assert len(ModulatedLVISDataset(filter_cfg=dict(min_size=1000), **kwargs)) == 0


def test_bad_input_names_file_record_and_field(tmp_path):
    facts = _train_file(tmp_path / 'lvis_v1_train.json')
    # with the full vocabulary image 100 lists its rare class as negative while holding a box of it
    with pytest.raises(ValueError, match=rf"lvis_v1_train.json: images \(id=100\) field 'neg_category_ids': "
                                         rf"category {facts['rare']} has boxes"):
        ModulatedLVISDataset(ann_file=str(tmp_path / 'lvis_v1_train.json'), pipeline=[])
    with pytest.raises(ValueError, match='training data'):
        ModulatedLVISDataset(ann_file=str(tmp_path / 'lvis_v1_train.json'), test_mode=True, pipeline=[])
