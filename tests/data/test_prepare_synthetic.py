"""``ovd prepare`` on synthetic raw data (``ovd.data.synthetic``): the derived files load in the datasets and
every sample's image is on disk and decodes through mmdet's pipeline."""
import json
import os

import pytest
from mmengine.registry import init_default_scope

from ovd.cli import main
from ovd.data.datasets import LVISV1Dataset, Objects365V2Dataset, OVCocoDataset, OVLVISDataset
from ovd.data.synthetic import generate_coco, generate_lvis, generate_objects365
from ovd.data.vocab import get_vocabulary

pytestmark = pytest.mark.slow


def _images_load(ds, n=2):
    from mmcv.transforms import LoadImageFromFile
    load = LoadImageFromFile()
    for i in range(len(ds)):
        assert os.path.isfile(ds.get_data_info(i)['img_path'])
    for i in range(min(n, len(ds))):
        info = ds.get_data_info(i)
        out = load(dict(img_path=info['img_path']))
        assert out['img'].shape[:2] == (info['height'], info['width'])


def test_coco_ov_on_synthetic(tmp_path):
    init_default_scope('ovd')
    root = tmp_path / 'coco'
    generate_coco(root, splits={'train2017': 6, 'val2017': 4})
    assert main(['prepare', 'coco-ov', '--root', str(root), '--check-images']) == 0
    ov = get_vocabulary('ov_coco')
    for split, out_name, vocab, category_split in (
            ('train2017', 'instances_train2017_ov_base.json', 'ov_coco:base', 'base'),
            ('val2017', 'instances_val2017_ov65.json', 'ov_coco', None)):
        raw = json.loads((root / 'annotations' / f'instances_{split}.json').read_text())
        keep_ids = set(get_vocabulary(vocab).ids.tolist())
        expected = sum(a['category_id'] in keep_ids for a in raw['annotations'])
        ds = OVCocoDataset(ann_file=str(root / 'annotations' / out_name),
                           data_prefix=dict(img=str(root / split)), category_split=category_split,
                           vocabulary=ov, pipeline=[])
        assert len(ds) == len(raw['images'])
        assert ds.load_stats['boxes'] == expected
        _images_load(ds)


def test_lvis_on_synthetic(tmp_path):
    root = tmp_path / 'lvis'
    generate_lvis(root, splits={'train': 6, 'val': 8})
    args = ['--root', str(root), '--image-root', str(root), '--check-images']
    assert main(['prepare', 'lvis-ov', *args]) == 0
    assert main(['prepare', 'lvis-minival', *args]) == 0
    train_raw = json.loads((root / 'annotations' / 'lvis_v1_train.json').read_text())
    rare = set(get_vocabulary('ov_lvis:novel').ids.tolist())
    ds = OVLVISDataset(ann_file=str(root / 'annotations' / 'lvis_v1_train_ov_base.json'),
                       category_split='base', data_prefix=dict(img=str(root)), pipeline=[])
    assert len(ds) == len(train_raw['images'])
    assert ds.load_stats['boxes'] == sum(a['category_id'] not in rare for a in train_raw['annotations'])
    _images_load(ds)
    val_raw = json.loads((root / 'annotations' / 'lvis_v1_val.json').read_text())
    in_val2017 = {im['id'] for im in val_raw['images'] if '/val2017/' in im['coco_url']}
    assert 0 < len(in_val2017) < len(val_raw['images'])
    minival = LVISV1Dataset(ann_file=str(root / 'annotations' / 'lvis_v1_minival.json'),
                            data_prefix=dict(img=str(root)), pipeline=[])
    assert {minival.get_data_info(i)['img_id'] for i in range(len(minival))} == in_val2017
    assert minival.load_stats['boxes'] == sum(a['image_id'] in in_val2017 for a in val_raw['annotations'])
    _images_load(minival)


def test_objects365_on_synthetic(tmp_path):
    root = tmp_path / 'objects365'
    generate_objects365(root, splits={'train': 6, 'val': 4}, include_missing=True)
    with pytest.warns(UserWarning, match='removed 3 images missing from the Objects365 release'):
        assert main(['prepare', 'objects365', '--root', str(root), '--check-images']) == 0
    raw = json.loads((root / 'annotations' / 'zhiyuan_objv2_train.json').read_text())
    ds = Objects365V2Dataset(ann_file=str(root / 'annotations' / 'objects365_v2_train_ovd.json'),
                             data_prefix=dict(img=str(root / 'train')), pipeline=[])
    assert len(ds) == len(raw['images']) - 3
    _images_load(ds)
    # The raw file read directly: same images, the known-missing ones skipped with a warning.
    with pytest.warns(UserWarning, match='skipped 3 images known to be missing'):
        direct = Objects365V2Dataset(ann_file=str(root / 'annotations' / 'zhiyuan_objv2_train.json'),
                                     data_prefix=dict(img=str(root / 'train')), pipeline=[])
    assert [direct.get_data_info(i)['instances'] for i in range(len(direct))] == \
        [ds.get_data_info(i)['instances'] for i in range(len(ds))]
    assert 'Monitor/TV' in ds.metainfo['classes'] and 'Moniter/TV' not in ds.metainfo['classes']


def test_config_pipelines_on_synthetic_images(tmp_path, repo_root):
    """The OV-COCO config's own train and test pipelines run on prepared synthetic data."""
    from mmengine.config import Config

    from ovd.registry import DATASETS
    init_default_scope('ovd')
    root = tmp_path / 'coco'
    generate_coco(root, splits={'train2017': 4, 'val2017': 3})
    assert main(['prepare', 'coco-ov', '--root', str(root)]) == 0
    cfg = Config.fromfile(str(repo_root / 'configs' / '_base_' / 'datasets' / 'ov_coco.py'))
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = str(root) + '/'
        ds = DATASETS.build(loader.dataset)
        sample = ds[0]
        inputs, data_sample = sample['inputs'], sample['data_samples']
        assert inputs.shape[0] == 3 and max(inputs.shape[1:]) <= 1333
        if ds.test_mode:  # the vocabulary reaches the model from metainfo (VocabularyHook), not per sample
            assert 'text' not in data_sample
        else:  # training prompts are built per sample from its names
            assert data_sample.text == ds.metainfo['vocabulary'].prompt_names
        assert data_sample.gt_instances.labels.max() < len(ds.metainfo['classes'])
