"""The official-checkpoint converter: key mapping and a round trip through the tiny model."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import ovd  # noqa: F401
from ovd.registry import MODELS
from ovd.data.synthetic.tiny_text import tiny_roberta_dir

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / 'scripts' / 'convert_mdetr_checkpoint.py'
spec = importlib.util.spec_from_file_location('convert_mdetr', SCRIPT)
convert_mdetr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(convert_mdetr)


@pytest.mark.parametrize('official,ours', [
    ('input_proj.weight', 'neck.convs.0.conv.weight'),
    ('query_embed.weight', 'query_embedding.weight'),
    ('transformer.encoder.layers.3.self_attn.in_proj_weight',
     'encoder.layers.3.self_attn.attn.in_proj_weight'),
    ('transformer.encoder.layers.0.linear1.bias', 'encoder.layers.0.ffn.layers.0.0.bias'),
    ('transformer.encoder.layers.5.norm2.weight', 'encoder.layers.5.norms.1.weight'),
    ('transformer.decoder.layers.2.cross_attn_image.out_proj.weight',
     'decoder.layers.2.cross_attn.attn.out_proj.weight'),
    ('transformer.decoder.layers.1.linear2.weight', 'decoder.layers.1.ffn.layers.1.weight'),
    ('transformer.decoder.layers.4.norm3.bias', 'decoder.layers.4.norms.1.bias'),
    ('transformer.decoder.layers.4.norm4.bias', 'decoder.layers.4.norms.2.bias'),
    ('transformer.decoder.norm.weight', 'decoder.post_norm.weight'),
    ('transformer.resizer.fc.weight', 'text_resizer.fc.weight'),
    ('transformer.text_encoder.encoder.layer.0.attention.self.query.weight',
     'text_encoder.model.encoder.layer.0.attention.self.query.weight'),
    ('class_embed.bias', 'bbox_head.class_embed.bias'),
    ('bbox_embed.layers.2.weight', 'bbox_head.bbox_embed.layers.2.weight'),
    ('contrastive_align_projection_text.weight', 'bbox_head.contrastive_align_projection_text.weight'),
    ('backbone.0.body.layer4.2.conv3.weight', 'backbone.layer4.2.conv3.weight'),
])
def test_key_mapping(official, ours):
    out = convert_mdetr.convert({official: torch.zeros(1)})
    assert list(out) == [ours]


def test_dropped_and_unknown_keys():
    dropped = {'contrastive_projection_image.weight': torch.zeros(1), 'qa_embed.weight': torch.zeros(1),
               'transformer.text_encoder.pooler.dense.weight': torch.zeros(1),
               'transformer.text_encoder.embeddings.position_ids': torch.zeros(1)}
    assert convert_mdetr.convert(dropped) == {}
    with pytest.raises(KeyError, match='transformer.mystery.weight'):
        convert_mdetr.convert({'transformer.mystery.weight': torch.zeros(1)})
    bn = convert_mdetr.convert({'backbone.0.body.bn1.running_var': torch.ones(1)})
    assert set(bn) == {'backbone.bn1.running_var', 'backbone.bn1.num_batches_tracked'}
    timm = convert_mdetr.convert({'backbone.0.body.conv_stem.weight': torch.zeros(1)}, backbone='timm')
    assert list(timm) == ['backbone.body.conv_stem.weight']


def official_names(model) -> dict:
    """Write the tiny model's weights under the official MDETR names (the inverse mapping, spelled out)."""
    inverse = [
        ('neck.convs.0.conv.', 'input_proj.'), ('query_embedding.', 'query_embed.'),
        ('text_encoder.model.', 'transformer.text_encoder.'), ('text_resizer.', 'transformer.resizer.'),
        ('decoder.post_norm.', 'transformer.decoder.norm.'), ('bbox_head.', ''),
        ('backbone.', 'backbone.0.body.'),
    ]
    out = {}
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            continue
        new = key
        for a, b in inverse:
            if key.startswith(a):
                new = b + key[len(a):]
                break
        else:
            kind, _, idx, *rest = key.split('.')  # encoder|decoder . layers . i . ...
            rest = '.'.join(rest)
            norms = {'encoder': ['norm1', 'norm2'], 'decoder': ['norm1', 'norm3', 'norm4']}[kind]
            rest = (rest.replace('self_attn.attn.', 'self_attn.')
                    .replace('cross_attn.attn.', 'cross_attn_image.')
                    .replace('ffn.layers.0.0.', 'linear1.').replace('ffn.layers.1.', 'linear2.'))
            for i, name in enumerate(norms):
                rest = rest.replace(f'norms.{i}.', f'{name}.')
            new = f'transformer.{kind}.layers.{idx}.{rest}'
        out[new] = value.clone()
    return out


def test_round_trip_loads_strictly_and_saves_atomically(tmp_path):
    os.environ['OVD_TINY_ROBERTA'] = str(tiny_roberta_dir())
    init_default_scope('ovd')
    cfg = Config.fromfile(str(REPO / 'configs' / 'mdetr' / 'mdetr_tiny_synth-flickr30k.py')).model
    source = MODELS.build(cfg)
    official = official_names(source)
    official['transformer.text_encoder.pooler.dense.weight'] = torch.zeros(2, 2)
    src = tmp_path / 'official.pth'
    torch.save({'model': {k: torch.zeros_like(v) for k, v in official.items()}, 'model_ema': official}, src)
    dst = tmp_path / 'converted.pth'
    # as a command, with --config: the strict load check builds the repo's tiny config in its own process
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    config = str(REPO / 'configs' / 'mdetr' / 'mdetr_tiny_synth-flickr30k.py')
    proc = subprocess.run([sys.executable, str(SCRIPT), str(src), str(dst), '--config', config],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    target = MODELS.build(cfg)
    target.load_state_dict(torch.load(dst)['state_dict'], strict=True)
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        if not name.endswith('num_batches_tracked'):
            assert torch.equal(a, b), name  # the EMA weights, not the zeroed 'model'
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob('*.tmp'))


def test_config_that_does_not_fit_is_one_clear_error(tmp_path):
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save({'model': {'input_proj.weight': torch.zeros(32, 16, 1, 1), 'input_proj.bias': torch.zeros(32)}}, src)
    env = dict(os.environ, OMP_NUM_THREADS='1', OVD_TINY_ROBERTA=str(tiny_roberta_dir()),
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    config = str(REPO / 'configs' / 'mdetr' / 'mdetr_tiny_synth-flickr30k.py')
    proc = subprocess.run([sys.executable, str(SCRIPT), str(src), str(dst), '--config', config],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1 and not dst.exists()
    assert 'Traceback' not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert config in proc.stderr and 'missing keys' in proc.stderr
    assert 'neck.convs.0.conv.weight (32, 16, 1, 1) vs (32, 128, 1, 1)' in proc.stderr
