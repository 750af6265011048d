"""Tiny text models built offline, for tests and the tiny configs: tokenizers, BERT/RoBERTa, an open_clip model.

Nothing here downloads. Typical use in a test::

    from ovd.data.synthetic.tiny_text import build_tiny_bert_tokenizer, tiny_bert_dir, TINY_CLIP_CONFIG
    tokenizer = build_tiny_bert_tokenizer()            # BertTokenizerFast, WordPiece, offsets supported
    encoder = ovd.text.hf.HFTextEncoder(str(tiny_bert_dir()))   # loads through from_pretrained(path)
    clip = ovd.text.clip.OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained=None)

Or write fresh copies into ``tmp_path`` with :func:`save_tiny_bert`, :func:`save_tiny_roberta`,
:func:`save_tiny_clip`.
"""

from .clip import TINY_CLIP_CONFIG, TINY_CLIP_EMBED_DIM, build_tiny_clip, save_tiny_clip, tiny_clip_config
from .text_models import TINY_HIDDEN_SIZE, save_tiny_bert, save_tiny_roberta, tiny_bert_dir, tiny_roberta_dir
from .tokenizers import build_tiny_bert_tokenizer, build_tiny_roberta_tokenizer, tiny_corpus

__all__ = [
    'TINY_CLIP_CONFIG',
    'TINY_CLIP_EMBED_DIM',
    'TINY_HIDDEN_SIZE',
    'build_tiny_bert_tokenizer',
    'build_tiny_clip',
    'build_tiny_roberta_tokenizer',
    'save_tiny_bert',
    'save_tiny_clip',
    'save_tiny_roberta',
    'tiny_bert_dir',
    'tiny_clip_config',
    'tiny_corpus',
    'tiny_roberta_dir',
]
