"""The ``ovd`` command line. Each subcommand lives in ``ovd/commands/<name>.py``, owned by the layer it
drives; this module only dispatches.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``, and keeps
heavy imports (torch, mmdet) inside ``run``. Only the invoked command's ``add_arguments`` runs, so ``ovd --help``
imports nothing beyond the command modules themselves (tests/foundation/test_import_side_effects.py).

One error path: bad input that a command does not report itself (an unreadable, missing or misplaced file, a
full or read-only disk, bytes that are not UTF-8, a number too large, malformed JSON/YAML, and every ovd input
error type) ends as one line ``ovd <command>: <file>: <record/field>: <reason>`` on stderr with exit status 2,
never as a traceback.
"""
import argparse
import importlib
import json
import sys
from typing import List, Optional, Tuple

from ovd.quiet import VERBOSE_HELP, quiet_by_default

# (subcommand, module), in the order ``ovd --help`` lists them.
COMMANDS = [
    ('env', 'ovd.commands.env'),
    ('synth', 'ovd.commands.synth'),
    ('demo', 'ovd.commands.demo'),
    ('prepare', 'ovd.commands.prepare'),
    ('embed', 'ovd.commands.embed'),
    ('eval', 'ovd.commands.eval'),
    ('sweep', 'ovd.commands.sweep'),
    ('leaderboard', 'ovd.commands.leaderboard'),
    ('precompute-regions', 'ovd.commands.precompute_regions'),
]


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command; with ``command``, only that one gets its arguments (``''``: none)."""
    from ovd.version import __version__
    parser = argparse.ArgumentParser(
        prog='ovd', description='Open-vocabulary detection benchmark suite (GLIP, ViLD, BARON, MDETR).')
    parser.add_argument('--version', action='version', version=f'ovd {__version__}')
    parser.add_argument('--verbose', action='store_true', help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, module_name in COMMANDS:
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        if command is None or command == name:
            module.add_arguments(sub)
        _add_verbose(sub)
        sub.set_defaults(func=module.run)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` on a command and on each of its subcommands, so that it is accepted anywhere."""
    parser.add_argument('--verbose', action='store_true', default=argparse.SUPPRESS, help=VERBOSE_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_verbose(sub)


# (module, class): ovd's input error types, whose messages already name the file, record and field. Looked up
# only in modules already imported (a command that raised one has imported it).
INPUT_ERRORS = [
    ('ovd.data.validation', 'AnnotationError'),
    ('ovd.evaluation.records', 'EvaluationInputError'),
    ('ovd.benchmark.run_records', 'RecordError'),
    ('ovd.benchmark.references', 'ReferenceError'),
    ('ovd.benchmark.spec', 'SpecError'),
    ('ovd.benchmark.strict_yaml', 'YAMLInputError'),
    ('ovd.benchmark.executors.slurm', 'SlurmError'),
]


def _input_error_types() -> Tuple[type, ...]:
    types: List[type] = [OSError, UnicodeDecodeError, OverflowError, json.JSONDecodeError]
    yaml = sys.modules.get('yaml')
    if yaml is not None:
        types.append(yaml.YAMLError)
    for module_name, name in INPUT_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, name):
            types.append(getattr(module, name))
    return tuple(types)


def describe_input_error(err: BaseException) -> str:
    """``<file>: <reason>`` for an OSError (the file is in the error), else the error's own message."""
    if isinstance(err, OSError) and err.filename is not None:
        files = str(err.filename) + (f' -> {err.filename2}' if err.filename2 is not None else '')
        return f'{files}: {err.strerror or err}'
    if isinstance(err, UnicodeDecodeError):
        return f'not UTF-8 text ({err.reason} at byte {err.start})'
    if isinstance(err, json.JSONDecodeError):
        return f'not valid JSON ({err.msg} at line {err.lineno} column {err.colno})'
    return str(err) or type(err).__name__


def command_name(args: argparse.Namespace) -> str:
    """``sweep run``, ``leaderboard build``, ``prepare coco-ov``, ``eval``: the words that were typed."""
    words = [args.command]
    for attr in ('action', 'preparer'):
        if isinstance(getattr(args, attr, None), str):
            words.append(getattr(args, attr))
    return ' '.join(words)


def _invoked_command(argv: List[str]) -> str:
    """The command named on the line ('' for none): ovd's own options (--help, --version) take no value."""
    return next((arg for arg in argv if not arg.startswith('-')), '')


def main(argv: Optional[List[str]] = None) -> int:
    if argv is None:  # the process entry point (not a call from Python): set up the process's output
        argv = sys.argv[1:]
        quiet_by_default(argv)  # before the commands import libraries and load configs
    parser = build_parser(_invoked_command(argv))
    args = parser.parse_args(argv)
    if getattr(args, 'func', None) is None:
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except Exception as err:
        if not isinstance(err, _input_error_types()):
            raise
        print(f'ovd {command_name(args)}: {describe_input_error(err)}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
