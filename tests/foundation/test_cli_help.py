"""`ovd --help` reads consistently: every subcommand and option has a help text, written the same way (lower
case start, no trailing period), and `prepare` gives each dataset's own example root."""
import argparse

import pytest

from ovd.cli import build_parser


def _sentence_case(text: str) -> bool:
    """Starts lower case, or with a name or acronym (COCO, OV-LVIS, I/N, Objects365), not a capitalised word."""
    word = text.split()[0]
    return not (word[0].isupper() and len(word) > 1 and word[1:].isalpha() and word[1:].islower())


def _walk(parser, path=('ovd',)):
    """(command path, parser) for the parser and every subparser below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


def _subcommand_helps(parser, path=('ovd',)):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield path + (choice.dest,), choice.help
            for name, sub in action.choices.items():
                yield from _subcommand_helps(sub, path + (name,))


PARSERS = list(_walk(build_parser()))


@pytest.mark.parametrize('path, parser', PARSERS, ids=[' '.join(p) for p, _ in PARSERS])
def test_every_option_has_help(path, parser):
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        name = '/'.join(action.option_strings) or action.dest
        assert action.help, f'{" ".join(path)} {name}: no help text'
        assert _sentence_case(action.help), f'{" ".join(path)} {name}: {action.help!r}'
        assert not action.help.rstrip().endswith('.'), f'{" ".join(path)} {name}: {action.help!r}'


def test_every_subcommand_help_reads_the_same_way():
    helps = list(_subcommand_helps(build_parser()))
    assert len(helps) > 15
    for path, text in helps:
        assert text and _sentence_case(text), f'{" ".join(path)}: {text!r}'
        assert not text.rstrip().endswith('.'), f'{" ".join(path)}: {text!r}'


def test_prepare_roots_are_per_dataset():
    from ovd.data.prepare import PREPARERS, ROOT_EXAMPLES
    parsers = {p[-1]: parser for p, parser in PARSERS if p[:2] == ('ovd', 'prepare') and len(p) == 3}
    assert set(parsers) == set(PREPARERS) == set(ROOT_EXAMPLES)
    for name, parser in parsers.items():
        root = next(a for a in parser._actions if '--root' in a.option_strings)
        assert f'e.g. {ROOT_EXAMPLES[name]} ' in root.help, (name, root.help)
        drop = next(a for a in parser._actions if '--drop-bad-boxes' in a.option_strings)
        assert 'outside their image' in drop.help
