"""The text side that GLIP and MDETR share: reading what a sample asks for, and keeping encoded prompts.

A sample's ``text`` is one of two things (ovd's sample contract, ``docs/text_and_prompts.md``):

- a caption (``str``) whose phrases are given by ``tokens_positive`` (per phrase, its character spans):
  grounding data, labels are phrase indices;
- the vocabulary's texts (a non-empty list or tuple of ``str``, the dataset's name rule already applied):
  detection data, labels index the vocabulary.

:func:`read_sample_text` tells the two apart, with one error naming the image for anything else.
:class:`TextCache` keeps what a detector computed from a text (token maps, encoder features) between the images of
an evaluation; the detector clears it whenever it switches mode, because training changes the weights the
features came from.
"""
from typing import Any, Callable, Dict, Hashable, List, NamedTuple, Optional, Tuple, TypeVar, Union

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


def read_sample_text(data_sample: Any, model: str) -> SampleText:
    """A sample's ``text``: a caption with its phrases' character spans, or the vocabulary's texts.

    Args:
        data_sample: A ``DetDataSample`` (or any data element with ``get``) carrying ``text`` and, for a
            caption, ``tokens_positive``.
        model: The model's name, for error messages.

    Raises:
        ValueError: naming the image, for a caption without ``tokens_positive`` or a ``text`` that is neither a
            caption nor a non-empty list of names.
    """
    text = data_sample.get('text', None)
    if isinstance(text, str):
        tokens_positive = data_sample.get('tokens_positive', None)
        if tokens_positive is None:
            raise ValueError(f'{sample_name(data_sample)}: {model}: a caption (str "text") needs '
                             '"tokens_positive" (the character spans of each phrase)')
        return SampleText(text, [[tuple(span) for span in phrase] for phrase in tokens_positive])
    if not isinstance(text, (list, tuple)) or not text:
        raise ValueError(f'{sample_name(data_sample)}: {model} needs "text": a caption with "tokens_positive" '
                         f'(grounding) or the vocabulary names (detection), got {type(text).__name__}')
    return SampleText(list(text), None)


def read_caption(data_sample: Any, model: str) -> SampleText:
    """A grounding sample's caption and phrase spans (:func:`read_sample_text`, a vocabulary is an error)."""
    text = data_sample.get('text', None)
    if not isinstance(text, str):
        raise ValueError(f'{sample_name(data_sample)}: {model} grounding needs a caption string in "text" (and '
                         f'"tokens_positive"), got {type(text).__name__}')
    return read_sample_text(data_sample, model)


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


__all__ = ['SampleText', 'Span', 'TextCache', 'read_caption', 'read_sample_text', 'sample_name']
