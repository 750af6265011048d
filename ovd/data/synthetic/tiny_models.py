"""``generate_tiny_models``: the tiny, randomly initialised text models the tiny CPU configs load by path.

They sit beside the synthetic datasets (``<root>/tiny_bert``, ``<root>/tiny_roberta``, ``<root>/tiny_clip``),
so a tiny config finds everything under ``{{$OVD_DATA_ROOT:data}}/synthetic/`` and goes through the same
hub-or-directory loading path a real model name takes. Deterministic by seed (:mod:`.tiny_text` builds
them).
"""
from pathlib import Path
from typing import Dict, Union

TINY_MODELS = ('tiny_bert', 'tiny_roberta', 'tiny_clip')


def generate_tiny_models(root: Union[str, Path], seed: int = 0) -> Dict[str, str]:
    """Write the tiny BERT (GLIP), RoBERTa (MDETR) and open_clip (ViLD, BARON) models under ``root``.

    Returns:
        ``{name: path}`` of the written model directories.
    """
    from ovd.data.synthetic.tiny_text import save_tiny_bert, save_tiny_clip, save_tiny_roberta
    root = Path(root)
    save_tiny_bert(root / 'tiny_bert', seed=seed)
    save_tiny_roberta(root / 'tiny_roberta', seed=seed)
    save_tiny_clip(root / 'tiny_clip', seed=seed)
    return {name: str(root / name) for name in TINY_MODELS}
