"""Output that reads at 80 columns and reports that say something: leaderboard terminal tables fit (cells whole,
left-out columns named), `ovd sweep plan` keeps paths whole and shows cfg_options, plots are one protocol each
and never empty, the HTML shows the deltas it promises and every row's dataset."""
import os
import re
import subprocess
import sys

from rich.console import Console

from ovd.benchmark.leaderboard import build_tables
from ovd.evaluation.protocols import FAMILIES
from ovd.benchmark.run_records import SCHEMA
from ovd.benchmark.references import default_references_path, load_references
from ovd.benchmark.report import _rows_by_protocol, html_page, make_plots, print_terminal


def _record(run_id, protocol, metrics, method='vild', seed=0, **extra):
    return dict(schema=SCHEMA, run_id=run_id, method=method, experiment=f'{method}-tiny', protocol=protocol,
                metrics=metrics, status='done', finished_at=1.0, seed=seed, dataset='synthetic', **extra)


def _full_tables():
    """Every family with our rows (all columns filled) and the real published rows."""
    recs = []
    for family in FAMILIES.values():
        proto = {'lvis': 'lvis', 'ov-coco': 'ov-coco-65', 'flickr30k': 'flickr30k-any-box', 'coco': 'coco'}[
            family.name]
        for seed in (0, 1):
            recs.append(_record(f's/{family.name}-{seed}', proto, {c: 10.0 + i + seed
                                                                   for i, c in enumerate(family.columns)},
                                seed=seed))
    recs.append(_record('s/vild-ref', 'lvis', {c: 12.5 for c in FAMILIES['lvis'].columns},
                        reference='vild-r50-lvis-ckpt'))
    return build_tables(recs, load_references(str(default_references_path())))


def _continuation_lines(text: str) -> int:
    """Table body lines whose first cell is empty: a row wrapped onto a second line."""
    return sum(1 for line in text.splitlines() if re.match(r'^│\s+│', line))


def test_leaderboard_tables_fit_80_columns_with_whole_cells():
    console = Console(record=True, width=80)
    tables = _full_tables()
    print_terminal(tables, console)
    out = console.export_text()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert _continuation_lines(out) == 0, out
    # what did not fit is named, with where to find it
    assert re.search(r'more column\(s\) in the CSVs and HTML report: .*AP75', out, re.S), out
    assert '* published (paper) numbers' in out and '│ * MDETR R101 ' in out
    # the headline numbers of every family made it, and the long OV-COCO protocol is shortened
    for header in ('APr', 'novel', 'R@1', 'AP75'):  # (two-word headers take two lines)
        assert header in out
    assert 'ov-coco-65' in out and '(48 base + 17 novel)' not in out
    assert 'COCO / Objects365 (COCO)' in out  # one protocol in the table: named in the title
    # a wide terminal gets every column and no note
    wide = Console(record=True, width=250)
    print_terminal(tables, wide)
    wide_out = wide.export_text()
    assert 'more column' not in wide_out and 'AP75' in wide_out and 'Δmask' in wide_out


def test_sweep_plan_at_80_columns_keeps_paths_whole_and_shows_overrides(repo_root, tmp_path):
    env = dict(os.environ, COLUMNS='80', PYTHONPATH=f'{repo_root}{os.pathsep}{os.environ.get("PYTHONPATH", "")}')
    proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'sweep', 'plan', 'benchmarks/sweeps/demo.yaml',
                           '--set', f'out={tmp_path}'], cwd=repo_root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    configs = re.findall(r'configs/\S+\.py', out)
    assert configs and all(os.path.isfile(repo_root / c) for c in configs), out  # no path cut mid-word
    assert 'train_cfg.max_epochs=2' in out  # the smoke entry's cfg_options
    assert 'smoke-faster-rcnn' in out and '[coco]' in out
    assert max(len(line) for line in out.splitlines()[1:]) <= 80, out  # (the title holds the root's path)


def test_plots_one_protocol_each_never_empty_paper_rows_kept():
    refs = load_references(str(default_references_path()))
    # our LVIS rows score 0 everywhere (a tiny demo model): no LVIS plot of std AP would say anything, but the
    # published Fixed-AP rows make one; std and fixed never share a plot
    recs = [_record('s/vild', 'lvis', {'AP': 0.0, 'APr': 0.0, 'APc': 0.0, 'APf': 0.0}),
            _record('s/glip', 'lvis-fixed', {'AP': 0.0, 'APr': 0.0, 'APc': 0.0, 'APf': 0.0}, method='glip')]
    tables = build_tables(recs, refs)
    plots = make_plots(tables)
    assert 'lvis-fixed_box_apr_vs_ap.png' in plots and 'lvis-fixed_box_frequency_bars.png' in plots
    assert 'lvis_mask_apr_vs_ap.png' in plots  # ViLD/BARON paper rows (mask AP)
    assert 'lvis_box_apr_vs_ap.png' not in plots  # only our all-zero std box row: nothing to show
    # OV-COCO: the paper rows (novel AP50 only) are plotted, per protocol
    assert 'ov-coco-65_novel_base_bars.png' in plots and 'ov-coco-80_novel_base_bars.png' in plots
    # Flickr30k: one plot per protocol, each paper row once
    assert {'flickr30k-any-box_recall_bars.png', 'flickr30k-merged-box_recall_bars.png'} <= set(plots)
    for rows in _rows_by_protocol(tables['flickr30k']).values():
        labels = [(r['method'], r['variant'], r['source']) for r in rows]
        assert len(labels) == len(set(labels))
    # with only all-zero rows and no references there is no plot at all
    assert make_plots(build_tables(recs, {})) == {}


def test_html_deltas_and_datasets():
    refs = load_references(str(default_references_path()))
    no_match = build_tables([_record('s/vild', 'lvis', {'mask_AP': 20.0, 'mask_APr': 10.0})], refs)
    page = html_page(no_match)
    assert 'there are no Δ columns' in page and '<th>ΔmaskAPr' not in page.replace(' ', '')
    matched = build_tables([_record('s/vild', 'lvis', {'mask_AP': 20.0, 'mask_APr': 10.0},
                                    reference='vild-r50-lvis-ckpt')], refs)
    page = html_page(matched)
    assert 'Δ columns give our run minus its paper row' in page and '<th>Δmask APr</th>' in page
    for table in matched.values():
        for row in table.rows:
            assert row['dataset'], row  # paper rows carry the evaluation set of their protocol
    assert '<td>LVIS v1 val</td>' in page and '<td>Flickr30k Entities test</td>' in page
