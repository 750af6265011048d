"""The official-GLIP -> ovd checkpoint converter, on a state dict laid out as the official release is."""
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('convert_glip_checkpoint', REPO / 'scripts/convert_glip_checkpoint.py')
converter = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(converter)


def official_swin_keys(depths, num_outs=(1, 2, 3)):
    """Parameter names of the official GLIP Swin (maskrcnn-benchmark ``swint.py``), written from its layout."""
    keys = ['patch_embed.proj.weight', 'patch_embed.proj.bias', 'patch_embed.norm.weight', 'patch_embed.norm.bias']
    for i, depth in enumerate(depths):
        for j in range(depth):
            b = f'layers.{i}.blocks.{j}.'
            keys += [b + 'norm1.weight', b + 'norm1.bias', b + 'attn.relative_position_bias_table',
                     b + 'attn.relative_position_index', b + 'attn.qkv.weight', b + 'attn.qkv.bias',
                     b + 'attn.proj.weight', b + 'attn.proj.bias', b + 'norm2.weight', b + 'norm2.bias',
                     b + 'mlp.fc1.weight', b + 'mlp.fc1.bias', b + 'mlp.fc2.weight', b + 'mlp.fc2.bias']
        if i < len(depths) - 1:
            keys += [f'layers.{i}.downsample.reduction.weight', f'layers.{i}.downsample.norm.weight',
                     f'layers.{i}.downsample.norm.bias']
    for i in num_outs:
        keys += [f'norm{i}.weight', f'norm{i}.bias']
    return ['module.backbone.body.' + k for k in keys]


def official_fpn_keys():
    names = ['fpn_inner2', 'fpn_inner3', 'fpn_inner4', 'fpn_layer2', 'fpn_layer3', 'fpn_layer4', 'top_blocks.p6',
             'top_blocks.p7']
    return [f'module.backbone.fpn.{n}.{p}' for n in names for p in ('weight', 'bias')]


@pytest.fixture(scope='module')
def model():
    from test_glip_model import build_tiny_glip
    return build_tiny_glip(early_fuse=True)


def official_state_dict(model):
    """An official-layout state dict with our model's shapes and random values (plus keys the converter drops)."""
    ours = model.state_dict()
    g = torch.Generator().manual_seed(0)
    swin = official_swin_keys([1, 1, 1, 1])  # the tiny config's depths
    official = {}
    # Names come from the official layout above; shapes are read from the module each name documents mapping to
    # (a wrong mapping fails the strict load below through a missing or unexpected key).
    for name in swin + official_fpn_keys():
        shape = ours[converter.convert_key(name)].shape
        official[name] = torch.randn(shape, generator=g)
    official = {k: (v.long() if k.endswith('relative_position_index') else v) for k, v in official.items()}
    for k, v in ours.items():
        if k.startswith('language_model.'):
            official['module.' + k[len('language_model.'):]] = torch.randn(v.shape, generator=g).to(v.dtype)
        elif k.startswith('bbox_head.head.'):
            name = 'module.rpn.head.' + k[len('bbox_head.head.'):]
            name = name.replace('.dyconvs.', '.DyConv.').replace('.attnconv.', '.AttnConv.')
            official[name] = torch.randn(v.shape, generator=g).to(v.dtype)
    official['module.rpn.anchor_generator.cell_anchors.0'] = torch.zeros(1, 4)
    official['module.rpn.head.cls_logits.weight'] = torch.zeros(80, 32, 3, 3)
    official['module.language_backbone.body.model.pooler.dense.weight'] = torch.zeros(32, 32)
    return official


def test_swin_key_names_follow_the_documented_mapping():
    conv = converter.convert_key
    assert conv('module.backbone.body.layers.2.blocks.1.attn.qkv.weight') == \
        'backbone.stages.2.blocks.1.attn.w_msa.qkv.weight'
    assert conv('module.backbone.body.layers.0.blocks.0.mlp.fc1.bias') == \
        'backbone.stages.0.blocks.0.ffn.layers.0.0.bias'
    assert conv('module.backbone.body.layers.0.blocks.0.mlp.fc2.weight') == \
        'backbone.stages.0.blocks.0.ffn.layers.1.weight'
    assert conv('module.backbone.body.patch_embed.proj.weight') == 'backbone.patch_embed.projection.weight'
    assert conv('module.backbone.fpn.top_blocks.p7.bias') == 'neck.fpn_convs.4.conv.bias'
    assert conv('module.rpn.head.dyhead_tower.2.DyConv.1.conv.weight') == \
        'bbox_head.head.dyhead_tower.2.dyconvs.1.conv.weight'
    assert conv('module.rpn.head.cls_logits.weight') == ''
    with pytest.raises(KeyError, match='unknown'):
        conv('module.roi_heads.box.weight')


def test_patch_merging_reorder_matches_the_official_computation():
    from mmdet.models.backbones.swin import PatchMerging
    c, h, w = 4, 4, 6
    ours = PatchMerging(in_channels=c, out_channels=2 * c)
    g = torch.Generator().manual_seed(0)
    w_off = torch.randn(2 * c, 4 * c, generator=g)
    nw, nb = torch.randn(4 * c, generator=g), torch.randn(4 * c, generator=g)
    x = torch.randn(1, h * w, c, generator=g)
    # Official: concat of the 2x2 neighbours (0,0), (1,0), (0,1), (1,1), LayerNorm, bias-free linear.
    grid = x.view(1, h, w, c)
    cat = torch.cat([grid[:, 0::2, 0::2], grid[:, 1::2, 0::2], grid[:, 0::2, 1::2], grid[:, 1::2, 1::2]], -1)
    expected = F.linear(F.layer_norm(cat.view(1, -1, 4 * c), (4 * c, ), nw, nb), w_off)
    ours.reduction.weight.data = converter.unfold_order(w_off)
    ours.norm.weight.data = converter.unfold_order(nw)
    ours.norm.bias.data = converter.unfold_order(nb)
    got, _ = ours(x, (h, w))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_converted_official_state_dict_loads_strictly(model, tmp_path):
    official = official_state_dict(model)
    converted, dropped = converter.convert_state_dict(official)
    assert len(dropped) == 3
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    q = 'module.rpn.head.dyhead_tower.0.b_attn.attn.v_proj.weight'
    assert torch.equal(model.bbox_head.head.dyhead_tower[0].b_attn.attn.v_proj.weight, official[q])
    assert torch.equal(model.backbone.stages[1].blocks[0].attn.w_msa.qkv.weight,
                       official['module.backbone.body.layers.1.blocks.0.attn.qkv.weight'])
    # The command line: writes an mmengine checkpoint atomically.
    src, dst = tmp_path / 'official.pth', tmp_path / 'ovd.pth'
    torch.save({'model': official}, src)
    assert converter.main([str(src), str(dst)]) == 0
    saved = torch.load(dst, weights_only=False)
    assert set(saved['state_dict']) == set(converted)
    assert not list(tmp_path.glob('*.tmp'))


def test_cli_reports_a_bad_file(tmp_path, capsys):
    src = tmp_path / 'bad.pth'
    torch.save({'model': {'module.something.else': torch.zeros(1)}}, src)
    assert converter.main([str(src), str(tmp_path / 'out.pth')]) == 1
    assert 'bad.pth' in capsys.readouterr().err


def test_mmdet_layout_is_recognised_and_copied():
    mmdet = {'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight': torch.zeros(3), 'backbone.norm1.weight': torch.ones(2),
             'neck.fpn_convs.0.conv.weight': torch.zeros(1), 'bbox_head.head.bias0': torch.zeros(1),
             'language_model.language_backbone.body.model.embeddings.word_embeddings.weight': torch.zeros(4, 2),
             'language_model.language_backbone.body.model.pooler.dense.weight': torch.zeros(2, 2)}
    official = {'module.backbone.body.patch_embed.proj.weight': torch.zeros(1)}
    assert converter.is_mmdet_layout(mmdet) and not converter.is_mmdet_layout(official)
    out, dropped = converter.convert_mmdet_state_dict(mmdet)
    assert dropped == ['language_model.language_backbone.body.model.pooler.dense.weight']
    assert list(out) == [k for k in mmdet if k not in dropped]
    with pytest.raises(KeyError, match='roi_head.bbox_head.fc_cls.weight'):
        converter.convert_mmdet_state_dict({**mmdet, 'roi_head.bbox_head.fc_cls.weight': torch.zeros(1)})
