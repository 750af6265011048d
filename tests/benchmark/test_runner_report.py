"""Reports: Markdown and a self-contained HTML page (sortable tables, inline plots), PNG plots, terminal table."""
import re

from rich.console import Console

from ovd.benchmark.leaderboard import build_tables
from ovd.benchmark.run_records import SCHEMA
from ovd.benchmark.references import Reference
from ovd.benchmark.report import html_page, make_plots, markdown, print_terminal, write_report


def _tables():
    recs = [dict(schema=SCHEMA, run_id=f's/vild-{seed}/lvis', method='vild', experiment='vild-tiny', protocol='lvis',
                 metrics={'mask_APr': 10.0 + seed, 'mask_AP': 20.0, 'mask_APc': 18.0, 'mask_APf': 25.0},
                 status='done', finished_at=1.0, seed=seed, reference='vild-r50-lvis-ckpt') for seed in (0, 1)]
    refs = {'vild-r50-lvis-ckpt': Reference('vild-r50-lvis-ckpt', 'vild', 'ViLD (released R50 checkpoint)', 'lvis',
                                            'R50', 'LVIS base', '', 'Gu et al., ICLR 2022',
                                            {'mask_APr': 16.6, 'mask_AP': 22.5})}
    return build_tables(recs, refs)


def test_markdown_shows_only_filled_columns_with_deltas():
    text = markdown(_tables())
    assert '## LVIS' in text and '## OV-COCO' not in text  # empty families are left out
    header = next(line for line in text.splitlines() if line.startswith('| source'))
    assert 'mask APr' in header and 'ΔmaskAPr'.replace('mask', 'mask ') in header
    assert '| AP |' not in header and 'APc' not in header.replace('mask APc', '')  # no empty box columns
    ours = [line for line in text.splitlines() if line.startswith('| ours')]
    assert len(ours) == 2 and '| -6.60 |' in ours[0] and '| -5.60 |' in ours[1]  # 10-16.6, 11-16.6


def test_html_is_self_contained_and_sortable():
    tables = _tables()
    page = html_page(tables, make_plots(tables))
    assert page.count('<table class="sortable"') == 1 and 'addEventListener' in page
    assert 'Gu et al., ICLR 2022' in page
    assert not re.search(r'(src|href)="https?://', page)  # no external assets
    assert page.count('src="data:image/png;base64,') == 2  # mask APr-vs-AP and frequency bars


def test_write_report_and_terminal(tmp_path):
    written = write_report(_tables(), str(tmp_path))
    assert (tmp_path / 'leaderboard.md').is_file() and (tmp_path / 'leaderboard.html').is_file()
    pngs = sorted(p.name for p in (tmp_path / 'plots').glob('*.png'))
    assert pngs == ['lvis_mask_apr_vs_ap.png', 'lvis_mask_frequency_bars.png']
    assert all((tmp_path / 'plots' / p).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' for p in pngs)
    assert written['html'] == str(tmp_path / 'leaderboard.html')
    console = Console(record=True, width=200)
    print_terminal(_tables(), console)
    out = console.export_text()
    assert 'LVIS' in out and 'ViLD (released R50 checkpoint)' in out and '-6.60' in out
