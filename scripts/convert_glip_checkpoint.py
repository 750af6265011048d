"""Convert a GLIP checkpoint (microsoft/GLIP's maskrcnn-benchmark layout, or mmdet 3.3's) to ovd's GLIPDetector.

Usage::

    python scripts/convert_glip_checkpoint.py glip_tiny_model_o365_goldg.pth glip_t_ovd.pth \
        [--config configs/glip/glip-t_zeroshot_coco-val2017.py]   # also load it into the model, strict

The file is read with ``torch.load(weights_only=True)`` and ovd's allow-list (``ovd.compat.checkpoint``): a
pickle naming anything else is refused before it runs. The layout is recognised from the keys: official keys
(``module.backbone.body.*``, ``module.rpn.head.*``, ...) are renamed as below; an mmdet 3.3 GLIP checkpoint
(``state_dict`` with ``backbone.stages.*``, ``bbox_head.head.*``, ``language_model.*``) already has ovd's names
and is copied, minus the keys listed in ``MMDET_DROPPED``.

Key mapping (official -> ovd; ovd keeps mmdet 3.3's module names, so mmdet-converted GLIP weights load too):

====================================================  ==========================================================
official                                              ovd
====================================================  ==========================================================
module.backbone.body.patch_embed.proj.*               backbone.patch_embed.projection.*
module.backbone.body.layers.{i}.blocks.{j}.attn.*     backbone.stages.{i}.blocks.{j}.attn.w_msa.*
module.backbone.body.layers.{i}.blocks.{j}.mlp.fc1.*  backbone.stages.{i}.blocks.{j}.ffn.layers.0.0.*
module.backbone.body.layers.{i}.blocks.{j}.mlp.fc2.*  backbone.stages.{i}.blocks.{j}.ffn.layers.1.*
module.backbone.body.layers.{i}.downsample.*          backbone.stages.{i}.downsample.* (channels reordered, below)
module.backbone.body.{other}                          backbone.{other} (norm1/2 of blocks, output norms)
module.backbone.fpn.fpn_inner{2,3,4}.*                neck.lateral_convs.{0,1,2}.conv.*
module.backbone.fpn.fpn_layer{2,3,4}.*                neck.fpn_convs.{0,1,2}.conv.*
module.backbone.fpn.top_blocks.p{6,7}.*               neck.fpn_convs.{3,4}.conv.*
module.language_backbone.body.model.*                 language_model.language_backbone.body.model.* (no pooler)
module.rpn.head.*                                     bbox_head.head.* with DyConv -> dyconvs, AttnConv -> attnconv
module.rpn.anchor_generator.*, *.cls_logits.*         dropped (anchors are recomputed; the plain classifier is
                                                      unused by the alignment head)
====================================================  ==========================================================

Swin's patch merging: the official layer concatenates the 2x2 neighbours in the order (0,0), (1,0), (0,1), (1,1)
as four channel blocks; mmdet's uses ``nn.Unfold``, whose channels are ordered (channel, kh, kw). The reduction
weight's input columns and the norm's parameters are permuted accordingly (:func:`unfold_order`).
"""
import argparse
import hashlib
import os
import re
import sys
from collections import OrderedDict
from typing import Dict, Iterable, List, Tuple

import torch

from ovd.compat.checkpoint import load_official_checkpoint
from ovd.fileio import atomic_torch_save
from ovd.models.common.strict_load import check_against_config

FPN_MAP = {
    'fpn_inner2': 'lateral_convs.0.conv', 'fpn_inner3': 'lateral_convs.1.conv',
    'fpn_inner4': 'lateral_convs.2.conv', 'fpn_layer2': 'fpn_convs.0.conv', 'fpn_layer3': 'fpn_convs.1.conv',
    'fpn_layer4': 'fpn_convs.2.conv', 'top_blocks.p6': 'fpn_convs.3.conv', 'top_blocks.p7': 'fpn_convs.4.conv',
}
#: key prefixes of an mmdet 3.3 GLIP checkpoint (ovd keeps these names)
MMDET_PREFIXES = ('backbone.stages.', 'backbone.patch_embed.', 'bbox_head.head.', 'language_model.')
#: mmdet keys ovd's model has no use for: a BERT pooler, kept by conversions that copied the whole text model
MMDET_DROPPED = (re.compile(r'^language_model\.language_backbone\.body\.model\.pooler\.'),)
DROPPED = (re.compile(r'anchor_generator'), re.compile(r'\.cls_logits\.'), re.compile(r'resizer'),
           re.compile(r'language_backbone\.body\.model\.pooler\.'))


def unfold_order(tensor: torch.Tensor) -> torch.Tensor:
    """Reorder the last dimension (4 blocks of C) from the official concat order to ``nn.Unfold``'s order.

    Args:
        tensor: [..., 4C] weight (reduction, columns) or [4C] norm parameter, blocks ordered x0, x1, x2, x3 =
            neighbours (0,0), (1,0), (0,1), (1,1).

    Returns:
        Tensor of the same shape whose last dimension is ordered (c, kh, kw) as ``nn.Unfold(2, stride=2)``.
    """
    *lead, four_c = tensor.shape
    c = four_c // 4
    # Official block b holds neighbour (dh, dw) = [(0,0), (1,0), (0,1), (1,1)][b]; unfold wants index dh*2+dw.
    blocks = tensor.reshape(*lead, 4, c)[..., [0, 2, 1, 3], :]  # now block k = neighbour (k // 2, k % 2)
    return blocks.transpose(-1, -2).reshape(*lead, four_c)


def convert_key(key: str) -> str:
    """The ovd name of one official key, or '' when the key is dropped.

    Raises:
        KeyError: The key belongs to no known part of the official model.
    """
    if any(p.search(key) for p in DROPPED):
        return ''
    k = key[len('module.'):] if key.startswith('module.') else key
    if k.startswith('backbone.body.'):
        k = 'backbone.' + k[len('backbone.body.'):]
        k = k.replace('patch_embed.proj.', 'patch_embed.projection.')
        if k.startswith('backbone.layers.'):
            k = k.replace('backbone.layers.', 'backbone.stages.', 1)
            k = k.replace('.mlp.fc1.', '.ffn.layers.0.0.').replace('.mlp.fc2.', '.ffn.layers.1.')
            k = k.replace('.attn.', '.attn.w_msa.')
        return k
    if k.startswith('backbone.fpn.'):
        rest = k[len('backbone.fpn.'):]
        for old, new in FPN_MAP.items():
            if rest.startswith(old + '.'):
                return 'neck.' + new + rest[len(old):]
        raise KeyError(f'unknown FPN key {key!r}')
    if k.startswith('language_backbone.'):
        return 'language_model.' + k
    if k.startswith('rpn.head.'):
        k = 'bbox_head.head.' + k[len('rpn.head.'):]
        return k.replace('.DyConv.', '.dyconvs.').replace('.AttnConv.', '.attnconv.')
    raise KeyError(f'unknown key {key!r} (not backbone, FPN, language backbone or RPN head)')


def convert_state_dict(state_dict: Dict[str, torch.Tensor]) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Convert a whole official state dict.

    Returns:
        The converted state dict and the list of dropped official keys.
    """
    out, dropped = OrderedDict(), []
    for key, value in state_dict.items():
        new = convert_key(key)
        if not new:
            dropped.append(key)
            continue
        if '.downsample.' in new and new.startswith('backbone.'):
            value = unfold_order(value)
        if new in out:
            raise KeyError(f'two official keys map to {new!r}')
        out[new] = value
    return out, dropped


def is_mmdet_layout(state_dict: Dict[str, torch.Tensor]) -> bool:
    """True for mmdet 3.3 GLIP key names (``backbone.stages.``, ``bbox_head.head.``, ``language_model.``)."""
    return any(k.startswith(MMDET_PREFIXES) for k in state_dict) and not any(
        k.startswith(('module.', 'backbone.body.', 'rpn.', 'language_backbone.')) for k in state_dict)


def convert_mmdet_state_dict(
        state_dict: Dict[str, torch.Tensor]) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """An mmdet 3.3 GLIP state dict in ovd's names: the same keys, minus what ovd's model has no use for.

    Raises:
        KeyError: naming keys outside the parts of a GLIP detector.
    """
    out, dropped, unknown = OrderedDict(), [], []
    for key, value in state_dict.items():
        if any(p.search(key) for p in MMDET_DROPPED):
            dropped.append(key)
        elif key.startswith(('backbone.', 'neck.', 'bbox_head.', 'language_model.')):
            out[key] = value
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f'{len(unknown)} keys of the mmdet checkpoint belong to no part of GLIP: {unknown[:10]}')
    return out, dropped


def main(argv: Iterable[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='official (maskrcnn-benchmark) or mmdet 3.3 GLIP checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint for ovd configs (load_from)')
    parser.add_argument('--config', help='ovd config whose model must load the result strictly')
    args = parser.parse_args(argv)
    try:
        ckpt = load_official_checkpoint(args.src)
    except (OSError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    state = None
    if isinstance(ckpt, dict):
        state = ckpt.get('state_dict', ckpt.get('model', ckpt))
    if not isinstance(state, dict) or not state:
        print(f'{args.src}: no state dict (expected a dict, or a dict with "model" or "state_dict")',
              file=sys.stderr)
        return 1
    try:
        converted, dropped = (convert_mmdet_state_dict(state) if is_mmdet_layout(state)
                              else convert_state_dict(state))
        if args.config:
            check_against_config(converted, args.config)
    except (KeyError, RuntimeError, OSError, ValueError) as err:
        print(f'{args.src}: {err.args[0] if isinstance(err, KeyError) else err}', file=sys.stderr)
        return 1
    with open(args.src, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    atomic_torch_save({'state_dict': converted, 'meta': {'converted_from': os.path.basename(args.src),
                                                     'source_sha256': sha}}, args.dst)
    print(f'{len(converted)} tensors written to {args.dst}; dropped {len(dropped)} keys')
    return 0


if __name__ == '__main__':
    sys.exit(main())
