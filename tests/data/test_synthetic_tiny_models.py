"""The tiny text models `ovd synth` writes beside the datasets load through the real loading paths."""
import torch

from ovd.data.synthetic import TINY_MODELS, generate_tiny_models
from ovd.text.clip import OpenCLIPEncoder
from ovd.text.hf import HFTextEncoder, load_tokenizer


def test_tiny_models_load_by_directory_and_are_deterministic(tmp_path):
    paths = generate_tiny_models(tmp_path / 'a', seed=0)
    assert sorted(paths) == sorted(TINY_MODELS)
    for name in ('tiny_bert', 'tiny_roberta'):
        tokenizer = load_tokenizer(paths[name])
        encoder = HFTextEncoder(paths[name])
        tokens = tokenizer(['a red cat. a dog'], return_tensors='pt')
        assert tokens['input_ids'].shape[1] > 2
        assert encoder is not None
    clip = OpenCLIPEncoder(model_name=f'local-dir:{paths["tiny_clip"]}')
    embeddings = clip.encode_text(['a photo of a cat', 'a photo of a dog'])
    assert embeddings.shape[0] == 2 and torch.isfinite(embeddings).all()

    again = generate_tiny_models(tmp_path / 'b', seed=0)
    first = (tmp_path / 'a' / 'tiny_clip' / 'open_clip_model.safetensors').read_bytes()
    assert (tmp_path / 'b' / 'tiny_clip' / 'open_clip_model.safetensors').read_bytes() == first
    assert again['tiny_clip'].endswith('tiny_clip')
