"""The open_clip wrapper on the tiny model: random init, local weights file, local-dir, clear errors; ViLD
class embeddings through the cache."""

import pytest
import torch

from ovd.data.synthetic.tiny_text import TINY_CLIP_CONFIG, TINY_CLIP_EMBED_DIM, build_tiny_clip, save_tiny_clip
from ovd.text.cache import EmbeddingCache
from ovd.text.class_embeddings import build_class_embeddings, encode_class_prompts
from ovd.text.clip import OpenCLIPEncoder
from ovd.text.templates import VILD_TEMPLATES, fill_templates, get_templates


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp('clip'), seed=1)


def test_vild_templates_are_63_and_filled_like_vild():
    assert len(VILD_TEMPLATES) == 63 and len(set(VILD_TEMPLATES)) == 63
    prompts = fill_templates('apple')
    assert prompts[0] == 'There is an apple in the scene.'
    assert prompts[2] == 'This is a photo of an apple in the scene.'
    assert fill_templates('cat', this_is=False)[8] == 'a photo of a cat.'
    assert fill_templates('cat')[-1] == 'This is a painting of a cat.'
    with pytest.raises(KeyError):
        get_templates('nope')
    with pytest.raises(ValueError):
        get_templates(['no placeholder'])


def test_random_init_encodes_text_and_images():
    enc = OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained=None)
    assert enc.embed_dim == TINY_CLIP_EMBED_DIM and enc.image_size == 32
    text = enc.encode_text(['a photo of a cat.', 'a dog'], normalize=True)
    image = enc.encode_image(torch.rand(3, 3, 32, 32))
    assert text.shape == (2, 32) and image.shape == (3, 32)
    assert torch.allclose(text.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert not any(p.requires_grad for p in enc.parameters())
    assert enc.identity().startswith('open_clip:custom:random:sha256=')


def test_trimmed_text_encoding_equals_open_clip():
    enc = OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG)
    prompts = ['a cat', 'This is a jpeg corrupted photo of a hair dryer.', 'x',
               'There is an apple in the scene.']
    tokens = enc.tokenize(prompts)
    assert enc._can_trim()
    ours = enc.encode_text(tokens)
    ref = enc.model.encode_text(tokens)
    assert torch.allclose(ours, ref, atol=1e-5)
    assert torch.allclose(enc.encode_text(prompts[:1]), ref[:1], atol=1e-5)  # batch trimmed to its own length


def test_prepare_images_resizes_and_normalises():
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    enc = OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG)
    crops = torch.full((2, 3, 50, 70), 255.0)
    x = enc.prepare_images(crops)
    assert x.shape == (2, 3, 32, 32)
    expected = (1 - torch.tensor(OPENAI_DATASET_MEAN)) / torch.tensor(OPENAI_DATASET_STD)
    assert torch.allclose(x[0, :, 5, 5], expected, atol=1e-4)
    assert enc.encode_image(x).shape == (2, TINY_CLIP_EMBED_DIM)


def test_weights_file_and_local_dir_load_the_same_weights(weights):
    ref = build_tiny_clip(seed=1)
    from_file = OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained=str(weights))
    from_dir = OpenCLIPEncoder(f'local-dir:{weights.parent}')
    tokens = from_file.tokenize(['a cat'])
    expected = ref.encode_text(tokens)
    assert torch.allclose(from_file.encode_text(tokens), expected)
    assert torch.allclose(from_dir.encode_text(['a cat']), expected)
    assert from_file.weights_sha256() == from_dir.weights_sha256()
    assert from_file.weights_sha256() != OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG).weights_sha256()


def test_clear_errors():
    with pytest.raises(FileNotFoundError, match='not found'):
        OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained='/no/such/weights.pt')
    with pytest.raises(ValueError, match='unknown open_clip model'):
        OpenCLIPEncoder('ViT-Nope-1', pretrained=None)
    with pytest.raises(ValueError, match='neither a weights file nor a tag'):
        OpenCLIPEncoder('ViT-B-32', pretrained='not-a-tag')


def test_class_embeddings_follow_vild_recipe_and_use_cache(weights, tmp_path):
    enc = OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained=str(weights))
    names = ['cat', 'hair dryer']
    templates = VILD_TEMPLATES[:3]
    got = encode_class_prompts(enc, names, templates, batch_size=4)
    # by hand: normalise each prompt embedding, average per class, normalise again
    for i, name in enumerate(names):
        e = torch.nn.functional.normalize(enc.encode_text(fill_templates(name, templates)), dim=-1).mean(0)
        assert torch.allclose(got[i], e / e.norm(), atol=1e-5)
    cache = EmbeddingCache(tmp_path)
    first = build_class_embeddings(enc, names, templates=templates, cache=cache)
    second = build_class_embeddings(enc, names, templates=templates, cache=cache)
    assert (cache.misses, cache.hits) == (1, 1) and torch.equal(first, second)
    assert torch.allclose(first, got, atol=1e-6)
    other = OpenCLIPEncoder(model_cfg=TINY_CLIP_CONFIG, pretrained=None)  # other weights: other key
    build_class_embeddings(other, names, templates=templates, cache=cache)
    assert cache.misses == 2
