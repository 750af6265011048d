"""The tiny RoBERTa MDETR's world config starts from: ovd's tiny random RoBERTa with a byte-level BPE that keeps
every word of the world whole (``red``, ``Ġstriped``, ``Ġstar``), as roberta-base's 50k vocabulary does.

The plain tiny RoBERTa's BPE, learnt on the COCO names, cuts the world's words nearly into letters
(``blue`` -> ``b l u e``, ``striped`` -> ``Ġst r i p ed``) that other names share (the ``Ġst`` of ``striped``
and ``star``, the ``ell`` of ``yellow`` and ``ellipse``): a random encoder then sees bags of letters, and
``blue striped star`` costs 11 tokens. Here the merges that build each world word (with and without the
leading space) are learnt first, then those of the tiny corpus, so the world's words are single tokens and
everything else tokenizes as before. Written once to ``<world>/tiny_roberta/`` (seed 0, deterministic).
"""
from collections import Counter
from pathlib import Path
from typing import Sequence, Union

ROBERTA_DIR = 'tiny_roberta'
#: count given to each world word when learning the merges: above any pair count of the tiny corpus, so the
#: world words' merges come first
_WORD_WEIGHT = 10 ** 6


def build_world_roberta_tokenizer(whole_words: Sequence[str]):
    """A ``RobertaTokenizerFast`` like ``build_tiny_roberta_tokenizer`` whose BPE keeps ``whole_words`` whole.

    Args:
        whole_words: Words (no spaces) to keep as single tokens, both at the start of a text and after a space.

    Returns:
        A ``RobertaTokenizerFast`` (offsets supported, ``trim_offsets`` on), with the tiny RoBERTa's special
        tokens and template.
    """
    from tokenizers import pre_tokenizers

    from .tiny_text.tokenizers import (
        ROBERTA_SPECIAL_TOKENS,
        TINY_ROBERTA_VOCAB_SIZE,
        learn_bpe,
        roberta_tokenizer,
        tiny_corpus,
    )
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
    world: Counter = Counter()
    for word in whole_words:
        if not word or any(c.isspace() for c in word):
            raise ValueError(f'whole_words must be single words, got {word!r}')
        for piece, _ in pre.pre_tokenize_str(word) + pre.pre_tokenize_str(' ' + word):
            world[tuple(piece)] = _WORD_WEIGHT
    corpus: Counter = Counter()
    for text in tiny_corpus():
        for piece, _ in pre.pre_tokenize_str(text):
            corpus[tuple(piece)] += 1
    world_merges = learn_bpe(world, sum(len(w) for w in world))
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    budget = TINY_ROBERTA_VOCAB_SIZE - len(ROBERTA_SPECIAL_TOKENS) - len(alphabet)
    corpus_merges = learn_bpe(corpus, max(0, budget - len(world_merges)))
    merges = list(dict.fromkeys(world_merges + corpus_merges))
    tokens = list(dict.fromkeys(list(ROBERTA_SPECIAL_TOKENS) + alphabet + [a + b for a, b in merges]))
    return roberta_tokenizer(tokens, merges)


def ensure_world_roberta(world: Union[str, Path], seed: int = 0) -> Path:
    """``<world>/tiny_roberta``: written when missing (atomically, by renaming a finished folder), else reused."""
    from .io import write_folder_once
    from .ov_world import world_words
    from .tiny_text import save_tiny_roberta
    return write_folder_once(Path(world) / ROBERTA_DIR, lambda partial: save_tiny_roberta(
        partial, seed=seed, tokenizer=build_world_roberta_tokenizer(world_words())))
