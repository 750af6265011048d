"""``ovd demo``: the whole suite end to end on this machine, in minutes on CPU.

By default it shows the open-vocabulary effect: it writes the synthetic open-vocabulary world, then pretrains (or
reuses) its tiny CLIP (docs/ov_world.md) and runs ``benchmarks/sweeps/ov_world.yaml`` with the local executor
(every method and a base-only lower bound trained on the world's base boxes, evaluated on all its categories),
one job per core, each as soon as what it needs is there (:mod:`ovd.commands.demo_jobs`: ViLD's region cache
waits for the CLIP and the base-only detector's proposals). It builds the leaderboard and ends with one table:
method, base AP50, novel AP50, AP, train time. ``--plumbing`` runs the tiny plumbing sweep
``benchmarks/sweeps/demo.yaml`` instead (synthetic COCO, LVIS, Flickr30k Entities and Objects365; a few
iterations per method: proves the code path, not learning). Re-running skips what is already done.
"""
import argparse
import sys
from pathlib import Path
from typing import Optional

HELP = ('run the demo sweep end to end locally: the synthetic open-vocabulary world, every method trained and '
        'evaluated on it, leaderboard, report')
WORLD_SPEC = ('benchmarks', 'sweeps', 'ov_world.yaml')
PLUMBING_SPEC = ('benchmarks', 'sweeps', 'demo.yaml')
WORLD_PROTOCOL = 'lvis'  # the world is evaluated as OV-LVIS: novel = rare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', type=Path, default=Path('work_dirs/demo'),
                        help='folder for data, runs, leaderboard and report (default: work_dirs/demo)')
    parser.add_argument('--spec', type=Path,
                        help='sweep spec (default: benchmarks/sweeps/ov_world.yaml, with --plumbing '
                             'benchmarks/sweeps/demo.yaml); its configs read the data the mode writes')
    parser.add_argument('--plumbing', action='store_true',
                        help='run the tiny plumbing sweep (benchmarks/sweeps/demo.yaml: a few iterations per method '
                             'on synthetic COCO/LVIS/Flickr30k/Objects365) instead of the open-vocabulary world')
    parser.add_argument('--workers', type=int, default=None,
                        help='runs at once (default: one per usable core for the world, whose runs use one '
                             'thread each; 1 with --plumbing)')
    parser.add_argument('--num-images', type=int, default=None,
                        help='synthetic images per split (default: the generators\' small defaults)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the plumbing data (the world is always seed 0: its split is the built-in '
                             "'ov_world' vocabulary)")


def usable_cores() -> int:
    """The cores this process may run on."""
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)


def default_spec(parts=WORLD_SPEC) -> Path:
    """A sweep spec of the source checkout (default ``benchmarks/sweeps/ov_world.yaml``), else the copy a wheel
    ships in ``ovd/.mim``."""
    from ovd.resources import shipped_path
    path = shipped_path(*parts)
    return path if path is not None else Path(*parts)


def make_world(data_root: Path, num_images) -> Path:
    """The open-vocabulary world under ``<data_root>/synthetic/ov_world`` with a progress bar, and its tiny text
    models (kept when they exist: generation is deterministic). Returns the world's folder; its CLIP is
    :func:`world_clip_job`'s."""
    from ovd.commands.synth import write_world
    world = data_root / 'synthetic' / 'ov_world'
    write_world(world, seed=0, num_images=num_images)
    return world


def world_clip_job(world: Path, progress):
    """The world's CLIP as a demo job (:class:`ovd.commands.demo_jobs.Prerequisite`): pretrained, or reused
    (content-addressed), under a 'tiny CLIP' bar of ``progress``; the configs that name ``<world>/clip`` wait
    for it."""
    from ovd.commands.demo_jobs import Prerequisite

    def run() -> bool:
        from ovd.data.synthetic.world_clip import ensure_world_clip
        task = progress.add_task('tiny CLIP', total=None)
        steps = [1]  # the bar ends full also when the CLIP is reused (no training step reported)

        def on_step(done: int, total: int) -> None:
            steps[0] = total
            progress.update(task, completed=done, total=total)
        ensure_world_clip(world, seed=0, progress=on_step)
        progress.update(task, completed=steps[0], total=steps[0])
        return True
    return Prerequisite('world CLIP', run, str(world / 'clip'))


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
    make_tiny_models(data_root, seed, log)


def make_tiny_models(data_root: Path, seed: int = 0, log=print) -> None:
    """The tiny text models (BERT, RoBERTa, CLIP) under ``<data_root>/synthetic``, unless they exist: the text
    encoders the GLIP and MDETR configs on synthetic data start from."""
    from ovd.data import synthetic
    tiny_models = data_root / 'synthetic'
    if not all((tiny_models / name).is_dir() for name in synthetic.TINY_MODELS):
        log(f'writing tiny text models (BERT, RoBERTa, CLIP) to {tiny_models}')
        synthetic.generate_tiny_models(tiny_models, seed=seed)


def run_jobs_with_progress(sweep, workers: int, world: Optional[Path]) -> None:
    """Run the sweep's entries, region caches and (given the ``world``) the world's CLIP
    (:mod:`ovd.commands.demo_jobs`) on ``workers`` lanes under one progress display; entries already done are
    skipped by the sweep."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ovd.commands.demo_jobs import SweepJobs, run_jobs
    with Progress(TextColumn('[bold]{task.description}'), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as progress:
        sweep_jobs = SweepJobs(sweep, log=progress.console.print,
                               prerequisite=world_clip_job(world, progress) if world else None)
        jobs = sweep_jobs.jobs()
        entries = {j.name for j in jobs if j.is_entry}
        task = progress.add_task('runs', total=len(entries))

        def on_change(running, outcome) -> None:
            progress.update(task, completed=len(entries & set(outcome)),
                            description=('running ' + ', '.join(running)) if running else 'runs')

        run_jobs(jobs, workers, on_change, on_interrupt=sweep_jobs.stop)


def world_rows(sweep) -> list:
    """One row per entry of the world sweep from its run record: method, AP50 base/novel, AP, train time."""
    import json

    from ovd.benchmark.state import EntryDir
    rows = []
    for entry in sweep.entries:
        for ev in entry.evals:
            path = EntryDir(sweep.root, entry.id).record_file(ev.name)
            if not path.is_file():
                continue
            record = json.loads(path.read_text(encoding='utf-8'))
            metrics = record.get('metrics', {})
            rows.append({'method': entry.method, 'AP50_base': metrics.get('AP50_base'),
                         'AP50_novel': metrics.get('AP50_novel'), 'AP': metrics.get('AP'),
                         'train_s': (record.get('wall_time_s') or {}).get('train')})
    return rows


def print_world_table(rows, console=None) -> None:
    """The demo's closing table (80 columns): what each method finds of the base and of the novel categories."""
    from rich.table import Table

    from ovd.console import make_console
    console = console or make_console()
    table = Table(title='OV world (synthetic; val, lvis protocol, novel = never boxed in training)',
                  title_justify='left')
    table.add_column('method', no_wrap=True, overflow='ellipsis', max_width=28)
    for head in ('base AP50', 'novel AP50', 'AP', 'train time'):
        table.add_column(head, justify='right', no_wrap=True)

    def num(value):
        return '-' if value is None else f'{value:.1f}'

    for row in rows:
        minutes, seconds = divmod(int(round(row['train_s'] or 0)), 60)
        table.add_row(row['method'], num(row['AP50_base']), num(row['AP50_novel']), num(row['AP']),
                      f'{minutes}:{seconds:02d}' if row['train_s'] else '-')
    console.print(table)


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
    from ovd.benchmark.sweep import collect_status
    from ovd.commands.sweep import print_status

    world = not args.plumbing
    spec = args.spec or default_spec(PLUMBING_SPEC if args.plumbing else WORLD_SPEC)
    if not spec.is_file():
        print(f'ovd demo: sweep spec not found: {spec} (pass --spec)', file=sys.stderr)
        return 2
    out = args.out.resolve()
    data_root = out / 'data'
    world_dir = None
    if world:
        world_dir = make_world(data_root, args.num_images)
    else:
        make_data(data_root, args.seed, args.num_images)
    try:
        sweep = load_spec(str(spec), {'out': str(out)})
    except SpecError as err:
        print(f'ovd demo: {err}', file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print(f'ovd demo: --workers must be at least 1, got {args.workers}', file=sys.stderr)
        return 2
    workers = args.workers or (usable_cores() if world else 1)
    print(_wrap(f'demo: {len(sweep.entries)} run(s), {workers} at once: ' + ', '.join(e.id for e in sweep.entries)))
    for note in sweep.notes:
        print(f'demo: {note}')
    # The world's CLIP and a region cache's proposal model (ViLD's: the base-only detector) train first, side by
    # side; what reads them waits for them, and the rest train beside them.
    run_jobs_with_progress(sweep, workers, world_dir)
    statuses = collect_status(sweep, LocalExecutor(workers=workers))
    print_status(statuses)
    # the world's numbers are not comparable with published ones: its leaderboard has no paper rows
    board = build_leaderboard([sweep.root], sweep.leaderboard_dir, references=sweep.references,
                              include_references=not world)
    title = 'ovd demo leaderboard (synthetic ' + ('open-vocabulary world)' if world else 'data)')
    written = write_report(board.tables, sweep.leaderboard_dir, title=title)
    if not world:
        print_terminal(board.tables, details=f'{sweep.leaderboard_dir}/leaderboard_*.csv and leaderboard.html')
    print(f'\nrun records:  {sweep.root}/*/records/*.json')
    print(f'leaderboard:  {sweep.leaderboard_dir}/leaderboard_*.csv')
    print(f'report:       {written["html"]}')
    print(f'              {written["markdown"]}')
    plots = [p for k, p in written.items() if k.endswith('.png')]
    if plots:
        print(f'plots:        {Path(plots[0]).parent}/ ({len(plots)})')
    if world:
        print()
        print_world_table(world_rows(sweep))
    failed = [s for s in statuses if s.state != State.DONE]
    if failed:
        print(_wrap(f'demo: {len(failed)} run(s) did not finish: '
                    + ', '.join(f'{s.entry_id} ({s.state.value})' for s in failed)), file=sys.stderr)
        return 1
    return 0
