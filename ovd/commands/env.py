"""``ovd env``: print package versions and check that the stack works (mmcv ops, CUDA, resume, lvis, ...)."""
import argparse
import json

HELP = 'print versions and check the environment (mmcv ops, CUDA, weights_only resume, lvis, registries)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--json', action='store_true', help='print one JSON object instead of tables')


def run(args: argparse.Namespace) -> int:
    from ovd.env_check import package_versions, run_checks
    versions = package_versions()
    checks = run_checks()
    failed = [name for name, ok, _ in checks if not ok]
    if args.json:
        print(json.dumps({'versions': versions,
                          'checks': [dict(name=n, ok=ok, detail=d) for n, ok, d in checks]}, indent=2))
        return 1 if failed else 0
    from rich.console import Console
    from rich.table import Table
    console = Console()
    table = Table(title='ovd environment', show_header=True)
    table.add_column('package')
    table.add_column('version')
    for name, version in versions.items():
        table.add_row(name, str(version))
    console.print(table)
    checks_table = Table(show_header=True)
    checks_table.add_column('check')
    checks_table.add_column('result')
    checks_table.add_column('detail')
    for name, ok, detail in checks:
        checks_table.add_row(name, '[green]ok[/green]' if ok else '[red]FAILED[/red]', detail)
    console.print(checks_table)
    if failed:
        console.print(f'[red]{len(failed)} check(s) failed:[/red] {", ".join(failed)}')
    return 1 if failed else 0
