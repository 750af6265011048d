"""The BARON detector: Faster R-CNN whose second stage classifies through the frozen CLIP text encoder and learns
from bags of regions.

Training differs from mmdet's ``TwoStageDetector.loss`` in two places:

- labels: the OV datasets train with ``category_split='base'`` (labels index the 48 base classes of OV-COCO, or
  866 of OV-LVIS) while the head scores the full vocabulary (65 / 1203): ``train_label_space='base'`` maps label
  ``k`` to the k-th base class of the head (``'full'``: labels already index the head's vocabulary);
- the distillation losses (:meth:`~BaronRoIHead.distill_loss`, on RPN proposals and the images un-normalised back
  to RGB 0-255 for the CLIP teacher) run on the distillation images: with two-branch data
  (:mod:`ovd.models.baron.data_preprocessor`, ovdet's 2 + 2 images per GPU) the ``kd_batch`` images, whose
  features and proposals (RPN without gradient, as ovdet's ``OVDTwoStageDetector.run_ovd``) are computed
  separately; with an ordinary batch (the shared-batch switch) the detection images, their features and proposals.
"""
import copy
from typing import Dict, List, Tuple, Union

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
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

    def _detection_losses(self, x: tuple, batch_data_samples: SampleList) -> Tuple[dict, List[InstanceData]]:
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
        return losses, rpn_results_list

    @torch.no_grad()
    def _proposals(self, x: tuple, batch_data_samples: SampleList) -> List[InstanceData]:
        metas = [sample.metainfo for sample in batch_data_samples]
        cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        return self.rpn_head.predict_by_feat(*self.rpn_head(x), batch_img_metas=metas, cfg=cfg, rescale=False)

    def loss(self, batch_inputs: Union[Tensor, Dict[str, Tensor]],
             batch_data_samples: Union[SampleList, Dict[str, SampleList]]) -> dict:
        """Detection losses (RPN, box head on base classes) + ``loss_bag`` + ``loss_single``.

        ``batch_inputs`` / ``batch_data_samples``: one batch (both losses on it), or dicts with the branches
        ``det_batch`` and ``kd_batch`` (:class:`~ovd.models.baron.data_preprocessor.BaronDataPreprocessor`).
        """
        branches = isinstance(batch_inputs, dict)
        det_inputs = batch_inputs.get('det_batch') if branches else batch_inputs
        det_samples = batch_data_samples.get('det_batch') if branches else batch_data_samples
        losses, x, rpn_results_list = dict(), None, None
        if det_inputs is not None:
            self._to_head_labels(det_samples)
            x = self.extract_feat(det_inputs)
            losses, rpn_results_list = self._detection_losses(x, det_samples)
        if self.roi_head.distiller is None:
            return losses
        if not branches:
            kd_inputs, kd_samples = batch_inputs, batch_data_samples
        else:
            kd_inputs, kd_samples = batch_inputs.get('kd_batch'), batch_data_samples.get('kd_batch')
            if kd_inputs is None:
                return losses
            self._to_head_labels(kd_samples)
            x = self.extract_feat(kd_inputs)
            rpn_results_list = self._proposals(x, kd_samples)
        losses.update(self.roi_head.distill_loss(x, rpn_results_list, kd_samples, self.rgb_images(kd_inputs)))
        return losses
