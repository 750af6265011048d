"""A tiny open_clip model (ViT image tower + transformer text tower, 32-d) for tests, built offline.

``TINY_CLIP_CONFIG`` is an open_clip ``model_cfg`` (the same keys as open_clip's ``model_configs/*.json``); it
keeps CLIP's real tokenizer (the BPE vocabulary shipped inside open_clip, 49408 tokens, context 77) so text
goes through the same path as ViT-B-32. ``save_tiny_clip(dir)`` writes a directory in open_clip's
``local-dir:`` layout (``open_clip_config.json`` + ``open_clip_model.safetensors``) and returns the weights
file, which ``ovd.text.clip.OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained=<file>)`` loads.
"""

import copy
import json
from pathlib import Path
from typing import Any, Dict, Union

import torch

TINY_CLIP_EMBED_DIM = 32
TINY_CLIP_CONFIG: Dict[str, Any] = {
    'embed_dim': TINY_CLIP_EMBED_DIM,
    'vision_cfg': {'image_size': 32, 'layers': 2, 'width': 32, 'head_width': 16, 'patch_size': 8},
    'text_cfg': {'context_length': 77, 'vocab_size': 49408, 'width': 32, 'heads': 2, 'layers': 2},
}
WEIGHTS_NAME = 'open_clip_model.safetensors'


def tiny_clip_config() -> Dict[str, Any]:
    """A fresh copy of :data:`TINY_CLIP_CONFIG` (open_clip mutates configs it is given)."""
    return copy.deepcopy(TINY_CLIP_CONFIG)


def build_tiny_clip(seed: int = 0) -> torch.nn.Module:
    """Build the tiny ``open_clip.CLIP`` with a seeded random initialisation (global RNG untouched)."""
    import open_clip

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.CLIP(**tiny_clip_config())
    return model.eval()


def save_tiny_clip(directory: Union[str, Path], seed: int = 0) -> Path:
    """Write the tiny CLIP in open_clip's ``local-dir:`` layout.

    Args:
        directory: Target directory (created if missing).
        seed: Seed of the random initialisation.

    Returns: Path of the weights file (``<directory>/open_clip_model.safetensors``); ``local-dir:<directory>``
        also works as an open_clip model name.
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = build_tiny_clip(seed)
    weights = directory / WEIGHTS_NAME
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    with open(directory / 'open_clip_config.json', 'w', encoding='utf-8') as f:
        json.dump({'model_cfg': tiny_clip_config(), 'preprocess_cfg': {}}, f, indent=1)
    return weights
