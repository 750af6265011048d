"""Cached regions follow the image through mmdet's resize and flip, and are packed as ``data_sample.regions``."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from ovd.data.region_cache import FieldSpec, RegionCacheWriter
from ovd.data.region_transforms import LoadRegionEmbeddings, PackRegionDetInputs
from ovd.registry import TRANSFORMS

init_default_scope('ovd')


@pytest.fixture
def cache_root(tmp_path):
    fields = {'bboxes': FieldSpec('float32', 4), 'scores': FieldSpec('float32'),
              'embeddings': FieldSpec('float16', 3)}
    with RegionCacheWriter(tmp_path, 0, 1, fields, durable=False) as writer:
        writer.append(7, {'bboxes': np.array([[10, 20, 50, 60], [190, 0, 200, 100], [0, 0, 5, 5]], np.float32),
                          'scores': np.array([0.9, 0.5, 0.1], np.float32),
                          'embeddings': np.arange(9, dtype=np.float16).reshape(3, 3)})
        writer.finish()
    return str(tmp_path)


def test_regions_follow_resize_and_flip(cache_root):
    results = {'img': np.zeros((100, 200, 3), np.uint8), 'img_id': 7, 'img_path': 'x.jpg',
               'img_shape': (100, 200), 'ori_shape': (100, 200)}
    for cfg in (dict(type='Resize', scale_factor=2.0, keep_ratio=True),
                dict(type='RandomFlip', prob=1.0, direction='horizontal')):
        results = TRANSFORMS.build(cfg)(results)
    results = LoadRegionEmbeddings(cache_root, num_regions=2)(results)
    # x2 then mirrored in a 400-wide image: [10,20,50,60] -> [20,40,100,120] -> [300,40,380,120]
    np.testing.assert_allclose(results['region_bboxes'], [[300, 40, 380, 120], [0, 0, 20, 200]])
    np.testing.assert_allclose(results['region_embeddings'], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_allclose(results['region_scores'], [0.9, 0.5])
    packed = PackRegionDetInputs()(results)
    regions = packed['data_samples'].regions
    assert regions.bboxes.shape == (2, 4) and regions.embeddings.dtype.is_floating_point


def _cropped():
    # a crop of x in [0, 100): the second region (x 190..200) falls outside
    return {'img': np.zeros((100, 200, 3), np.uint8), 'img_id': 7, 'img_path': 'x.jpg',
            'img_shape': (100, 100), 'ori_shape': (100, 200),
            'homography_matrix': np.eye(3, dtype=np.float32)}


def test_regions_cropped_away_are_kept_by_default(cache_root):
    # official vild_parser: regions are clipped, never filtered (filter_distill_boxes_size 0); the loss masks them
    out = LoadRegionEmbeddings(cache_root)(_cropped())
    np.testing.assert_allclose(out['region_bboxes'], [[10, 20, 50, 60], [100, 0, 100, 100], [0, 0, 5, 5]])
    np.testing.assert_allclose(out['region_embeddings'][:, 0], [0, 3, 6])
    np.testing.assert_allclose(out['region_scores'], [0.9, 0.5, 0.1])


def test_min_size_drops_regions_cropped_away(cache_root):
    out = LoadRegionEmbeddings(cache_root, min_size=1.0)(_cropped())
    np.testing.assert_allclose(out['region_bboxes'], [[10, 20, 50, 60], [0, 0, 5, 5]])
    np.testing.assert_allclose(out['region_embeddings'][:, 0], [0, 6])
    np.testing.assert_allclose(out['region_scores'], [0.9, 0.1])
    with pytest.raises(ValueError, match='min_size must be None or >= 0'):
        LoadRegionEmbeddings(cache_root, min_size=-1)


def test_missing_image_names_cache_and_image(cache_root):
    with pytest.raises(KeyError, match=r"no record for image '8'.*\(image y\.jpg\)"):
        LoadRegionEmbeddings(cache_root)({'img_id': 8, 'img_path': 'y.jpg', 'img_shape': (10, 10)})
