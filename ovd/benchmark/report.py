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
           '<p>Rows marked <em>paper</em> are published numbers (with their citation); Δ columns compare our run '
           'with its paper row. Click a column header to sort.</p>']
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


def _label(row: Dict[str, Any]) -> str:
    variant = row.get('variant') or ''
    tag = 'paper' if row.get('source') == 'paper' else f's{row.get("seed", "")}'
    return f'{row["method"]} {variant} ({tag})'.replace('  ', ' ')


def make_plots(tables: Dict[str, Table]) -> Dict[str, bytes]:
    """PNG plots (name -> bytes): APr vs AP and per-frequency AP bars for LVIS, novel vs base AP50 for OV-COCO,
    R@k bars for Flickr30k. A plot is made only when its table has the values."""
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

    def has(row: Dict[str, Any], *cols: str) -> bool:
        return all(isinstance(row.get(c), (int, float)) and not _is_nan(row.get(c)) for c in cols)

    plots: Dict[str, bytes] = {}
    lvis = tables.get('lvis')
    for prefix in ('', 'mask_'):
        rows = [r for r in (lvis.rows if lvis else []) if has(r, prefix + 'AP', prefix + 'APr')]
        if rows:
            fig, ax = plt.subplots(figsize=(6.4, 4.8))
            methods = sorted({r['method'] for r in rows})
            colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
            for r in rows:
                ax.scatter(r[prefix + 'AP'], r[prefix + 'APr'], color=colours[r['method']],
                           marker='*' if r['source'] == 'paper' else 'o', s=90 if r['source'] == 'paper' else 40)
                ax.annotate(_label(r), (r[prefix + 'AP'], r[prefix + 'APr']), fontsize=7,
                            xytext=(3, 3), textcoords='offset points')
            kind = 'mask' if prefix else 'box'
            ax.set_xlabel(f'{kind} AP (all categories)')
            ax.set_ylabel(f'{kind} APr (rare categories)')
            ax.set_title(f'LVIS: rare-category AP vs AP ({kind}); * = paper')
            ax.grid(alpha=0.3)
            plots[f'lvis_{kind}_apr_vs_ap.png'] = png(fig)
        rows = [r for r in (lvis.rows if lvis else []) if has(r, prefix + 'APr', prefix + 'APc', prefix + 'APf')]
        if rows:
            plots[f'lvis_{"mask" if prefix else "box"}_frequency_bars.png'] = png(
                _bars(plt, rows, [prefix + 'APr', prefix + 'APc', prefix + 'APf'],
                      f'LVIS per-frequency AP ({"mask" if prefix else "box"})'))
    ov = tables.get('ov-coco')
    rows = [r for r in (ov.rows if ov else []) if has(r, 'AP50_novel', 'AP50_base')]
    if rows:
        plots['ov_coco_novel_base_bars.png'] = png(_bars(plt, rows, ['AP50_novel', 'AP50_base', 'AP50_all'],
                                                         'OV-COCO AP50: novel / base / all'))
    fl = tables.get('flickr30k')
    rows = [r for r in (fl.rows if fl else []) if has(r, 'R@1')]
    if rows:
        plots['flickr30k_recall_bars.png'] = png(_bars(plt, rows, ['R@1', 'R@5', 'R@10'],
                                                       'Flickr30k Entities recall@k'))
    co = tables.get('coco')
    rows = [r for r in (co.rows if co else []) if has(r, 'AP')]
    if rows:
        plots['coco_ap_bars.png'] = png(_bars(plt, rows, ['AP', 'AP50', 'AP75'], 'COCO / Objects365 AP'))
    return plots


def _bars(plt, rows: List[Dict[str, Any]], cols: List[str], title: str):
    rows = rows[:30]
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(rows) + 2), 4.8))
    width = 0.8 / len(cols)
    for i, col in enumerate(cols):
        xs = [j + i * width for j in range(len(rows))]
        ax.bar(xs, [r.get(col) if isinstance(r.get(col), (int, float)) else 0 for r in rows], width, label=col)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
    ax.set_xticklabels([_label(r) for r in rows], rotation=30, ha='right', fontsize=7)
    ax.set_ylabel('percent')
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis='y', alpha=0.3)
    return fig


def print_terminal(tables: Dict[str, Table], console: Any = None) -> None:
    """Print each non-empty table with rich."""
    from rich.console import Console
    from rich.table import Table as RichTable
    console = console or Console()
    shown = False
    for table in tables.values():
        if not table.rows:
            continue
        shown = True
        # The terminal gets the numbers; provenance columns are in the CSV, Markdown and HTML.
        cols = [c for c in visible_columns(table) if c not in ('citation', 'eval_config', 'training_data',
                                                                  'dataset', 'checkpoint_sha256', 'reference')]
        rt = RichTable(title=table.family.title, show_lines=False)
        for c in cols:
            rt.add_column(_header(c), justify='right' if c in table.family.columns or c.startswith('delta_')
                          else 'left', overflow='fold')
        for row in table.rows:
            rt.add_row(*[_cell(row.get(c)) for c in cols], style='dim' if row.get('source') == 'paper' else None)
        console.print(rt)
    if not shown:
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
