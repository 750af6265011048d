"""The ``ovd`` command line. Each subcommand lives in ``ovd/commands/<name>.py``, owned by the layer it
drives; this module only dispatches.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``, and keeps
heavy imports (torch, mmdet) inside ``run``. Only the invoked command's ``add_arguments`` runs, so ``ovd --help``
imports nothing beyond the command modules themselves (tests/foundation/test_import_side_effects.py).
"""
import argparse
import importlib
import sys
from typing import List, Optional

# (subcommand, module, issue that provides it): a module that does not exist yet is listed in --help as
# not available, and running it says which issue provides it; it never pretends to work.
COMMANDS = [
    ('env', 'ovd.commands.env', 2),
    ('synth', 'ovd.commands.synth', 2),
    ('demo', 'ovd.commands.demo', 5),
    ('prepare', 'ovd.commands.prepare', 3),
    ('embed', 'ovd.commands.embed', 3),
    ('eval', 'ovd.commands.eval', 4),
    ('sweep', 'ovd.commands.sweep', 5),
    ('leaderboard', 'ovd.commands.leaderboard', 5),
    ('precompute-regions', 'ovd.commands.precompute_regions', 8),
]


def _load(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return None


def _not_available(name: str, issue: int):
    def run(args: argparse.Namespace) -> int:
        print(f'ovd {name}: not available in this version (it is provided by issue #{issue}).',
              file=sys.stderr)
        return 2
    return run


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``command``, only that one gets its arguments (``''``: none)."""
    from ovd.version import __version__
    parser = argparse.ArgumentParser(
        prog='ovd', description='Open-vocabulary detection benchmark suite (GLIP, ViLD, BARON, MDETR).')
    parser.add_argument('--version', action='version', version=f'ovd {__version__}')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, module_name, issue in COMMANDS:
        module = _load(module_name)
        if module is None:
            sub = subparsers.add_parser(name, help=f'[not available yet: issue #{issue}]')
            sub.set_defaults(func=_not_available(name, issue))
            continue
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        if command is None or command == name:
            module.add_arguments(sub)
        sub.set_defaults(func=module.run)
    return parser


def _invoked_command(argv: List[str]) -> str:
    """The command named on the line ('' for none): ovd's own options (--help, --version) take no value."""
    return next((arg for arg in argv if not arg.startswith('-')), '')


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser(_invoked_command(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if getattr(args, 'func', None) is None:
        parser.print_help()
        return 1
    return int(args.func(args) or 0)


if __name__ == '__main__':
    sys.exit(main())
