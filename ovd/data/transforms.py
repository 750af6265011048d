"""Pipeline transforms that put text on samples: grounding prompts for detection data, positive maps, packing.

- :class:`DetectionToGroundingPrompt`: detection sample (``text`` = the vocabulary's names) -> caption with
  the image's categories plus sampled negatives (training, GLIP style) or the whole vocabulary (testing); box
  labels become phrase indices; boxes of labels dropped for the token budget are removed and counted.
- :class:`AddPositiveMap`: tokenizes ``text`` and adds ``positive_map`` Tensor[num_phrases, max_tokens] from
  ``tokens_positive`` (works the same on detection prompts and on Flickr30k captions).
- :class:`PackGroundingInputs`: mmdet's ``PackDetInputs`` whose ``meta_keys`` also carry the text fields into
  the ``DetDataSample`` metainfo.
"""

import random
from typing import Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import PackDetInputs

from ovd.registry import TRANSFORMS

from .prompts import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_NUM_NEGATIVES,
    DEFAULT_SEPARATOR,
    build_caption,
    build_positive_map,
    sample_detection_prompt,
)

GROUNDING_META_KEYS = (
    'img_id',
    'img_path',
    'ori_shape',
    'img_shape',
    'scale_factor',
    'flip',
    'flip_direction',
    'text',
    'text_names',
    'tokens_positive',
    'phrases',
    'phrase_ids',
    'phrase_types',
    'phrase_has_box',
    'phrase_label_ids',
    'positive_map',
    'sentence_id',
    'prompt_stats',
    'dataset_source',
)
_BOX_KEYS = ('gt_bboxes', 'gt_bboxes_labels', 'gt_ignore_flags', 'gt_masks')


def _tokenizer(spec):
    if spec is None or not isinstance(spec, str):
        return spec
    from ovd.text.hf import load_tokenizer

    return load_tokenizer(spec)


def _keep_boxes(results: dict, keep: np.ndarray) -> None:
    for key in _BOX_KEYS:
        if key in results and results[key] is not None:
            value = results[key]
            results[key] = (
                value[keep] if not isinstance(value, list) else [v for v, k in zip(value, keep) if k]
            )


@TRANSFORMS.register_module()
class DetectionToGroundingPrompt(BaseTransform):
    """Build a grounding caption for a detection sample.

    Required keys: ``text`` (the vocabulary's names, indexed by label) and, when training,
    ``gt_bboxes_labels``. Modified keys: ``text`` (the caption),
    ``gt_bboxes``/``gt_bboxes_labels``/``gt_ignore_flags``/``gt_masks`` (labels become phrase indices; boxes
    of dropped labels removed). Added keys: ``text_names`` (the names), ``tokens_positive`` (per phrase,
    ``[[start, end]]``), ``phrase_label_ids`` (vocabulary index of each phrase), ``prompt_stats``
    (``num_positive``, ``num_negative``, ``dropped_labels``, ``dropped_boxes``, ``negatives_dropped``).

    Args:
        training: Sample negatives (GLIP's detection-to-grounding recipe); ``False`` builds the caption of the
            whole vocabulary in order (labels unchanged); a test-mode dataset carries no names unless built
            with ``return_classes=True`` (GLIP and MDETR take the test vocabulary from the dataset metainfo and
            chunk it themselves).
        num_negatives: Maximum number of negative names (GLIP: 85).
        max_tokens: Token budget, special tokens included (GLIP: 256).
        tokenizer: Hub name/directory of a fast tokenizer (or a tokenizer) to count tokens exactly; ``None``
            counts words and punctuation.
        full_sampling_prob: Probability of using all ``num_negatives`` (else a uniform number in [1, N]).
        shuffle: Shuffle the phrase order.
        separator: Text between names.
    """

    def __init__(
        self,
        training: bool = True,
        num_negatives: int = DEFAULT_NUM_NEGATIVES,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        tokenizer: Union[str, None, object] = None,
        full_sampling_prob: float = 0.5,
        shuffle: bool = True,
        separator: str = DEFAULT_SEPARATOR,
        seed: Optional[int] = None,
    ) -> None:
        self.training = training
        self.num_negatives = num_negatives
        self.max_tokens = max_tokens
        self._tokenizer_spec = tokenizer
        self._tokenizer = None
        self.full_sampling_prob = full_sampling_prob
        self.shuffle = shuffle
        self.separator = separator
        self.rng = random.Random(seed) if seed is not None else None

    @property
    def tokenizer(self):
        if self._tokenizer is None and self._tokenizer_spec is not None:
            self._tokenizer = _tokenizer(
                self._tokenizer_spec
            )  # loaded lazily: transforms are pickled to workers
        return self._tokenizer

    def transform(self, results: dict) -> dict:
        names = results.get('text')
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise ValueError(
                f'{type(self).__name__} needs results["text"] = the vocabulary names '
                f'(a detection sample; a test_mode dataset puts them there only with return_classes=True), '
                f'got {type(names).__name__} for {results.get("img_path")}'
            )
        names = list(names)
        results['text_names'] = names
        if not self.training:
            caption, spans = build_caption(names, self.separator)
            results['text'] = caption
            results['tokens_positive'] = [[list(s)] for s in spans]
            results['phrase_label_ids'] = list(range(len(names)))
            return results
        labels = np.asarray(results.get('gt_bboxes_labels', np.zeros(0, np.int64)), dtype=np.int64)
        prompt = sample_detection_prompt(
            names,
            labels.tolist(),
            self.num_negatives,
            self.max_tokens,
            self.tokenizer,
            self.full_sampling_prob,
            self.shuffle,
            self.separator,
            self.rng,
        )
        keep = np.array([int(label) in prompt.label_to_phrase for label in labels], dtype=bool)
        _keep_boxes(results, keep)
        results['gt_bboxes_labels'] = np.array(
            [prompt.label_to_phrase[int(label)] for label in labels[keep]], dtype=np.int64
        )
        results['text'] = prompt.caption
        results['tokens_positive'] = [[list(s)] for s in prompt.spans]
        results['phrase_label_ids'] = prompt.label_ids
        results['prompt_stats'] = dict(
            num_positive=len(prompt.positive_label_ids),
            num_negative=len(prompt.negative_label_ids),
            dropped_labels=len(prompt.dropped_label_ids),
            dropped_boxes=int((~keep).sum()),
            negatives_dropped=prompt.num_negatives_dropped,
        )
        return results

    def __repr__(self) -> str:
        return (
            f'{type(self).__name__}(training={self.training}, num_negatives={self.num_negatives}, '
            f'max_tokens={self.max_tokens}, tokenizer={self._tokenizer_spec!r})'
        )


@TRANSFORMS.register_module()
class AddPositiveMap(BaseTransform):
    """Add ``positive_map`` Tensor[num_phrases, max_tokens] for ``text`` and ``tokens_positive``.

    Args:
        tokenizer: Hub name or directory of a fast tokenizer (BERT for GLIP, RoBERTa for MDETR), or a
            tokenizer.
        max_tokens: Width of the map (the text encoder's maximum length).
        normalize: Rows sum to 1 (the GLIP/MDETR target form).
    """

    def __init__(
        self, tokenizer: Union[str, object], max_tokens: int = DEFAULT_MAX_TOKENS, normalize: bool = False
    ) -> None:
        self._tokenizer_spec = tokenizer
        self._tokenizer = None
        self.max_tokens = max_tokens
        self.normalize = normalize

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = _tokenizer(self._tokenizer_spec)
        return self._tokenizer

    def transform(self, results: dict) -> dict:
        text = results.get('text')
        if not isinstance(text, str) or 'tokens_positive' not in results:
            raise ValueError(
                f'{type(self).__name__} needs a caption in results["text"] and '
                f'results["tokens_positive"] (run DetectionToGroundingPrompt first on detection data); '
                f'sample {results.get("img_path")}'
            )
        enc = self.tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=self.max_tokens)
        results['positive_map'] = build_positive_map(
            enc, results['tokens_positive'], self.max_tokens, self.normalize
        )
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(tokenizer={self._tokenizer_spec!r}, max_tokens={self.max_tokens})'


@TRANSFORMS.register_module()
class PackGroundingInputs(PackDetInputs):
    """``PackDetInputs`` that keeps the text fields (caption, spans, phrase ids/types, positive map) in
    metainfo.

    Args:
        meta_keys: Keys copied into the ``DetDataSample`` metainfo when present (default
            :data:`GROUNDING_META_KEYS`).
    """

    def __init__(self, meta_keys: Sequence[str] = GROUNDING_META_KEYS) -> None:
        super().__init__(meta_keys=tuple(meta_keys))
