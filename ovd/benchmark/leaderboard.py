"""The leaderboard: one wide CSV per protocol family (LVIS, OV-COCO, Flickr30k, COCO/Objects365), derived from
run records plus the published reference rows, never appended to.

Concurrency: jobs that finish at the same time may each rebuild it. Every build reads all records, keeps one
row per ``run_id`` (the latest), and replaces each CSV atomically; it reads the records and writes the CSVs
under one file lock, so readers never see a half-written file, no row is ever duplicated and no build
overwrites a newer table with an older one.
"""
import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from filelock import FileLock

from ovd.evaluation.protocols import FAMILIES, PROTOCOLS, Family
from ovd.fileio import atomic_write_text
from .run_records import RecordError, find_record_files, load_records
from .references import Reference, default_references_path, load_references

ID_COLUMNS = ('source', 'method', 'variant', 'protocol', 'dataset', 'training_data')
TAIL_COLUMNS = ('seed', 'config', 'eval_config', 'checkpoint_sha256', 'reference', 'citation', 'run_id',
                'finished_at')


@dataclass
class Table:
    """One family's leaderboard: its columns and rows (dicts keyed by column)."""
    family: Family
    columns: List[str]
    rows: List[Dict[str, Any]] = field(default_factory=list)


@dataclass
class Leaderboard:
    tables: Dict[str, Table]
    records: int
    duplicates: int
    problems: List[str]
    files: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)  # records kept but worth a look (NaN/inf metrics)


def _columns(family: Family) -> List[str]:
    deltas = [f'delta_{c}' for c in family.delta_columns]
    return list(ID_COLUMNS) + list(family.columns) + deltas + list(TAIL_COLUMNS)


def dedupe(records: Iterable[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], int]:
    """One record per ``run_id``: the one that finished last.

    Returns:
        (records, number of dropped duplicates)
    """
    best: Dict[str, Dict[str, Any]] = {}
    dropped = 0
    for rec in records:
        cur = best.get(rec['run_id'])
        if cur is not None:
            dropped += 1
            if cur['finished_at'] >= rec['finished_at']:
                continue
        best[rec['run_id']] = rec
    return list(best.values()), dropped


def _match_reference(rec: Dict[str, Any], refs: Dict[str, Reference]) -> Optional[Reference]:
    if rec.get('reference'):
        return refs.get(rec['reference'])
    config = (rec.get('eval_config') or {}).get('path')
    for ref in refs.values():
        same = ref.protocol == rec['protocol'] and ref.method == rec['method']
        if ref.config and ref.config == config and same:
            return ref
    return None


def our_row(rec: Dict[str, Any], refs: Dict[str, Reference]) -> Dict[str, Any]:
    """A leaderboard row from a run record (with deltas against its paper row, if it has one)."""
    proto = PROTOCOLS[rec['protocol']]
    family = FAMILIES[proto.family]
    ref = _match_reference(rec, refs)
    row: Dict[str, Any] = {
        'source': 'ours', 'method': rec['method'], 'variant': rec.get('experiment', ''),
        'protocol': proto.variant, 'dataset': rec.get('dataset', ''),
        'training_data': rec.get('training_data', ''),
        'seed': rec['seed'], 'config': (rec.get('config') or {}).get('path', ''),
        'eval_config': (rec.get('eval_config') or {}).get('path', ''),
        'checkpoint_sha256': ((rec.get('checkpoint') or {}).get('sha256') or '')[:12],
        'reference': ref.ref_id if ref else (rec.get('reference') or ''), 'citation': '',
        'run_id': rec['run_id'], 'finished_at': _iso(rec['finished_at']),
    }
    for col in family.columns:
        if col in rec['metrics']:
            row[col] = rec['metrics'][col]
    if ref is not None:
        for col in family.delta_columns:
            mine, theirs = row.get(col), ref.metrics.get(col)
            if _num(mine) and _num(theirs):
                row[f'delta_{col}'] = round(mine - theirs, 2)
    return row


def reference_row(ref: Reference) -> Dict[str, Any]:
    proto = PROTOCOLS[ref.protocol]
    row: Dict[str, Any] = {'source': 'paper', 'method': ref.method, 'variant': ref.variant,
                           'protocol': proto.variant, 'dataset': proto.paper_dataset,
                           'training_data': ref.training_data,
                           'config': ref.config, 'eval_config': ref.config, 'reference': ref.ref_id,
                           'citation': ref.citation}
    row.update(ref.metrics)
    return row


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _iso(ts: Any) -> str:
    import datetime
    try:
        when = datetime.datetime.fromtimestamp(float(ts), datetime.timezone.utc)
        return when.strftime('%Y-%m-%dT%H:%M:%SZ')
    except (TypeError, ValueError, OverflowError):
        return ''


def build_tables(records: Sequence[Dict[str, Any]], refs: Dict[str, Reference],
                 include_references: bool = True) -> Dict[str, Table]:
    """The family tables from (deduplicated) records and references. Paper rows come first within a method."""
    tables = {name: Table(fam, _columns(fam)) for name, fam in FAMILIES.items()}
    for rec in records:
        if rec['protocol'] not in PROTOCOLS:
            continue
        tables[PROTOCOLS[rec['protocol']].family].rows.append(our_row(rec, refs))
    if include_references:
        for ref in refs.values():
            tables[PROTOCOLS[ref.protocol].family].rows.append(reference_row(ref))
    for table in tables.values():
        table.rows.sort(key=lambda r: (r['method'], r['protocol'], r['source'] != 'paper', str(r['variant']),
                                       r.get('seed', -1) if r.get('seed') != '' else -1, r.get('run_id', '')))
    return tables


def table_csv(table: Table) -> str:
    """The CSV text of a table (numbers with two decimals, missing values empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_fmt(row.get(c, '')) for c in table.columns])
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        # NaN and infinities are written as such: a blank cell would read as "not measured"
        return 'NaN' if math.isnan(value) else ('inf' if value > 0 else '-inf') if math.isinf(value) \
            else f'{value:.2f}'
    return str(value)


def non_finite_metrics(records: Sequence[Dict[str, Any]]) -> List[str]:
    """One line per NaN or infinite metric of the records (kept, and shown as NaN/inf)."""
    return [f'{rec.get("_path", rec["run_id"])}: field \'metrics.{name}\' is {value!r} (shown as {_fmt(value)})'
            for rec in records for name, value in sorted(rec['metrics'].items())
            if isinstance(value, float) and not math.isfinite(value)]


def build_leaderboard(record_dirs: Sequence[str], out_dir: str, references: Optional[str] = None,
                      strict: bool = False, include_references: bool = True) -> Leaderboard:
    """Derive the leaderboard CSVs from every run record under ``record_dirs``.

    Args:
        record_dirs: folders searched for ``records/*.json`` (sweep roots), or record files.
        out_dir: where ``leaderboard_<family>.csv`` go (replaced atomically, under ``out_dir/.lock``).
        references: the reference CSV (default: the checkout's ``benchmarks/reference_results.csv``).
        strict: raise on a malformed record instead of skipping it (skipped ones are listed in ``problems``).
        include_references: add the published rows.

    Returns:
        The :class:`Leaderboard` (tables, counts, problems, written files).
    """
    missing = [str(d) for d in record_dirs if not os.path.exists(d)]
    if missing:  # an empty leaderboard written over a good one, with exit 0, hid a typo
        raise RecordError(f'{missing[0]}: no such file or folder of run records')
    ref_path = references or default_references_path()
    refs = load_references(str(ref_path)) if ref_path else {}
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    # The records are read under the lock that guards the write: a build that read them before a newer record
    # appeared must not replace the CSVs of a build that saw it (concurrent jobs lost rows that way).
    with FileLock(str(out / '.lock'), timeout=600):
        files = find_record_files(record_dirs)
        try:
            records, problems = load_records(files, strict=strict)
        except RecordError:
            if created:  # a failed first build leaves no empty output folder behind
                _remove_if_only_lock(out)
            raise
        records, dropped = dedupe(records)
        tables = build_tables(records, refs, include_references=include_references)
        board = Leaderboard(tables=tables, records=len(records), duplicates=dropped, problems=problems,
                            warnings=non_finite_metrics(records))
        for name, table in tables.items():
            path = out / f'leaderboard_{name.replace("-", "_")}.csv'
            atomic_write_text(path, table_csv(table))
            board.files.append(str(path))
    return board


def _remove_if_only_lock(out: Path) -> None:
    try:
        if [p.name for p in out.iterdir()] == ['.lock']:
            (out / '.lock').unlink()
            out.rmdir()
    except OSError:
        pass


def read_table_csv(path: str) -> List[Dict[str, str]]:
    """Rows of a written leaderboard CSV (for reports and tests)."""
    with open(path, newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


__all__ = ['Table', 'Leaderboard', 'build_leaderboard', 'build_tables', 'dedupe', 'our_row', 'reference_row',
           'table_csv', 'read_table_csv']
