"""``ovd embed`` end to end with the tiny CLIP: weights file, random init, cache reuse, and the no-network
error."""

import json

import numpy as np
import pytest
import torch

from ovd.cli import main
from ovd.data.synthetic.tiny_text import TINY_CLIP_CONFIG, save_tiny_clip


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv('OVD_CACHE_DIR', str(tmp_path / 'cache'))
    names = tmp_path / 'names.txt'
    names.write_text('cat\nhair_dryer\n\nteddy bear\n')
    cfg = tmp_path / 'tiny_clip.json'
    cfg.write_text(json.dumps(TINY_CLIP_CONFIG))
    weights = save_tiny_clip(tmp_path / 'clip')
    return tmp_path, names, cfg, weights


def test_embed_with_local_weights_then_cache_hit(setup, capsys):
    tmp_path, names, cfg, weights = setup
    out = tmp_path / 'emb.pt'
    argv = [
        'embed',
        '--vocab',
        str(names),
        '--model-config',
        str(cfg),
        '--pretrained',
        str(weights),
        '--templates',
        'single',
        '--out',
        str(out),
    ]
    assert main(argv) == 0
    saved = torch.load(out, weights_only=True)
    assert saved['embeddings'].shape == (3, 32)
    assert saved['names'] == ['cat', 'hair dryer', 'teddy bear']  # normalised: '_' -> ' '
    assert torch.allclose(saved['embeddings'].norm(dim=-1), torch.ones(3), atol=1e-5)
    assert 'computed' in capsys.readouterr().out
    npy = tmp_path / 'emb.npy'
    assert main(argv[:-1] + [str(npy)]) == 0
    assert 'cache' in capsys.readouterr().out
    assert np.allclose(np.load(npy), saved['embeddings'].numpy())
    assert list(tmp_path.glob('.*.tmp')) == []


def test_embed_random_init(setup):
    tmp_path, names, cfg, _ = setup
    out = tmp_path / 'random.npy'
    assert (
        main(
            [
                'embed',
                '--vocab',
                str(names),
                '--model-config',
                str(cfg),
                '--pretrained',
                'none',
                '--templates',
                'single',
                '--no-cache',
                '--out',
                str(out),
            ]
        )
        == 0
    )
    assert np.load(out).shape == (3, 32)


def test_embed_without_network_fails_clearly(setup, capsys):
    tmp_path, names, _, _ = setup
    code = main(
        [
            'embed',
            '--vocab',
            str(names),
            '--model',
            'ViT-B-32',
            '--pretrained',
            'openai',
            '--out',
            str(tmp_path / 'x.pt'),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and 'ovd embed:' in err and '--pretrained' in err
    assert not (tmp_path / 'x.pt').exists()


def test_embed_builtin_vocabulary(setup):
    tmp_path, _, cfg, weights = setup
    out = tmp_path / 'ov_coco.pt'
    assert (
        main(
            [
                'embed',
                '--vocab',
                'ov_coco',
                '--model-config',
                str(cfg),
                '--pretrained',
                str(weights),
                '--templates',
                'single',
                '--out',
                str(out),
            ]
        )
        == 0
    )
    saved = torch.load(out, weights_only=True)
    from ovd.data.vocab import get_vocabulary

    assert saved['names'] == list(get_vocabulary('ov_coco').prompt_names)
    assert saved['embeddings'].shape == (len(saved['names']), 32)


def test_embed_unknown_vocabulary(setup, capsys):
    tmp_path, _, cfg, _ = setup
    assert (
        main(
            [
                'embed',
                '--vocab',
                'no_such_vocab',
                '--model-config',
                str(cfg),
                '--pretrained',
                'none',
                '--out',
                str(tmp_path / 'x.pt'),
            ]
        )
        == 1
    )
    assert 'no_such_vocab' in capsys.readouterr().err


def test_embed_name_rule(setup, capsys):
    """``--name-rule`` spells the names of a file the chosen method's way; a bad rule is a clear error."""
    tmp_path, _, cfg, weights = setup
    names = tmp_path / 'lvis_names.txt'
    names.write_text('bow_(weapon)\nBand_Aid\nsalad_plate/side_plate\n')
    base = ['embed', '--vocab', str(names), '--model-config', str(cfg), '--pretrained', str(weights),
            '--templates', 'single', '--out']
    expected = {'default': ['bow (weapon)', 'Band Aid', 'salad plate/side plate'],
                'vild': ['bow (weapon)', 'band aid', 'salad plate or side plate'],
                'glip': ['bow ', 'Band Aid', 'salad plate/side plate']}
    for rule, texts in expected.items():
        out = tmp_path / f'{rule}.pt'
        assert main(base + [str(out), '--name-rule', rule]) == 0
        saved = torch.load(out, weights_only=True)
        assert (saved['names'], saved['name_rule']) == (texts, rule)
    assert main(base + [str(tmp_path / 'x.pt'), '--name-rule', 'clip']) == 1
    assert "unknown name_rule 'clip'" in capsys.readouterr().err
