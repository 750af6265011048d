"""BARON's RoI head: mmdet's ``StandardRoIHead`` with the frozen CLIP and the bag distillation.

It owns the frozen CLIP (:class:`FrozenCLIP`), binds it to the pseudo-word box head, and adds
:meth:`BaronRoIHead.distill_loss`: seed proposals -> bags of regions (vectorised over the batch) -> RoI features
of every region -> pseudo words of the distillation branch -> the two InfoNCE losses against the CLIP teacher on
the bag crops. Works for R50-FPN (multi-level RoI extractor) and R50-C4 (``shared_head`` = res5).
"""
from typing import Dict, List, Optional

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor

from ovd.registry import MODELS
from .boxes_cache import BoxesCache
from .distill import BagDistiller
from .frozen_clip import FrozenCLIP
from .neighborhood import sample_bags
from .proposals import select_seeds

DEFAULT_SEEDS = dict(topk=300, shape_ratio_thr=0.25, area_ratio_thr=0.01, objectness_thr=0.85, nms_thr=0.1)
DEFAULT_SAMPLING = dict(max_groups=3, max_permutations=2, alpha=3.0, cut_off_thr=0.3, base_probability=0.3,
                        interval=-0.1)


@MODELS.register_module()
class BaronRoIHead(StandardRoIHead):
    """Standard RoI head + frozen CLIP + bag-of-regions distillation.

    Args:
        clip: :class:`ovd.text.clip.OpenCLIPEncoder` arguments (e.g. ``model_name='ViT-B-32',
            pretrained='openai'`` or a local weights file).
        distill: None (a base-only detector with the pseudo-word classifier) or a dict with ``seeds``
            (:func:`select_seeds` arguments + ``use_gt``), ``sampling`` (:func:`sample_bags` arguments),
            ``boxes_cache`` (None, or :class:`BoxesCache` arguments besides those taken from ``seeds``) and
            :class:`BagDistiller` arguments (``bag_weight``, ``single_weight``, ``bag_temp``, ``single_temp``,
            ``queue_length``).
        **kwargs: ``StandardRoIHead`` arguments; ``bbox_head`` must be a :class:`BaronBBoxHead`.
    """

    def __init__(self, clip: dict, distill: Optional[dict] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clip = FrozenCLIP(clip)
        self.bbox_head.bind_clip(self.clip)
        self.distiller, self.boxes_cache = None, None
        if distill is not None:
            distill = dict(distill)
            seeds = dict(DEFAULT_SEEDS, **distill.pop('seeds', {}))
            self.use_gt = bool(seeds.pop('use_gt', True))
            self.seed_cfg = seeds
            self.sampling_cfg = dict(DEFAULT_SAMPLING, **distill.pop('sampling', {}))
            cache = distill.pop('boxes_cache', None)
            self.boxes_cache = None if cache is None else BoxesCache(
                **dict(dict(num_proposals=seeds['topk'], nms_thr=seeds['nms_thr'],
                            score_thr=seeds['objectness_thr']), **cache))
            distill.setdefault('words_drop_ratio', self.bbox_head.words_drop_ratio)
            self.distiller = BagDistiller(self.bbox_head.num_words, self.bbox_head.word_dim, self.clip.embed_dim,
                                          **distill)

    def region_features(self, x: tuple, rois: Tensor) -> Tensor:
        """RoI features ``[N, C, h, w]`` of rois ``[N, 5]`` (batch index, xyxy), through the shared head if any."""
        feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs], rois)
        return self.shared_head(feats) if self.with_shared_head else feats

    def distill_loss(self, x: tuple, rpn_results_list: List[InstanceData], batch_data_samples: SampleList,
                     images: Tensor) -> Dict[str, Tensor]:
        """Bag- and region-level distillation losses of a batch.

        Args:
            x: backbone/neck features.
            rpn_results_list: per image the RPN proposals (``bboxes``, ``scores``).
            batch_data_samples: with ``img_shape``, ``img_id`` and ``gt_instances``.
            images: ``[N, 3, H, W]`` RGB 0-255, the padded batch the features come from.

        Returns:
            ``loss_bag``, ``loss_single``.
        """
        if self.distiller is None:
            return {}
        device = images.device
        seeds, seed_image, seed_hw = [], [], []
        for i, (proposals, sample) in enumerate(zip(rpn_results_list, batch_data_samples)):
            gt = sample.gt_instances.bboxes if self.use_gt else None
            hw = sample.metainfo['img_shape'][:2]
            # StandardRoIHead.loss renames the proposals' bboxes to priors
            bboxes = proposals.bboxes if 'bboxes' in proposals else proposals.priors
            selected = select_seeds(bboxes, proposals.scores, hw, gt, **self.seed_cfg)
            boxes = selected.boxes
            if self.boxes_cache is not None:
                boxes, _ = self.boxes_cache(boxes, selected.scores, int(sample.metainfo.get('img_id', i)),
                                            sample.metainfo)
            seeds.append(boxes)
            seed_image.append(torch.full((boxes.shape[0],), i, device=device, dtype=torch.long))
            seed_hw.append(boxes.new_tensor(hw).expand(boxes.shape[0], 2))
        seed_image = torch.cat(seed_image)
        bags = sample_bags(torch.cat(seeds), torch.cat(seed_hw), **self.sampling_cfg)
        bag_image = seed_image[bags.bag_proposal]
        image_ids = torch.tensor([int(s.metainfo.get('img_id', i)) for i, s in enumerate(batch_data_samples)],
                                 device=device)

        region_image = bag_image[bags.region_bag]
        rois = torch.cat([region_image[:, None].to(bags.region_boxes), bags.region_boxes], dim=1)
        region_words = self.bbox_head.pseudo_words(self.region_features(x, rois), branch='kd')
        pooled, patches = self.distiller.teacher(self.clip, images, bags.spanned, bag_image)
        return self.distiller.loss(self.clip, region_words, bags, image_ids[bag_image], pooled, patches)
