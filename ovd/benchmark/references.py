"""Published reference numbers (``benchmarks/reference_results.csv``): one metric per line, each with its
citation, grouped into reference rows by ``ref_id``.

Columns: ref_id, method, variant, protocol, metric, value, backbone, training_data, config, citation, note.
``metric`` is a leaderboard column of the protocol's family (e.g. APr, AP50_novel, R@1); ``value`` is in
percent as printed in the source.
"""
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ovd.evaluation.protocols import FAMILIES, PROTOCOLS

COLUMNS = ('ref_id', 'method', 'variant', 'protocol', 'metric', 'value', 'backbone', 'training_data', 'config',
           'citation', 'note')
_SAME_PER_REF = ('method', 'variant', 'protocol', 'backbone', 'training_data', 'config', 'citation')


class ReferenceError(ValueError):
    """The reference CSV is malformed; the message names the file, line and field."""


@dataclass
class Reference:
    """One published result row: its identity and metric -> value (percent)."""
    ref_id: str
    method: str
    variant: str
    protocol: str
    backbone: str
    training_data: str
    config: str
    citation: str
    metrics: Dict[str, float] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


def default_references_path() -> Optional[Path]:
    """``benchmarks/reference_results.csv`` of the source checkout, else the copy a wheel ships, if any."""
    from ovd.resources import shipped_path
    return shipped_path('benchmarks', 'reference_results.csv')


def load_references(path: str) -> Dict[str, Reference]:
    """Read and check the reference CSV.

    Args:
        path: the CSV file.

    Returns:
        ref_id -> :class:`Reference`, in file order.

    Raises:
        ReferenceError: naming the file, line and field of the first problem.
    """
    try:
        return _load_references(path)
    except UnicodeDecodeError as err:
        raise ReferenceError(f'{path}: not UTF-8 text ({err.reason} at byte {err.start})') from None
    except csv.Error as err:
        raise ReferenceError(f'{path}: not a valid CSV file ({err})') from None
    except OSError as err:
        raise ReferenceError(f'{path}: cannot read ({err.strerror or err})') from None


def _load_references(path: str) -> Dict[str, Reference]:
    refs: Dict[str, Reference] = {}
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ReferenceError(f'{path}: missing column(s) {missing}; expected {list(COLUMNS)}')
        for line_no, row in enumerate(reader, start=2):
            where = f'{path}:{line_no}'
            for key in ('ref_id', 'method', 'protocol', 'metric', 'value', 'citation'):
                if not (row.get(key) or '').strip():
                    raise ReferenceError(f'{where}: field {key!r} is empty')
            if None in row:  # more fields than the header: an unquoted comma shifted the columns
                raise ReferenceError(f'{where}: {len(row) - 1 + len(row[None])} fields, the header has '
                                     f'{len(reader.fieldnames)}; quote fields that contain commas')
            row = {k: (v or '').strip() for k, v in row.items()}
            if row['protocol'] not in PROTOCOLS:
                raise ReferenceError(f'{where}: field \'protocol\' is {row["protocol"]!r}; known: '
                                     f'{sorted(PROTOCOLS)}')
            family = FAMILIES[PROTOCOLS[row['protocol']].family]
            if row['metric'] not in family.columns:
                raise ReferenceError(f'{where}: field \'metric\' is {row["metric"]!r}, not a {family.name} column '
                                     f'({list(family.columns)})')
            try:
                value = float(row['value'])
            except ValueError:
                raise ReferenceError(f'{where}: field \'value\' is not a number: {row["value"]!r}') from None
            if not math.isfinite(value):
                raise ReferenceError(f'{where}: field \'value\' is not a finite number: {row["value"]!r}')
            ref = refs.get(row['ref_id'])
            if ref is None:
                ref = refs[row['ref_id']] = Reference(**{k: row[k] for k in ('ref_id',) + _SAME_PER_REF})
            else:
                for key in _SAME_PER_REF:
                    if getattr(ref, key) != row[key]:
                        raise ReferenceError(f'{where}: field {key!r} is {row[key]!r} but earlier lines of '
                                             f'{row["ref_id"]!r} say {getattr(ref, key)!r}')
            if row['metric'] in ref.metrics:
                raise ReferenceError(f'{where}: {row["ref_id"]!r} gives {row["metric"]!r} twice')
            ref.metrics[row['metric']] = value
            if row.get('note'):
                ref.notes.append(row['note'])
    return refs
