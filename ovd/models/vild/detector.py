"""The ViLD detector: Mask R-CNN whose training never sees novel classes and whose distillation targets come from
the region cache (or, slowly, from CLIP run online).

Two things differ from mmdet's ``MaskRCNN`` in training:

- training labels are mapped into the classifier's full vocabulary: the OV datasets train with
  ``category_split='base'`` (labels index the 866 base classes of OV-LVIS, or 48 of OV-COCO) while the classifier
  scores all classes (1203 / 65), so ``train_label_space='base'`` maps label ``k`` to the k-th base class; with
  ``'full'`` (labels already index the full vocabulary) instances of novel classes are dropped before the RPN and
  the RoI head, and the log says so once;
- with ``online_teacher``, samples whose ``regions`` carry boxes but no embeddings get their CLIP embeddings
  computed from the batch images each step. That is what the region cache saves; the perf benchmark
  ``benchmarks/perf/vild_train_step.py`` times both paths.
"""
from typing import Optional

from mmdet.models.detectors import MaskRCNN
from mmdet.structures import SampleList
from mmengine.logging import print_log
from torch import Tensor

from ovd.models.vild.clip_region_teacher import CLIPRegionTeacher
from ovd.registry import MODELS


@MODELS.register_module()
class ViLD(MaskRCNN):
    """Mask R-CNN for ViLD (the RoI head must be a :class:`~ovd.models.vild.roi_head.ViLDRoIHead`).

    Args:
        train_label_space: what training ``gt_instances.labels`` index: ``'base'`` (the base-class subset, as
            the OV datasets' ``category_split='base'`` produce) or ``'full'`` (the classifier's vocabulary).
        online_teacher: keyword arguments of :class:`CLIPRegionTeacher` (``clip``, ``crop_scales``,
            ``chunk_size``); None means distillation targets must come from the region cache.
        **kwargs: ``MaskRCNN`` arguments.
    """

    def __init__(self, *args, train_label_space: str = 'base', online_teacher: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if train_label_space not in ('base', 'full'):
            raise ValueError(f"train_label_space must be 'base' or 'full', got {train_label_space!r}")
        self.train_label_space = train_label_space
        self._warned_novel = False
        # kept out of the module tree: the frozen teacher must not land in checkpoints or the optimizer
        self.__dict__['_teacher'] = CLIPRegionTeacher(**online_teacher) if online_teacher else None

    @property
    def online_teacher(self) -> Optional[CLIPRegionTeacher]:
        return self.__dict__['_teacher']

    def to_full_vocabulary(self, batch_data_samples: SampleList) -> int:
        """Make training labels index the classifier's vocabulary, without novel classes, in place.

        Returns:
            How many novel-class instances were removed (always 0 for ``train_label_space='base'``).
        """
        base_mask = self.roi_head.bbox_head.base_mask
        if self.train_label_space == 'base':
            base_indices = base_mask.nonzero().flatten()  # [num_base]: k-th base class -> vocabulary index
            for sample in batch_data_samples:
                labels = sample.gt_instances.labels
                if labels.numel() and int(labels.max()) >= len(base_indices):
                    raise ValueError(
                        f'image {sample.metainfo.get("img_path", "?")}: label {int(labels.max())} is outside the '
                        f'{len(base_indices)} base classes; with train_label_space="base" the training dataset '
                        f'must use category_split="base"')
                sample.gt_instances.labels = base_indices[labels]
            return 0
        removed = 0
        for sample in batch_data_samples:
            labels = sample.gt_instances.labels
            keep = base_mask[labels]
            if not keep.all():
                removed += int((~keep).sum())
                sample.gt_instances = sample.gt_instances[keep]
        if removed and not self._warned_novel:
            print_log(f'ViLD: dropped {removed} novel-class instances from a training batch (novel classes are '
                      f'never training targets); an OV training set normally excludes them', logger='current',
                      level=30)
            self._warned_novel = True
        return removed

    def _teach_online(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> None:
        """Fill ``regions.embeddings`` with CLIP crop embeddings computed from the batch images."""
        todo = [s for s in batch_data_samples if s.get('regions') is not None and 'embeddings' not in s.regions]
        if not todo:
            return
        teacher = self.online_teacher.to(batch_inputs.device)
        pre = self.data_preprocessor
        # undo the data preprocessor's normalisation: the teacher wants RGB 0-255
        images = batch_inputs * pre.std + pre.mean if pre._enable_normalize else batch_inputs
        if not pre._channel_conversion:
            images = images[:, [2, 1, 0]]  # mmcv loads BGR
        index = {id(s): i for i, s in enumerate(batch_data_samples)}
        embeddings = teacher([images[index[id(s)]] for s in todo], [s.regions.bboxes for s in todo])
        for sample, emb in zip(todo, embeddings):
            sample.regions.embeddings = emb

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """Mask R-CNN losses on base classes, plus ``loss_distill`` when the RoI head distils.

        Args:
            batch_inputs: ``[B, 3, H, W]`` normalised images.
            batch_data_samples: ``gt_instances`` (labels in ``train_label_space``) and, for distillation,
                ``regions``.
        """
        self.to_full_vocabulary(batch_data_samples)
        if self.online_teacher is not None:
            self._teach_online(batch_inputs, batch_data_samples)
        return super().loss(batch_inputs, batch_data_samples)

    def _apply(self, fn, *args, **kwargs):  # .to()/.cuda()/.half() also move the out-of-tree teacher
        out = super()._apply(fn, *args, **kwargs)
        if self.online_teacher is not None:
            self.online_teacher._apply(fn, *args, **kwargs)
        return out

