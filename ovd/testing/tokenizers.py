"""Tiny sub-word tokenizers built offline for tests: a WordPiece BERT tokenizer and a byte-level BPE RoBERTa one.

Both are trained with the ``tokenizers`` library on a small fixed corpus (the COCO category names plus a few
captions), with vocabularies small enough that many category names split into several sub-words, so tests of
span -> token maps exercise the multi-sub-word path a real BERT/RoBERTa takes on rare LVIS names. Training is
deterministic: the same corpus and vocabulary size give the same tokenizer in every process.
"""
import json
from pathlib import Path
from typing import List

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers import BertTokenizerFast, RobertaTokenizerFast

BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
ROBERTA_SPECIAL_TOKENS = ['<s>', '<pad>', '</s>', '<unk>', '<mask>']
# Sizes chosen so that common short words are whole tokens and long/rare words split (e.g. "refrigerator").
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
    meta = Path(__file__).resolve().parents[1] / 'data' / 'metadata' / 'coco_categories.json'
    with open(meta, encoding='utf-8') as f:
        categories = json.load(f)
    if isinstance(categories, dict):
        categories = categories.get('categories', [])
    names = [c['name'] for c in categories]
    return _CAPTIONS + names + ['. '.join(names)]


def build_tiny_bert_tokenizer(vocab_size: int = TINY_BERT_VOCAB_SIZE) -> BertTokenizerFast:
    """Train a lower-casing WordPiece tokenizer with BERT's special tokens and ``[CLS] A [SEP]`` template.

    Args:
        vocab_size: Size of the trained vocabulary, special tokens and alphabet included.

    Returns:
        A ``BertTokenizerFast`` (offsets mapping supported) that ``save_pretrained`` writes and
        ``AutoTokenizer.from_pretrained`` reads back.
    """
    tok = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(tiny_corpus(), trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=BERT_SPECIAL_TOKENS, show_progress=False))
    cls_id, sep_id = tok.token_to_id('[CLS]'), tok.token_to_id('[SEP]')
    tok.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1',
        special_tokens=[('[CLS]', cls_id), ('[SEP]', sep_id)])
    tok.decoder = decoders.WordPiece()
    return BertTokenizerFast(
        tokenizer_object=tok, do_lower_case=True, unk_token='[UNK]', pad_token='[PAD]', cls_token='[CLS]',
        sep_token='[SEP]', mask_token='[MASK]', model_max_length=MODEL_MAX_LENGTH)


def build_tiny_roberta_tokenizer(vocab_size: int = TINY_ROBERTA_VOCAB_SIZE) -> RobertaTokenizerFast:
    """Train a byte-level BPE tokenizer with RoBERTa's special tokens and ``<s> A </s>`` template.

    Args:
        vocab_size: Size of the trained vocabulary (256 byte symbols and the special tokens included).

    Returns:
        A ``RobertaTokenizerFast`` with ``trim_offsets`` on (offsets exclude the leading space, as in
        ``roberta-base``).
    """
    bpe = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    bpe.train_from_iterator(tiny_corpus(), vocab_size=vocab_size, special_tokens=ROBERTA_SPECIAL_TOKENS,
                            show_progress=False)
    tok = bpe._tokenizer  # the underlying tokenizers.Tokenizer; the wrapper class has no public accessor
    tok.post_processor = processors.RobertaProcessing(
        sep=('</s>', tok.token_to_id('</s>')), cls=('<s>', tok.token_to_id('<s>')),
        trim_offsets=True, add_prefix_space=False)
    return RobertaTokenizerFast(
        tokenizer_object=tok, bos_token='<s>', eos_token='</s>', sep_token='</s>', cls_token='<s>',
        unk_token='<unk>', pad_token='<pad>', mask_token='<mask>', add_prefix_space=False, trim_offsets=True,
        model_max_length=MODEL_MAX_LENGTH)
