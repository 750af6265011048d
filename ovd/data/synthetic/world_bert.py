"""The tiny BERT GLIP's world config starts from: ovd's tiny random BERT with a tokenizer that keeps every word
of the world whole (``red``, ``striped``, ``star``), as bert-base-uncased's vocabulary does.

The plain tiny BERT's small WordPiece vocabulary cuts the world's words into pieces that other names share (the
``st`` of ``striped`` and ``star``), which doubles GLIP's prompt length and mixes the words it must tell apart
(configs/glip/README.md, "OV world"). Written once to ``<world>/tiny_bert/`` (seed 0, deterministic), beside the
world's CLIP.
"""
from pathlib import Path
from typing import Union

BERT_DIR = 'tiny_bert'


def ensure_world_bert(world: Union[str, Path], seed: int = 0) -> Path:
    """``<world>/tiny_bert``: written when missing (atomically, by renaming a finished folder), else reused."""
    from .io import write_folder_once
    from .ov_world import world_words
    from .tiny_text import save_tiny_bert
    return write_folder_once(Path(world) / BERT_DIR,
                             lambda partial: save_tiny_bert(partial, seed=seed, whole_words=world_words()))
