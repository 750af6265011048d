"""Dataset preparation (``ovd prepare <name>``): one module per preparer, listed in :data:`PREPARERS`.

A preparer module defines ``NAME``, ``VERSION`` (bump it when its outputs change), ``HELP`` (one line),
``add_arguments(parser)``, ``inputs(args) -> [Path]`` (the files it reads; missing ones raise) and
``build(args) -> ({output path: content}, [SplitCounts])``, which validates everything and returns the outputs
without writing. :func:`run_preparer` does the rest the same way for all: up-to-date check, all-or-nothing
write, manifest, report. Common options every preparer gets: ``--root``, ``--check-images``,
``--drop-bad-boxes``, ``--force``.
"""
import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict

from .common import Manifest, commit, print_report

# name -> module; add one line per preparer.
PREPARERS: Dict[str, str] = {
    'coco-ov': 'ovd.data.prepare.coco_ov',
    'lvis-ov': 'ovd.data.prepare.lvis_ov',
    'lvis-minival': 'ovd.data.prepare.lvis_minival',
    'objects365': 'ovd.data.prepare.objects365',
    'flickr30k': 'ovd.data.prepare.flickr30k',
}

_NOT_OPTIONS = ('func', 'command', 'preparer', 'force')

# preparer -> the dataset root the configs read (docs/datasets.md), for --root's help
ROOT_EXAMPLES: Dict[str, str] = {
    'coco-ov': 'data/coco',
    'lvis-ov': 'data/lvis',
    'lvis-minival': 'data/lvis',
    'objects365': 'data/objects365',
    'flickr30k': 'data/flickr30k_entities',
}


def load_preparer(name: str) -> ModuleType:
    """Import the module of preparer ``name``."""
    if name not in PREPARERS:
        raise KeyError(f'unknown preparer {name!r}; available: {", ".join(PREPARERS)}')
    return importlib.import_module(PREPARERS[name])


def add_common_arguments(parser: argparse.ArgumentParser, name: str = '') -> None:
    """The options every preparer has; ``name`` picks the example root in the help."""
    example = ROOT_EXAMPLES.get(name, 'data/<dataset>')
    parser.add_argument('--root', required=True, help=f'dataset root, e.g. {example} (outputs go next to the '
                        'inputs, under it)')
    parser.add_argument('--check-images', action='store_true',
                        help='also require every image file to exist (slow on big datasets)')
    parser.add_argument('--drop-bad-boxes', dest='bad_boxes', action='store_const', const='drop',
                        default='error',
                        help='drop (and count) boxes with non-positive size or outside their image instead of '
                        'stopping at the first')
    parser.add_argument('--force', action='store_true', help='rebuild even if the outputs are up to date')


def run_preparer(module: ModuleType, args: argparse.Namespace) -> int:
    """Validate, build and write one preparer's outputs; return the exit status (0 = done or up to date)."""
    root = Path(args.root)
    options = {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_OPTIONS and not callable(v)}
    manifest = Manifest.for_inputs(module.NAME, module.VERSION, options, module.inputs(args))
    # --check-images looks at files the manifest does not track, so it always validates (and rewrites).
    if not getattr(args, 'force', False) and not getattr(args, 'check_images', False) \
            and manifest.is_up_to_date(root):
        print(f'ovd prepare {module.NAME}: up to date ({", ".join(sorted(manifest.outputs))}); '
              'use --force to rebuild')
        return 0
    print(f'ovd prepare {module.NAME}: reading and validating {len(manifest.inputs)} input file(s)',
          file=sys.stderr)
    outputs, rows = module.build(args)
    print(f'ovd prepare {module.NAME}: writing {len(outputs)} file(s)', file=sys.stderr)
    commit(outputs)
    manifest.save(root, list(outputs))
    print_report(f'ovd prepare {module.NAME}', rows)
    return 0


__all__ = ['PREPARERS', 'add_common_arguments', 'load_preparer', 'run_preparer']
