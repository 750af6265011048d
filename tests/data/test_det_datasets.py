"""Detection datasets: the sample contract, counts against the real fixtures, parity with mmdet's datasets."""
import json

import numpy as np
import pytest
from det_data_builders import lvis_v1_file, objects365_file
from mmengine.registry import init_default_scope

from ovd.data.datasets import (
    CocoDetDataset,
    LVISV05Dataset,
    LVISV1Dataset,
    Objects365V1Dataset,
    Objects365V2Dataset,
    OVCocoDataset,
    OVLVISDataset,
)
from ovd.data.validation import AnnotationError
from ovd.data.vocab import OV_COCO_BASE, OV_COCO_NOVEL, get_vocabulary
from ovd.registry import DATASETS

COCO = 'coco_instances_val2014_100.json'
LVIS05 = 'lvis_v0.5_val_100.json'


def raw(path):
    with open(path) as f:
        return json.load(f)


def all_instances(ds):
    return [inst for i in range(len(ds)) for inst in ds.get_data_info(i)['instances']]


def test_coco_fixture_counts_and_contract(fixtures_dir):
    ds = CocoDetDataset(ann_file=str(fixtures_dir / COCO), data_prefix=dict(img='val2014/'), pipeline=[])
    data = raw(fixtures_dir / COCO)
    assert len(ds) == len(data['images']) == 100
    instances = all_instances(ds)
    assert len(instances) == len(data['annotations']) == 839
    assert sum(i['ignore_flag'] for i in instances) == sum(a['iscrowd'] for a in data['annotations']) == 9
    info = ds.get_data_info(0)
    image = data['images'][0]
    assert (info['img_id'], info['img_path'], info['height'], info['width']) == \
        (image['id'], 'val2014/' + image['file_name'], image['height'], image['width'])
    first = next(a for a in data['annotations'] if a['image_id'] == image['id'])
    x, y, w, h = first['bbox']
    assert info['instances'][0]['bbox'] == [x, y, x + w, y + h]
    assert info['instances'][0]['bbox_label'] == get_vocabulary('coco').index_of_id(first['category_id'])
    assert info['text'] == get_vocabulary('coco').prompt_names
    assert ds.metainfo['vocabulary'] is get_vocabulary('coco')
    assert ds.metainfo['classes'] == get_vocabulary('coco').names
    assert ds.get_cat_ids(0) == [i['bbox_label'] for i in info['instances']]


def test_coco_parity_with_mmdet(fixtures_dir):
    from mmdet.datasets import CocoDataset
    kwargs = dict(ann_file=str(fixtures_dir / COCO), data_prefix=dict(img='val2014/'), pipeline=[])
    ours, theirs = CocoDetDataset(**kwargs), CocoDataset(**kwargs)
    assert len(ours) == len(theirs)
    for i in range(len(ours)):
        a, b = ours.get_data_info(i), theirs.get_data_info(i)
        assert (a['img_path'], a['img_id'], a['height'], a['width']) == \
            (b['img_path'], b['img_id'], b['height'], b['width'])
        assert [(x['bbox'], x['bbox_label'], x['ignore_flag']) for x in a['instances']] == \
            [(x['bbox'], x['bbox_label'], x['ignore_flag']) for x in b['instances']]


def test_lvis_v05_fixture(fixtures_dir):
    ds = LVISV05Dataset(ann_file=str(fixtures_dir / LVIS05), data_prefix=dict(img='coco/'), pipeline=[])
    data = raw(fixtures_dir / LVIS05)
    assert len(ds) == 100
    assert len(all_instances(ds)) == len(data['annotations']) == 977
    vocab = get_vocabulary('lvis_v0.5')
    by_id = {im['id']: im for im in data['images']}
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        image = by_id[info['img_id']]
        assert info['img_path'] == 'coco/' + '/'.join(image['coco_url'].split('/')[-2:])
        assert info['neg_category_ids'] == image['neg_category_ids']
        assert info['not_exhaustive_category_ids'] == image['not_exhaustive_category_ids']
        assert info['neg_labels'] == [vocab.index_of_id(c) for c in image['neg_category_ids']]
    assert len(ds.get_data_info(0)['text']) == 1230


def test_lvis_v05_parity_with_mmdet(fixtures_dir):
    from mmdet.datasets import LVISV05Dataset as MMDetLVISV05
    kwargs = dict(ann_file=str(fixtures_dir / LVIS05), data_prefix=dict(img=''), pipeline=[])
    ours, theirs = LVISV05Dataset(**kwargs), MMDetLVISV05(**kwargs)
    assert len(ours) == len(theirs)
    theirs_by_id = {theirs.get_data_info(i)['img_id']: theirs.get_data_info(i) for i in range(len(theirs))}
    for i in range(len(ours)):
        a = ours.get_data_info(i)
        b = theirs_by_id[a['img_id']]
        assert [(x['bbox'], x['bbox_label']) for x in a['instances']] == \
            [(x['bbox'], x['bbox_label']) for x in b['instances']]


def test_ov_coco_training_keeps_images_and_base_boxes(fixtures_dir):
    data = raw(fixtures_dir / COCO)
    name_of = {c['id']: c['name'] for c in data['categories']}
    n_base = sum(name_of[a['category_id']] in OV_COCO_BASE for a in data['annotations'])
    n_novel = sum(name_of[a['category_id']] in OV_COCO_NOVEL for a in data['annotations'])
    ds = OVCocoDataset(ann_file=str(fixtures_dir / COCO), category_split='base', pipeline=[])
    assert len(ds) == 100  # images kept
    instances = all_instances(ds)
    assert len(instances) == n_base and 0 < n_base < 839
    assert max(i['bbox_label'] for i in instances) < 48
    assert ds.metainfo['vocabulary'].name == 'ov_coco:base' and len(ds.get_data_info(0)['text']) == 48
    assert ds.load_stats['dropped_other_split'] == n_novel
    assert ds.load_stats['dropped_not_in_vocabulary'] == 839 - n_base - n_novel
    # Training config drops images that are left without boxes.
    filtered = OVCocoDataset(ann_file=str(fixtures_dir / COCO), category_split='base', pipeline=[],
                             filter_cfg=dict(filter_empty_gt=True))
    with_base = {a['image_id'] for a in data['annotations'] if name_of[a['category_id']] in OV_COCO_BASE}
    assert len(filtered) == len(with_base) < 100


@pytest.mark.parametrize('vocabulary, expected_classes', [('ov_coco', 65), ('ov_coco_80', 80)])
def test_ov_coco_evaluation_protocols(fixtures_dir, vocabulary, expected_classes):
    data = raw(fixtures_dir / COCO)
    name_of = {c['id']: c['name'] for c in data['categories']}
    ds = OVCocoDataset(ann_file=str(fixtures_dir / COCO), vocabulary=vocabulary, test_mode=True, pipeline=[])
    expected = sum(vocabulary == 'ov_coco_80' or name_of[a['category_id']] in OV_COCO_BASE + OV_COCO_NOVEL
                   for a in data['annotations'])
    assert len(ds.metainfo['classes']) == expected_classes
    assert len(all_instances(ds)) == expected


def test_coco_rejects_unknown_categories(tmp_path, fixtures_dir):
    data = raw(fixtures_dir / COCO)
    data['categories'].append({'id': 95, 'name': 'unicorn'})
    data['annotations'][5]['category_id'] = 95
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    with pytest.raises(AnnotationError,
                       match=r"annotations\[5\].*category_id 95 is not in vocabulary 'coco'"):
        CocoDetDataset(ann_file=str(path), pipeline=[])


def test_bad_boxes_dropped_with_warning_or_error(tmp_path, fixtures_dir):
    data = raw(fixtures_dir / COCO)
    data['annotations'][3]['bbox'][2] = 0
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match=r"dropped 1 boxes with non-positive size, first annotations\[3\]"):
        ds = CocoDetDataset(ann_file=str(path), pipeline=[])
    assert len(all_instances(ds)) == 838
    with pytest.raises(AnnotationError, match=r"annotations\[3\].*'bbox'"):
        CocoDetDataset(ann_file=str(path), pipeline=[], bad_boxes='error')


def test_lvis_v1_and_ov_lvis(tmp_path):
    facts = lvis_v1_file(tmp_path / 'lvis_v1_val.json')
    full = LVISV1Dataset(ann_file=str(tmp_path / 'lvis_v1_val.json'), data_prefix=dict(img='coco/'),
                         pipeline=[])
    assert len(full) == 4 and len(all_instances(full)) == 7
    assert full.get_data_info(1)['img_path'] == 'coco/val2017/000000000101.jpg'
    base = OVLVISDataset(ann_file=str(tmp_path / 'lvis_v1_val.json'), category_split='base', pipeline=[])
    assert len(base) == 4  # images kept
    assert len(all_instances(base)) == 5 and base.load_stats['dropped_other_split'] == 2
    vocab = base.metainfo['vocabulary']
    assert len(vocab) == 866 and all(c.frequency != 'r' for c in vocab)
    info = base.get_data_info(0)
    assert info['neg_category_ids'] == [facts['rare'], 2]
    assert info['neg_labels'] == [vocab.index_of_id(2)]  # the rare id has no label in the base vocabulary
    assert info['not_exhaustive_labels'] == [vocab.index_of_id(facts['frequent'])]
    ov = OVLVISDataset(ann_file=str(tmp_path / 'lvis_v1_val.json'), test_mode=True, pipeline=[])
    assert len(ov.metainfo['classes']) == 1203 and len(all_instances(ov)) == 7


def test_objects365_v2_paths_names_and_missing_images(tmp_path):
    objects365_file(tmp_path / 'o365.json')
    with pytest.warns(UserWarning,
                      match='skipped 1 images known to be missing: patch6/objects365_v1_00320532'):
        ds = Objects365V2Dataset(ann_file=str(tmp_path / 'o365.json'), data_prefix=dict(img='train/'),
                                 pipeline=[])
    assert len(ds) == 2
    stats = ds.load_stats
    assert (stats['boxes'], stats['crowd_boxes'], stats['skipped_images']) == (3, 1, 1)
    assert [ds.get_data_info(i)['img_path'] for i in range(2)] == \
        ['train/patch0/objects365_v1_00000001.jpg', 'train/patch16/objects365_v2_00900001.jpg']
    vocab = get_vocabulary('objects365_v2')
    assert ds.get_data_info(0)['instances'][0]['bbox_label'] == vocab.index_of_id(38)
    assert ds.metainfo['classes'][vocab.index_of_id(38)] == 'Monitor/TV'
    assert ds.get_data_info(0)['text'][vocab.index_of_id(38)] == 'Monitor/TV'
    assert [i['ignore_flag'] for i in ds.get_data_info(1)['instances']] == [0, 1]


def test_objects365_version_mismatch_is_an_error(tmp_path):
    objects365_file(tmp_path / 'o365_v1.json', version='v1')
    with pytest.raises(AnnotationError,
                       match=r"categories\[0\] \(id=\d+\).*'name'.*wrong file or dataset version"):
        Objects365V2Dataset(ann_file=str(tmp_path / 'o365_v1.json'), pipeline=[])
    with pytest.warns(UserWarning, match='skipped 1 images known to be missing: obj365_train_000000000006.jpg'):
        ds = Objects365V1Dataset(ann_file=str(tmp_path / 'o365_v1.json'), pipeline=[])
    assert len(ds) == 2 and ds.metainfo['classes'][158] == 'tissue'


def test_serialized_and_plain_storage_agree(fixtures_dir):
    kwargs = dict(ann_file=str(fixtures_dir / LVIS05), pipeline=[])
    a, b = LVISV05Dataset(**kwargs), LVISV05Dataset(serialize_data=False, **kwargs)
    for i in (0, 17, 99):
        assert a.get_data_info(i) == b.get_data_info(i)


def test_masks_on_request(fixtures_dir):
    data = raw(fixtures_dir / COCO)
    ds = CocoDetDataset(ann_file=str(fixtures_dir / COCO), with_mask=True, pipeline=[])
    first = ds.get_data_info(0)
    image_id = first['img_id']
    segms = [a['segmentation'] for a in data['annotations'] if a['image_id'] == image_id]
    assert [i['mask'] for i in first['instances']] == segms
    assert 'mask' not in CocoDetDataset(ann_file=str(fixtures_dir / COCO), pipeline=[])[0]['instances'][0]


def test_built_from_registry_through_mmdet_transforms(fixtures_dir):
    init_default_scope('ovd')
    ds = DATASETS.build(dict(type='OVCocoDataset', ann_file=str(fixtures_dir / COCO), category_split='base',
                             pipeline=[dict(type='LoadAnnotations', with_bbox=True)]))
    assert isinstance(ds, OVCocoDataset)
    out = ds[0]
    expected = ds.get_data_info(0)['instances']
    assert out['gt_bboxes'].tensor.shape == (len(expected), 4)
    np.testing.assert_allclose(out['gt_bboxes'].tensor.numpy(), [i['bbox'] for i in expected], rtol=1e-6)
    assert out['gt_bboxes_labels'].tolist() == [i['bbox_label'] for i in expected]


def test_vocabulary_argument_checks(fixtures_dir):
    with pytest.raises(ValueError, match='disagrees with the vocabulary'):
        CocoDetDataset(ann_file=str(fixtures_dir / COCO), metainfo=dict(classes=('person', )), pipeline=[])
    with pytest.raises(ValueError, match='unknown_categories'):
        CocoDetDataset(ann_file=str(fixtures_dir / COCO), unknown_categories='ignore', pipeline=[])
    ds = CocoDetDataset(ann_file=str(fixtures_dir / COCO), metainfo=dict(vocabulary='ov_coco_80'),
                        pipeline=[])
    assert ds.vocabulary.name == 'ov_coco_80'
