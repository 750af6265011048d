"""Tiny sub-word tokenizers built offline for tests: WordPiece (BERT) and byte-level BPE (RoBERTa).

The vocabularies are learnt here from a small fixed corpus (the COCO category names plus a few captions) by a
byte-pair-encoding trainer written in plain Python, then handed to the ``tokenizers`` library's WordPiece and
BPE models, so tokenization, offsets and the ``transformers`` fast-tokenizer classes are the real ones. The
vocabularies are small enough that many category names split into several sub-words, so tests of span -> token
maps exercise the multi-sub-word path a real BERT/RoBERTa takes on rare LVIS names.

Why not ``tokenizers``' own trainers: their merge order among equally frequent pairs depends on hash order,
which changes from process to process, so the same corpus gave different vocabularies in different runs. Ties
are broken lexicographically here: the same corpus and size give the same tokenizer everywhere.
"""

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
ROBERTA_SPECIAL_TOKENS = ['<s>', '<pad>', '</s>', '<unk>', '<mask>']
# Sizes chosen so that common short words are whole tokens and long/rare words split (e.g. "hair dryer").
TINY_BERT_VOCAB_SIZE = 400
TINY_ROBERTA_VOCAB_SIZE = 600
MODEL_MAX_LENGTH = 512

_CAPTIONS = [
    'A child in a pink dress is climbing up a set of stairs in an entry way .',
    'Two young guys with shaggy hair look at their hands while hanging out in the yard .',
    'A man in a blue shirt is standing on a ladder cleaning windows .',
    'A dog runs across the grass with a frisbee in its mouth .',
    'cat. dog. person. car. a photo of a cat. a photo of the dog. there is a large person in the scene.',
    'Several men in hard hats are operating a giant pulley system .',
    'A woman with a hair dryer stands next to a refrigerator , a toaster and an oven .',
]


def tiny_corpus() -> List[str]:
    """The fixed training corpus: a few captions plus the 80 COCO names (shipped in ``ovd/data/metadata``)."""
    meta = Path(__file__).resolve().parents[2] / 'metadata' / 'coco_categories.json'
    with open(meta, encoding='utf-8') as f:
        categories = json.load(f)
    if isinstance(categories, dict):
        categories = categories.get('categories', [])
    names = [c['name'] for c in categories]
    return _CAPTIONS + names + ['. '.join(names)]


def _merge_word(word: Tuple[str, ...], pair: Tuple[str, str], joined: str) -> Tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(joined)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_bpe(word_counts: Dict[Tuple[str, ...], int], num_merges: int,
              join=lambda a, b: a + b) -> List[Tuple[str, str]]:
    """Byte-pair-encoding merges, most frequent pair first, ties broken by the pair's text (deterministic).

    Args:
        word_counts: Each word as a tuple of initial symbols -> its count in the corpus.
        num_merges: Maximum number of merges.
        join: How two symbols combine into the merged symbol.

    Returns:
        The merges in order.
    """
    words = dict(word_counts)
    merges: List[Tuple[str, str]] = []
    for _ in range(num_merges):
        pairs: Counter = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        joined = join(*best)
        words = {_merge_word(w, best, joined): c for w, c in words.items()}
    return merges


@functools.lru_cache(maxsize=None)
def _wordpiece_vocab(vocab_size: int) -> Tuple[str, ...]:
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    counts: Counter = Counter()
    for text in tiny_corpus():
        for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[word] += 1
    # WordPiece vocabularies are BPE vocabularies with '##' marking symbols that continue a word
    words = {tuple([w[0]] + ['##' + c for c in w[1:]]): n for w, n in counts.items()}
    alphabet = sorted({s for w in words for s in w})
    num_merges = vocab_size - len(BERT_SPECIAL_TOKENS) - len(alphabet)
    merges = learn_bpe(words, num_merges, join=lambda a, b: a + b[2:])
    vocab = list(BERT_SPECIAL_TOKENS) + alphabet
    for a, b in merges:
        token = a + b[2:]
        if token not in vocab:
            vocab.append(token)
    return tuple(vocab)


@functools.lru_cache(maxsize=None)
def _byte_level_bpe(vocab_size: int) -> Tuple[Tuple[str, ...], Tuple[Tuple[str, str], ...]]:
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False)
    counts: Counter = Counter()
    for text in tiny_corpus():
        for word, _ in pre.pre_tokenize_str(text):
            counts[word] += 1
    words = {tuple(w): n for w, n in counts.items()}
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    num_merges = vocab_size - len(ROBERTA_SPECIAL_TOKENS) - len(alphabet)
    merges = learn_bpe(words, num_merges)
    vocab = list(ROBERTA_SPECIAL_TOKENS) + alphabet + [a + b for a, b in merges]
    return tuple(dict.fromkeys(vocab)), tuple(merges)


def build_tiny_bert_tokenizer(vocab_size: int = TINY_BERT_VOCAB_SIZE, whole_words: Sequence[str] = ()):
    """A lower-casing WordPiece tokenizer with BERT's special tokens and ``[CLS] A [SEP]`` template.

    Args:
        vocab_size: Size of the vocabulary, special tokens and alphabet included.
        whole_words: Words added to the vocabulary as single tokens (lower-cased, split by BERT's
            pre-tokenizer), e.g. every word of a class list, so that prompts have about as many tokens as with
            bert-base-uncased's 30k vocabulary; benchmarks use it.

    Returns:
        A ``BertTokenizerFast`` (offsets mapping supported) that ``save_pretrained`` writes and
        ``AutoTokenizer.from_pretrained`` reads back.
    """
    from transformers import BertTokenizerFast

    tokens = list(_wordpiece_vocab(vocab_size))
    if whole_words:
        normalizer = normalizers.BertNormalizer(lowercase=True)
        pre = pre_tokenizers.BertPreTokenizer()
        known = set(tokens)
        for text in whole_words:
            for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)):
                if word not in known:
                    known.add(word)
                    tokens.append(word)
    vocab = {token: i for i, token in enumerate(tokens)}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1',
        special_tokens=[('[CLS]', vocab['[CLS]']), ('[SEP]', vocab['[SEP]'])])
    tok.decoder = decoders.WordPiece()
    return BertTokenizerFast(
        tokenizer_object=tok, do_lower_case=True, unk_token='[UNK]', pad_token='[PAD]', cls_token='[CLS]',
        sep_token='[SEP]', mask_token='[MASK]', model_max_length=MODEL_MAX_LENGTH)


def build_tiny_roberta_tokenizer(vocab_size: int = TINY_ROBERTA_VOCAB_SIZE):
    """A byte-level BPE tokenizer with RoBERTa's special tokens and ``<s> A </s>`` template.

    Args:
        vocab_size: Size of the vocabulary (256 byte symbols and the special tokens included).

    Returns:
        A ``RobertaTokenizerFast`` with ``trim_offsets`` on (offsets exclude the leading space, as in
        ``roberta-base``).
    """
    tokens, merges = _byte_level_bpe(vocab_size)
    return roberta_tokenizer(tokens, list(merges))


def roberta_tokenizer(tokens: Sequence[str], merges: Sequence[tuple]):
    """A ``RobertaTokenizerFast`` over a byte-level BPE of ``tokens`` (ids in this order, RoBERTa's special
    tokens among them) and ``merges``, with RoBERTa's ``<s> A </s>`` template and ``trim_offsets`` on."""
    from transformers import RobertaTokenizerFast

    vocab = {token: i for i, token in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=list(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(
        sep=('</s>', vocab['</s>']), cls=('<s>', vocab['<s>']), trim_offsets=True, add_prefix_space=False)
    return RobertaTokenizerFast(
        tokenizer_object=tok, bos_token='<s>', eos_token='</s>', sep_token='</s>', cls_token='<s>',
        unk_token='<unk>', pad_token='<pad>', mask_token='<mask>', add_prefix_space=False, trim_offsets=True,
        model_max_length=MODEL_MAX_LENGTH)


__all__: Sequence[str] = [
    'build_tiny_bert_tokenizer', 'build_tiny_roberta_tokenizer', 'learn_bpe', 'roberta_tokenizer', 'tiny_corpus',
]
