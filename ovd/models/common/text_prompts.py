"""The text side that GLIP and MDETR share: what a sample asks for, the model's vocabulary, encoded prompts.

Two things can name what a detector looks for (ovd's sample contract, ``docs/text_and_prompts.md``):

- a sample's caption (``text`` a ``str``) whose phrases are given by ``tokens_positive`` (per phrase, its
  character spans): grounding data, per image, labels are phrase indices;
- the model's vocabulary (:class:`VocabularyMixin`): detection data, labels index the vocabulary. It reaches
  the model once per loop from the dataset's ``metainfo`` (:mod:`ovd.models.common.vocabulary_hook`, the same
  ``Vocabulary`` the metric gets as ``dataset_meta``), with the dataset's name rule applied; a detection sample
  carries no names.

Training is the one place where a detection sample may carry names (``text`` a list of ``str``): the dataset
puts them there while training (``return_classes``) because a mixed-source stream holds several vocabularies
and a training prompt is built per sample from its own source's names. :func:`read_sample_text` tells the
three apart, with one error naming the image for anything else. :class:`TextCache` keeps what a detector
computed from a text (token maps, encoder features) between the images of an evaluation; the detector clears it
whenever it switches mode, because training changes the weights the features came from.
"""
from typing import Any, Callable, Dict, Hashable, List, NamedTuple, Optional, Sequence, Tuple, TypeVar, Union

from ovd.data.vocab import Vocabulary

Span = Tuple[int, int]
T = TypeVar('T')


class SampleText(NamedTuple):
    """A sample's text: ``spans`` is None for a vocabulary (``text`` = the names), else the caption's phrases."""
    text: Union[str, List[str]]
    spans: Optional[List[List[Span]]]

    @property
    def is_caption(self) -> bool:
        return self.spans is not None


def sample_name(data_sample: Any) -> str:
    """The image a sample comes from, for error messages."""
    return str(data_sample.get('img_path', None) or 'sample')


def read_sample_text(data_sample: Any, model: str) -> Optional[SampleText]:
    """A sample's ``text``: a caption with its phrases' character spans, names (a training detection sample of
    a mixed-source stream), or None: a detection sample, whose vocabulary is the model's.

    Args:
        data_sample: A ``DetDataSample`` (or any data element with ``get``) carrying ``text`` and, for a
            caption, ``tokens_positive``; or no ``text``.
        model: The model's name, for error messages.

    Raises:
        ValueError: naming the image, for a caption without ``tokens_positive`` or a ``text`` that is neither a
            caption nor a non-empty list of names.
    """
    text = data_sample.get('text', None)
    if text is None:
        return None
    if isinstance(text, str):
        tokens_positive = data_sample.get('tokens_positive', None)
        if tokens_positive is None:
            raise ValueError(f'{sample_name(data_sample)}: {model}: a caption (str "text") needs '
                             '"tokens_positive" (the character spans of each phrase)')
        return SampleText(text, [[tuple(span) for span in phrase] for phrase in tokens_positive])
    if not isinstance(text, (list, tuple)) or not text:
        raise ValueError(f'{sample_name(data_sample)}: {model}: "text" must be a caption with "tokens_positive" '
                         f'(grounding) or absent (detection: the model\'s vocabulary), got '
                         f'{type(text).__name__}')
    return SampleText(list(text), None)


def read_inference_text(data_sample: Any, model: str) -> Optional[SampleText]:
    """A test sample's caption (:func:`read_sample_text`), or None for a detection sample: at inference the
    vocabulary is the model's alone, so names on a sample are an error rather than a second source of truth."""
    text = read_sample_text(data_sample, model)
    if text is not None and not text.is_caption:
        raise ValueError(f'{sample_name(data_sample)}: {model}: a test sample carries class names in "text"; at '
                         'inference the vocabulary comes from the dataset\'s metainfo through the model '
                         '(VocabularyHook, or model.set_vocabulary): build the test dataset with test_mode=True '
                         '(or return_classes=False)')
    return text


def read_caption(data_sample: Any, model: str) -> SampleText:
    """A grounding sample's caption and phrase spans (:func:`read_sample_text`, a vocabulary is an error)."""
    text = data_sample.get('text', None)
    if not isinstance(text, str):
        raise ValueError(f'{sample_name(data_sample)}: {model} grounding needs a caption string in "text" (and '
                         f'"tokens_positive"), got {type(text).__name__}')
    caption = read_sample_text(data_sample, model)
    assert caption is not None  # a str text is a caption
    return caption


def vocabulary_texts(vocabulary: Union[Vocabulary, Sequence[str]], name_rule: str = 'default') -> Tuple[str, ...]:
    """The texts a detector prompts with, in label order: a ``Vocabulary``'s texts under ``name_rule``
    (:meth:`~ovd.data.vocab.Vocabulary.prompt_texts`), or texts given as they are (a rule already applied,
    e.g. an official release's class captions).

    Raises:
        ValueError: for an empty vocabulary, a text that is not a non-empty ``str``, or a rule given with texts.
    """
    if isinstance(vocabulary, Vocabulary):
        texts = vocabulary.prompt_texts(name_rule)
        where = f'vocabulary {vocabulary.name!r}'
    else:
        if isinstance(vocabulary, str) or not isinstance(vocabulary, Sequence):
            raise ValueError(f'a vocabulary must be a Vocabulary or a sequence of texts, got '
                             f'{type(vocabulary).__name__}')
        if name_rule != 'default':
            raise ValueError(f'name_rule {name_rule!r} applies to a Vocabulary; texts are used as given')
        texts, where = tuple(vocabulary), 'vocabulary texts'
    if not texts:
        raise ValueError(f'{where}: empty, a detector needs at least one class text')
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str) or not t), None)
    if bad is not None:
        raise ValueError(f'{where}: text {bad} must be a non-empty str, got {texts[bad]!r}')
    return tuple(texts)


class VocabularyMixin:
    """The vocabulary of a detector that prompts with class texts, set once per loop (not read per sample).

    :meth:`set_vocabulary` is what ``VocabularyHook`` calls before each train/val/test loop with the loop's
    dataset metainfo; call it directly when running the model outside a runner. The detector defines
    :meth:`_vocabulary_changed` to drop what it derived from the old texts.
    """

    vocabulary: Optional[Union[Vocabulary, Tuple[str, ...]]] = None
    vocabulary_texts: Optional[Tuple[str, ...]] = None

    def set_vocabulary(self, vocabulary: Union[Vocabulary, Sequence[str]], name_rule: str = 'default') -> None:
        """Detect ``vocabulary`` from now on: a ``Vocabulary`` read under ``name_rule``, or its texts as given."""
        texts = vocabulary_texts(vocabulary, name_rule)
        self.vocabulary = vocabulary if isinstance(vocabulary, Vocabulary) else texts
        if texts != self.vocabulary_texts:
            self.vocabulary_texts = texts
            self._vocabulary_changed()

    def _vocabulary_changed(self) -> None:
        """Drop what was derived from the previous vocabulary's texts (prompts, encoded captions)."""

    def require_vocabulary(self, data_sample: Any, model: str) -> Tuple[str, ...]:
        """The vocabulary's texts for a detection sample; an error naming the image when none was set."""
        if self.vocabulary_texts is None:
            raise ValueError(f'{sample_name(data_sample)}: {model}: a detection sample (no caption in "text") but '
                             'the model has no vocabulary: it is set from the dataset\'s metainfo by '
                             'VocabularyHook (default_hooks.vocabulary in configs/_base_/default_runtime.py), or '
                             'call model.set_vocabulary(vocabulary, name_rule)')
        return self.vocabulary_texts


class TextCache:
    """Results computed from texts (token maps, encoder features), kept while a model evaluates.

    Args:
        capacity: How many entries to keep; the oldest goes first when full. None keeps every one (GLIP's
            vocabulary prompts); 1 keeps the last vocabulary (MDETR's captions).
    """

    def __init__(self, capacity: Optional[int] = None) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError(f'TextCache capacity must be None or >= 1, got {capacity}')
        self.capacity = capacity
        self._entries: Dict[Hashable, Any] = {}

    def get(self, key: Hashable, compute: Callable[[], T], enabled: bool = True) -> T:
        """The entry under ``key``, computed by ``compute()`` and kept the first time; ``enabled=False``
        computes without looking or keeping (training, or a cache switched off in the config)."""
        if not enabled:
            return compute()
        if key in self._entries:
            return self._entries[key]
        value = compute()
        while self.capacity is not None and len(self._entries) >= self.capacity:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = value
        return value

    def clear(self) -> None:
        """Drop every entry (the weights the features came from may change)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries


__all__ = ['SampleText', 'Span', 'TextCache', 'VocabularyMixin', 'read_caption', 'read_inference_text',
           'read_sample_text', 'sample_name', 'vocabulary_texts']
