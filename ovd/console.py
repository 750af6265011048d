"""Terminal tables that fit the terminal: rather than letting rich fold cells letter by letter at 80 columns, a
table drops its least important columns (the caller says which, and points to the file that has them all).

rich sizes its console from the terminal, the ``COLUMNS`` variable, or 80 columns when output is not a terminal.
"""
from typing import Any, Callable, List, Optional, Sequence, Tuple


def make_console(file: Any = None, width: Optional[int] = None):
    """A rich console on ``file`` (default stdout); ``width`` forces the width (tests)."""
    from rich.console import Console
    return Console(file=file, width=width)


def table_width(console: Any, table: Any) -> int:
    """Columns ``table`` needs to show every cell on one line."""
    from rich.measure import Measurement
    # measured against an unbounded width: rich clamps a measurement to the width it is given
    return Measurement.get(console, console.options.update_width(1 << 20), table).maximum


def fit_columns(console: Any, build: Callable[[Sequence[str]], Any], columns: Sequence[str],
                keep: int = 1) -> Tuple[Any, List[str]]:
    """Build the widest table that fits ``console``: drop columns from the end of ``columns`` (ordered by
    importance) until it fits, keeping at least the first ``keep``.

    Args:
        build: ``build(shown_columns) -> rich Table``; shown columns come in the order of ``columns``, which the
            builder may reorder for display.
        columns: candidate columns, most important first.
        keep: how many leading columns are never dropped.

    Returns:
        ``(table, dropped)``: the table and the dropped columns (most important first).
    """
    shown = list(columns)
    table = build(shown)
    while len(shown) > keep and table_width(console, table) > console.width:
        shown.pop()
        table = build(shown)
    return table, [c for c in columns if c not in shown]
