"""LVIS-format detection data as MDETR's LVIS fine-tuning data: one caption per (image, class).

MDETR fine-tunes on LVIS from captions made of one class name each (ashkamath/mdetr
``scripts/fine-tuning/lvis_coco_format.py``): an image whose positive classes are ``c_1 .. c_n`` gives the
records ``(I, c_1) .. (I, c_n)``, each holding every box of its class, and every class of the image's
``neg_category_ids`` gives a record ``(I, c)`` with no box, whose target is "no object" for every query. The
official loader (``datasets/coco.py`` ``ModulatedDetection``, a torchvision ``CocoDetection``) keeps those
box-less records. This is the recipe the paper's LVIS evaluation matches: one class name per caption, score
``1 - p(no-object)``.

:class:`ModulatedLVISDataset` builds those records on the fly from an LVIS v1 file (its own ``vocabulary``,
``category_split`` and ``name_rule``, as :class:`~ovd.data.datasets.lvis.OVLVISDataset`), so no preprocessed
file is needed: each record's ``text`` is the class's prompt text, ``tokens_positive`` its one phrase (the
whole caption) when it has boxes, and its boxes are labelled 0 (the phrase index), the grounding sample
contract. Negative classes outside the vocabulary (e.g. novel ones under ``category_split='base'``) are left
out, as their boxes are.
"""
from typing import List

import numpy as np

from ovd.registry import DATASETS

from ..coco_index import CocoIndex
from .coco_style import INSTANCE_DTYPE
from .lvis import OVLVISDataset


@DATASETS.register_module()
class ModulatedLVISDataset(OVLVISDataset):
    """One class-name caption per (image, positive class) and per (image, negative class); see the module
    docstring.

    Args:
        with_negatives (bool): Add the box-less records of each image's ``neg_category_ids`` (official: True).
        **kwargs: :class:`~ovd.data.datasets.coco_style.CocoStyleDetDataset` arguments (``vocabulary``,
            ``category_split``, ``name_rule``, ``ann_file``, ...). Training data only: ``test_mode`` and
            ``with_mask`` are refused.
    """

    def __init__(self, *args, with_negatives: bool = True, **kwargs) -> None:
        if kwargs.get('test_mode'):
            raise ValueError('ModulatedLVISDataset is training data (one caption per class); evaluate with '
                             'LVISV1Dataset/OVLVISDataset, whose samples carry the whole vocabulary')
        if kwargs.get('with_mask'):
            raise ValueError('ModulatedLVISDataset does not carry masks (MDETR fine-tunes boxes only)')
        self.with_negatives = with_negatives
        super().__init__(*args, **kwargs)

    def _build_data_list(self, index: CocoIndex) -> List[dict]:
        records = []
        for info in super()._build_data_list(index):
            packed = np.frombuffer(info['_instances'], dtype=INSTANCE_DTYPE)
            # classes in order of their first box, as the official script groups an image's annotations
            labels = list(dict.fromkeys(packed['label'].tolist()))
            for label in labels:
                records.append({**info, '_instances': packed[packed['label'] == label].tobytes(),
                                'caption_label': int(label)})
            if self.with_negatives:
                negatives = self.vocabulary.labels_of_ids(info['neg_category_ids'])
                for label in negatives[negatives >= 0].tolist():
                    if label in labels:
                        raise ValueError(f'{index.path}: images (id={info["img_id"]}) field '
                                         f'\'neg_category_ids\': category {int(self.vocabulary.ids[label])} has '
                                         f'boxes in the image')
                    records.append({**info, '_instances': b'', 'caption_label': int(label)})
        self.load_stats['records'] = len(records)
        return records

    def filter_data(self) -> List[dict]:
        """``min_size`` as the parent; box-less records are the negatives, kept whatever ``filter_empty_gt``
        says (the official loader keeps them)."""
        min_size = (self.filter_cfg or {}).get('min_size', 0)
        return [info for info in self.data_list if min(info['width'], info['height']) >= min_size]

    def get_data_info(self, idx: int) -> dict:
        """The record's grounding sample: ``text`` (one class name), ``tokens_positive``, ``phrases`` and its
        class's boxes labelled 0."""
        info = super().get_data_info(idx)
        label = info.pop('caption_label')
        caption = self._text[label]
        info['text'] = caption
        positive = bool(info['instances'])
        info['tokens_positive'] = [[[0, len(caption)]]] if positive else []
        info['phrases'] = [caption] if positive else []
        info['phrase_label_ids'] = [label] if positive else []
        for instance in info['instances']:
            instance['bbox_label'] = 0
        return info
