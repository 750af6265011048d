"""GLIP detector: detection as phrase grounding, trained on detection and grounding data alike.

Every sample is turned into a caption with per-label character spans (``tokens_positive``):
- grounding data (Flickr30k, GoldG) already is one: ``text`` is the caption, labels index its phrases;
- detection data is prompted with a vocabulary's texts: at inference the model's vocabulary, set once per loop
  from the dataset's metainfo (``VocabularyHook`` -> :meth:`set_vocabulary`, the dataset's name rule applied),
  split into chunks (40 names) whose prompts are built once and whose detections are merged; in training a
  sample's own names (``text``, a list: the dataset puts them there while training, each source of a mixed
  stream its own) or else the model's vocabulary, from which a caption of the image's classes plus sampled
  negatives (85 in GLIP) is built through the prompt layer, the labels remapped to phrases.
The positive map (label -> tokens) comes from the tokenizer's offsets (``ovd.data.prompts``), so a name of
several sub-words is positive on all of them.

Chunked inference is fast without changing a single detection: the backbone and neck run once per batch
(not once per chunk), each chunk's prompt is tokenised and BERT-encoded once per evaluation (cached until the
model is switched back to training), and without deep fusion (GLIP-T(A)) the DyHead tower runs once per image
and each chunk only costs the alignment product. ``test_cfg.fast_chunked=False`` runs the naive loop (a full
forward per chunk) that the fast path is tested against.
"""
import random
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn import functional as F

from ovd.data.prompts import (DEFAULT_CHUNK_SIZE, DEFAULT_FULL_SAMPLING_PROB, DEFAULT_NUM_NEGATIVES,
                               build_chunked_prompts, build_positive_map, sample_detection_prompt)
from ovd.models.common.text_prompts import (Span, TextCache, VocabularyMixin, read_inference_text,
                                            read_sample_text)
from ovd.registry import MODELS

DEFAULT_MAX_PER_IMG = 300  # detections kept per image after merging the prompts, unless test_cfg says otherwise
DEFAULT_CHUNK_BATCH_SIZE = 4


class Prompt(NamedTuple):
    """One text prompt at inference: ``label_ids[l]`` is the output label of the prompt's phrase ``l``."""
    caption: str
    tokens_positive: List[List[Span]]
    label_ids: List[int]


def chunk_prompts(texts: Sequence[str], chunk_size: int) -> List[Prompt]:
    """The inference prompts of a vocabulary's texts: chunks of ``chunk_size`` names (<= 0: one prompt of all),
    labels = the names' vocabulary indices."""
    return [Prompt(c.caption, c.tokens_positive, c.label_ids)
            for c in build_chunked_prompts(list(texts), chunk_size if chunk_size > 0 else len(texts))]


@MODELS.register_module()
class GLIPDetector(SingleStageDetector, VocabularyMixin):
    """GLIP (Li et al., CVPR 2022, "Grounded Language-Image Pre-training").

    Args:
        backbone: Image backbone config (Swin-T / Swin-L in the paper).
        neck: FPN config (5 levels).
        bbox_head: :class:`GLIPHead` config.
        language_model: Text encoder config: mmdet's ``BertModel`` (``name`` = hub name or local
            directory); its ``tokenizer`` must be a fast tokenizer (offsets).
        max_tokens: Maximum prompt length in tokens (256 in GLIP).
        train_cfg: Head training config plus ``num_negatives`` (negative names sampled per detection
            image, 85) and ``full_negatives_prob`` (probability of sampling all of them, 0.5).
        test_cfg: Head test config (``max_per_img`` caps each prompt's detections) plus ``chunk_size``
            (names per prompt, 40), ``merged_max_per_img`` (cap after merging the prompts; defaults to
            ``max_per_img``; <= 0 keeps all, e.g. for Fixed AP), ``fast_chunked`` (default True),
            ``cache_text`` and ``chunk_batch_size`` (with deep fusion, prompts run through the head this many
            at a time, padded to the longest; 4 by default).
        data_preprocessor: mmdet ``DetDataPreprocessor`` config.
        init_cfg: Initialisation config.

    The vocabulary detection samples are prompted with is set by :meth:`set_vocabulary` (``VocabularyHook``
    calls it with the loop's dataset metainfo).
    """

    def __init__(self, backbone: ConfigType, neck: ConfigType, bbox_head: ConfigType, language_model: ConfigType,
                 max_tokens: int = 256, train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(backbone=backbone, neck=neck, bbox_head=bbox_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.language_model = MODELS.build(language_model)
        if not getattr(self.tokenizer, 'is_fast', False):
            raise TypeError('GLIP needs a fast tokenizer (character offsets) for its positive maps, got '
                            f'{type(self.tokenizer).__name__}')
        self.max_tokens = max_tokens
        self._rng = random.Random((train_cfg or {}).get('seed', 0))
        self.text_cache = TextCache()  # (caption, spans) -> (language features, token map)
        self._vocabulary_prompts: Optional[Tuple[int, List[Prompt]]] = None  # (chunk_size, prompts)

    @property
    def tokenizer(self):
        return self.language_model.tokenizer

    def train(self, mode: bool = True):
        """Switching mode drops the cached prompt encodings (the weights may change in between)."""
        self.text_cache.clear()
        return super().train(mode)

    def _vocabulary_changed(self) -> None:
        self._vocabulary_prompts = None

    # ---------------------------------------------------------------- text side
    def tokenize(self, captions: Sequence[str]):
        """Tokenise captions (padded to the longest, truncated to ``max_tokens``) with character offsets."""
        return self.tokenizer(list(captions), padding='longest', truncation=True, max_length=self.max_tokens,
                              return_offsets_mapping=True, return_tensors='pt')

    def encode_text(self, tokenized) -> Dict[str, Tensor]:
        """BERT features of tokenised captions.

        Returns:
            ``hidden`` and ``embedded`` [B, T, D_lang] (last layer; ``embedded`` zeroed on padding),
            ``masks`` [B, T].
        """
        device = next(self.language_model.parameters()).device
        return self.language_model.language_backbone(dict(
            input_ids=tokenized['input_ids'].to(device), attention_mask=tokenized['attention_mask'].to(device),
            position_ids=None, token_type_ids=None))

    # ---------------------------------------------------------------- training
    def _training_prompt(self, data_sample) -> List[List[Span]]:
        """Caption and per-label spans of one training sample; detection samples get sampled negatives from
        their own names (``text``) or else the model's vocabulary.

        Sets ``data_sample.text`` to the caption and remaps ``gt_instances.labels`` to phrase indices
        (boxes whose class did not fit the token budget are dropped). Returns the spans per phrase.
        """
        sample_text = read_sample_text(data_sample, 'GLIP')
        if sample_text is not None and sample_text.is_caption:
            return sample_text.spans
        text = sample_text.text if sample_text is not None else list(self.require_vocabulary(data_sample, 'GLIP'))
        labels = data_sample.gt_instances.labels
        cfg = self.train_cfg or {}
        prompt = sample_detection_prompt(
            text, labels.tolist(), num_negatives=cfg.get('num_negatives', DEFAULT_NUM_NEGATIVES),
            max_tokens=self.max_tokens, tokenizer=self.tokenizer,
            full_sampling_prob=cfg.get('full_negatives_prob', DEFAULT_FULL_SAMPLING_PROB), rng=self._rng)
        keep = torch.tensor([int(lab) in prompt.label_to_phrase for lab in labels.tolist()], dtype=torch.bool)
        gt = data_sample.gt_instances[keep.to(labels.device)]
        gt.labels = torch.tensor([prompt.label_to_phrase[int(lab)] for lab in gt.labels.tolist()],
                                 dtype=torch.long, device=labels.device)
        data_sample.gt_instances = gt
        data_sample.set_metainfo(dict(text=prompt.caption))
        return [list(spans) for spans in prompt.tokens_positive]

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses on a batch mixing detection and grounding samples.

        Args:
            batch_inputs: Images, [B, 3, H, W].
            batch_data_samples: Samples with ``gt_instances``; ``text`` a caption (+ ``tokens_positive``), a
                detection sample's names, or absent (the model's vocabulary).
        """
        spans = [self._training_prompt(ds) for ds in batch_data_samples]
        tokenized = self.tokenize([ds.text for ds in batch_data_samples])
        num_tokens = tokenized['input_ids'].shape[1]
        for i, ds in enumerate(batch_data_samples):
            phrases = [spans[i][int(lab)] for lab in ds.gt_instances.labels.tolist()]
            positive_map = build_positive_map(tokenized['offset_mapping'][i].tolist(), phrases,
                                              max_tokens=num_tokens)
            ds.gt_instances.positive_maps = positive_map.to(batch_inputs.device)
        language_feats = self.encode_text(tokenized)
        visual_feats = self.extract_feat(batch_inputs)
        return self.bbox_head.loss(visual_feats, language_feats, batch_data_samples)

    # ---------------------------------------------------------------- inference
    def inference_prompts(self, data_sample) -> List[Prompt]:
        """The prompts one test sample is run with.

        A caption with ``tokens_positive`` (grounding) is one prompt whose labels are phrase indices; a
        detection sample (no ``text``) gets the vocabulary's prompts (:meth:`vocabulary_prompts`).
        """
        caption = read_inference_text(data_sample, 'GLIP')
        if caption is not None:
            return [Prompt(caption.text, caption.spans, list(range(len(caption.spans))))]
        self.require_vocabulary(data_sample, 'GLIP')
        return self.vocabulary_prompts()

    def vocabulary_prompts(self) -> List[Prompt]:
        """The model's vocabulary in chunks of ``test_cfg.chunk_size`` names (labels: the names' vocabulary
        indices), built once per vocabulary and chunk size."""
        chunk_size = (self.test_cfg or {}).get('chunk_size', DEFAULT_CHUNK_SIZE)
        if self._vocabulary_prompts is None or self._vocabulary_prompts[0] != chunk_size:
            if self.vocabulary_texts is None:
                raise ValueError('GLIP has no vocabulary: call set_vocabulary (VocabularyHook does, from the '
                                 'dataset metainfo)')
            self._vocabulary_prompts = (chunk_size, chunk_prompts(self.vocabulary_texts, chunk_size))
        return self._vocabulary_prompts[1]

    def encode_prompt(self, prompt: Prompt, use_cache: bool) -> Tuple[Dict[str, Tensor], Tensor]:
        """Text features of one prompt and its normalised label -> token map (kept in :attr:`text_cache`
        while evaluating when ``use_cache``).

        Returns:
            Language features (``hidden``/``embedded`` [1, T, D_lang], ``masks`` [1, T]) and the map
            [L, T] whose row l averages the tokens of phrase l.
        """
        def encode() -> Tuple[Dict[str, Tensor], Tensor]:
            tokenized = self.tokenize([prompt.caption])
            token_map = build_positive_map(tokenized['offset_mapping'][0].tolist(), prompt.tokens_positive,
                                           max_tokens=tokenized['input_ids'].shape[1], normalize=True)
            return self.encode_text(tokenized), token_map

        # keyed by the spans too: the same caption can come with other phrases (the token map differs)
        key = (prompt.caption, tuple(tuple(map(tuple, spans)) for spans in prompt.tokens_positive))
        return self.text_cache.get(key, encode, enabled=use_cache)

    def prompt_groups(self, batch_data_samples: SampleList) -> List[Tuple[List[Prompt], List[int]]]:
        """The batch's samples in groups that run the same prompts together: the detection samples (the
        model's vocabulary), and the grounding samples per distinct caption (with its phrases)."""
        groups: Dict[Optional[tuple], Tuple[List[Prompt], List[int]]] = {}
        for i, ds in enumerate(batch_data_samples):
            caption = read_inference_text(ds, 'GLIP')
            key = (caption.text, tuple(map(tuple, caption.spans))) if caption is not None else None
            if key not in groups:
                groups[key] = (self.inference_prompts(ds), [])
            groups[key][1].append(i)
        return list(groups.values())

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True) -> SampleList:
        """Detections for the model's vocabulary (chunked) or each grounding sample's caption phrases.

        Args:
            batch_inputs: Images, [B, 3, H, W].
            batch_data_samples: Detection samples (no ``text``) and grounding samples (``text`` a caption +
                ``tokens_positive``).
            rescale: Boxes in original image pixels.

        Returns:
            The samples with ``pred_instances`` (``bboxes`` [K, 4] xyxy, ``scores`` [K], ``labels`` [K]:
            vocabulary index, or phrase index for a caption), sorted by score, at most
            ``merged_max_per_img``.
        """
        cfg = self.test_cfg or {}
        visual = self.extract_feat(batch_inputs) if cfg.get('fast_chunked', True) else None
        results: List[List[InstanceData]] = [[] for _ in batch_data_samples]
        for prompts, idx in self.prompt_groups(batch_data_samples):
            metas = [batch_data_samples[i].metainfo for i in idx]
            runs = self._prompt_runs(batch_inputs, visual, idx, prompts)
            for i, dets in zip(idx, self._detections_per_image(runs, metas, rescale, batch_inputs.device)):
                results[i] += dets
        max_per_img = cfg.get('merged_max_per_img', cfg.get('max_per_img', DEFAULT_MAX_PER_IMG))
        for ds, dets in zip(batch_data_samples, results):
            ds.pred_instances = merge_detections(dets, max_per_img)
        return batch_data_samples

    def _prompt_runs(self, batch_inputs: Tensor, visual: Optional[List[Tensor]], idx: List[int],
                     prompts: List[Prompt]) -> Iterator[Tuple[Prompt, Tensor, tuple]]:
        """The prompts' head outputs on images ``idx`` of the batch: over the batch's image features when they
        were computed once (fast), else a full forward per prompt (naive)."""
        sel = torch.tensor(idx, device=batch_inputs.device)
        if visual is not None:
            return self._fast_runs([f.index_select(0, sel) for f in visual], prompts)
        return self._naive_runs(batch_inputs.index_select(0, sel), prompts)

    def _detections_per_image(self, runs: Iterator[Tuple[Prompt, Tensor, tuple]], metas: List[dict],
                              rescale: bool, device: torch.device) -> List[List[InstanceData]]:
        """Per image, the detections of every prompt run, labels mapped from phrases to the prompt's label
        ids (vocabulary indices, or phrase indices for a caption)."""
        per_image: List[List[InstanceData]] = [[] for _ in metas]
        for prompt, token_map, outs in runs:
            label_ids = torch.tensor(prompt.label_ids, dtype=torch.long, device=device)
            dets = self.bbox_head.predict_prompt(*outs, token_map, metas, rescale=rescale)
            for image_dets, det in zip(per_image, dets):
                det.labels = label_ids[det.labels]
                image_dets.append(det)
        return per_image

    def _fast_runs(self, visual: List[Tensor], prompts: List[Prompt]) -> Iterator[Tuple[Prompt, Tensor, tuple]]:
        """Head outputs of every prompt over image features computed once: without deep fusion the DyHead
        tower runs once and each prompt costs one alignment; with it, ``chunk_batch_size`` prompts share a
        head forward. Yields ``(prompt, token_map, outputs)``."""
        cfg = self.test_cfg or {}
        use_cache = cfg.get('cache_text', True) and not self.training
        tower = None if self.bbox_head.early_fuse else self.bbox_head.run_tower(visual, None)[0]
        step = max(1, int(cfg.get('chunk_batch_size', DEFAULT_CHUNK_BATCH_SIZE))) if tower is None else 1
        for start in range(0, len(prompts), step):
            group = prompts[start:start + step]
            encoded = [self.encode_prompt(prompt, use_cache) for prompt in group]
            outs = self._prompt_outputs(visual, tower, encoded)
            yield from zip(group, [token_map for _, token_map in encoded], outs)

    def _naive_runs(self, images: Tensor, prompts: List[Prompt]) -> Iterator[Tuple[Prompt, Tensor, tuple]]:
        """The reference the fast path is tested against: a full forward (backbone included) per prompt."""
        for prompt in prompts:
            encoded = [self.encode_prompt(prompt, use_cache=False)]
            yield prompt, encoded[0][1], self._prompt_outputs(self.extract_feat(images), None, encoded)[0]

    def _prompt_outputs(self, visual: List[Tensor], tower: Optional[List[Tensor]],
                        encoded: List[Tuple[Dict[str, Tensor], Tensor]]) -> List[tuple]:
        """Per prompt, the head outputs (logits, boxes, centerness per level) for the images of ``visual``:
        aligned against a precomputed tower, or one head forward over the prompts stacked prompt-major."""
        if tower is not None:
            return [self.bbox_head.align(tower, lang['embedded']) for lang, _ in encoded]
        num_images = visual[0].shape[0]
        lang = stack_prompt_features([lang for lang, _ in encoded], num_images)
        outs = self.bbox_head([f.repeat(len(encoded), 1, 1, 1) for f in visual], lang)
        return [split_prompt_outputs(outs, k, num_images, token_map.shape[1])
                for k, (_, token_map) in enumerate(encoded)]

    def _forward(self, batch_inputs: Tensor, batch_data_samples: OptConfigType = None):
        raise NotImplementedError('GLIP has no tensor-mode forward: use mode="loss" or mode="predict"')


def stack_prompt_features(langs: Sequence[Dict[str, Tensor]], num_images: int) -> Dict[str, Tensor]:
    """Text features of P prompts ([1, T_p, ...] each) as one batch of P * num_images, prompt-major.

    Shorter prompts are padded to the longest with masked tokens (zero features, mask 0); the X-MHA, the BERT
    layers and the alignment ignore masked tokens, so each prompt's outputs equal its unbatched ones.
    """
    length = max(lang['masks'].shape[1] for lang in langs)
    batch = {}
    for key in langs[0]:
        padded = [F.pad(lang[key], (0, 0) * (lang[key].dim() - 2) + (0, length - lang[key].shape[1]))
                  for lang in langs]
        batch[key] = torch.cat(padded).repeat_interleave(num_images, dim=0)
    return batch


def split_prompt_outputs(outs: Tuple[List[Tensor], ...], prompt: int, num_images: int,
                         num_tokens: int) -> Tuple[List[Tensor], ...]:
    """The head outputs of one prompt out of a prompt-major batch, logits cut to its own tokens."""
    rows = slice(prompt * num_images, (prompt + 1) * num_images)
    cls_logits, bbox_preds, centernesses = outs
    return ([logit[rows, :, :num_tokens] for logit in cls_logits], [b[rows] for b in bbox_preds],
            [c[rows] for c in centernesses])


def merge_detections(detections: Sequence[InstanceData], max_per_img: int) -> InstanceData:
    """Concatenate per-prompt detections of one image, sort by score and keep the best ``max_per_img``.

    Labels of different prompts never collide (each is a vocabulary index), so the class-wise NMS done per
    prompt is the NMS of the merged set; the cap after merging equals a cap over all chunks at once because
    every prompt's detections were already capped at the same number.

    Args:
        detections: Per prompt ``InstanceData`` (``bboxes`` [K_i, 4], ``scores`` [K_i], ``labels`` [K_i]).
        max_per_img: Cap on the merged detections (<= 0 keeps all).

    Returns:
        ``InstanceData`` sorted by decreasing score.
    """
    merged = InstanceData.cat(list(detections)) if len(detections) > 1 else detections[0]
    order = torch.sort(merged.scores, descending=True, stable=True).indices
    if max_per_img > 0:
        order = order[:max_per_img]
    return merged[order]
