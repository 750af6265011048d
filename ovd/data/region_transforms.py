"""Pipeline transforms that bring precomputed regions (boxes + teacher embeddings) from a region cache into a sample.

The cache stores boxes in the original image frame (see :mod:`ovd.data.region_cache`). Placed after the
geometric augmentations (resize, flip, crop), :class:`LoadRegionEmbeddings` maps them with the
``homography_matrix`` that mmdet's transforms accumulate and clips them to the augmented image. By default every
region is kept, as in the official ViLD parser (``vild_parser.py``: clipped, never filtered, since its
``filter_distill_boxes_size`` is 0); a region the crop pushed out of the image ends up with no area and it is the
loss that decides whether it counts (ViLD: :func:`ovd.models.vild.losses.valid_regions`). ``min_size`` instead
drops regions that shrink below it. :class:`PackRegionDetInputs` packs them as ``data_sample.regions``
(``bboxes [M, 4]``, ``embeddings [M, D]``, ``scores [M]``).
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import PackDetInputs
from mmdet.structures.bbox import bbox_project
from mmengine.structures import InstanceData

from ovd.registry import TRANSFORMS

from .region_cache import RegionCache


@TRANSFORMS.register_module()
class LoadRegionEmbeddings(BaseTransform):
    """Load an image's cached regions by its ``img_id`` and map them into the augmented frame.

    Required keys: ``img_id``, ``img_shape``; ``homography_matrix`` when geometric transforms ran.
    Added keys: ``region_bboxes`` (float32 ``[M, 4]``), ``region_scores`` (``[M]``) and, with
    ``with_embeddings``, ``region_embeddings`` (float32 ``[M, D]``).

    Args:
        cache_root: directory written by ``ovd precompute-regions``.
        num_regions: keep the first (highest-scoring) N cached regions; None keeps all (the official ViLD
            uses 300 per image).
        with_embeddings: load the teacher embeddings (False: boxes only, for an online teacher).
        min_size: None (default, the official behaviour) keeps every region; a number drops regions narrower or
            shorter than this many pixels after augmentation (ovd's earlier default was 1.0).
    """

    def __init__(self, cache_root: str, num_regions: Optional[int] = None, with_embeddings: bool = True,
                 min_size: Optional[float] = None) -> None:
        if min_size is not None and min_size < 0:
            raise ValueError(f'min_size must be None or >= 0, got {min_size}')
        self.cache_root = cache_root
        self.num_regions = num_regions
        self.with_embeddings = with_embeddings
        self.min_size = None if min_size is None else float(min_size)
        self._cache: Optional[RegionCache] = None

    @property
    def cache(self) -> RegionCache:
        if self._cache is None:  # opened lazily so building a dataset does not touch the cache
            self._cache = RegionCache(self.cache_root)
            for field in ('bboxes',) + (('embeddings',) if self.with_embeddings else ()):
                if field not in self._cache.fields:
                    raise KeyError(f'{self.cache_root}: the region cache has no field {field!r} '
                                   f'(fields: {sorted(self._cache.fields)})')
        return self._cache

    def transform(self, results: dict) -> dict:
        key = results['img_id']
        try:
            record = self.cache.get(key)
        except KeyError as err:
            raise KeyError(f'{err.args[0]} (image {results.get("img_path", "?")})') from None
        boxes = np.array(record['bboxes'][:self.num_regions], dtype=np.float32)  # writable copy
        height, width = results['img_shape'][:2]
        if results.get('homography_matrix') is not None and len(boxes):
            boxes = bbox_project(boxes, np.asarray(results['homography_matrix'], dtype=np.float32),
                                 img_shape=(height, width))
        else:
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        keep = np.ones(len(boxes), dtype=bool)
        if self.min_size is not None:
            keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_size) & ((boxes[:, 3] - boxes[:, 1]) >= self.min_size)
        results['region_bboxes'] = boxes[keep].astype(np.float32)
        if 'scores' in record:
            results['region_scores'] = np.asarray(record['scores'][:self.num_regions], np.float32)[keep]
        if self.with_embeddings:
            emb = np.asarray(record['embeddings'][:self.num_regions], dtype=np.float32)
            results['region_embeddings'] = emb[keep]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(cache_root={self.cache_root!r}, num_regions={self.num_regions}, '
                f'with_embeddings={self.with_embeddings}, min_size={self.min_size})')


@TRANSFORMS.register_module()
class PackRegionDetInputs(PackDetInputs):
    """mmdet's ``PackDetInputs`` that also packs ``region_*`` keys into ``data_sample.regions``."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'region_bboxes' in results:
            import torch
            regions = InstanceData(bboxes=torch.from_numpy(results['region_bboxes']))
            if 'region_embeddings' in results:
                regions.embeddings = torch.from_numpy(results['region_embeddings'])
            if 'region_scores' in results:
                regions.scores = torch.from_numpy(results['region_scores'])
            packed['data_samples'].regions = regions
        return packed
