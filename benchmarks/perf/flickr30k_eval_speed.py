"""Flickr30k Recall@k scoring speed: ovd against MDETR's official evaluator, one run, same inputs.

Data: a synthetic raw release the size of the Flickr30k Entities test split (1,000 images, about 14.5k phrases
with boxes; :func:`ovd.data.synthetic.flickr30k_release.write_release` with 4 to 7 entity phrases per sentence,
``--boxes-per-entity`` ground-truth boxes per entity)
and predictions in MDETR's format with 100 ranked boxes per phrase (MDETR ranks all its 100 queries for every
phrase), :func:`~ovd.data.synthetic.flickr30k_release.mdetr_predictions`.

Timed: the scoring step, from the parsed predictions JSON (a list of dicts) and the loaded ground truth to the
recall report: MDETR's ``Flickr30kEntitiesRecallEvaluator.evaluate(predictions)`` against ovd's
``load_flickr30k_predictions`` (format check, validation, conversion) + ``evaluate_flickr30k``. Ground-truth
loading is timed separately. Each is repeated ``--repeat`` times; the best CPU time counts (the development
machine is shared, so CPU seconds are the meaningful figure; wall seconds are printed too). The script checks that
both give the same numbers (any-box and merged-box) and prints the ratio MDETR / ovd.

MDETR's code is not part of ovd: pass a folder holding its ``datasets/flickr_eval.py`` (github.com/ashkamath/mdetr)
with ``--mdetr``; its imports ``util.dist`` and ``prettytable`` are only used by the ``FlickrEvaluator`` wrapper, so
empty stand-ins are put on the path when they are missing.

Usage: ``python benchmarks/perf/flickr30k_eval_speed.py --mdetr DIR [--images 1000] [--boxes 100] [--workdir D]``.
"""
import argparse
import json
import sys
import tempfile
import time
import types
from pathlib import Path


def best_time(fn, repeat: int):
    """(result, best CPU seconds, wall seconds of that run)."""
    best = None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if best is None or cpu < best[1]:
            best = (out, cpu, wall)
    return best


def with_tables(gt):
    gt.table, gt.evaluated, gt.phrase_keys  # noqa: B018  (cached properties)
    return gt


def import_mdetr_evaluator(folder: str):
    sys.path.insert(0, folder)
    for name in ('prettytable', 'util', 'util.dist'):
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.__path__ = []
            sys.modules[name] = stub
    from datasets.flickr_eval import Flickr30kEntitiesRecallEvaluator
    return Flickr30kEntitiesRecallEvaluator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mdetr', required=True, help="folder with MDETR's datasets/flickr_eval.py")
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--boxes', type=int, default=100, help='ranked boxes per phrase')
    parser.add_argument('--boxes-per-entity', default='1,1,1,1,1,1,1,1,2,3',
                        help='ground-truth boxes of an entity drawn from these (default: mean 1.3; the release has '
                        '276k boxes for 244k entities); 1,1,1,2,3,4 is the parity fixture\'s stress mix')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workdir', default=None, help='where to write the release (default: a temp folder)')
    args = parser.parse_args()

    from ovd.data.synthetic.flickr30k_release import mdetr_predictions, write_release
    from ovd.evaluation.flickr30k import evaluate_flickr30k, load_flickr30k_predictions, read_flickr30k_ground_truth
    evaluator_cls = import_mdetr_evaluator(args.mdetr)

    root = Path(args.workdir or tempfile.mkdtemp(prefix='flickr30k_speed_'))
    write_release(root, args.images, args.seed, phrases_per_sentence=(4, 7),
                  boxes_per_entity=[int(v) for v in args.boxes_per_entity.split(',')])
    pred_path = root / 'predictions_mdetr.json'
    pred_path.write_text(json.dumps(mdetr_predictions(root, seed=args.seed, boxes_per_phrase=args.boxes)))
    predictions = json.loads(pred_path.read_text())

    rows = []
    for protocol, merge in (('any-box', False), ('merged-box', True)):
        _, mdetr_gt_cpu, _ = best_time(lambda m=merge: evaluator_cls(str(root), 'test', (1, 5, 10, -1), 0.5, m,
                                                                     verbose=False), 1)
        evaluator = evaluator_cls(str(root), 'test', (1, 5, 10, -1), 0.5, merge, verbose=False)
        ref, mdetr_cpu, mdetr_wall = best_time(lambda e=evaluator: e.evaluate(predictions), args.repeat)
        # the look-up arrays are built with the ground truth, as MDETR builds its look-ups in its constructor
        gt, ovd_gt_cpu, _ = best_time(lambda: with_tables(read_flickr30k_ground_truth(root, 'test')), 1)
        ours, ovd_cpu, ovd_wall = best_time(
            lambda p=protocol: evaluate_flickr30k(gt, load_flickr30k_predictions(predictions, gt), p),
            args.repeat)
        ref_named = {('UB' if k == -1 else f'R@{k}') if c == 'all' else f'{c}/' + ('UB' if k == -1 else f'R@{k}'): v
                     for k, cats in ref.items() for c, v in cats.items()}
        diff = max(abs(ref_named[k] - ours[k]) for k in ref_named)
        assert set(ref_named) == set(ours) and diff <= 1e-12, f'{protocol}: numbers differ ({diff})'
        n_phrases = sum(1 for p in gt.phrases if len(p.boxes))
        rows.append((protocol, n_phrases, mdetr_cpu, mdetr_wall, ovd_cpu, ovd_wall, mdetr_gt_cpu, ovd_gt_cpu, diff))
        pixel = evaluate_flickr30k(read_flickr30k_ground_truth(root, 'test', 'pixel').phrases,
                                   load_flickr30k_predictions(predictions, gt), protocol)
        print(f'{protocol}: raw (MDETR) ' + ' '.join(f'{k}={ours[k]:.4f}' for k in ('R@1', 'R@5', 'R@10', 'UB'))
              + ' | pixel edges ' + ' '.join(f'{k}={pixel[k]:.4f}' for k in ('R@1', 'R@5', 'R@10', 'UB')))

    print(f'\n{args.images} images, {args.boxes} ranked boxes per phrase, boxes per entity from '
          f'{args.boxes_per_entity}, release in {root}')
    print('| protocol | phrases | MDETR scoring CPU s (wall) | ovd scoring CPU s (wall) | ratio | GT load CPU s '
          'MDETR / ovd | max abs diff |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for protocol, n, mc, mw, oc, ow, mg, og, diff in rows:
        print(f'| {protocol} | {n} | {mc:.3f} ({mw:.3f}) | {oc:.3f} ({ow:.3f}) | **{mc / oc:.2f}x** | '
              f'{mg:.2f} / {og:.2f} | {diff:g} |')


if __name__ == '__main__':
    main()
