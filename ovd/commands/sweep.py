"""``ovd sweep``: expand, run, inspect and cancel benchmark sweeps (specs in ``benchmarks/sweeps/*.yaml``).

    ovd sweep plan SPEC                       # the expanded job list
    ovd sweep run SPEC [--executor slurm --partition P] [--wait]
    ovd sweep status SPEC                     # each entry's state; failed ones with their error
    ovd sweep cancel SPEC                     # scancel / SIGTERM the live jobs (they checkpoint first)

``run`` can be repeated at any time: finished entries are skipped, live ones left alone, interrupted ones
resumed from their checkpoint and failed ones retried while their retry budget lasts.
"""
import argparse
import json
import sys

HELP = 'plan, run (locally or on SLURM), inspect or cancel a benchmark sweep'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest='action', metavar='ACTION', required=True)
    for name, help_text in (('plan', 'print the expanded job list'),
                            ('run', 'submit every entry that needs to run'),
                            ('status', 'show each entry\'s state (and why failed ones failed)'),
                            ('cancel', 'cancel the sweep\'s live jobs (they checkpoint first)')):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument('spec', help='sweep spec (YAML)')
        p.add_argument('--set', dest='variables', action='append', default=[], metavar='NAME=VALUE',
                       help='value for a ${NAME} of the spec (repeatable)')
        p.add_argument('--root', help='folder for the entries\' state (default: the spec\'s root)')
        if name != 'plan':
            p.add_argument('--executor', choices=['local', 'slurm'], default='local',
                           help='where the jobs run: this machine or SLURM (default: %(default)s)')
        if name in ('status', 'plan'):
            p.add_argument('--json', action='store_true', help='machine-readable output')
        if name == 'run':
            p.add_argument('--workers', type=_positive_int, default=1, help='local: jobs at once (default 1)')
            p.add_argument('--partition', help='slurm: partition for every job (overrides the spec)')
            p.add_argument('--no-array', action='store_true', help='slurm: one sbatch per entry, no job arrays')
            p.add_argument('--sbatch-arg', action='append', default=[], metavar='ARG',
                           help='slurm: extra sbatch option, e.g. --sbatch-arg=--exclusive (repeatable)')
            p.add_argument('--max-retries', type=int, help='override the spec\'s retries for failed entries')
            p.add_argument('--wait', action='store_true', help='slurm: wait until no job is queued or running')
            p.add_argument('--poll', type=float, default=10.0, help='slurm --wait: seconds between polls')
            p.add_argument('--timeout', type=float, help='slurm --wait: give up waiting after this many seconds')
            p.add_argument('--dry-run', action='store_true', help='decide what to submit, submit nothing')
            p.add_argument('--no-leaderboard', action='store_true', help='do not rebuild the leaderboard')


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def report_broken(statuses, command: str) -> int:
    """One line per entry whose state files cannot be read (the rest of the sweep was handled); exit status."""
    from ovd.benchmark.state import State
    broken = [s for s in statuses if s.state == State.BROKEN]
    for s in broken:
        print(f'ovd sweep {command}: {s.error} (entry {s.entry_id} left alone: fix or delete the file)',
              file=sys.stderr)
    return 2 if broken else 0


def _variables(pairs):
    out = {}
    for pair in pairs:
        if '=' not in pair:
            raise SystemExit(f'--set expects NAME=VALUE, got {pair!r}')
        key, value = pair.split('=', 1)
        out[key] = value
    return out


def _executor(args):
    from ovd.benchmark.executors import build_executor
    if args.executor == 'local':
        return build_executor('local', workers=getattr(args, 'workers', 1))
    return build_executor('slurm', partition=getattr(args, 'partition', None),
                          array=not getattr(args, 'no_array', False), extra_args=getattr(args, 'sbatch_arg', []))


def _overrides(entry) -> str:
    """The entry's config overrides, ``key=value`` (its grid point first, then the spec's cfg_options)."""
    opts = dict(entry.grid)
    opts.update({k: v for k, v in entry.cfg_options.items() if k not in opts})
    return ' '.join(f'{k}={v}' for k, v in opts.items())


def print_plan(sweep, as_json: bool = False, console=None) -> None:
    """The expanded job list: a table where it fits the terminal, else one block per job."""
    if as_json:
        print(json.dumps([e.to_dict() for e in sweep.entries], indent=2, default=str))
        return
    from rich.markup import escape
    from rich.table import Table

    from ovd.console import make_console, table_width
    console = console or make_console()
    rows = []
    for e in sweep.entries:
        r = e.resources
        res = f'{r.nodes}n x {r.tasks // r.nodes}t x {r.cpus_per_task}c' + (f' {r.gpus_per_node}g/n'
                                                                            if r.gpus_per_node else '')
        res += f' {r.time}' if r.time else ''
        rows.append(dict(entry=e.id, method=e.method, config=e.train_config or f'(eval) {e.checkpoint}',
                         seed=str(e.seed), overrides=_overrides(e),
                         evaluations=', '.join(f'{ev.name} [{ev.protocol}]' for ev in e.evals), resources=res))
    title = f'sweep {sweep.name}: {len(sweep.entries)} job(s) in {sweep.root}'
    table = Table(title=title)
    for col, head in (('entry', 'entry'), ('method', 'method'), ('config', 'train config / checkpoint'),
                      ('seed', 'seed'), ('overrides', 'overrides'), ('evaluations', 'evaluations'),
                      ('resources', 'resources')):
        table.add_column(head, no_wrap=True)
    for row in rows:
        table.add_row(*[escape(v) for v in row.values()])
    if table_width(console, table) <= console.width:
        console.print(table)
    else:  # one block per job: paths and overrides stay whole (a table would cut them mid-word)
        console.print(title, soft_wrap=True, highlight=False)
        for row in rows:
            console.print(f'\n[bold]{escape(row["entry"])}[/]  {escape(row["method"])}, seed {row["seed"]}, '
                          f'{row["resources"]}', soft_wrap=True, highlight=False)
            for key, label in (('config', 'config'), ('overrides', 'overrides'), ('evaluations', 'evaluate')):
                if row[key]:
                    console.print(f'  {label:<10} {row[key]}', soft_wrap=True, highlight=False, markup=False)
    for note in sweep.notes:
        console.print(f'[yellow]note:[/] {escape(note)}', soft_wrap=True)


_STATUS_COLUMNS = ('entry', 'state', 'attempts', 'failures', 'job', 'detail')


def print_status(statuses, as_json: bool = False, tail_lines: int = 12) -> None:
    from ovd.benchmark.state import State, log_tail
    if as_json:
        print(json.dumps([dict(s.__dict__, state=s.state.value) for s in statuses], indent=2, default=str))
        return
    from rich.markup import escape
    from rich.table import Table

    from ovd.console import fit_columns, make_console
    colours = {State.DONE: 'green', State.FAILED: 'red', State.RUNNING: 'cyan', State.QUEUED: 'blue',
               State.INTERRUPTED: 'yellow', State.CHANGED: 'magenta', State.PENDING: 'white',
               State.BROKEN: 'red'}

    def build(cols):
        table = Table(title='sweep status', title_justify='left')
        for col in [c for c in _STATUS_COLUMNS if c in cols]:
            # detail wraps at spaces; the other cells stay whole
            table.add_column(col, no_wrap=col != 'detail', overflow='fold' if col == 'detail' else 'ellipsis',
                             max_width=40 if col == 'detail' else None)
        for s in statuses:
            cells = dict(entry=escape(s.entry_id), state=f'[{colours[s.state]}]{s.state.value}[/]',
                         attempts=str(s.attempts), failures=str(s.failures), job=s.job_id or '',
                         detail=escape(s.detail or (s.error.splitlines()[0] if s.error else '')))
            table.add_row(*[cells[c] for c in _STATUS_COLUMNS if c in cols])
        return table

    console = make_console()
    table, _ = fit_columns(console, build, ('entry', 'state', 'detail', 'attempts', 'failures', 'job'), keep=2)
    console.print(table)
    counts = {}
    for s in statuses:
        counts[s.state.value] = counts.get(s.state.value, 0) + 1
    console.print(', '.join(f'{v} {k}' for k, v in sorted(counts.items())))
    for s in statuses:
        if s.state == State.FAILED:
            console.print(f'\n[red bold]{s.entry_id} failed[/] (log: {s.log})', highlight=False)
            console.print(s.error or '(no error recorded)', markup=False, highlight=False)
            tail = log_tail(s.log, tail_lines)
            if tail and tail not in (s.error or ''):
                console.print('[dim]log tail:[/]')
                console.print(tail, markup=False, highlight=False)


def run(args: argparse.Namespace) -> int:
    from ovd.benchmark.spec import SpecError, load_spec
    from ovd.benchmark.state import State
    from ovd.benchmark.sweep import collect_status, run_sweep, wait_for
    try:
        sweep = load_spec(args.spec, _variables(args.variables), root=args.root)
    except SpecError as err:
        print(f'ovd sweep {args.action}: {err}', file=sys.stderr)
        return 2
    if args.action == 'plan':
        print_plan(sweep, args.json)
        return 0
    executor = _executor(args)
    if args.action == 'status':
        statuses = collect_status(sweep, executor)
        print_status(statuses, args.json)
        return report_broken(statuses, 'status')
    if args.action == 'cancel':
        from ovd.benchmark.sweep import _read_or_none, entry_dirs
        dirs = entry_dirs(sweep)
        subs = {eid: _read_or_none(d, d.submission_file) for eid, d in dirs.items()}
        cancelled = executor.cancel({k: v for k, v in subs.items() if v and v.get('executor') == executor.name})
        print(f'cancelled {len(cancelled)} job(s): {" ".join(cancelled)}')
        return 0

    for note in sweep.notes:
        print(f'note: {note}')
    summary = run_sweep(sweep, executor, max_retries=args.max_retries, dry_run=args.dry_run)
    print(f'sweep {sweep.name}: submitted {len(summary.submitted)}, already done {len(summary.skipped_done)}, '
          f'left running {len(summary.left_running)}, failed for good {len(summary.gave_up)}'
          + (' (dry run)' if args.dry_run else ''))
    if args.dry_run:
        print('would submit: ' + (' '.join(summary.submitted) or 'nothing'))
        return 0
    statuses = summary.statuses
    if args.executor == 'slurm' and args.wait:
        statuses = wait_for(sweep, executor, poll_s=args.poll, timeout_s=args.timeout)
    print_status(statuses)
    settled = executor.blocking or args.wait
    if settled and not args.no_leaderboard:
        from ovd.benchmark.leaderboard import build_leaderboard
        board = build_leaderboard([sweep.root], sweep.leaderboard_dir, references=sweep.references)
        print(f'leaderboard ({board.records} run records): {sweep.leaderboard_dir}')
        for problem in board.problems:
            print(f'warning: skipped {problem}', file=sys.stderr)
    if report_broken(statuses, 'run'):
        return 2
    if any(s.state == State.FAILED for s in statuses):
        return 1
    return 0
