"""BARON's two distillation losses on sampled bags: bag-level and region-level InfoNCE against the CLIP teacher.

Wu et al. (CVPR 2023, Sec. 3.3-3.4); weights, temperatures and queue lengths from ovdet's configs.

- Bag embedding (student): the pseudo words of all regions of a bag, each region's words plus the positional
  embedding of its box relative to the bag, concatenated in the bag's order between the start/end tokens, through
  the frozen text encoder: the end token's feature. Teacher: CLIP's image embedding of the crop spanning the bag.
  ``loss_bag``: symmetric InfoNCE (logit scale ``bag_temp``), negatives = other bags in the batch and the queues;
  the other orders of the same bag are not negatives, nor are queued bags of the same image.
- Region embedding (student): the mean of the text encoder's value-path tokens at the region's words
  (:meth:`FrozenCLIP.encode_pseudo_text`). Teacher: the value-path patch tokens of the bag crop
  (:meth:`FrozenCLIP.encode_image_dense`), RoI-pooled (1x1, bilinear) over the region's box. ``loss_single``: symmetric
  InfoNCE (``single_temp``); the same region (same proposal and grid cell) sampled in another bag or order is not a
  negative, nor are queued regions of the same image.
- Four queues (bag text/image, region text/image; :class:`ovd.models.baron.feature_queue.FeatureQueue`). As in
  ovdet (``ovdet/methods/queues.py``) each rank enqueues only its own batch; ``gather_queues=True`` (not ovdet's)
  ``all_gather``-s every rank's batch first, so all ranks hold the same, larger set of recent negatives.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor
from torchvision.ops import roi_align

from ovd.models.baron.feature_queue import FeatureQueue
from ovd.models.baron.info_nce import symmetric_info_nce
from .frozen_clip import FrozenCLIP, pack_pseudo_text
from .neighborhood import Bags
from .positional import BoxPositionalEmbedding


def masked_mean(values: Tensor, groups: Tensor, num_groups: int) -> Tensor:
    """Mean of the rows of ``values [N, E]`` per group id ``groups [N]`` -> ``[num_groups, E]``."""
    sums = values.new_zeros(num_groups, values.shape[1]).index_add_(0, groups, values)
    counts = torch.bincount(groups, minlength=num_groups).clamp(min=1).to(values.dtype)
    return sums / counts[:, None]


class BagDistiller(BaseModule):
    """Positional embedding, queues and the two losses.

    Args:
        num_words, word_dim: pseudo words per region and their width.
        embed_dim: CLIP's joint embedding dimension.
        bag_weight, single_weight: loss weights (ovdet: 1.0 and 0.1).
        bag_temp, single_temp: logit scales (ovdet COCO 30 / 50, LVIS 20 / 30).
        queue_length: rows per queue (ovdet: 1024).
        words_drop_ratio: word dropout of the bag sequences (ovdet: 0.5, as the classifier).
        gather_queues: enqueue the rows of every rank (default False: each rank its own, as ovdet).
    """

    def __init__(self, num_words: int, word_dim: int, embed_dim: int, bag_weight: float = 1.0,
                 single_weight: float = 0.1, bag_temp: float = 30.0, single_temp: float = 50.0,
                 queue_length: int = 1024, words_drop_ratio: float = 0.5, gather_queues: bool = False) -> None:
        super().__init__()
        self.num_words = num_words
        self.bag_weight, self.single_weight = float(bag_weight), float(single_weight)
        self.bag_temp, self.single_temp = float(bag_temp), float(single_temp)
        self.words_drop_ratio = float(words_drop_ratio)
        self.positional = BoxPositionalEmbedding(num_words, word_dim)
        self.bag_text_queue = FeatureQueue(queue_length, embed_dim, gather=gather_queues)
        self.bag_image_queue = FeatureQueue(queue_length, embed_dim, gather=gather_queues)
        self.region_text_queue = FeatureQueue(queue_length, embed_dim, gather=gather_queues)
        self.region_image_queue = FeatureQueue(queue_length, embed_dim, gather=gather_queues)

    def keep_words(self, num: int, device: torch.device) -> Tensor:
        keep = torch.rand(num, self.num_words, device=device) >= self.words_drop_ratio
        keep[:, 0] |= ~keep.any(dim=1)
        return keep

    @torch.no_grad()
    def teacher(self, clip: FrozenCLIP, images: Tensor, spanned: Tensor, bag_image: Tensor):
        """CLIP embeddings of the bag crops (ovdet ``BaronKD._bbox_clip_image``, which encodes one copy of a crop
        per order of the bag: the same values).

        Args:
            images: ``[N, 3, H, W]`` RGB 0-255 (the padded batch).
            spanned: ``[B, 4]`` xyxy crops of the bags (:attr:`Bags.spanned`); ``bag_image [B]`` their image index.

        Returns:
            ``pooled [B, E]`` (unit) and ``patches [B, E, g, g]`` (value-path tokens).
        """
        size = clip.image_size
        rois = torch.cat([bag_image[:, None].to(spanned), spanned], dim=1)
        crops = roi_align(images.float(), rois, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2,
                          aligned=True)
        return clip.encode_image_dense(clip.normalize_images(crops))

    def loss(self, clip: FrozenCLIP, region_words: Tensor, bags: Bags, bag_image_ids: Tensor,
             teacher_pooled: Tensor, teacher_patches: Tensor, keep: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """The two losses; enqueues this batch afterwards.

        Args:
            clip: the frozen CLIP.
            region_words: ``[R, W, D]`` pseudo words of the regions (``bags`` order), from the distillation branch.
            bags: the sampled bags.
            bag_image_ids: ``[B]`` dataset image id of each bag (queued rows of the same image are not negatives).
            teacher_pooled, teacher_patches: from :meth:`teacher`.
            keep: ``[R, W]`` bool, the words kept (default: a word-dropout draw).

        Returns:
            ``loss_bag`` and ``loss_single`` (weighted).
        """
        num_seqs, num_regions = bags.seq_bag.shape[0], bags.region_seq.shape[0]
        words = region_words + self.positional(bags.region_normed)  # [R, W, D]
        keep = self.keep_words(num_regions, words.device) if keep is None else keep  # [R, W]
        word_region = keep.nonzero()[:, 0]  # regions are grouped by sequence, so words are too
        word_seq = bags.region_seq[word_region]
        sot, eot = clip.special_tokens()
        text, end_ids, word_pos = pack_pseudo_text(words[keep], word_seq, num_seqs, sot, eot)
        bag_text, tokens = clip.encode_pseudo_text(text, end_ids)  # [S, E], [S, L, E]
        region_text = F.normalize(masked_mean(tokens[word_seq, word_pos], word_region, num_regions), dim=-1)

        bag_image = teacher_pooled[bags.seq_bag]  # [S, E]
        grid = teacher_patches.shape[-1]
        rois = torch.cat([bags.region_bag[:, None].to(bags.region_normed), bags.region_normed * grid], dim=1)
        region_image = roi_align(teacher_patches.float(), rois, output_size=(1, 1), spatial_scale=1.0,
                                 sampling_ratio=2, aligned=True).flatten(1)
        region_image = F.normalize(region_image, dim=-1)  # [R, E]

        seq_img = bag_image_ids[bags.seq_bag]
        region_img = bag_image_ids[bags.region_bag]
        region_key = bags.region_proposal * 9 + bags.region_cell
        loss_bag = self._contrast(bag_text, bag_image, bags.seq_bag, seq_img, self.bag_text_queue,
                                  self.bag_image_queue, self.bag_temp)
        loss_single = self._contrast(region_text, region_image, region_key, region_img, self.region_text_queue,
                                     self.region_image_queue, self.single_temp)
        self.bag_text_queue.enqueue(bag_text, seq_img)
        self.bag_image_queue.enqueue(bag_image, seq_img)
        self.region_text_queue.enqueue(region_text, region_img)
        self.region_image_queue.enqueue(region_image, region_img)
        return dict(loss_bag=loss_bag * self.bag_weight, loss_single=loss_single * self.single_weight)

    @staticmethod
    def _contrast(text: Tensor, image: Tensor, item: Tensor, image_ids: Tensor, text_queue: FeatureQueue,
                  image_queue: FeatureQueue, scale: float) -> Tensor:
        queued_text, queued_text_ids = text_queue.get()
        queued_image, queued_image_ids = image_queue.get()
        return symmetric_info_nce(
            text, image, scale, same=item[:, None] == item[None],
            queue_a=queued_text, queue_b=queued_image,
            queue_ignore_a=image_ids[:, None] == queued_text_ids[None],
            queue_ignore_b=image_ids[:, None] == queued_image_ids[None])
