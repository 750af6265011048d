"""``ovd leaderboard``: derive the leaderboard CSVs from run records (+ published reference rows) and write
reports (Markdown, self-contained HTML with sortable tables, PNG plots, a terminal table).

    ovd leaderboard build [RECORD_DIRS...] [--out DIR]
    ovd leaderboard report [RECORD_DIRS...] [--out DIR]
"""
import argparse
import sys

HELP = 'build leaderboard CSVs from run records and write Markdown/HTML/PNG reports'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest='action', metavar='ACTION', required=True)
    for name, help_text in (('build', 'write one CSV per protocol family'),
                            ('report', 'build, then write Markdown, HTML and plots and print the tables')):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument('records', nargs='*', default=['work_dirs/sweeps'],
                       help='folders holding run records (sweep roots), or record files '
                            '(default: work_dirs/sweeps)')
        p.add_argument('--out', default='work_dirs/leaderboard', help='output folder')
        p.add_argument('--references', help='published results CSV (default: benchmarks/reference_results.csv)')
        p.add_argument('--no-references', action='store_true', help='leave out the published rows')
        p.add_argument('--skip-bad', action='store_true',
                       help='skip malformed run records (listed) instead of stopping at the first')
        if name == 'report':
            p.add_argument('--title', default='ovd leaderboard', help='title of the Markdown and HTML reports')
            p.add_argument('--quiet', action='store_true', help='do not print the tables')


def run(args: argparse.Namespace) -> int:
    from ovd.benchmark.leaderboard import build_leaderboard
    from ovd.benchmark.run_records import RecordError
    from ovd.benchmark.references import ReferenceError
    try:
        board = build_leaderboard(args.records, args.out, references=args.references, strict=not args.skip_bad,
                                  include_references=not args.no_references)
    except (RecordError, ReferenceError) as err:
        print(f'ovd leaderboard {args.action}: {err}', file=sys.stderr)
        return 2
    for problem in board.problems:
        print(f'warning: skipped {problem}', file=sys.stderr)
    for warning in board.warnings:
        print(f'warning: {warning}', file=sys.stderr)
    print(f'{board.records} run record(s) ({board.duplicates} duplicate(s) dropped) -> {args.out}')
    for path in board.files:
        print(f'  {path}')
    if args.action == 'report':
        from ovd.benchmark.report import print_terminal, write_report
        written = write_report(board.tables, args.out, title=args.title)
        if not args.quiet:
            print_terminal(board.tables, details=f'{args.out}/leaderboard_*.csv and leaderboard.html')
        print(f'report: {written["html"]}')
        print(f'        {written["markdown"]}')
        for name, path in written.items():
            if name.endswith('.png'):
                print(f'        {path}')
    if board.warnings and not args.skip_bad:
        print(f'ovd leaderboard {args.action}: {len(board.warnings)} problem(s) listed above (written; '
              f'--skip-bad accepts them)', file=sys.stderr)
        return 1
    return 0
