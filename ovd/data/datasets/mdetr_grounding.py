"""MDETR's preprocessed grounding files: the "mixed" pre-training data, the modulated LVIS fine-tuning data.

Files (official preprocessed annotations, ashkamath/mdetr ``datasets/coco.py`` ``ModulatedDetection`` and
``datasets/mixed.py``; COCO layout, one image entry per caption): ``final_mixed_train[_no_coco].json`` (COCO
referring expressions, Visual Genome, GQA) and ``finetune_lvis[1|10]_{train,val}.json`` (LVIS images with
captions made of class names). ``images[*]`` has ``id``, ``file_name``, ``height``, ``width``, ``caption``
and, in the mixed file, ``data_source`` (``'coco'``: a COCO train2014 image, otherwise a Visual Genome/GQA
image); ``annotations[*]`` has ``image_id``, ``bbox`` (xywh) and ``tokens_positive`` (the character spans of
the phrase the box belongs to). Boxes with the same spans belong to the same phrase, so a sample's phrases are
the distinct span lists of its boxes, in order of first appearance. Samples follow the grounding sample
contract (``text``, ``tokens_positive``, ``phrases``, ``instances`` with ``bbox_label`` = phrase index), as
:class:`ovd.data.datasets.flickr30k.MDETRFlickr30kDataset` (whose files carry the evaluated phrases separately).
"""
import json
import os.path as osp
from pathlib import Path
from typing import Any, Dict, List, Optional

from mmdet.datasets import BaseDetDataset

from ovd.registry import DATASETS


class MDETRGroundingFormatError(ValueError):
    """Bad input in an MDETR grounding file; the message names the file, the record and the field."""

    def __init__(self, file: Path, record: str, field: str, problem: str) -> None:
        super().__init__(f'{file}: {record}: field {field!r}: {problem}')


def _need(entry: dict, key: str, file: Path, record: str) -> Any:
    if key not in entry:
        raise MDETRGroundingFormatError(file, record, key, 'missing')
    return entry[key]


def load_mdetr_grounding(path: Path, img_prefixes: Dict[str, str]) -> List[Dict[str, Any]]:
    """Read an MDETR grounding file into grounding samples.

    Args:
        path: the JSON file.
        img_prefixes: image folder per source: ``{'img': ...}`` for single-source files, or
            ``{'coco': ..., 'vg': ...}`` for the mixed file (a ``data_source`` other than ``'coco'`` reads
            from ``'vg'``, as the official loader).

    Returns:
        One sample per image entry that has at least one box.
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise MDETRGroundingFormatError(path, 'file', 'json',
                                        f'malformed JSON at line {err.lineno}') from None
    for key in ('images', 'annotations'):
        if not isinstance(data.get(key), list):
            raise MDETRGroundingFormatError(path, 'file', key, 'missing or not a list')
    samples, by_id = [], {}
    for i, img in enumerate(data['images']):
        record = f'images[{i}] (id={img.get("id")})'
        caption = _need(img, 'caption', path, record)
        if 'img' in img_prefixes:
            folder = img_prefixes['img']
        else:
            folder = img_prefixes['coco' if _need(img, 'data_source', path, record) == 'coco' else 'vg']
        sample = {
            'img_path': osp.join(folder, _need(img, 'file_name', path, record)),
            'img_id': _need(img, 'id', path, record), 'height': _need(img, 'height', path, record),
            'width': _need(img, 'width', path, record), 'text': caption, 'phrases': [], 'tokens_positive': [],
            'instances': [], 'dataset_source': img.get('data_source', ''),
        }
        by_id[sample['img_id']] = (sample, {})
        samples.append(sample)
    for k, ann in enumerate(data['annotations']):
        record = f'annotations[{k}] (id={ann.get("id")})'
        image_id = _need(ann, 'image_id', path, record)
        if image_id not in by_id:
            raise MDETRGroundingFormatError(path, record, 'image_id', f'{image_id} is not in "images"')
        sample, phrase_of = by_id[image_id]
        bbox = _need(ann, 'bbox', path, record)
        if len(bbox) != 4 or bbox[2] <= 0 or bbox[3] <= 0:
            raise MDETRGroundingFormatError(path, record, 'bbox',
                                            f'{bbox} must be [x, y, w, h] with w, h > 0')
        spans = tuple(tuple(s) for s in _need(ann, 'tokens_positive', path, record))
        caption = sample['text']
        if not spans or any(not 0 <= s < e <= len(caption) for s, e in spans):
            raise MDETRGroundingFormatError(path, record, 'tokens_positive',
                                            f'{[list(s) for s in spans]} not within the caption of '
                                            f'{len(caption)} chars')
        if spans not in phrase_of:
            phrase_of[spans] = len(sample['tokens_positive'])
            sample['tokens_positive'].append([list(s) for s in spans])
            sample['phrases'].append(' '.join(caption[s:e] for s, e in spans))
        x, y, w, h = bbox
        sample['instances'].append({'bbox': [x, y, x + w, y + h], 'bbox_label': phrase_of[spans],
                                    'ignore_flag': int(ann.get('iscrowd', 0))})
    return [s for s in samples if s['instances']]


@DATASETS.register_module()
class MDETRGroundingDataset(BaseDetDataset):
    """An MDETR preprocessed grounding file (see the module docstring).

    Args:
        data_prefix: ``dict(img=...)``, or for the mixed file ``dict(coco=..., vg=...)``: the COCO train2014
        and
            Visual Genome/GQA image folders (relative to ``data_root``).
        **kwargs: ``BaseDetDataset`` arguments (``data_root``, ``ann_file``, ``pipeline``, ``filter_cfg``...).
    """
    METAINFO = {'classes': (), 'dataset_type': 'grounding', 'name': 'mdetr_grounding'}

    def __init__(self, *args, data_prefix: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, data_prefix=dict(data_prefix or dict(img='')), **kwargs)

    def load_data_list(self) -> List[dict]:
        return load_mdetr_grounding(Path(self.ann_file), self.data_prefix)

    def filter_data(self) -> List[dict]:
        return self.data_list  # samples without boxes are never yielded
