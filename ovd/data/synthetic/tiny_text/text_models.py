"""Tiny randomly initialised BERT and RoBERTa encoders, saved as Hugging Face model directories.

``save_tiny_bert(dir)`` / ``save_tiny_roberta(dir)`` write ``config.json``, the weights and the tokenizer
files, the same layout as a hub snapshot, so code under test loads them through the real
``from_pretrained(path)`` route (what ``ovd.text.hf`` does with a hub name). ``tiny_bert_dir()`` /
``tiny_roberta_dir()`` build one copy per process in a temporary directory and return its path, for tests that
only read it.
"""

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Sequence, Union

import torch
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

from .tokenizers import build_tiny_bert_tokenizer, build_tiny_roberta_tokenizer

# Small enough to build in well under a second; 512 positions so GLIP's 256-token prompts fit.
TINY_HIDDEN_SIZE = 32
_TINY_ARCH = dict(
    hidden_size=TINY_HIDDEN_SIZE, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
)


def save_tiny_bert(directory: Union[str, Path], seed: int = 0, whole_words: Sequence[str] = ()) -> Path:
    """Write a tiny BERT (2 layers, hidden 32, WordPiece tokenizer) to ``directory``.

    Args:
        directory: Target directory (created if missing).
        seed: Seed of the random initialisation (the global RNG state is left untouched).
        whole_words: Words the tokenizer keeps as single tokens (see ``build_tiny_bert_tokenizer``), e.g. a
            world's class words, which bert-base-uncased's vocabulary has whole too.

    Returns:
        The directory, loadable with ``AutoModel``/``AutoTokenizer.from_pretrained``.
    """
    directory = Path(directory)
    tokenizer = build_tiny_bert_tokenizer(whole_words=whole_words)
    config = BertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        **_TINY_ARCH,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_tiny_roberta(directory: Union[str, Path], seed: int = 0, tokenizer=None) -> Path:
    """Write a tiny RoBERTa (2 layers, hidden 32, byte-level BPE tokenizer) to ``directory``.

    Args:
        directory: Target directory (created if missing).
        seed: Seed of the random initialisation (the global RNG state is left untouched).
        tokenizer: A ``RobertaTokenizerFast`` to use instead of ``build_tiny_roberta_tokenizer()`` (e.g. the
            world's, :mod:`ovd.data.synthetic.world_roberta`); the embedding table is sized to it.

    Returns:
        The directory, loadable with ``AutoModel``/``AutoTokenizer.from_pretrained``.
    """
    directory = Path(directory)
    tokenizer = tokenizer if tokenizer is not None else build_tiny_roberta_tokenizer()
    # RoBERTa offsets positions by padding_idx + 1, hence 512 + 2 positions as in roberta-base.
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **_TINY_ARCH,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RobertaModel(config, add_pooling_layer=False)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


_BUILT: Dict[str, Path] = {}


def _session_dir(kind: str, builder) -> Path:
    if kind not in _BUILT:
        root = Path(tempfile.mkdtemp(prefix=f'ovd-tiny-{kind}-'))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _BUILT[kind] = builder(root / kind)
    return _BUILT[kind]


def tiny_bert_dir() -> Path:
    """Directory of a tiny BERT built once per process (removed at exit). Treat it as read-only."""
    return _session_dir('bert', save_tiny_bert)


def tiny_roberta_dir() -> Path:
    """Directory of a tiny RoBERTa built once per process (removed at exit). Treat it as read-only."""
    return _session_dir('roberta', save_tiny_roberta)
