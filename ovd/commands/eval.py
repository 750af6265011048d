"""``ovd eval``: score a results file from any codebase under a named protocol; print the metrics as JSON."""
import argparse
import json
import sys

HELP = 'Evaluate a COCO/LVIS results file (or Flickr30k predictions) under a named protocol.'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ovd.evaluation.protocols import PROTOCOLS
    parser.add_argument('--protocol', required=True,
                        help=f'one of: {", ".join(PROTOCOLS)} (see docs/evaluation.md)')
    parser.add_argument('--gt', required=True, help='ground truth: COCO/LVIS/Objects365 JSON; for flickr30k-* the '
                        'raw release root (with --split), the index `ovd prepare flickr30k` writes, or the '
                        'sentence-list JSON')
    parser.add_argument('--pred', required=True,
                        help='results file (COCO results JSON list; for flickr30k-* predictions in ovd\'s or '
                        'MDETR\'s format, told apart automatically)')
    parser.add_argument('--split', default=None, choices=['train', 'val', 'test'],
                        help='flickr30k-*: the split of the release root given as --gt')
    parser.add_argument('--flickr30k-box-convention', default=None, choices=['raw', 'pixel'],
                        help='flickr30k-*: ground-truth boxes as the XML writes them (raw, the default: MDETR\'s '
                        'evaluator) or as pixel edges [xmin-1, ymin-1, xmax, ymax] (a deviation)')
    parser.add_argument('--iou-type', default='bbox', choices=['bbox', 'segm'],
                        help='box AP or mask AP (detection protocols; masks as compressed RLE)')
    parser.add_argument('--out', default=None, help='also write the metrics JSON here (atomically)')


def write_json_atomic(path: str, obj) -> None:
    """Write the metrics JSON to a temporary file beside ``path``, then rename it over ``path``."""
    from ovd.fileio import atomic_write_text
    atomic_write_text(path, json.dumps(obj, indent=2) + '\n')


def run(args: argparse.Namespace) -> int:
    import warnings

    from ovd.evaluation.protocols import check_protocol, evaluate_files
    from ovd.evaluation.records import EvaluationInputError
    try:
        check_protocol(args.protocol)
        with warnings.catch_warnings():
            warnings.simplefilter('always')
            warnings.showwarning = lambda msg, *a, **k: print(f'ovd eval: warning: {msg}', file=sys.stderr)
            metrics = evaluate_files(args.protocol, args.gt, args.pred, args.iou_type, args.split,
                                     args.flickr30k_box_convention)
    except (EvaluationInputError, ValueError) as err:
        print(f'ovd eval: error: {err}', file=sys.stderr)
        return 2
    print(json.dumps(metrics))
    if args.out:
        write_json_atomic(args.out, metrics)
    return 0
