"""The BARON detector: Faster R-CNN whose second stage classifies through the frozen CLIP text encoder and learns
from bags of regions.

Training differs from mmdet's ``TwoStageDetector.loss`` in two places:

- labels: the OV datasets train with ``category_split='base'`` (labels index the 48 base classes of OV-COCO, or
  866 of OV-LVIS) while the head scores the full vocabulary (65 / 1203): ``train_label_space='base'`` maps label
  ``k`` to the k-th base class of the head (``'full'``: labels already index the head's vocabulary);
- after the detection losses, the RoI head's :meth:`~BaronRoIHead.distill_loss` runs on the same RPN proposals
  and the batch images (un-normalised back to RGB 0-255 for the CLIP teacher).
"""
import copy

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList
from torch import Tensor

from ovd.registry import MODELS


@MODELS.register_module()
class Baron(TwoStageDetector):
    """Faster R-CNN (R50-FPN or R50-C4) + :class:`BaronRoIHead`.

    Args:
        train_label_space: 'base' or 'full', see the module docstring.
        **kwargs: ``TwoStageDetector`` arguments (backbone, neck, rpn_head, roi_head, train_cfg, test_cfg, ...).
    """

    def __init__(self, *args, train_label_space: str = 'base', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if train_label_space not in ('base', 'full'):
            raise ValueError(f"train_label_space must be 'base' or 'full', got {train_label_space!r}")
        self.train_label_space = train_label_space

    def _to_head_labels(self, batch_data_samples: SampleList) -> None:
        if self.train_label_space == 'full':
            return
        base = self.roi_head.bbox_head.base_mask.nonzero().flatten()  # k-th base class -> head index
        for sample in batch_data_samples:
            labels = sample.gt_instances.labels
            if labels.numel() and int(labels.max()) >= base.numel():
                raise ValueError(f'{sample.metainfo.get("img_path", "an image")}: label {int(labels.max())} but '
                                 f'the head has {base.numel()} base classes (train_label_space="base")')
            sample.gt_instances.labels = base.to(labels.device)[labels]

    def rgb_images(self, batch_inputs: Tensor) -> Tensor:
        """Undo the data preprocessor's normalisation: ``[N, 3, H, W]`` RGB 0-255 for the teacher."""
        pre = self.data_preprocessor
        images = batch_inputs * pre.std + pre.mean if getattr(pre, '_enable_normalize', True) else batch_inputs
        # mmcv loads BGR; the preprocessor made it RGB only if it converted channels
        return images if getattr(pre, '_channel_conversion', False) else images.flip(1)

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """Detection losses (RPN, box head on base classes) + ``loss_bag`` + ``loss_single``."""
        self._to_head_labels(batch_data_samples)
        x = self.extract_feat(batch_inputs)
        losses = dict()
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_data_samples:
            sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
        rpn_losses, rpn_results_list = self.rpn_head.loss_and_predict(x, rpn_data_samples,
                                                                      proposal_cfg=proposal_cfg)
        for key in list(rpn_losses):
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        losses.update(rpn_losses)
        losses.update(self.roi_head.loss(x, rpn_results_list, batch_data_samples))
        losses.update(self.roi_head.distill_loss(x, rpn_results_list, batch_data_samples,
                                                 self.rgb_images(batch_inputs)))
        return losses
