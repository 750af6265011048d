"""``ovd demo``: the whole suite end to end on this machine, in minutes on CPU.

Writes synthetic datasets (COCO, LVIS, Flickr30k Entities, Objects365 formats), runs ``benchmarks/sweeps/demo.yaml``
with the local executor (trains and evaluates the smoke model and every method's tiny config that exists), builds
the leaderboard and the reports, and prints where everything is. Re-running it skips what is already done.
"""
import argparse
import sys
from pathlib import Path

HELP = 'run the demo sweep end to end locally: synthetic data, tiny training + evaluation, leaderboard, report'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', type=Path, default=Path('work_dirs/demo'),
                        help='folder for data, runs, leaderboard and report (default: work_dirs/demo)')
    parser.add_argument('--spec', type=Path, help='sweep spec (default: benchmarks/sweeps/demo.yaml)')
    parser.add_argument('--workers', type=int, default=1, help='jobs at once (default 1)')
    parser.add_argument('--num-images', type=int, default=None,
                        help='synthetic images per split (default: the generators\' small defaults)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the synthetic data')


def default_spec() -> Path:
    """``benchmarks/sweeps/demo.yaml`` of the source checkout, else the copy a wheel ships in ``ovd/.mim``."""
    from ovd.resources import shipped_path
    path = shipped_path('benchmarks', 'sweeps', 'demo.yaml')
    return path if path is not None else Path('benchmarks') / 'sweeps' / 'demo.yaml'


def make_data(data_root: Path, seed: int, num_images, log=print) -> None:
    """Every synthetic dataset under ``<data_root>/synthetic/<name>`` and the tiny text models beside them
    (what the tiny configs read through OVD_DATA_ROOT); what exists is kept (generation is deterministic)."""
    from ovd.data import synthetic
    for name in ('coco', 'lvis', 'flickr30k', 'objects365'):
        generate = getattr(synthetic, f'generate_{name}', None)
        out = data_root / 'synthetic' / name
        if generate is None or (out / synthetic.MANIFEST_NAME).is_file():
            continue
        log(f'writing synthetic {name} to {out}')
        generate(out, seed=seed, num_images=num_images)
    tiny_models = data_root / 'synthetic'
    if not all((tiny_models / name).is_dir() for name in synthetic.TINY_MODELS):
        log(f'writing tiny text models (BERT, RoBERTa, CLIP) to {tiny_models}')
        synthetic.generate_tiny_models(tiny_models, seed=seed)


def build_region_caches(entries, log=print) -> bool:
    """Run ``ovd precompute-regions`` for each entry whose training config reads a region cache (ViLD):
    a sweep entry trains, it does not prepare data. Finished shards are skipped, so reruns cost nothing."""
    import os
    import subprocess

    from mmengine.config import Config

    from ovd.benchmark.spec import default_search_dirs, resolve_path
    search = default_search_dirs()
    for entry in entries:
        if not entry.train_config:
            continue
        config = resolve_path(entry.train_config, search)
        if config is None:
            continue  # the sweep itself reports a missing config as the entry's failure
        env = dict(os.environ, **entry.env)
        previous = {k: os.environ.get(k) for k in entry.env}
        os.environ.update(entry.env)  # the configs read OVD_DATA_ROOT while they are parsed
        try:
            needs_cache = 'region_cache' in Config.fromfile(str(config))
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if not needs_cache:
            continue
        log(f'demo: building the region cache of {entry.train_config}')
        proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'precompute-regions', '--config',
                               str(config), '--shard', '0/1'], env=env)
        if proc.returncode != 0:
            print(f'demo: ovd precompute-regions failed for {entry.train_config}', file=sys.stderr)
            return False
    return True


def _wrap(text: str) -> str:
    """``text`` wrapped at the terminal width between words (ids and paths stay whole)."""
    import shutil
    import textwrap
    return textwrap.fill(text, width=shutil.get_terminal_size((80, 24)).columns, subsequent_indent='  ',
                         break_long_words=False, break_on_hyphens=False)


def run(args: argparse.Namespace) -> int:
    from ovd.benchmark.executors import LocalExecutor
    from ovd.benchmark.leaderboard import build_leaderboard
    from ovd.benchmark.report import print_terminal, write_report
    from ovd.benchmark.spec import SpecError, load_spec
    from ovd.benchmark.state import State
    from ovd.benchmark.sweep import run_sweep
    from ovd.commands.sweep import print_status

    spec = args.spec or default_spec()
    if not spec.is_file():
        print(f'ovd demo: sweep spec not found: {spec} (pass --spec)', file=sys.stderr)
        return 2
    out = args.out.resolve()
    data_root = out / 'data'
    make_data(data_root, args.seed, args.num_images)
    try:
        sweep = load_spec(str(spec), {'out': str(out)})
    except SpecError as err:
        print(f'ovd demo: {err}', file=sys.stderr)
        return 2
    print(_wrap(f'demo: {len(sweep.entries)} run(s): ' + ', '.join(e.id for e in sweep.entries)))
    for note in sweep.notes:
        print(f'demo: {note}')
    if not build_region_caches(sweep.entries):
        return 1
    summary = run_sweep(sweep, LocalExecutor(workers=args.workers))
    print_status(summary.statuses)
    board = build_leaderboard([sweep.root], sweep.leaderboard_dir, references=sweep.references)
    written = write_report(board.tables, sweep.leaderboard_dir, title='ovd demo leaderboard (synthetic data)')
    print_terminal(board.tables, details=f'{sweep.leaderboard_dir}/leaderboard_*.csv and leaderboard.html')
    print(f'\nrun records:  {sweep.root}/*/records/*.json')
    print(f'leaderboard:  {sweep.leaderboard_dir}/leaderboard_*.csv')
    print(f'report:       {written["html"]}')
    print(f'              {written["markdown"]}')
    plots = [p for k, p in written.items() if k.endswith('.png')]
    if plots:
        print(f'plots:        {Path(plots[0]).parent}/ ({len(plots)})')
    failed = [s for s in summary.statuses if s.state != State.DONE]
    if failed:
        print(_wrap(f'demo: {len(failed)} run(s) did not finish: '
                    + ', '.join(f'{s.entry_id} ({s.state.value})' for s in failed)), file=sys.stderr)
        return 1
    return 0
