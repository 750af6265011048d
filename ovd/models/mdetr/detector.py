"""The MDETR detector: DETR conditioned on free text through a joint image-text transformer encoder.

Flow (Kamath et al., ICCV 2021, Sec. 2): backbone (C5) -> 1x1 projection (``neck``) -> flattened image tokens
with sine positional encodings; the caption goes through RoBERTa and a resizer (Linear 768->256, LayerNorm,
dropout) to text tokens (positional encoding zero); image and text tokens are concatenated and encoded jointly
(6 layers); a DETR decoder (100 queries, 6 layers) attends to the whole joint memory; the head predicts a box,
a soft-token distribution and a contrastive embedding per query (:mod:`.head`).

Built on mmdet's ``DETR`` (its image-token preparation, encoder, decoder and query embedding are MDETR's
exactly); this class adds the text branch and the two kinds of inference:

- phrase grounding (``data_sample.text`` is a caption string, ``tokens_positive`` its phrases): one joint
  forward per caption; every query ranked for every phrase (labels = phrase index);
- detection (a sample without ``text``): the model's vocabulary, set once per loop from the dataset's
  metainfo (``VocabularyHook`` -> :meth:`set_vocabulary`, the dataset's name rule applied); class names are
  put in captions (``names_per_caption``, 1 for the paper's LVIS protocol), the image features are computed
  once and reused across batches of ``captions_per_batch`` captions, and the vocabulary's encoded captions
  are kept for every image of the evaluation; labels = index into the vocabulary.

Training reads captions only: detection data is turned into captions in the pipeline
(``DetectionToGroundingPrompt``).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.detectors.detr import DETR
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from torch import Tensor, nn

from ovd.data.prompts import build_caption, build_positive_map, chunk_vocabulary
from ovd.models.common.text_prompts import (SampleText, TextCache, VocabularyMixin, read_caption,
                                            read_inference_text, sample_name)
from ovd.registry import MODELS
from ovd.text.hf import HFTextEncoder

from .postprocess import detection_results, grounding_results, stack_name_maps


class FeatureResizer(nn.Module):
    """Linear projection of text features to the model width, then LayerNorm and dropout (MDETR's resizer).

    Args:
        in_dims (int): Text encoder width (768 for RoBERTa-base).
        out_dims (int): Model width (256).
        dropout (float): Dropout probability (0.1).
    """

    def __init__(self, in_dims: int, out_dims: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dims, out_dims)
        self.layer_norm = nn.LayerNorm(out_dims, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``[B, L, in_dims]`` -> ``[B, L, out_dims]``."""
        return self.dropout(self.layer_norm(self.fc(x)))


@MODELS.register_module()
class MDETR(DETR, VocabularyMixin):
    """MDETR. See the module docstring for the data flow.

    Args:
        text_encoder (dict | nn.Module): Arguments of the shared :class:`ovd.text.hf.HFTextEncoder`
            (``name_or_path``: 'roberta-base' or a local directory; ``padding='longest'``;
            ``max_tokens=256``), or such an encoder already built.
            ``freeze=True`` keeps its weights fixed (the paper fine-tunes it).
        text_dropout (float): Dropout of the text resizer (0.1).
        num_tokens (int): Soft-token slots of the head including the final no-object slot (256).
        **kwargs: mmdet ``DETR`` arguments: ``backbone``, ``neck``, ``encoder``, ``decoder``, ``bbox_head``,
            ``positional_encoding``, ``num_queries``, ``train_cfg``, ``test_cfg``, ``data_preprocessor``,
            ``init_cfg``. ``test_cfg`` keys: ``names_per_caption`` (1), ``captions_per_batch`` (8),
            ``max_per_img`` (None: keep all), ``grounding_reduce`` ('max'), ``cache_text`` (True).

    The vocabulary detection samples are run with is set by :meth:`set_vocabulary` (``VocabularyHook`` calls
    it with the loop's dataset metainfo).
    """

    def __init__(self, text_encoder: Union[dict, nn.Module], text_dropout: float = 0.1, num_tokens: int = 256,
                 **kwargs) -> None:
        self._text_encoder_cfg = text_encoder
        self._text_dropout = text_dropout
        self.num_tokens = num_tokens
        super().__init__(**kwargs)
        self.test_cfg = dict(self.test_cfg or {})
        self.text_cache = TextCache(capacity=1)  # the vocabulary's encoded captions (per caption settings)

    def _init_layers(self) -> None:
        super()._init_layers()  # positional encoding, joint encoder, decoder, query embedding
        cfg = self._text_encoder_cfg
        self.text_encoder = cfg if isinstance(cfg, nn.Module) else HFTextEncoder(**cfg)
        self.text_resizer = FeatureResizer(self.text_encoder.hidden_size, self.embed_dims, self._text_dropout)

    def train(self, mode: bool = True) -> 'MDETR':
        self.text_cache.clear()  # weights change while training: cached captions go stale
        return super().train(mode)

    def _vocabulary_changed(self) -> None:
        self.text_cache.clear()

    # ------------------------------------------------------------------ text
    def encode_captions(self, captions: Sequence[str]) -> dict:
        """Tokenize and encode a batch of captions (padded to the longest).

        Args:
            captions (list[str]): ``B`` captions.

        Returns:
            dict: ``text_feat`` ``[B, L, C]`` (resized), ``text_pad_mask`` ``[B, L]`` (True at padding) and
            ``offsets`` (per caption, the ``(start, end)`` character range of each of its ``L`` tokens).
        """
        out = self.text_encoder(list(captions))
        return dict(text_feat=self.text_resizer(out['hidden']), text_pad_mask=out['masks'] == 0,
                    offsets=out['offset_mapping'].tolist())

    def positive_maps(self, offsets: List[Tuple[int, int]],
                      tokens_positive: Sequence[Sequence[Sequence[int]]], where: str) -> Tensor:
        """Token map of each phrase of a caption, ``[num_phrases, num_tokens]``.

        The last slot stays empty: it is the no-object slot, so a phrase must lie within the first
        ``num_tokens - 1`` tokens; a phrase with no token there is an error naming ``where``.

        Args:
            offsets (list): the caption's per-token ``(start, end)`` character ranges.
            tokens_positive (list): per phrase, its ``(start, end)`` character spans.
            where (str): the sample, for error messages.
        """
        pm = build_positive_map(offsets, tokens_positive, max_tokens=self.num_tokens - 1)
        empty = (pm.sum(-1) == 0).nonzero().flatten().tolist()
        if empty:
            spans = [tokens_positive[i] for i in empty]
            raise ValueError(f'{where}: phrases {empty} of tokens_positive (spans {spans}) cover no token '
                             f'within the first {self.num_tokens - 1} tokens of the caption')
        pm = torch.cat([pm, pm.new_zeros((len(pm), 1))], dim=1)
        return pm.to(self.query_embedding.weight.device)

    # ------------------------------------------------------------------ joint transformer
    def image_tokens(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """Backbone, projection and positional encoding.

        Returns:
            dict: ``feat`` ``[B, HW, C]``, ``feat_mask`` ``[B, HW]`` bool or None, ``feat_pos`` ``[B, HW,
            C]``.
        """
        img_feats = self.extract_feat(batch_inputs)
        encoder_inputs, _ = self.pre_transformer(img_feats, batch_data_samples)
        return encoder_inputs

    def joint_forward(self, feat: Tensor, feat_mask: Optional[Tensor], feat_pos: Tensor, text_feat: Tensor,
                      text_pad_mask: Tensor) -> dict:
        """Joint encoder over image and text tokens, then the decoder over the joint memory.

        Args:
            feat (Tensor): ``[B, HW, C]`` image tokens; feat_mask ``[B, HW]`` (None: no padding);
                feat_pos ``[B, HW, C]``.
            text_feat (Tensor): ``[B, L, C]`` resized text tokens; text_pad_mask ``[B, L]``.

        Returns:
            dict: ``hidden_states`` ``[num_layers, B, Q, C]``, ``text_memory`` ``[B, L, C]``,
            ``text_pad_mask`` ``[B, L]``.
        """
        if feat_mask is None:
            feat_mask = feat.new_zeros(feat.shape[:2], dtype=torch.bool)
        joint = torch.cat([feat, text_feat], dim=1)
        mask = torch.cat([feat_mask, text_pad_mask], dim=1)
        pos = torch.cat([feat_pos, torch.zeros_like(text_feat)], dim=1)
        memory = self.forward_encoder(feat=joint, feat_mask=mask, feat_pos=pos)['memory']
        decoder_inputs, _ = self.pre_decoder(memory)
        hidden_states = self.forward_decoder(**decoder_inputs, memory_mask=mask,
                                             memory_pos=pos)['hidden_states']
        return dict(hidden_states=hidden_states, text_memory=memory[:, feat.shape[1]:],
                    text_pad_mask=text_pad_mask)

    # ------------------------------------------------------------------ training
    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses on grounding samples (``text`` caption + ``tokens_positive``; gt labels = phrase index)."""
        captions = [read_caption(s, 'MDETR') for s in batch_data_samples]
        text = self.encode_captions([caption.text for caption in captions])
        gts = []
        for sample, caption, offsets in zip(batch_data_samples, captions, text.pop('offsets')):
            where = sample_name(sample)
            pm = self.positive_maps(offsets, caption.spans, where)
            gt = sample.gt_instances
            labels = gt.labels.long()
            if len(labels) and int(labels.max()) >= len(pm):
                raise ValueError(f'{where}: gt label {int(labels.max())} but the caption has {len(pm)} '
                                 f'phrases in tokens_positive')
            gts.append(InstanceData(bboxes=gt.bboxes, labels=labels, positive_maps=pm[labels]))
        out = self.joint_forward(**self.image_tokens(batch_inputs, batch_data_samples), **text)
        return self.bbox_head.loss(out['hidden_states'], out['text_memory'], out['text_pad_mask'], gts,
                                   [s.metainfo for s in batch_data_samples])

    # ------------------------------------------------------------------ inference
    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Grounding or detection results in ``pred_instances`` (see the module docstring)."""
        texts = [read_inference_text(s, 'MDETR') for s in batch_data_samples]
        for sample, text in zip(batch_data_samples, texts):
            if text is None:
                self.require_vocabulary(sample, 'MDETR')
        image = self.image_tokens(batch_inputs, batch_data_samples)
        if all(text is not None for text in texts):
            results = self.predict_grounding(image, batch_data_samples, texts, rescale)
        else:
            results = []
            for i, (sample, text) in enumerate(zip(batch_data_samples, texts)):
                one = {k: (v[i:i + 1] if v is not None else None) for k, v in image.items()}
                if text is not None:
                    results += self.predict_grounding(one, [sample], [text], rescale)
                else:
                    results.append(self.predict_detection(one, sample, rescale))
        for sample, result in zip(batch_data_samples, results):
            sample.pred_instances = result
        return batch_data_samples

    def predict_grounding(self, image: dict, batch_data_samples: SampleList, captions: Sequence[SampleText],
                          rescale: bool = True) -> List[InstanceData]:
        """One joint forward for the batch's captions (:func:`read_sample_text` of each sample); every query
        ranked for every phrase."""
        text = self.encode_captions([caption.text for caption in captions])
        offsets = text.pop('offsets')
        out = self.joint_forward(**image, **text)
        logits, boxes = self.bbox_head(out['hidden_states'][-1])
        reduce = self.test_cfg.get('grounding_reduce', 'max')
        results = []
        for i, sample in enumerate(batch_data_samples):
            pm = self.positive_maps(offsets[i], captions[i].spans, sample_name(sample))
            results.append(grounding_results(logits[i], boxes[i], pm, sample.img_shape,
                                             sample.scale_factor if rescale else None, reduce))
        return results

    def predict_detection(self, image: dict, data_sample, rescale: bool = True) -> InstanceData:
        """Detections of one image for the model's vocabulary, captions batched over shared image features.

        Args:
            image (dict): the image's tokens (batch of one), see :meth:`image_tokens`.
            data_sample (DetDataSample): ``img_shape``, ``scale_factor``.

        Returns:
            InstanceData: ``bboxes``, ``scores`` (``1 - p(no-object)``), ``labels`` (index into the
            vocabulary).
        """
        self.require_vocabulary(data_sample, 'MDETR')
        batches = self.encoded_vocabulary()
        logits, boxes, maps, labels = [], [], [], []
        for batch in batches:
            n = batch['text_feat'].shape[0]
            expanded = {k: (v.expand(n, *v.shape[1:]) if v is not None else None) for k, v in image.items()}
            out = self.joint_forward(**expanded, text_feat=batch['text_feat'],
                                     text_pad_mask=batch['text_pad_mask'])
            batch_logits, batch_boxes = self.bbox_head(out['hidden_states'][-1])
            logits.append(batch_logits)
            boxes.append(batch_boxes)
            maps += batch['name_maps']
            labels += batch['name_labels']
        name_maps, name_labels = stack_name_maps(maps, labels)
        return detection_results(torch.cat(logits), torch.cat(boxes), name_maps, name_labels,
                                 data_sample.img_shape, data_sample.scale_factor if rescale else None,
                                 self.test_cfg.get('max_per_img'))

    @torch.no_grad()
    def encoded_vocabulary(self) -> List[dict]:
        """Captions of the model's vocabulary, encoded in batches of ``captions_per_batch`` (kept in eval mode
        until the vocabulary or the caption settings change).

        Returns:
            list[dict]: per batch ``text_feat`` ``[n, L, C]``, ``text_pad_mask`` ``[n, L]``, ``name_maps``
            (per caption ``[names_in_caption, T]``) and ``name_labels`` (per caption, vocabulary indices).
        """
        names = self.vocabulary_texts
        if names is None:
            raise ValueError('MDETR has no vocabulary: call set_vocabulary (VocabularyHook does, from the dataset '
                             'metainfo)')
        per_caption = int(self.test_cfg.get('names_per_caption', 1))
        per_batch = int(self.test_cfg.get('captions_per_batch', 8))
        use_cache = self.test_cfg.get('cache_text', True) and not self.training
        return self.text_cache.get((per_caption, per_batch),
                                   lambda: self._encode_vocabulary(names, per_caption, per_batch), use_cache)

    def _encode_vocabulary(self, names: Sequence[str], per_caption: int, per_batch: int) -> List[dict]:
        chunks = chunk_vocabulary(len(names), chunk_size=per_caption)
        captions, spans = zip(*[build_caption([names[j] for j in chunk]) for chunk in chunks])
        batches = []
        for start in range(0, len(captions), per_batch):
            batch = self.encode_captions(captions[start:start + per_batch])
            batch_spans = spans[start:start + per_batch]
            batch['name_maps'] = [
                self.positive_maps(offsets, [[span] for span in caption_spans],
                                   f'class-name caption {caption!r}')
                for offsets, caption_spans, caption in zip(batch.pop('offsets'), batch_spans,
                                                           captions[start:start + per_batch])]
            batch['name_labels'] = [list(c) for c in chunks[start:start + per_batch]]
            batches.append(batch)
        return batches

