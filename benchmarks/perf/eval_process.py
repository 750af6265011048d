"""``ovd eval --protocol lvis`` as a whole process against lvis-api and faster-coco-eval as whole processes.

What a user pays for one evaluation from the shell: interpreter start, imports, reading the two JSON files,
evaluation and printing. ``eval_speed.py`` times the evaluators inside warm processes; this script times
the processes, so an expensive ``import`` shows up here.

Data: generated LVIS v1-like ground truth and results (real LVIS v1 category frequencies,
:func:`ovd.data.synthetic.eval_cases.make_lvis_like`), ``--images`` images x ``--dets`` detections (default
1,000 x 300), written once to ``--workdir``.

The three processes, each run ``--repeats`` times in turn, all in this one run:
- ``ovd``: ``python -m ovd.cli eval --protocol lvis --gt GT --pred RES`` with ``PYTHONPATH=--ovd-src``
  (default: this checkout); ``--before-src OLD_CHECKOUT`` adds the same command on another checkout as
  ``ovd-before``, to report before/after in the same run;
- ``lvis-api``: a wrapper script running lvis-api 0.5.3 (``LVIS``, ``LVISResults(max_dets=300)``, ``LVISEval``)
  on the two files; it loads ``ovd/compat/lvis_numpy.py`` by path (lvis-api needs its ``np.float`` alias on
  numpy >= 1.24) without importing the ovd package, so lvis-api's figure does not depend on ovd's imports;
- ``faster-coco-eval``: a wrapper script running ``COCOeval_faster(lvis_style=True)`` with ``maxDets=[300]``.

Each process's CPU time (user + sys, from ``getrusage(RUSAGE_CHILDREN)``) and wall time are taken; the
medians are reported and the ratios are peer / ovd. AP, AP50, AP75, APr, APc, APf of each peer are compared with ovd's.

Usage: ``python benchmarks/perf/eval_process.py [--images 1000] [--repeats 3] [--workdir DIR] [--json OUT]``.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[2]
LVIS_NUMPY_FIX = REPO / 'ovd' / 'compat' / 'lvis_numpy.py'
COMPARED = ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')

LVIS_API_WRAPPER = '''"""lvis-api 0.5.3 on a ground-truth file and a results file; prints the metrics as JSON."""
import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location('lvis_numpy_fix', sys.argv[3])
fix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fix)
fix.install_lvis_numpy_fix()
from lvis import LVIS, LVISEval, LVISResults  # noqa: E402

gt = LVIS(sys.argv[1])
evaluator = LVISEval(gt, LVISResults(gt, sys.argv[2], max_dets=300), 'bbox')
evaluator.run()
print(json.dumps({k: float(v) for k, v in evaluator.results.items()}))
'''

FASTER_COCO_EVAL_WRAPPER = '''"""faster-coco-eval (LVIS style, 300 detections) on a ground-truth and a results file."""
import json
import sys

from faster_coco_eval import COCO, COCOeval_faster

gt = COCO(sys.argv[1])
evaluator = COCOeval_faster(gt, gt.loadRes(sys.argv[2]), 'bbox', lvis_style=True, print_function=lambda *a, **k: None)
evaluator.params.maxDets = [300]
evaluator.evaluate()
evaluator.accumulate()
evaluator.summarize()
s = evaluator.stats_as_dict
print(json.dumps({'AP': s['AP_all'], 'AP50': s['AP_50'], 'AP75': s['AP_75'], 'APr': s['APr'], 'APc': s['APc'],
                  'APf': s['APf']}))
'''


def run_process(argv: List[str], env: Dict[str, str], cwd: Path) -> Tuple[float, float, dict]:
    """Run one process to the end; return (CPU seconds user + sys, wall seconds, the JSON it printed last)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the children waited for so far: this one added
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(argv)} exited with {proc.returncode}:\n{proc.stderr[-3000:]}')
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--dets', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--ovd-src', default=str(REPO), help='checkout whose ovd the ovd process imports')
    parser.add_argument('--before-src', default=None,
                        help="another checkout (e.g. an older commit) run as a fourth process, 'ovd-before'")
    parser.add_argument('--workdir', default=None, help='where the generated files go (default: temp)')
    parser.add_argument('--json', default=None, help='also write the figures here')
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix='ovd-eval-process-'))
    workdir.mkdir(parents=True, exist_ok=True)
    gt_path = workdir / f'lvis_like_{args.images}_gt.json'
    res_path = workdir / f'lvis_like_{args.images}_x{args.dets}_s{args.seed}_results.json'
    if not (gt_path.exists() and res_path.exists()):
        sys.path.insert(0, str(REPO))
        from ovd.data.synthetic.eval_cases import make_lvis_like
        gt, res = make_lvis_like(args.images, args.dets, seed=args.seed)
        gt_path.write_text(json.dumps(gt))
        res_path.write_text(json.dumps(res))
    lvis_wrapper, fce_wrapper = workdir / 'lvis_api_eval.py', workdir / 'faster_coco_eval_eval.py'
    lvis_wrapper.write_text(LVIS_API_WRAPPER)
    fce_wrapper.write_text(FASTER_COCO_EVAL_WRAPPER)

    base_env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    ovd_argv = [sys.executable, '-m', 'ovd.cli', 'eval', '--protocol', 'lvis', '--gt', str(gt_path),
                '--pred', str(res_path), '--json']  # the metrics as one JSON line (a table without --json)
    commands = {
        'ovd': (ovd_argv, dict(base_env, PYTHONPATH=args.ovd_src)),
        'lvis-api': ([sys.executable, str(lvis_wrapper), str(gt_path), str(res_path), str(LVIS_NUMPY_FIX)],
                     base_env),
        'faster-coco-eval': ([sys.executable, str(fce_wrapper), str(gt_path), str(res_path)], base_env),
    }
    if args.before_src:
        commands['ovd-before'] = (ovd_argv, dict(base_env, PYTHONPATH=args.before_src))
    samples: Dict[str, List[Tuple[float, float]]] = {name: [] for name in commands}
    metrics: Dict[str, dict] = {}
    for repeat in range(args.repeats):
        for name, (argv, env) in commands.items():
            cpu, wall, metrics[name] = run_process(argv, env, workdir)  # not cwd: -m puts it on sys.path
            samples[name].append((cpu, wall))
            print(f'  run {repeat + 1}/{args.repeats} {name:17s} {cpu:7.2f} s CPU {wall:7.2f} s wall',
                  file=sys.stderr, flush=True)

    figures = {name: {'cpu_seconds': statistics.median(c for c, _ in runs),
                      'wall_seconds': statistics.median(w for _, w in runs),
                      'max_abs_diff_vs_ovd': max(abs(metrics[name][k] - metrics['ovd'][k]) for k in COMPARED)}
               for name, runs in samples.items()}
    print(f'\n`ovd eval --protocol lvis` as a process vs peers as processes: {args.images} LVIS-v1-like images x '
          f'{args.dets} detections, median of {args.repeats} (ovd from {args.ovd_src})')
    print(f'{"process":17} {"CPU s":>7} {"wall s":>7} {"CPU / ovd":>9} {"wall / ovd":>10} '
          f'{"max |diff| vs ovd (AP, AP50, AP75, APr, APc, APf)":>50}')
    ours = figures['ovd']
    for name, fig in figures.items():
        fig['cpu_ratio'] = fig['cpu_seconds'] / ours['cpu_seconds']
        fig['wall_ratio'] = fig['wall_seconds'] / ours['wall_seconds']
        print(f'{name:17} {fig["cpu_seconds"]:7.2f} {fig["wall_seconds"]:7.2f} {fig["cpu_ratio"]:8.1f}x '
              f'{fig["wall_ratio"]:9.1f}x {fig["max_abs_diff_vs_ovd"]:50.1e}')
    if args.json:
        tmp = args.json + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({'images': args.images, 'dets': args.dets, 'repeats': args.repeats, 'ovd_src': args.ovd_src,
                       'figures': figures}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
