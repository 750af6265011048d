"""``ovd embed``: CLIP class embeddings of a vocabulary (ViLD's 63 templates by default) written to a file.

Example: ``ovd embed --vocab lvis_v1 --model ViT-B-32 --pretrained openai --out lvis_v1_clip_vitb32.pt``. The
result goes through the content-addressed cache (``$OVD_CACHE_DIR``), so a second run with the same encoder
weights, templates and names reads it back instead of recomputing. ``--name-rule`` picks how class names become
text (:mod:`ovd.data.name_rules`; the default keeps LVIS qualifiers, ``bow (weapon)``; ``vild`` is ViLD's own).
"""

import argparse
import sys

HELP = 'compute CLIP class embeddings of a vocabulary (ViLD prompt templates) and save them'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--vocab',
        required=True,
        help="built-in vocabulary ('lvis_v1', 'ov_coco', 'ov_lvis:base', ...) or a text file with "
        'one class name per line',
    )
    parser.add_argument(
        '--model',
        default='ViT-B-32',
        help="open_clip architecture (e.g. ViT-B-32, RN50) or 'local-dir:/path'",
    )
    parser.add_argument(
        '--pretrained',
        default='openai',
        help="pretrained tag (downloaded by open_clip), a local weights file, or 'none' for random weights",
    )
    parser.add_argument(
        '--model-config',
        default=None,
        help='JSON file with an open_clip model config (embed_dim, vision_cfg, text_cfg) to use '
        'instead of a built-in architecture',
    )
    parser.add_argument('--templates', default='vild', help="template set: 'vild' (63, default) or 'single'")
    parser.add_argument(
        '--name-rule',
        default='default',
        help="how class names become text: 'default' (qualifier kept, e.g. 'bow (weapon)'), 'vild', 'baron', "
        "'glip' or 'mdetr' (each method's official spelling); append '+unique' to break the ties a rule makes",
    )
    parser.add_argument(
        '--no-this-is',
        dest='this_is',
        action='store_false',
        help="do not prefix 'This is ' to prompts (ViLD does by default)",
    )
    parser.add_argument(
        '--out',
        required=True,
        help='output file: .pt (dict with metadata) or .npy (float32 [num_classes, dim])',
    )
    parser.add_argument('--batch-size', type=int, default=256,
                        help='prompts encoded per forward pass (default: %(default)s)')
    parser.add_argument('--device', default='cpu', help='torch device (default: %(default)s)')
    parser.add_argument(
        '--no-cache', dest='cache', action='store_false', help='do not read or write the cache'
    )


def _vocab_source(vocab: str):
    """A built-in vocabulary name as is, or the raw class names of a file with one name per line."""
    import os

    if not os.path.isfile(vocab):
        return vocab
    with open(vocab, encoding='utf-8') as f:
        # only the line break is dropped: a rule such as 'glip' keeps a name's own spaces
        names = [line.rstrip('\r\n') for line in f if line.strip()]
    if not names:
        raise ValueError(f'{vocab}: no class names (expected one name per line)')
    return names


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from ovd.fileio import atomic_torch_save
    from ovd.text.cache import EmbeddingCache
    from ovd.text.class_embeddings import build_class_embeddings, vocabulary_names
    from ovd.text.clip import OpenCLIPEncoder
    from ovd.text.templates import get_templates

    out = Path(args.out)
    if out.suffix not in ('.pt', '.pth', '.npy'):
        print(f'ovd embed: --out must end in .pt, .pth or .npy, got {out}', file=sys.stderr)
        return 2
    try:
        source = _vocab_source(args.vocab)
        names = vocabulary_names(source, args.name_rule)
        templates = get_templates(args.templates)
        model_cfg = None
        if args.model_config:
            with open(args.model_config, encoding='utf-8') as f:
                model_cfg = json.load(f)
            model_cfg = model_cfg.get('model_cfg', model_cfg)
        encoder = OpenCLIPEncoder(
            args.model, pretrained=args.pretrained, model_cfg=model_cfg, device=args.device
        )
    except (KeyError, ValueError, OSError, RuntimeError) as err:
        print(f'ovd embed: {err}', file=sys.stderr)
        return 1
    cache = EmbeddingCache() if args.cache else False
    embeddings = build_class_embeddings(
        encoder,
        source,
        templates=templates,
        this_is=args.this_is,
        cache=cache,
        batch_size=args.batch_size,
        progress=True,
        name_rule=args.name_rule,
    )
    if out.suffix == '.npy':
        from ovd.fileio import atomic_write
        atomic_write(out, lambda f: np.save(f, embeddings.numpy().astype(np.float32)))
    else:
        atomic_torch_save(
            {
                'embeddings': embeddings,
                'names': names,
                'vocab': args.vocab,
                'encoder': encoder.identity(),
                'templates': list(templates),
                'this_is': args.this_is,
                'name_rule': args.name_rule,
            },
            out,
        )
    source = 'cache' if cache and cache.hits else 'computed'
    print(
        f'ovd embed: {len(names)} classes x {embeddings.shape[1]} dims '
        f'({len(templates)} templates, {source}) -> {out}'
    )
    return 0
