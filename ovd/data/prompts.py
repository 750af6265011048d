"""The prompt layer: captions from category names, vocabulary chunks, negative sampling, span -> token maps.

A detection vocabulary becomes a grounding caption ``"cat. dog. hair dryer"`` with the character span of each
name; large vocabularies are split into chunks (GLIP runs LVIS as 31 prompts of 40 names); training on
detection data samples negative names next to the positive ones under a token budget (GLIP's "od to grounding"
recipe: up to 85 negatives, 256 tokens, positive names that do not fit are dropped together with their boxes
and counted); and character spans become a positive map over the tokens of any Hugging Face fast tokenizer,
using its offsets.
"""

import random
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

Span = Tuple[int, int]
DEFAULT_SEPARATOR = '. '
DEFAULT_CHUNK_SIZE = 40
DEFAULT_NUM_NEGATIVES = 85  # GLIP (Li et al., CVPR 2022) samples up to 85 negative categories per image
DEFAULT_FULL_SAMPLING_PROB = 0.5  # GLIP: all of them half of the time, else a uniform number in [1, 85]
DEFAULT_MAX_TOKENS = 256  # GLIP's and MDETR's text length

__all__ = [
    'Span',
    'build_caption',
    'chunk_vocabulary',
    'build_chunked_prompts',
    'PromptChunk',
    'SampledPrompt',
    'sample_detection_prompt',
    'build_positive_map',
    'token_counter',
]


def build_caption(names: Sequence[str], separator: str = DEFAULT_SEPARATOR) -> Tuple[str, List[Span]]:
    """Join names into one caption and return the character span of each name.

    Args:
        names: Category texts in caption order, used verbatim (a vocabulary's ``prompt_texts(name_rule)``: GLIP's
            ``"bow "`` keeps its trailing space inside its span, as GLIP's own caption builder does).
        separator: Text placed between two names.

    Returns:
        ``(caption, spans)``: e.g. ``("cat. dog. hair dryer", [(0, 3), (5, 8), (10, 20)])``;
        ``caption[s:e] == names[i]`` for ``(s, e) = spans[i]``.
    """
    parts, spans, pos = [], [], 0
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'name {i} is empty or not a string: {name!r}')
        if i:
            parts.append(separator)
            pos += len(separator)
        spans.append((pos, pos + len(name)))
        parts.append(name)
        pos += len(name)
    return ''.join(parts), spans


def chunk_vocabulary(n_names: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> List[List[int]]:
    """Split ``range(n_names)`` into consecutive chunks of at most ``chunk_size`` indices.

    Args:
        n_names: Vocabulary size (LVIS v1: 1203 -> 31 chunks of 40, the last one of 3).
        chunk_size: Names per chunk.

    Returns:
        A list of index lists covering every index once, in order.
    """
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    if n_names < 0:
        raise ValueError(f'n_names must be >= 0, got {n_names}')
    return [list(range(s, min(s + chunk_size, n_names))) for s in range(0, n_names, chunk_size)]


@dataclass
class PromptChunk:
    """One prompt of a chunked vocabulary: ``caption[spans[i]]`` is the name of vocabulary index
    ``label_ids[i]``."""

    label_ids: List[int]
    caption: str
    spans: List[Span]

    @property
    def tokens_positive(self) -> List[List[Span]]:
        return [[span] for span in self.spans]


def build_chunked_prompts(
    names: Sequence[str], chunk_size: int = DEFAULT_CHUNK_SIZE, separator: str = DEFAULT_SEPARATOR
) -> List[PromptChunk]:
    """Captions for a whole vocabulary, ``chunk_size`` names each (inference over large vocabularies)."""
    chunks = []
    for idx in chunk_vocabulary(len(names), chunk_size):
        caption, spans = build_caption([names[i] for i in idx], separator)
        chunks.append(PromptChunk(idx, caption, spans))
    return chunks


_WORD_OR_PUNCT = re.compile(r'\w+|[^\w\s]')


def token_counter(tokenizer=None) -> Callable[[str], int]:
    """A function counting the tokens of a text (special tokens excluded).

    With a tokenizer it is exact (``len(tokenizer.tokenize(text))``); without one it counts words and
    punctuation marks, a lower bound of any sub-word tokenizer's count.
    """
    if tokenizer is None:
        return lambda text: len(_WORD_OR_PUNCT.findall(text))
    return lambda text: len(tokenizer.tokenize(text))


@dataclass
class SampledPrompt:
    """A caption built from positive and negative names of a detection sample.

    Attributes:
        caption: The caption.
        label_ids: Vocabulary index of each phrase, in caption order.
        spans: Character span of each phrase.
        label_to_phrase: Vocabulary index -> phrase index, for the positive labels kept.
        positive_label_ids: Positive vocabulary indices kept in the caption.
        dropped_label_ids: Positive vocabulary indices dropped because they did not fit the token budget.
        negative_label_ids: Negative vocabulary indices in the caption.
        num_negatives_dropped: Sampled negatives left out for the budget.
    """

    caption: str
    label_ids: List[int]
    spans: List[Span]
    label_to_phrase: Dict[int, int]
    positive_label_ids: List[int]
    dropped_label_ids: List[int] = field(default_factory=list)
    negative_label_ids: List[int] = field(default_factory=list)
    num_negatives_dropped: int = 0

    @property
    def tokens_positive(self) -> List[List[Span]]:
        return [[span] for span in self.spans]


def sample_detection_prompt(
    names: Sequence[str],
    positive_labels: Sequence[int],
    num_negatives: int = DEFAULT_NUM_NEGATIVES,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    tokenizer=None,
    full_sampling_prob: float = DEFAULT_FULL_SAMPLING_PROB,
    shuffle: bool = True,
    separator: str = DEFAULT_SEPARATOR,
    rng: Optional[random.Random] = None,
) -> SampledPrompt:
    """Build a grounding caption for detection data: the image's categories plus sampled negatives.

    The recipe follows GLIP's detection-to-grounding conversion: the positive names are shuffled and kept
    while they fit in the token budget (those that do not are dropped and reported, their boxes must be
    dropped too); the number of negatives is ``num_negatives`` with probability ``full_sampling_prob``,
    otherwise uniform in ``[1, num_negatives]``; negatives are drawn without replacement from the names not
    present and added while they fit; the phrases are then shuffled together.

    Args:
        names: The vocabulary's texts (``prompt_texts(name_rule)``, the sample's ``text``), indexed by label.
        positive_labels: Labels of the image's boxes (repeats allowed).
        num_negatives: Maximum number of negative names (capped by the vocabulary size).
        max_tokens: Token budget of the caption, special tokens included.
        tokenizer: A Hugging Face tokenizer used to count tokens exactly; ``None`` counts words and
            punctuation.
        full_sampling_prob: Probability of sampling the full ``num_negatives``.
        shuffle: Shuffle the phrase order (GLIP does; turn off for reproducible tests).
        separator: Text between two names.
        rng: Random source (``random.Random``); the module's global one if ``None``.

    Returns:
        A :class:`SampledPrompt`.
    """
    rng = rng or random
    n = len(names)
    positives = sorted(set(int(label) for label in positive_labels))
    for label in positives:
        if not 0 <= label < n:
            raise ValueError(f'label {label} is outside the vocabulary of {n} names')
    count = token_counter(tokenizer)
    specials = _num_special_tokens(tokenizer)
    budget = max_tokens - specials
    # Each phrase costs its own tokens plus the separator's; counting "name." matches how the caption
    # tokenizes.
    sep_cost = count(separator.strip()) if separator.strip() else 0

    if shuffle:
        rng.shuffle(positives)
    kept, dropped, used = [], [], 0
    for label in positives:
        cost = count(names[label]) + (sep_cost if kept else 0)
        if used + cost <= budget:
            kept.append(label)
            used += cost
        else:
            dropped.append(label)

    present = set(positives)
    candidates = [i for i in range(n) if i not in present]
    full = min(num_negatives, len(candidates))
    k = full if (full == 0 or rng.random() < full_sampling_prob) else rng.randint(1, full)
    sampled = rng.sample(candidates, k)
    negatives, neg_dropped = [], 0
    for label in sampled:
        cost = count(names[label]) + (sep_cost if (kept or negatives) else 0)
        if used + cost <= budget:
            negatives.append(label)
            used += cost
        else:
            neg_dropped += 1

    order = kept + negatives
    if shuffle:
        rng.shuffle(order)
    caption, spans = build_caption([names[i] for i in order], separator) if order else ('', [])
    if tokenizer is not None:
        # The per-name counts can differ from the caption's tokenization at word joins; trim until it fits.
        while order and len(tokenizer(caption)['input_ids']) > max_tokens:
            victim = next((i for i in reversed(order) if i in negatives), order[-1])
            order.remove(victim)
            if victim in negatives:
                negatives.remove(victim)
                neg_dropped += 1
            else:
                kept.remove(victim)
                dropped.append(victim)
            caption, spans = build_caption([names[i] for i in order], separator) if order else ('', [])
    kept_set = set(kept)
    label_to_phrase = {label: j for j, label in enumerate(order) if label in kept_set}
    return SampledPrompt(
        caption=caption,
        label_ids=list(order),
        spans=spans,
        label_to_phrase=label_to_phrase,
        positive_label_ids=[i for i in order if i in label_to_phrase],
        dropped_label_ids=sorted(dropped),
        negative_label_ids=[i for i in order if i in negatives],
        num_negatives_dropped=neg_dropped,
    )


def _num_special_tokens(tokenizer) -> int:
    if tokenizer is None:
        return 2
    try:
        return tokenizer.num_special_tokens_to_add(pair=False)
    except AttributeError:
        return 2


def _offsets_of(tokenized) -> List[Tuple[int, int]]:
    """Per-token character offsets of ONE text from a fast tokenizer's output (or a list of offsets)."""
    if isinstance(tokenized, (list, tuple)):
        offsets = tokenized
    else:
        offsets = None
        if 'offset_mapping' in tokenized:
            offsets = tokenized['offset_mapping']
        elif getattr(tokenized, 'encodings', None):
            offsets = tokenized.encodings[0].offsets
        if offsets is None:
            raise ValueError(
                'tokenized text has no offsets: call a *fast* tokenizer with return_offsets_mapping=True'
            )
    if isinstance(offsets, torch.Tensor):
        offsets = offsets.tolist()
    if (
        len(offsets)
        and isinstance(offsets[0], (list, tuple))
        and len(offsets[0])
        and isinstance(offsets[0][0], (list, tuple))
    ):
        if len(offsets) != 1:
            raise ValueError(f'expected the tokenization of one text, got a batch of {len(offsets)}')
        offsets = offsets[0]
    return [(int(s), int(e)) for s, e in offsets]


def _char_to_token_table(offsets: np.ndarray, size: int) -> np.ndarray:
    """``table[c]`` = the first token whose offsets contain character ``c`` (what a fast tokenizer's
    ``char_to_token`` answers), -1 for none: trimmed whitespace and special tokens (empty offsets) hold no
    character. ``size`` bounds the characters looked up."""
    starts = np.minimum(offsets[:, 0], size)
    lengths = np.clip(np.minimum(offsets[:, 1], size) - starts, 0, None)
    token = np.repeat(np.arange(len(offsets)), lengths)
    char = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(len(token))
    table = np.full(size, -1, dtype=np.int64)
    table[char[::-1]] = token[::-1]  # reversed: where offsets overlap, the first token holding a character wins
    return table


def _first_found(table: np.ndarray, chars: np.ndarray) -> np.ndarray:
    """Per row of ``chars`` ``[S, k]``, the token of the first character that has one (-1 if none does)."""
    inside = (chars >= 0) & (chars < len(table))
    tokens = np.where(inside, table[np.clip(chars, 0, len(table) - 1)], -1)  # [S, k]
    found = tokens >= 0
    return np.where(found.any(1), tokens[np.arange(len(tokens)), found.argmax(1)], -1)


def build_positive_map(
    tokenized,
    tokens_positive: Sequence[Sequence[Span]],
    max_tokens: int = DEFAULT_MAX_TOKENS,
    normalize: bool = False,
) -> torch.Tensor:
    """Map each phrase's character spans to tokens, as the official GLIP and MDETR ``create_positive_map``.

    A span ``[start, end)`` is positive on every token from the one holding character ``start`` to the one
    holding ``end - 1`` (each looked up as a fast tokenizer's ``char_to_token`` does, from the offsets; when a
    character maps to no token the next one or two inward are tried; a span with no first or last token adds
    nothing). Tokens in between are included even when their offsets are empty: RoBERTa's byte-level BPE can
    split ``" red"`` into a bare ``Ġ`` token and ``red``, and the ``Ġ`` inside a span is positive. Tokens at
    positions ``>= max_tokens`` are cut off (as the text encoder truncates them).

    Official rule (identical in both): ashkamath/mdetr ``datasets/coco.py`` L81-107 and microsoft/GLIP
    ``maskrcnn_benchmark/data/datasets/modulated_coco.py`` ``create_positive_map``; mmdet 3.3's GLIP
    (``mmdet/models/detectors/glip.py`` ``create_positive_map``) follows it too.

    Args:
        tokenized: Output of a fast tokenizer for one text with ``return_offsets_mapping=True`` (a
            ``BatchEncoding`` or dict, batch size 1 allowed), or the list of per-token ``(start, end)``
            offsets.
        tokens_positive: Per phrase, a list of ``(start, end)`` character spans into the text.
        max_tokens: Width of the map.
        normalize: Divide each row by its sum + 1e-6 (the official datasets store this normalised map).

    Returns:
        Tensor[num_phrases, max_tokens], float32, 1 (or 1/k normalised) on the phrase's tokens.
    """
    offsets = np.asarray(_offsets_of(tokenized), dtype=np.int64).reshape(-1, 2)  # [T, 2]
    phrase_of_span, spans = [], []
    for j, phrase_spans in enumerate(tokens_positive):
        for span in phrase_spans:
            start, end = int(span[0]), int(span[1])
            if end <= start:
                raise ValueError(f'phrase {j}: empty or reversed span {tuple(span)}')
            phrase_of_span.append(j)
            spans.append((start, end))
    hits = np.zeros((len(tokens_positive), max_tokens), dtype=bool)
    if spans and len(offsets):  # numpy rather than torch: no thread pool for a tiny op
        span_arr = np.asarray(spans, dtype=np.int64)  # [S, 2]
        table = _char_to_token_table(offsets, int(max(offsets[:, 1].max(), span_arr.max())) + 1)
        first = _first_found(table, span_arr[:, :1] + np.arange(3))  # start, start + 1, start + 2
        last = _first_found(table, span_arr[:, 1:] - np.arange(1, 4))  # end - 1, end - 2, end - 3
        positions = np.arange(max_tokens)
        # a span without a first or a last token adds nothing, as officially
        covered = ((positions >= first[:, None]) & (positions <= last[:, None])
                   & (first >= 0)[:, None] & (last >= 0)[:, None])  # [S, max_tokens]
        phrase = np.asarray(phrase_of_span)  # non-decreasing: OR each phrase's consecutive rows together
        group = np.flatnonzero(np.r_[True, phrase[1:] != phrase[:-1]])
        hits[phrase[group]] = covered if len(group) == len(phrase) else np.logical_or.reduceat(covered, group, axis=0)
    positive_map = torch.from_numpy(hits.astype(np.float32))
    if normalize:  # the official expression, epsilon included
        positive_map = positive_map / (positive_map.sum(-1, keepdim=True) + 1e-6)
    return positive_map
