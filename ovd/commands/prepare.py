"""``ovd prepare <dataset> --root DATA_ROOT``: validate raw annotations and write the derived files.

The preparers are listed in :data:`ovd.data.prepare.PREPARERS` (one module each); this command only builds the
sub-command table from that list and reports bad input as one clear line.
"""
import argparse
import sys

HELP = 'validate a dataset and write its derived annotation files (OV splits, minival, name fixes)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ovd.data.prepare import PREPARERS, add_common_arguments, load_preparer
    sub = parser.add_subparsers(dest='preparer', metavar='DATASET', required=True)
    for name in PREPARERS:
        module = load_preparer(name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        add_common_arguments(p, name)
        module.add_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ovd.data.prepare import load_preparer, run_preparer
    from ovd.data.validation import AnnotationError
    try:
        return run_preparer(load_preparer(args.preparer), args)
    except AnnotationError as err:
        print(f'ovd prepare {args.preparer}: {err}', file=sys.stderr)
        hint = ' (--drop-bad-boxes drops and counts such boxes instead)' \
            if err.field in ('bbox', 'bndbox') and getattr(args, 'bad_boxes', None) == 'error' else ''
        print(f'nothing was written{hint}', file=sys.stderr)
        return 1
