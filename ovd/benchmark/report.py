"""Leaderboard reports: Markdown, one self-contained HTML page (sortable tables, plots inlined as PNG data URIs,
no external assets), PNG plots (matplotlib, Agg) and a terminal table (rich).

Only columns that hold a value in some row are shown, so a table with only box AP does not carry empty mask
columns.
"""
import base64
import html
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

from ovd.evaluation.protocols import PROTOCOLS
from ovd.fileio import atomic_write_bytes, atomic_write_text
from .leaderboard import Table

_SHOWN_TAIL = ('seed', 'eval_config', 'checkpoint_sha256', 'reference', 'citation')


def visible_columns(table: Table) -> List[str]:
    """The identity, metric, delta and main provenance columns that hold a value in some row."""
    def shown(col: str) -> bool:
        return col in table.family.columns or col.startswith('delta_') or col in _SHOWN_TAIL or \
            col in ('source', 'method', 'variant', 'protocol', 'dataset', 'training_data')

    def filled(col: str) -> bool:
        return any(row.get(col) not in (None, '') and not _is_nan(row.get(col)) for row in table.rows)

    return [c for c in table.columns if shown(c) and (c in ('source', 'method') or filled(c))]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _cell(value: Any) -> str:
    if value is None or _is_nan(value):
        return ''
    if isinstance(value, float):
        return f'{value:.2f}'
    return str(value)


def _header(col: str) -> str:
    return col.replace('delta_', 'Δ').replace('mask_', 'mask ').replace('_', ' ')


def markdown(tables: Dict[str, Table], title: str = 'ovd leaderboard') -> str:
    """All non-empty tables as Markdown."""
    parts = [f'# {title}', '']
    for table in tables.values():
        if not table.rows:
            continue
        cols = visible_columns(table)
        parts += [f'## {table.family.title}', '',
                  '| ' + ' | '.join(_header(c) for c in cols) + ' |',
                  '|' + '|'.join('---:' if c in table.family.columns or c.startswith('delta_') else '---'
                                 for c in cols) + '|']
        for row in table.rows:
            parts.append('| ' + ' | '.join(_cell(row.get(c)).replace('|', '\\|') for c in cols) + ' |')
        parts.append('')
    if len(parts) == 2:
        parts.append('No results yet.')
    return '\n'.join(parts) + '\n'


_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.dataset.order !== 'asc';
    table.querySelectorAll('th').forEach(function (h) { h.dataset.order = ''; h.classList.remove('asc', 'desc'); });
    th.dataset.order = asc ? 'asc' : 'desc'; th.classList.add(asc ? 'asc' : 'desc');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[idx].textContent.trim(), y = b.cells[idx].textContent.trim();
      var nx = parseFloat(x), ny = parseFloat(y);
      var cmp;
      if (x === '' && y === '') cmp = 0; else if (x === '') cmp = 1; else if (y === '') cmp = -1;
      else if (!isNaN(nx) && !isNaN(ny)) cmp = asc ? nx - ny : ny - nx;
      else cmp = asc ? x.localeCompare(y) : y.localeCompare(x);
      return cmp;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th.asc::after { content: ' \\25B2'; } th.desc::after { content: ' \\25BC'; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.paper { background: #f7f7ff; }
img { max-width: 640px; margin: 0.5em 1em 0.5em 0; border: 1px solid #ddd; }
"""


def html_page(tables: Dict[str, Table], plots: Optional[Dict[str, bytes]] = None,
              title: str = 'ovd leaderboard') -> str:
    """A self-contained HTML page: sortable tables (click a header) and the plots inlined."""
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           f'<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>',
           f'<h1>{html.escape(title)}</h1>',
           f'<p>Rows marked <em>paper</em> are published numbers (with their citation). {_delta_note(tables)} '
           'Click a column header to sort.</p>']
    any_rows = False
    for table in tables.values():
        if not table.rows:
            continue
        any_rows = True
        cols = visible_columns(table)
        numeric = set(table.family.columns) | {c for c in cols if c.startswith('delta_')} | {'seed'}
        out.append(f'<h2>{html.escape(table.family.title)}</h2>')
        out.append(f'<table class="sortable" id="table-{html.escape(table.family.name)}"><thead><tr>')
        out += [f'<th>{html.escape(_header(c))}</th>' for c in cols]
        out.append('</tr></thead><tbody>')
        for row in table.rows:
            out.append(f'<tr class="{html.escape(str(row.get("source", "")))}">')
            out += [f'<td{" class=num" if c in numeric else ""}>{html.escape(_cell(row.get(c)))}</td>'
                    for c in cols]
            out.append('</tr>')
        out.append('</tbody></table>')
    if not any_rows:
        out.append('<p>No results yet.</p>')
    if plots:
        out.append('<h2>Plots</h2>')
        for name, png in plots.items():
            data = base64.b64encode(png).decode('ascii')
            out.append(f'<img alt="{html.escape(name)}" title="{html.escape(name)}" '
                       f'src="data:image/png;base64,{data}">')
    out.append(f'<script>{_SORT_JS}</script></body></html>')
    return '\n'.join(out) + '\n'


def _delta_note(tables: Dict[str, Table]) -> str:
    """What the page says about Δ columns: only what it shows."""
    shown = any(c.startswith('delta_') for t in tables.values() if t.rows for c in visible_columns(t))
    if shown:
        return 'Δ columns give our run minus its paper row (the row its sweep entry names, or of the same config).'
    return ('No run has a paper row to compare with yet, so there are no Δ columns (a run is compared with the '
            'paper row its sweep entry names in <code>reference:</code>, or with the paper row of its config).')


def _protocol_name(family: str, variant: str) -> str:
    """The protocol name (``lvis-fixed``) of a row's family and protocol variant (``fixed``)."""
    for proto in PROTOCOLS.values():
        if proto.family == family and proto.variant == variant:
            return proto.name
    return variant


def _label(row: Dict[str, Any]) -> str:
    variant = row.get('variant') or ''
    tag = 'paper' if row.get('source') == 'paper' else f's{row.get("seed", "")}'
    return f'{row["method"]} {variant} ({tag})'.replace('  ', ' ')


def make_plots(tables: Dict[str, Table]) -> Dict[str, bytes]:
    """PNG plots (name -> bytes), one protocol per plot: APr vs AP and per-frequency AP bars for each LVIS
    protocol, novel/base/all AP50 bars per OV-COCO protocol, R@k bars per Flickr30k protocol, AP bars for COCO
    and Objects365. A plot is made only when it has something to show: rows with a value, not all zero."""
    import io

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    def png(fig) -> bytes:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format='png', dpi=100)
        plt.close(fig)
        return buf.getvalue()

    plots: Dict[str, bytes] = {}
    for family, table in tables.items():
        for proto, rows in _rows_by_protocol(table).items():
            if family == 'lvis':
                for prefix in ('', 'mask_'):
                    kind = 'mask' if prefix else 'box'
                    pts = [r for r in rows if _has(r, prefix + 'AP', prefix + 'APr')]
                    if _informative(pts, [prefix + 'AP', prefix + 'APr']):
                        plots[f'{proto}_{kind}_apr_vs_ap.png'] = png(_scatter(
                            plt, pts, prefix + 'AP', prefix + 'APr', f'{kind} AP (all categories)',
                            f'{kind} APr (rare categories)', f'{proto}: rare-category AP vs AP ({kind}); * = paper'))
                    cols = [prefix + c for c in ('APr', 'APc', 'APf')]
                    bars = [r for r in rows if _has_any(r, *cols)]
                    if _informative(bars, cols):
                        plots[f'{proto}_{kind}_frequency_bars.png'] = png(
                            _bars(plt, bars, cols, f'{proto}: AP per frequency ({kind})'))
            elif family in _BAR_PLOTS:
                cols, suffix, what = _BAR_PLOTS[family]
                bars = [r for r in rows if _has_any(r, *cols)]
                if _informative(bars, cols):
                    plots[f'{proto}_{suffix}.png'] = png(_bars(plt, bars, cols, f'{proto}: {what}'))
    return plots


# family -> (bar columns, plot file suffix, title)
_BAR_PLOTS = {'ov-coco': (['AP50_novel', 'AP50_base', 'AP50_all'], 'novel_base_bars', 'AP50 novel / base / all'),
              'flickr30k': (['R@1', 'R@5', 'R@10'], 'recall_bars', 'recall@k'),
              'coco': (['AP', 'AP50', 'AP75'], 'ap_bars', 'AP')}


def _has(row: Dict[str, Any], *cols: str) -> bool:
    return all(isinstance(row.get(c), (int, float)) and not _is_nan(row.get(c)) for c in cols)


def _has_any(row: Dict[str, Any], *cols: str) -> bool:
    return any(_has(row, c) for c in cols)


def _informative(rows: List[Dict[str, Any]], cols: List[str]) -> bool:
    """Rows to plot hold some non-zero value (an all-zero plot has empty axes and says nothing)."""
    return any(_has(r, c) and r[c] != 0 for r in rows for c in cols)


def _rows_by_protocol(table: Table) -> Dict[str, List[Dict[str, Any]]]:
    """The table's rows per protocol name, paper rows kept, identical rows (same label and values) once."""
    out: Dict[str, List[Dict[str, Any]]] = {}
    seen = set()
    for row in table.rows:
        proto = _protocol_name(table.family.name, str(row.get('protocol', '')))
        key = (proto, _label(row), tuple(row.get(c) for c in table.family.columns))
        if key in seen:
            continue
        seen.add(key)
        out.setdefault(proto, []).append(row)
    return out


def _scatter(plt, rows: List[Dict[str, Any]], x: str, y: str, xlabel: str, ylabel: str, title: str):
    """A scatter with one label per distinct point: rows at the same place share one label, so labels of
    coinciding points do not print over each other."""
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    methods = sorted({r['method'] for r in rows})
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for r in rows:
        paper = r.get('source') == 'paper'
        ax.scatter(r[x], r[y], color=colours[r['method']], marker='*' if paper else 'o', s=90 if paper else 40)
        groups.setdefault((round(r[x], 1), round(r[y], 1)), []).append(r)
    for i, ((px, py), members) in enumerate(sorted(groups.items())):
        labels = sorted({_label(r) for r in members})
        text = '\n'.join(labels[:4] + ([f'+{len(labels) - 4} more'] if len(labels) > 4 else []))
        ax.annotate(text, (px, py), fontsize=7, xytext=(4, 4 if i % 2 == 0 else -10), textcoords='offset points')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def _bars(plt, rows: List[Dict[str, Any]], cols: List[str], title: str):
    """Grouped bars; a value a row does not have is left out (no bar), never drawn as 0."""
    rows = rows[:30]
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(rows) + 2), 4.8))
    width = 0.8 / len(cols)
    for i, col in enumerate(cols):
        xs = [j + i * width for j, r in enumerate(rows) if _has(r, col)]
        ax.bar(xs, [r[col] for r in rows if _has(r, col)], width, label=col)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
    ax.set_xticklabels([_label(r) for r in rows], rotation=30, ha='right', fontsize=7)
    ax.set_ylim(bottom=0)
    ax.set_ylabel('percent')
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis='y', alpha=0.3)
    return fig


# Provenance columns stay in the CSV, Markdown and HTML; the terminal gets the numbers.
_NOT_IN_TERMINAL = ('citation', 'eval_config', 'training_data', 'dataset', 'checkpoint_sha256', 'reference')
_RUN_WIDTH = 26  # the 'run' column (method + variant) at 80 columns (a third of wider ones); longer names end in …


def terminal_columns(table: Table) -> List[str]:
    """The table's terminal columns, most important first: ``run`` (method and variant, paper rows marked),
    the protocol when rows differ in it, the headline metrics and their deltas, the other metrics, their
    deltas, the seed."""
    shown = [c for c in visible_columns(table) if c not in _NOT_IN_TERMINAL + ('source', 'method', 'variant')]
    if len({str(r.get('protocol', '')) for r in table.rows}) == 1:
        shown.remove('protocol')
    headline = list(table.family.delta_columns)
    order = ['protocol'] + headline + [f'delta_{c}' for c in headline] + list(table.family.columns) + \
        [c for c in shown if c.startswith('delta_')] + ['seed']
    ranked = ['run']
    for col in order:
        if col in shown and col not in ranked:
            ranked.append(col)
    return ranked + [c for c in shown if c not in ranked]


def _run_label(row: Dict[str, Any]) -> str:
    """``'vild-tiny'``, ``'glip GLIP-T'``; published rows start with ``*``."""
    method, variant = str(row.get('method', '')), str(row.get('variant') or '')
    label = variant if method.split()[0].lower() in variant.lower() else f'{method} {variant}'.strip()
    return f'* {label}' if row.get('source') == 'paper' else label


def print_terminal(tables: Dict[str, Table], console: Any = None, details: str = 'the CSVs and HTML report'
                   ) -> None:
    """Print each non-empty table with rich, fitted to the console width: every cell stays on one line, and
    columns that do not fit are left out with a note saying where they are (``details``)."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    from ovd.console import fit_columns, make_console
    console = console or make_console()
    shown_any = False
    for table in tables.values():
        if not table.rows:
            continue
        shown_any = True
        family = table.family
        protocols = {str(r.get('protocol', '')) for r in table.rows}
        title = family.title + (f' ({protocols.pop()})' if len(protocols) == 1 else '')
        cells = {c: [_cell(r.get(c)) for r in table.rows] for c in table.columns}
        cells['run'] = [_run_label(r) for r in table.rows]
        cells['protocol'] = [v if len(v) <= 12 else _protocol_name(family.name, v)  # '65 classes (48 base...'
                             for v in (str(r.get('protocol', '')) for r in table.rows)]
        display_order = ['run', 'protocol'] + [c for c in table.columns if c not in ('run', 'protocol')]

        def build(cols, cells=cells, display_order=display_order, title=title):
            rt = RichTable(title=title, title_justify='left')
            shown = [c for c in display_order if c in cols]
            for c in shown:
                head = 'run' if c == 'run' else _header(c)
                if c in ('run', 'protocol'):
                    rt.add_column(head, no_wrap=True, overflow='ellipsis',
                                  max_width=max(_RUN_WIDTH, console.width // 3) if c == 'run' else None)
                else:  # numbers never wrap; a two-word header ('mask APr') may take two lines
                    width = max([len(v) for v in cells[c]] + [len(w) for w in head.split()])
                    rt.add_column(head, justify='right', max_width=width)
            for i, row in enumerate(table.rows):
                rt.add_row(*[escape(cells[c][i]) for c in shown],
                           style='dim' if row.get('source') == 'paper' else None)
            return rt

        rt, dropped = fit_columns(console, build, terminal_columns(table), keep=1)
        console.print(rt)
        notes = ['* published (paper) numbers'] if any(r.get('source') == 'paper' for r in table.rows) else []
        if dropped:
            notes.append(f'{len(dropped)} more column(s) in {details}: '
                         f'{", ".join(_header(c) for c in dropped)}')
        if notes:
            console.print('; '.join(notes), highlight=False)
    if not shown_any:
        console.print('No results yet.')


def write_report(tables: Dict[str, Table], out_dir: str, title: str = 'ovd leaderboard') -> Dict[str, str]:
    """Write ``leaderboard.md``, ``leaderboard.html`` and ``plots/*.png`` under ``out_dir`` (atomically).

    Returns:
        kind -> path of what was written ('markdown', 'html', and one entry per plot).
    """
    out = Path(out_dir)
    plots = make_plots(tables)
    written = {}
    for name, data in plots.items():
        path = out / 'plots' / name
        atomic_write_bytes(path, data)
        written[name] = str(path)
    atomic_write_text(out / 'leaderboard.md', markdown(tables, title))
    written['markdown'] = str(out / 'leaderboard.md')
    atomic_write_text(out / 'leaderboard.html', html_page(tables, plots, title))
    written['html'] = str(out / 'leaderboard.html')
    return written
