#!/usr/bin/env python
"""Convert an official MDETR checkpoint (github.com/ashkamath/mdetr releases) to an ovd/mmengine checkpoint.

Usage:
    python scripts/convert_mdetr_checkpoint.py pretrained_resnet101_checkpoint.pth out.pth \
        [--config configs/mdetr/mdetr_r101_pretrain-flickr-mixed.py]   # also load it into the model, strict

The official files hold ``model`` and, when trained with EMA, ``model_ema`` (plus ``optimizer``, ``epoch`` and the
training ``args``, an ``argparse.Namespace``); like the official evaluation (``--load``), the EMA weights are used
when present (``--no-ema`` takes ``model``). The file is read with ``torch.load(weights_only=True)`` and ovd's
allow-list (``ovd.compat.checkpoint``): a pickle naming anything else is refused before it runs.

Key mapping, official -> ovd (``{i}`` a layer index; everything else must match one rule or the conversion
fails, naming the keys):

=====================================================  =====================================================
official                                               ovd
=====================================================  =====================================================
backbone.0.body.<torchvision ResNet / timm key>        backbone.<same> (ResNet) / backbone.body.<same> (timm)
input_proj.{weight,bias}                               neck.convs.0.conv.{weight,bias}
query_embed.weight                                     query_embedding.weight
transformer.encoder.layers.{i}.self_attn.<p>           encoder.layers.{i}.self_attn.attn.<p>
transformer.encoder.layers.{i}.linear1 / linear2       encoder.layers.{i}.ffn.layers.0.0 / ffn.layers.1
transformer.encoder.layers.{i}.norm1 / norm2           encoder.layers.{i}.norms.0 / norms.1
transformer.decoder.layers.{i}.self_attn.<p>           decoder.layers.{i}.self_attn.attn.<p>
transformer.decoder.layers.{i}.cross_attn_image.<p>    decoder.layers.{i}.cross_attn.attn.<p>
transformer.decoder.layers.{i}.linear1 / linear2       decoder.layers.{i}.ffn.layers.0.0 / ffn.layers.1
transformer.decoder.layers.{i}.norm1 / norm3 / norm4   decoder.layers.{i}.norms.0 / norms.1 / norms.2
transformer.decoder.norm                               decoder.post_norm
transformer.text_encoder.<RoBERTa key>                 text_encoder.<text prefix><RoBERTa key>
transformer.resizer.{fc,layer_norm}                    text_resizer.{fc,layer_norm}
class_embed / bbox_embed.layers.{i}                    bbox_head.class_embed / bbox_head.bbox_embed.layers.{i}
contrastive_align_projection_{image,text}              bbox_head.contrastive_align_projection_{image,text}
=====================================================  =====================================================

Dropped on purpose: parts MDETR does not use for detection or grounding (``contrastive_projection_*`` and
``transformer.CLS`` of the optional global contrastive loss, the GQA/CLEVR question-answering heads
``qa_embed``, ``answer_*``), RoBERTa's pooler (ovd's encoder is built without one) and its ``position_ids`` /
``token_type_ids`` buffers. BatchNorm layers of the mmdet ResNet get a zero ``num_batches_tracked`` (the
official FrozenBatchNorm2d has none).
"""
import argparse
import os
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

from ovd.compat.checkpoint import load_official_checkpoint
from ovd.fileio import atomic_torch_save
from ovd.models.common.strict_load import check_against_config

#: (pattern on the official key, replacement) tried in order; the first match wins
RULES: List[Tuple[str, str]] = [
    (r'^input_proj\.(weight|bias)$', r'neck.convs.0.conv.\1'),
    (r'^query_embed\.weight$', r'query_embedding.weight'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.self_attn\.(.+)$', r'\1.layers.\2.self_attn.attn.\3'),
    (r'^transformer\.decoder\.layers\.(\d+)\.cross_attn_image\.(.+)$',
     r'decoder.layers.\1.cross_attn.attn.\2'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.linear1\.(.+)$', r'\1.layers.\2.ffn.layers.0.0.\3'),
    (r'^transformer\.(encoder|decoder)\.layers\.(\d+)\.linear2\.(.+)$', r'\1.layers.\2.ffn.layers.1.\3'),
    (r'^transformer\.encoder\.layers\.(\d+)\.norm1\.(.+)$', r'encoder.layers.\1.norms.0.\2'),
    (r'^transformer\.encoder\.layers\.(\d+)\.norm2\.(.+)$', r'encoder.layers.\1.norms.1.\2'),
    (r'^transformer\.decoder\.layers\.(\d+)\.norm1\.(.+)$', r'decoder.layers.\1.norms.0.\2'),
    (r'^transformer\.decoder\.layers\.(\d+)\.norm3\.(.+)$', r'decoder.layers.\1.norms.1.\2'),
    (r'^transformer\.decoder\.layers\.(\d+)\.norm4\.(.+)$', r'decoder.layers.\1.norms.2.\2'),
    (r'^transformer\.decoder\.norm\.(.+)$', r'decoder.post_norm.\1'),
    (r'^transformer\.resizer\.(fc|layer_norm)\.(.+)$', r'text_resizer.\1.\2'),
    (r'^(class_embed|bbox_embed|contrastive_align_projection_image|contrastive_align_projection_text)\.(.+)$',
     r'bbox_head.\1.\2'),
]
DROPPED = re.compile(r'^(contrastive_projection_(image|text)|qa_embed|answer_type_head|answer_\w+_head|'
                     r'transformer\.CLS)\.'
                     r'|^transformer\.text_encoder\.(pooler\.|.*\.position_ids$|.*\.token_type_ids$)')


def convert(official: Dict[str, torch.Tensor], backbone: str = 'resnet',
            text_prefix: str = 'model.') -> 'OrderedDict[str, torch.Tensor]':
    """Rename an official MDETR state dict to ovd's.

    Args:
        official (dict): the official ``model`` / ``model_ema`` state dict.
        backbone (str): 'resnet' (mmdet ResNet, keys as torchvision's) or 'timm' (:class:`TimmBackbone`).
        text_prefix (str): prefix of the HF RoBERTa model inside ovd's text encoder wrapper.

    Returns:
        OrderedDict: ovd state dict.

    Raises:
        KeyError: naming every official key no rule maps.
    """
    if backbone not in ('resnet', 'timm'):
        raise ValueError(f"backbone must be 'resnet' or 'timm', got {backbone!r}")
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    unmapped = []
    for key, value in official.items():
        if DROPPED.search(key):
            continue
        if key.startswith('backbone.0.body.'):
            rest = key[len('backbone.0.body.'):]
            out[('backbone.' if backbone == 'resnet' else 'backbone.body.') + rest] = value
            if backbone == 'resnet' and rest.endswith('.running_var'):
                out['backbone.' + rest[:-len('running_var')] + 'num_batches_tracked'] = torch.tensor(0)
            continue
        if key.startswith('transformer.text_encoder.'):
            out['text_encoder.' + text_prefix + key[len('transformer.text_encoder.'):]] = value
            continue
        for pattern, replacement in RULES:
            if re.match(pattern, key):
                out[re.sub(pattern, replacement, key)] = value
                break
        else:
            unmapped.append(key)
    if unmapped:
        raise KeyError(f'{len(unmapped)} official MDETR keys have no mapping: {unmapped[:20]}')
    return out


def load_official(path: str, use_ema: bool = True) -> Dict[str, torch.Tensor]:
    """The state dict of an official checkpoint file (``model_ema`` when present and ``use_ema``)."""
    ckpt = load_official_checkpoint(path)
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path}: not an MDETR checkpoint (a {type(ckpt).__name__}, expected a dict)')
    for name in (('model_ema', 'model') if use_ema else ('model',)):
        if isinstance(ckpt.get(name), dict):
            return ckpt[name]
    raise KeyError(f'{path}: no "model" or "model_ema" entry (keys: {sorted(ckpt)[:10]})')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official MDETR checkpoint (.pth)')
    parser.add_argument('dst', help='output ovd checkpoint (.pth)')
    parser.add_argument('--backbone', choices=('resnet', 'timm'), default=None,
                        help='backbone family (default: guessed from the keys)')
    parser.add_argument('--text-prefix', default='model.',
                        help="prefix of the HF model inside ovd.text.hf.HFTextEncoder (default 'model.')")
    parser.add_argument('--no-ema', action='store_true', help="convert 'model' even if 'model_ema' exists")
    parser.add_argument('--config', help='ovd config whose model must load the result strictly')
    args = parser.parse_args(argv)

    try:
        official = load_official(args.src, use_ema=not args.no_ema)
        backbone = args.backbone or ('resnet' if 'backbone.0.body.layer1.0.conv1.weight' in official else 'timm')
        state_dict = convert(official, backbone=backbone, text_prefix=args.text_prefix)
        if args.config:
            check_against_config(state_dict, args.config)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        print(f'error: {err.args[0] if isinstance(err, KeyError) else err}', file=sys.stderr)
        return 1
    atomic_torch_save({'state_dict': state_dict, 'meta': {'converted_from': os.path.basename(args.src)}}, args.dst)
    print(f'wrote {len(state_dict)} tensors to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
