"""The dataset class behind COCO, OV-COCO, LVIS and Objects365: a COCO-format file read into compact arrays.

It yields ovd's sample contract (``docs/datasets.md``): ``img_path``, ``img_id``, ``height``, ``width``,
``instances`` (``bbox`` xyxy pixels, ``bbox_label`` = index into the dataset's vocabulary, ``ignore_flag``).
``metainfo`` carries the :class:`~ovd.data.vocab.Vocabulary` under ``'vocabulary'`` and mmdet's ``classes``
tuple: that is how the vocabulary reaches the metric (``dataset_meta``) and the model (``VocabularyHook``), once,
read under the dataset's ``name_rule`` (the default prompt names, or the official rule of the method whose config
builds it, see :mod:`ovd.data.name_rules`). Only while training (mmdet's ``return_classes``, on by default when
not ``test_mode``) does a sample also carry ``text``, the vocabulary's texts under that rule: a training prompt
is built per sample, from the names of the sample's own source in a mixed-source stream.

Memory: each image is stored in mmengine's serialized buffer as a small dict whose instances are one packed
byte string (37 bytes per box; float64 xyxy, so coordinates equal mmdet's exactly) instead of a list of
dicts; :meth:`get_data_info` expands it on access, so mmdet's transforms see the usual ``instances`` list.
``serialize_data`` keeps its mmengine meaning.
"""
import os.path as osp
import pickle
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.datasets import BaseDetDataset
from mmengine.fileio import get_local_path

from ovd.registry import DATASETS

from ..coco_index import CocoIndex, group_by_image, load_coco_index
from ..image_paths import image_relpath_from_coco_url
from ..validation import validate_coco_index
from ..vocab import Vocabulary, VocabularyLike, get_vocabulary

# One packed record per box: xyxy pixels, label (index into the vocabulary), ignore flag (crowd).
INSTANCE_DTYPE = np.dtype([('bbox', '<f8', (4, )), ('label', '<i4'), ('ignore', 'u1')])

_POLICIES = ('error', 'drop')


@DATASETS.register_module()
class CocoStyleDetDataset(BaseDetDataset):
    """A detection dataset read from a COCO-format annotation file, labelled by a vocabulary.

    Args:
        vocabulary (str | Vocabulary, optional): The vocabulary labels index into (a built-in name such as
            ``'ov_coco'`` or ``'ov_lvis:base'``, or a Vocabulary). Defaults to the class's
            ``DEFAULT_VOCABULARY``. ``metainfo=dict(vocabulary=...)`` is accepted too.
        category_split (str, optional): Keep only the vocabulary's ``'base'`` (or ``'novel'``) categories:
            the dataset's vocabulary becomes that subset and other annotations are dropped (images kept).
        unknown_categories (str): What to do with annotations whose category is not in the vocabulary:
            ``'error'`` (default) or ``'drop'`` (e.g. OV-COCO drops the 15 excluded classes).
        bad_boxes (str): Boxes with non-positive or non-finite width/height: ``'drop'`` (default, one
            warning naming the first) or ``'error'``. Boxes under 1 pixel or outside the image are dropped
            silently, as mmdet's ``CocoDataset`` does.
        with_mask (bool): Keep polygon/RLE segmentations as ``instances[i]['mask']``. Costs memory.
        image_path_source (str): ``'file_name'`` or ``'coco_url'`` (LVIS: ``<split>/<file>`` from the URL).
        skip_images (Sequence[str]): Image paths (relative, as derived from the file) to leave out with a
            warning, e.g. images known to be missing from a release.
        name_rule (str): How category names become the prompt texts (:mod:`ovd.data.name_rules`), the
            model's (``VocabularyHook``) and the training samples' ``text``: ``'default'`` (qualifiers kept)
            or a method's official rule (``'glip'``, ``'mdetr'``, ``'vild'``, ``'baron'``, optionally
            ``'+unique'``). Each method's configs set their own.
        return_classes (bool, optional): Put the vocabulary's texts in each sample's ``text`` (mmdet's switch
            of that name). Defaults to ``not test_mode``: training pipelines and GLIP build prompts from them;
            at test time the model holds the vocabulary.
        **kwargs: ``ann_file``, ``data_root``, ``data_prefix=dict(img=...)``, ``filter_cfg``
            (``filter_empty_gt``, ``min_size``), ``pipeline``, ``test_mode``, ... as for mmdet datasets.
    """

    DEFAULT_VOCABULARY: str = 'coco'
    DEFAULT_PATH_SOURCE: str = 'file_name'
    LVIS_STYLE: bool = False  # carry neg_category_ids / not_exhaustive_category_ids

    def __init__(self,
                 *args,
                 vocabulary: Optional[VocabularyLike] = None,
                 category_split: Optional[str] = None,
                 unknown_categories: str = 'error',
                 bad_boxes: str = 'drop',
                 with_mask: bool = False,
                 image_path_source: Optional[str] = None,
                 skip_images: Sequence[str] = (),
                 name_rule: str = 'default',
                 return_classes: Optional[bool] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        metainfo = dict(metainfo or {})
        vocabulary = vocabulary if vocabulary is not None else metainfo.pop('vocabulary', None)
        vocab = get_vocabulary(vocabulary if vocabulary is not None else self.DEFAULT_VOCABULARY)
        self.full_vocabulary: Vocabulary = vocab
        if category_split is not None:
            vocab = vocab.subset(split=category_split)
            if len(vocab) == 0:
                raise ValueError(f'vocabulary {vocab.name!r} has no {category_split!r} categories')
        if 'classes' in metainfo and tuple(metainfo['classes']) != vocab.names:
            raise ValueError('metainfo["classes"] disagrees with the vocabulary; choose categories with '
                             '`vocabulary=` (and `category_split=`) instead of `classes`')
        for name, value in (('unknown_categories', unknown_categories), ('bad_boxes', bad_boxes)):
            if value not in _POLICIES:
                raise ValueError(f'{name} must be one of {_POLICIES}, got {value!r}')
        metainfo.update(vocab.metainfo())
        self.vocabulary: Vocabulary = vocab
        self.category_split = category_split
        self.unknown_categories = unknown_categories
        self.bad_boxes = bad_boxes
        self.with_mask = with_mask
        self.image_path_source = image_path_source or self.DEFAULT_PATH_SOURCE
        if self.image_path_source not in ('file_name', 'coco_url'):
            raise ValueError("image_path_source must be 'file_name' or 'coco_url', "
                             f'got {image_path_source!r}')
        self.skip_images = tuple(skip_images)
        self.name_rule = name_rule
        self._text = vocab.prompt_texts(name_rule)
        #: What loading kept and dropped: ``images``, ``boxes``, ``crowd_boxes``, ``skipped_images`` and
        #: ``dropped_{not_in_vocabulary,other_split,bad_box,tiny_or_outside}``.
        self.load_stats: Dict[str, int] = {}
        if return_classes is None:
            return_classes = not kwargs.get('test_mode', False)
        super().__init__(*args, metainfo=metainfo, return_classes=return_classes, **kwargs)

    # -- loading ------------------------------------------------------------------------------------
    def image_relpath(self, image: dict) -> str:
        """The image's path relative to ``data_prefix['img']``."""
        if 'coco_url' in image and (self.image_path_source == 'coco_url' or 'file_name' not in image):
            return image_relpath_from_coco_url(image['coco_url'])
        return image['file_name']

    def load_data_list(self) -> List[dict]:
        with get_local_path(self.ann_file, backend_args=self.backend_args) as local_path:
            index = load_coco_index(local_path, keep_segmentation=self.with_mask)
        index.path = str(self.ann_file)
        return self._build_data_list(index)

    def _build_data_list(self, index: CocoIndex) -> List[dict]:
        path = index.path
        checked = validate_coco_index(index, self.full_vocabulary, unknown_categories=self.unknown_categories,
                                      bad_boxes=self.bad_boxes)
        image_pos, in_full, good_box = checked.image_pos, checked.in_vocabulary, checked.good_box
        labels = self.vocabulary.labels_of_ids(index.ann_category_ids)
        in_vocab = labels >= 0
        stats = {'dropped_not_in_vocabulary': int((~in_full).sum()),
                 'dropped_other_split': int((in_full & ~in_vocab).sum()),
                 'dropped_bad_box': int((in_vocab & ~good_box).sum())}
        if stats['dropped_bad_box']:
            first = int(np.argmin(good_box | ~in_vocab))
            warnings.warn(f'{path}: dropped {stats["dropped_bad_box"]} boxes with non-positive size, first '
                          f'annotations[{first}] (id={int(index.ann_ids[first])}) field \'bbox\'',
                          stacklevel=2)

        # mmdet's CocoDataset rules: drop boxes under 1 px or not overlapping the image.
        heights = np.asarray([im['height'] for im in index.images], dtype=np.float64)
        widths = np.asarray([im['width'] for im in index.images], dtype=np.float64)
        x, y, w, h = index.ann_bboxes.T
        img_w, img_h = widths[image_pos], heights[image_pos]
        inter_w = np.minimum(x + w, img_w) - np.maximum(x, 0)
        inter_h = np.minimum(y + h, img_h) - np.maximum(y, 0)
        visible = (w >= 1) & (h >= 1) & (inter_w > 0) & (inter_h > 0)
        keep = in_vocab & good_box & visible
        stats['dropped_tiny_or_outside'] = int((in_vocab & good_box & ~visible).sum())

        kept = np.nonzero(keep)[0]
        order, starts = group_by_image(image_pos[kept], len(index.images))
        kept = kept[order]
        packed = np.empty(len(kept), dtype=INSTANCE_DTYPE)
        bb = index.ann_bboxes[kept]
        packed['bbox'] = np.stack([bb[:, 0], bb[:, 1], bb[:, 0] + bb[:, 2], bb[:, 1] + bb[:, 3]], axis=1)
        packed['label'] = labels[kept]
        packed['ignore'] = index.ann_iscrowd[kept]
        segms = index.ann_segmentations

        skip = set(self.skip_images)
        skipped: List[str] = []
        img_prefix = self.data_prefix.get('img', '') or ''
        data_list = []
        included = np.ones(len(index.images), dtype=bool)
        for i, image in enumerate(index.images):
            rel = self.image_relpath(image)
            if rel in skip:
                skipped.append(rel)
                included[i] = False
                continue
            s, e = int(starts[i]), int(starts[i + 1])
            info = {
                'img_id': int(image['id']),
                'img_path': osp.join(img_prefix, rel),
                'height': int(image['height']),
                'width': int(image['width']),
                'seg_map_path': None,
                '_instances': packed[s:e].tobytes(),
            }
            if segms is not None:
                info['_masks'] = [segms[j] for j in kept[s:e]]
            if self.LVIS_STYLE:
                info['neg_category_ids'] = list(image.get('neg_category_ids', ()))
                info['not_exhaustive_category_ids'] = list(image.get('not_exhaustive_category_ids', ()))
            data_list.append(info)
        if skipped:
            warnings.warn(f'{path}: skipped {len(skipped)} images known to be missing: {", ".join(skipped)}',
                          stacklevel=2)
        box_image = np.repeat(np.arange(len(index.images)), np.diff(starts))  # image of each packed box
        in_data = included[box_image]
        stats.update(images=len(data_list), boxes=int(in_data.sum()), skipped_images=len(skipped),
                     crowd_boxes=int(packed['ignore'][in_data].sum()))
        self.load_stats = stats
        return data_list

    def filter_data(self) -> List[dict]:
        """``filter_cfg``: ``filter_empty_gt`` drops images without instances, ``min_size`` drops images whose
        shorter side is smaller. Nothing is filtered in test mode."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        return [info for info in self.data_list
                if (not filter_empty_gt or len(info['_instances']) > 0)
                and min(info['width'], info['height']) >= min_size]

    def _serialize_data(self) -> Tuple[np.ndarray, np.ndarray]:
        """mmengine's serialization (same pickle protocol, same ``data_bytes``/``data_address`` layout), minus
        its per-record numpy arrays and its ``gc.collect()``: our records hold no reference cycles, so
        clearing ``data_list`` frees them at once, and a full collection costs seconds in a process holding
        torch."""
        buffers = [pickle.dumps(info, protocol=4) for info in self.data_list]
        data_address = np.cumsum(np.fromiter(map(len, buffers), dtype=np.int64, count=len(buffers)))
        data_bytes = np.frombuffer(bytearray().join(buffers), dtype=np.uint8)  # writable, no extra copy
        self.data_list.clear()
        return data_bytes, data_address

    # -- access -------------------------------------------------------------------------------------
    def get_data_info(self, idx: int) -> dict:
        """The sample contract for image ``idx`` (instances expanded from the packed record)."""
        info = super().get_data_info(idx)
        packed = np.frombuffer(info.pop('_instances'), dtype=INSTANCE_DTYPE)
        masks = info.pop('_masks', None)
        instances = [{'bbox': bbox, 'bbox_label': label, 'ignore_flag': ignore}
                     for bbox, label, ignore in zip(packed['bbox'].tolist(),
                                                    packed['label'].tolist(), packed['ignore'].tolist())]
        if masks is not None:
            for instance, mask in zip(instances, masks):
                if mask:
                    instance['mask'] = mask
        info['instances'] = instances
        if self.return_classes:
            info['text'] = self._text
        if self.LVIS_STYLE:
            # Labels of the same categories; ids outside the vocabulary (e.g. rare ones in 'ov_lvis:base') are
            # left out here but kept in the *_category_ids lists.
            for key in ('neg', 'not_exhaustive'):
                labels = self.vocabulary.labels_of_ids(info[f'{key}_category_ids'])
                info[f'{key}_labels'] = labels[labels >= 0].tolist()
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """Labels present in image ``idx`` (used by class-aware samplers), without building instance dicts."""
        info = BaseDetDataset.get_data_info(self, idx)  # mmengine's: deserialise only
        return np.frombuffer(info['_instances'], dtype=INSTANCE_DTYPE)['label'].tolist()
