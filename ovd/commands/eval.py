"""``ovd eval``: score a results file from any codebase under a named protocol; print the metrics as a table
(``--json``: as one JSON object) and, with ``--out``, write them as JSON."""
import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Dict, Optional

HELP = 'evaluate a COCO/LVIS results file (or Flickr30k predictions) under a named protocol'


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
    parser.add_argument('--out', default=None, help='also write the metrics JSON here (atomically); checked '
                        'before evaluating')
    parser.add_argument('--json', action='store_true',
                        help='print the metrics as one JSON object instead of a table (for scripts)')


def write_json_atomic(path: str, obj) -> None:
    """Write the metrics JSON to a temporary file beside ``path``, then rename it over ``path``."""
    from ovd.fileio import atomic_write_text
    atomic_write_text(path, json.dumps(obj, indent=2) + '\n')


def out_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot take the metrics file (a folder, a file as a parent folder, no write permission),
    or None. Run before evaluating, which can take minutes."""
    target = Path(path)
    if target.is_dir():
        return f'--out {path} is a folder; give a file name, e.g. {target / "metrics.json"}'
    if target.exists() and not target.is_file():
        return f'--out {path} exists and is not a regular file'
    parent = target.parent
    while not parent.exists():  # atomic writes create missing folders; the first existing one must allow it
        parent = parent.parent
    if not parent.is_dir():
        return f'--out {path}: {parent} is a file, not a folder'
    if not os.access(parent, os.W_OK | os.X_OK):
        return f'--out {path}: folder {parent} is not writable'
    return None


def format_table(metrics: Dict[str, float], title: str, width: int = 80) -> str:
    """The metrics as name/value pairs, as many pairs per line as fit ``width`` columns."""
    def value(v) -> str:
        if isinstance(v, float):
            return 'nan' if math.isnan(v) else f'{v:.4f}'
        return str(v)

    cells = [(k, value(v)) for k, v in metrics.items()]
    if not cells:
        return f'{title}\n(no metrics)'
    name_w = max(len(k) for k, _ in cells)
    value_w = max(len(v) for _, v in cells)
    cell_w = name_w + 2 + value_w
    per_line = max(1, (width + 3) // (cell_w + 3))
    lines = [title]
    for i in range(0, len(cells), per_line):
        lines.append('   '.join(f'{k:<{name_w}}  {v:>{value_w}}' for k, v in cells[i:i + per_line]).rstrip())
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> int:
    import shutil
    import warnings

    if args.out:  # before importing the evaluation stack (seconds) and evaluating (minutes)
        problem = out_problem(args.out)
        if problem:
            print(f'ovd eval: error: {problem}', file=sys.stderr)
            return 2
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
    if args.out:
        try:
            write_json_atomic(args.out, metrics)
        except OSError as err:
            print(f'ovd eval: error: cannot write --out {args.out}: {err.strerror or err}', file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(metrics))
    else:
        iou = f' ({args.iou_type})' if not args.protocol.startswith('flickr30k') else ''
        print(format_table(metrics, f'{args.protocol}{iou}: {Path(args.pred).name}',
                           width=min(shutil.get_terminal_size((80, 24)).columns, 120)))
        if args.out:
            print(f'metrics JSON: {args.out}')
    return 0
