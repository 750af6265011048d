"""Flickr30k Entities grounding datasets: the raw release, ovd's prepared index, MDETR's JSON files.

Each dataset yields one sample per (image, sentence) with the grounding fields of the sample contract:
``text`` (the caption), ``phrases``, ``tokens_positive`` (per phrase, its character spans), ``phrase_ids``
(entity ids), ``phrase_types``, and ``instances`` whose ``bbox_label`` is the phrase index (a phrase with
several boxes has several instances; in merged-box mode one enclosing box). Following the evaluation protocol
(MDETR's ``flickr_eval.py``: only phrases whose entity has boxes are evaluated, sentences without such a
phrase are skipped), phrases without boxes are left out unless ``keep_boxless_phrases=True``, in which case
they are kept and marked by
``phrase_has_box``/``phrase_is_scene``/``phrase_is_nobox``/``phrase_is_notvisual``.
"""

import json
import os.path as osp
from pathlib import Path
from typing import Any, Dict, Iterable, List

from mmdet.datasets import BaseDetDataset

from ovd.registry import DATASETS

from ..flickr30k.index import iter_raw_records, load_index, record_phrases
from ..flickr30k.raw import DEFAULT_BOX_CONVENTION, Flickr30kFormatError, check_box_convention, merge_boxes


def samples_from_record(
    record: Dict[str, Any],
    img_prefix: str,
    merge: bool = False,
    keep_boxless_phrases: bool = False,
    box_convention: str = DEFAULT_BOX_CONVENTION,
) -> List[Dict[str, Any]]:
    """Turn one image record into grounding samples, one per sentence that has a phrase with boxes.

    Args:
        record: An image record (see :func:`ovd.data.flickr30k.index.load_raw_image_record`).
        img_prefix: Folder of the images.
        merge: One enclosing box per phrase (merged-box protocol) instead of all its boxes.
        keep_boxless_phrases: Keep phrases without boxes (marked) instead of dropping them.
        box_convention: ``'raw'`` (the XML integers, MDETR's and GLIP's boxes) or ``'pixel'`` (pixel edges).

    Returns:
        A list of samples (dicts) in sentence order.
    """
    scene, nobox = set(record['scene']), set(record['nobox'])
    samples = []
    for sentence_id, sentence in enumerate(record['sentences']):
        caption = sentence['caption']
        phrases, tokens_positive, phrase_ids, phrase_types, flags, instances = [], [], [], [], [], []
        for start, end, entity, types, entity_boxes in record_phrases(
            record, sentence, box_convention, keep_boxless_phrases
        ):
            label = len(phrases)
            phrases.append(caption[start:end])
            tokens_positive.append([[start, end]])
            phrase_ids.append(int(entity))
            phrase_types.append(types)
            flags.append((bool(entity_boxes), entity in scene, entity in nobox, entity == 0))
            for box in [merge_boxes(entity_boxes)] if merge and entity_boxes else entity_boxes:
                instances.append({'bbox': list(box), 'bbox_label': label, 'ignore_flag': 0})
        if not instances:
            continue
        samples.append(
            {
                'img_path': osp.join(img_prefix, record['file_name']),
                'img_id': int(record['id']),
                'sentence_id': sentence_id,
                'height': record['height'],
                'width': record['width'],
                'text': caption,
                'phrases': phrases,
                'tokens_positive': tokens_positive,
                'phrase_ids': phrase_ids,
                'phrase_types': phrase_types,
                'phrase_has_box': [f[0] for f in flags],
                'phrase_is_scene': [f[1] for f in flags],
                'phrase_is_nobox': [f[2] for f in flags],
                'phrase_is_notvisual': [f[3] for f in flags],
                'instances': instances,
            }
        )
    return samples


@DATASETS.register_module()
class Flickr30kEntitiesDataset(BaseDetDataset):
    """Flickr30k Entities from the raw release or from ovd's prepared index.

    ``ann_file`` is either a split list of the release (``val.txt``: the sentences and XML files are read from
    ``sentences_dir``/``annotations_dir`` under ``data_root``) or the index ``ovd prepare flickr30k`` writes
    (``ovd_flickr30k/flickr30k_entities_val.json``: much faster to load).

    Args:
        merge_boxes: Merged-box mode: one box enclosing all boxes of a phrase.
        keep_boxless_phrases: Keep phrases without boxes (``nobox``, ``scene``, ``notvisual``), marked.
        data_prefix: ``dict(img=...)``, default ``flickr30k-images/`` (relative to ``data_root``).
        sentences_dir: Folder of ``<id>.txt`` sentence files, relative to ``data_root``.
        annotations_dir: Folder of ``<id>.xml`` box files, relative to ``data_root``.
        bad_boxes: ``'error'`` or ``'drop'`` for boxes with non-positive size (raw files only).
        box_convention: ``'raw'`` (default: the XML integers as written, the boxes MDETR's evaluator scores
            against and MDETR/GLIP train on) or ``'pixel'`` (``[xmin - 1, ymin - 1, xmax, ymax]``; a fidelity
            deviation, see docs/evaluation.md for its effect on Recall@k).
        **kwargs: ``BaseDetDataset`` arguments (``data_root``, ``ann_file``, ``data_prefix=dict(img=...)``,
            ``pipeline``, ``test_mode``, ``filter_cfg``...).
    """

    METAINFO = {'classes': (), 'dataset_type': 'grounding', 'name': 'flickr30k_entities'}

    def __init__(
        self,
        *args,
        merge_boxes: bool = False,
        keep_boxless_phrases: bool = False,
        sentences_dir: str = 'Sentences',
        annotations_dir: str = 'Annotations',
        bad_boxes: str = 'error',
        box_convention: str = DEFAULT_BOX_CONVENTION,
        **kwargs,
    ) -> None:
        self.box_convention = check_box_convention(box_convention)
        self.merge_boxes = merge_boxes
        self.keep_boxless_phrases = keep_boxless_phrases
        self.sentences_dir = sentences_dir
        self.annotations_dir = annotations_dir
        self.bad_boxes = bad_boxes
        kwargs.setdefault('data_prefix', dict(img='flickr30k-images/'))  # the release's image folder
        super().__init__(*args, **kwargs)

    def _records(self) -> Iterable[Dict[str, Any]]:
        ann_file = Path(self.ann_file)
        if ann_file.suffix == '.json':
            return load_index(ann_file)
        root = Path(self.data_root) if self.data_root else ann_file.parent
        return iter_raw_records(root, ann_file, self.sentences_dir, self.annotations_dir, self.bad_boxes)

    def load_data_list(self) -> List[dict]:
        img_prefix = self.data_prefix.get('img', '')
        data_list = []
        for record in self._records():
            data_list.extend(
                samples_from_record(
                    record, img_prefix, self.merge_boxes, self.keep_boxless_phrases, self.box_convention
                )
            )
        return data_list

    def filter_data(self) -> List[dict]:
        # Samples without boxes are already skipped (they are not evaluated); only a size filter may remain.
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        min_size = self.filter_cfg.get('min_size', 0)
        return [d for d in self.data_list if min(d['width'], d['height']) >= min_size]


def _require(record: dict, key: str, file: Path, section: str, index: int) -> Any:
    if key not in record:
        raise Flickr30kFormatError(file, 'missing', f'{section}[{index}] (id={record.get("id")})', key)
    return record[key]


def load_mdetr_flickr(path: Path, img_prefix: str = '') -> List[Dict[str, Any]]:
    """Read MDETR's ``final_flickr_{separate,merged}GT_{split}.json`` (COCO layout, one image entry per
    sentence).

    Format (ashkamath/mdetr, ``datasets/flickr.py`` + ``coco.py``): ``images[*]`` has ``file_name``,
    ``height``, ``width``, ``id``, ``caption``, ``tokens_positive_eval`` (per evaluated phrase, its character
    spans), ``sentence_id`` and ``original_img_id``; ``annotations[*]`` has ``image_id``, ``bbox`` (xywh),
    ``tokens_positive`` (the spans of its phrase) and ``phrase_ids``. A box's phrase is the entry of
    ``tokens_positive_eval`` with the same spans.

    Returns:
        Samples in the same layout as :class:`Flickr30kEntitiesDataset` yields (without box-less phrases).
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise Flickr30kFormatError(path, 'file not found') from None
    except json.JSONDecodeError as err:
        raise Flickr30kFormatError(path, f'malformed JSON at line {err.lineno} column {err.colno}') from None
    for key in ('images', 'annotations'):
        if not isinstance(data.get(key), list):
            raise Flickr30kFormatError(path, 'missing or not a list', field=key)
    samples, by_id = [], {}
    for i, img in enumerate(data['images']):
        image_id = _require(img, 'id', path, 'images', i)
        if image_id in by_id:
            raise Flickr30kFormatError(path, 'duplicate image id', f'images[{i}] (id={image_id})', 'id')
        caption = _require(img, 'caption', path, 'images', i)
        spans = _require(img, 'tokens_positive_eval', path, 'images', i)
        for j, phrase_spans in enumerate(spans):
            for s, e in phrase_spans:
                if not 0 <= s < e <= len(caption):
                    raise Flickr30kFormatError(
                        path,
                        f'span {[s, e]} outside the caption of {len(caption)} chars',
                        f'images[{i}] (id={image_id})',
                        f'tokens_positive_eval[{j}]',
                    )
        sample = {
            'img_path': osp.join(img_prefix, _require(img, 'file_name', path, 'images', i)),
            'img_id': int(img.get('original_img_id', image_id)),
            'sentence_id': int(img.get('sentence_id', 0)),
            'mdetr_image_id': image_id,
            'height': _require(img, 'height', path, 'images', i),
            'width': _require(img, 'width', path, 'images', i),
            'text': caption,
            'phrases': [caption[sp[0][0] : sp[0][1]] for sp in spans],
            'tokens_positive': [[list(s) for s in sp] for sp in spans],
            'phrase_ids': [None] * len(spans),
            'instances': [],
        }
        by_id[image_id] = (sample, {tuple(map(tuple, sp)): j for j, sp in enumerate(spans)})
        samples.append(sample)
    for k, ann in enumerate(data['annotations']):
        record = f'annotations[{k}] (id={ann.get("id")})'
        image_id = _require(ann, 'image_id', path, 'annotations', k)
        if image_id not in by_id:
            raise Flickr30kFormatError(path, f'image_id {image_id} is not in "images"', record, 'image_id')
        sample, span_to_phrase = by_id[image_id]
        bbox = _require(ann, 'bbox', path, 'annotations', k)
        if len(bbox) != 4 or bbox[2] <= 0 or bbox[3] <= 0:
            raise Flickr30kFormatError(
                path, f'bbox {bbox} must be [x, y, w, h] with w, h > 0', record, 'bbox'
            )
        spans = tuple(map(tuple, _require(ann, 'tokens_positive', path, 'annotations', k)))
        if spans not in span_to_phrase:
            raise Flickr30kFormatError(
                path,
                f'tokens_positive {list(map(list, spans))} matches no phrase of '
                'the image\'s tokens_positive_eval',
                record,
                'tokens_positive',
            )
        label = span_to_phrase[spans]
        if 'phrase_ids' in ann:
            sample['phrase_ids'][label] = ann['phrase_ids']
        x, y, w, h = bbox
        sample['instances'].append(
            {'bbox': [x, y, x + w, y + h], 'bbox_label': label, 'ignore_flag': int(ann.get('iscrowd', 0))}
        )
    return samples


@DATASETS.register_module()
class MDETRFlickr30kDataset(BaseDetDataset):
    """Flickr30k Entities from MDETR's preprocessed ``final_flickr_{separate,merged}GT_{split}.json``.

    The ``mergedGT`` files already hold one box per phrase; ``separateGT`` all boxes. Samples have the same
    fields as :class:`Flickr30kEntitiesDataset` (``phrase_ids`` as written by MDETR).
    """

    METAINFO = {'classes': (), 'dataset_type': 'grounding', 'name': 'flickr30k_entities_mdetr'}

    def load_data_list(self) -> List[dict]:
        return load_mdetr_flickr(Path(self.ann_file), self.data_prefix.get('img', ''))

    def filter_data(self) -> List[dict]:
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        if self.filter_cfg.get('filter_empty_gt', False):
            return [d for d in self.data_list if d['instances']]
        return self.data_list
