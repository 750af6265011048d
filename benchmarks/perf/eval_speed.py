"""LVIS evaluation speed and memory: ovd's engine against lvis-api 0.5.3 and faster-coco-eval, one run.

Data: generated LVIS v1-like ground truth and results (real LVIS v1 category frequencies from
``ovd/data/metadata/lvis_v1_categories.json``, :func:`ovd.data.synthetic.eval_cases.make_lvis_like`), N images x
300 detections for each N in ``--sizes`` (default 1,000 and 5,000).

Each evaluator runs in its own fresh process on the parsed JSON (ground-truth dict + results list, deep
copied beforehand for the tools that modify it), so that timings and peak memory do not leak between
them. Time = from the parsed JSON to the metrics (index building, per-image cap, evaluation,
accumulation, summary). Peak memory = the process's peak resident set above its resident set just before
the evaluation (``VmHWM`` reset through ``/proc/self/clear_refs``).

Measured:
- standard LVIS AP: ovd vs lvis-api (``LVISEval``) and faster-coco-eval (``COCOeval_faster(lvis_style=True)``,
  ``maxDets=[300]``), with the largest metric difference to lvis-api;
- Fixed AP: ovd vs lvis-api's Fixed AP path (the authors' procedure: top 10,000 per category, then
  ``LVISResults(max_dets=-1)`` and ``LVISEval`` with ``max_dets=-1``).

Usage: ``python benchmarks/perf/eval_speed.py [--sizes 1000 5000] [--workdir DIR]``. Prints a table and the
ratios (peer seconds / ovd seconds; ovd peak / lvis-api peak); ``--json`` also writes them.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVALUATORS = ('ovd', 'lvis-api', 'faster-coco-eval', 'ovd-fixed', 'lvis-api-fixed')
FIXED_K = 10000


def _rss_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM to the current RSS
    except OSError:
        pass


def worker(name: str, gt_path: str, res_path: str) -> dict:
    """Run one evaluator on the files; return seconds, peak MiB above the start, and the metrics."""
    import logging
    import warnings
    warnings.simplefilter('ignore')
    logging.disable(logging.WARNING)
    sys.path.insert(0, str(REPO))
    import ovd.setup  # noqa: F401  (the numpy fix for lvis-api)
    with open(gt_path) as f:
        gt = json.load(f)
    with open(res_path) as f:
        res = json.load(f)
    if name.startswith('ovd'):
        from ovd.evaluation.lvis_ap import evaluate_lvis
        from ovd.evaluation.records import load_ground_truth, load_results

        def run():
            g = load_ground_truth(gt)
            return evaluate_lvis(g, load_results(res, g), fixed_ap=name == 'ovd-fixed')
    elif name.startswith('lvis-api'):
        from lvis import LVIS, LVISEval, LVISResults
        res = copy.deepcopy(res)  # LVISResults adds fields to the records

        def run():
            lvis_gt = LVIS(gt_path)
            results, max_dets = res, 300
            if name == 'lvis-api-fixed':
                per_cat = defaultdict(list)
                for r in res:
                    per_cat[r['category_id']].append(r)
                results = [r for rs in per_cat.values()
                           for r in sorted(rs, key=lambda r: r['score'], reverse=True)[:FIXED_K]]
                max_dets = -1
            ev = LVISEval(lvis_gt, LVISResults(lvis_gt, results, max_dets=max_dets), 'bbox')
            ev.params.max_dets = max_dets
            ev.run()
            return dict(ev.results)
    elif name == 'faster-coco-eval':
        from faster_coco_eval import COCO, COCOeval_faster
        gt_copy, res = copy.deepcopy(gt), copy.deepcopy(res)

        def run():
            coco_gt = COCO(gt_copy)
            ev = COCOeval_faster(coco_gt, coco_gt.loadRes(res), 'bbox', lvis_style=True,
                                 print_function=lambda *a, **k: None)
            ev.params.maxDets = [300]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            s = ev.stats_as_dict
            return {'AP': s['AP_all'], 'AP50': s['AP_50'], 'AP75': s['AP_75'], 'APs': s['AP_small'],
                    'APm': s['AP_medium'], 'APl': s['AP_large'], 'APr': s['APr'], 'APc': s['APc'],
                    'APf': s['APf'], 'AR@300': s['AR_all'], 'ARs@300': s['AR_small'],
                    'ARm@300': s['AR_medium'], 'ARl@300': s['AR_large']}
    else:
        raise ValueError(name)
    _reset_peak()
    start_kb = _rss_kb('VmRSS')
    t0, c0 = time.perf_counter(), time.process_time()
    metrics = run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_kb = _rss_kb('VmHWM')
    return {'seconds': seconds, 'cpu_seconds': cpu, 'peak_mib': (peak_kb - start_kb) / 1024,
            'metrics': {k: float(v) for k, v in metrics.items()}}


def run_worker(name: str, gt_path: Path, res_path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, '--worker', name, str(gt_path), str(res_path)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f'{name} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 5000])
    parser.add_argument('--dets', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workdir', default=None, help='where the generated JSON files go (default: temp)')
    parser.add_argument('--evaluators', nargs='+', default=list(EVALUATORS), choices=EVALUATORS)
    parser.add_argument('--json', default=None, help='also write the figures here')
    parser.add_argument('--worker', nargs=3, metavar=('NAME', 'GT', 'RES'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0

    sys.path.insert(0, str(REPO))
    from ovd.data.synthetic.eval_cases import make_lvis_like
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix='ovd-eval-speed-'))
    workdir.mkdir(parents=True, exist_ok=True)
    figures = {}
    for size in args.sizes:
        gt_path = workdir / f'lvis_like_{size}_gt.json'
        res_path = workdir / f'lvis_like_{size}_x{args.dets}_results.json'
        if not (gt_path.exists() and res_path.exists()):
            gt, res = make_lvis_like(size, args.dets, seed=args.seed)
            gt_path.write_text(json.dumps(gt))
            res_path.write_text(json.dumps(res))
        rows = {}
        for name in args.evaluators:
            rows[name] = run_worker(name, gt_path, res_path)
            print(f'  {size} images: {name:17s} {rows[name]["seconds"]:8.2f} s wall '
                  f'{rows[name]["cpu_seconds"]:8.2f} s CPU  '
                  f'peak +{rows[name]["peak_mib"]:7.0f} MiB', file=sys.stderr, flush=True)
        figures[size] = rows

    print(f'\nLVIS-v1-like data, {args.dets} detections per image (real LVIS v1 category frequencies)')
    print('(wall = elapsed seconds; CPU = process CPU seconds, the steadier figure on a shared machine)')
    print(f'{"images":>7} {"evaluator":17} {"wall s":>8} {"CPU s":>8} {"wall s/1k":>9} {"CPU s/1k":>9} '
          f'{"peak MiB":>9} {"max |diff| vs lvis-api":>23}')
    for size, rows in figures.items():
        for name, r in rows.items():
            ref = rows.get('lvis-api-fixed' if name.endswith('fixed') else 'lvis-api')
            diff = '' if ref is None else max(abs(v - ref['metrics'][k]) for k, v in r['metrics'].items()
                                               if k in ref['metrics'])
            print(f'{size:>7} {name:17} {r["seconds"]:8.2f} {r["cpu_seconds"]:8.2f} '
                  f'{1000 * r["seconds"] / size:9.3f} {1000 * r["cpu_seconds"] / size:9.3f} '
                  f'{r["peak_mib"]:9.0f} {diff if diff == "" else f"{diff:.1e}":>23}')
    print('\nratios (peer / ovd, wall and CPU seconds; ovd peak memory / lvis-api peak memory):')

    def ratio(peer: str, ours: str, rows: dict) -> str:
        return (f'{peer} / {ours}: {rows[peer]["seconds"] / rows[ours]["seconds"]:.1f}x wall, '
                f'{rows[peer]["cpu_seconds"] / rows[ours]["cpu_seconds"]:.1f}x CPU')

    for size, rows in figures.items():
        parts = []
        if 'ovd' in rows:
            parts += [ratio(peer, 'ovd', rows) for peer in ('lvis-api', 'faster-coco-eval') if peer in rows]
            if 'lvis-api' in rows:
                mem = rows['ovd']['peak_mib'] / rows['lvis-api']['peak_mib']
                parts.append(f'memory ovd / lvis-api: {mem:.2f}')
        if 'ovd-fixed' in rows and 'lvis-api-fixed' in rows:
            parts.append('Fixed AP ' + ratio('lvis-api-fixed', 'ovd-fixed', rows))
        print(f'  {size} images:\n    ' + '\n    '.join(parts))
    if args.json:
        tmp = args.json + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({str(k): v for k, v in figures.items()}, f, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
