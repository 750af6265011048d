"""Shared machinery of the preparers: all-or-nothing writes, the up-to-date check, and the counts report.

A preparer reads and validates every input, builds every output in memory, then calls :func:`commit`, which
writes each output to a temporary file beside its target and only renames them into place once all were
written; a crash or an error leaves earlier outputs untouched and no half files. A manifest
(``<root>/.ovd_prepare/<preparer>.json``) records the inputs (size, mtime), the options and the outputs; a
second run with the same inputs and options whose outputs are unchanged reports "up to date" and writes
nothing.
"""
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from ovd.fileio import new_file_mode, remove_stale_tmps, tmp_prefix
from ..validation import AnnotationError

MANIFEST_DIR = '.ovd_prepare'


def _stat(path: Path) -> Dict[str, int]:
    st = path.stat()
    return {'size': st.st_size, 'mtime_ns': st.st_mtime_ns}


def write_json_compact(data: Any, f) -> None:
    """JSON the way the official annotation files are written (no indentation), UTF-8; bytes/str as is."""
    if isinstance(data, Rewrite):
        data.source.write(f, data.replace, data.keep_annotations)
        return
    if isinstance(data, bytes):
        f.write(data)
        return
    if isinstance(data, str):
        f.write(data.encode('utf-8'))
        return
    f.write(json.dumps(data, separators=(',', ':'), ensure_ascii=False).encode('utf-8'))


def commit(outputs: Dict[Path, Any], writer: Callable[[Any, Any], None] = write_json_compact) -> None:
    """Write every output atomically and together: all temporaries first, then the renames.

    Args:
        outputs (dict[Path, Any]): Target path -> content handed to ``writer``.
        writer (callable): ``writer(content, binary_file)`` serialises one output.
    """
    temps: List[Path] = []
    try:
        for target, content in outputs.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_tmps(target)
            mode = new_file_mode(target)
            fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(target), suffix='.tmp', dir=target.parent)
            temps.append(Path(tmp))
            with os.fdopen(fd, 'wb') as f:
                os.fchmod(f.fileno(), mode)  # mkstemp creates 0600; outputs are ordinary shared data files
                writer(content, f)
                f.flush()
                os.fsync(f.fileno())
        for tmp, target in zip(temps, outputs):
            os.replace(tmp, target)
        temps = []
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


@dataclass
class Manifest:
    """What a preparer consumed and produced, for the up-to-date check."""
    preparer: str
    version: int
    options: Dict[str, Any]
    inputs: Dict[str, Dict[str, int]] = field(default_factory=dict)
    outputs: Dict[str, Dict[str, int]] = field(default_factory=dict)

    @staticmethod
    def path(root: Path, preparer: str) -> Path:
        return root / MANIFEST_DIR / f'{preparer}.json'

    @classmethod
    def for_inputs(cls, preparer: str, version: int, options: Dict[str, Any],
                   inputs: Sequence[Path]) -> 'Manifest':
        return cls(preparer, version, options, inputs={str(p): _stat(p) for p in inputs})

    def is_up_to_date(self, root: Path) -> bool:
        """True when the recorded run had these inputs and options and its outputs are unchanged."""
        path = self.path(root, self.preparer)
        if not path.is_file():
            return False
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        if (old.get('version'), old.get('options'), old.get('inputs')) != (self.version, self.options,
                                                                           self.inputs):
            return False
        outputs = old.get('outputs') or {}
        for out, stamp in outputs.items():
            p = Path(out)
            if not p.is_file() or _stat(p) != stamp:
                return False
        self.outputs = outputs
        return bool(outputs)

    def save(self, root: Path, outputs: Sequence[Path]) -> None:
        self.outputs = {str(p): _stat(p) for p in outputs}
        record = dict(preparer=self.preparer, version=self.version, options=self.options, inputs=self.inputs,
                      outputs=self.outputs)
        commit({self.path(root, self.preparer): record},
               lambda data, f: f.write(json.dumps(data, indent=1, sort_keys=True).encode()))


@dataclass
class SplitCounts:
    """One row of the report."""
    split: str
    images: int
    boxes_kept: int
    dropped: Dict[str, int] = field(default_factory=dict)
    images_dropped: int = 0
    output: str = ''


def print_report(title: str, rows: Sequence[SplitCounts], stream=None) -> None:
    """Print the counts table (rich when available, plain text otherwise)."""
    stream = stream or sys.stdout
    reasons = sorted({k for r in rows for k in r.dropped})
    headers = ['split', 'images', 'images dropped', 'boxes kept'] + [f'dropped: {k}' for k in reasons] + \
        ['output']
    table_rows = [[r.split, str(r.images), str(r.images_dropped), str(r.boxes_kept)]
                  + [str(r.dropped.get(k, 0)) for k in reasons] + [r.output] for r in rows]
    try:
        from rich.markup import escape
        from rich.table import Table

        from ovd.console import make_console, table_width
        console = make_console(file=stream)
        # too wide: the output paths go below the table, then headers take two lines; cells never wrap
        for with_output, wrap in ((True, False), (False, False), (False, True)):
            cols = headers if with_output else headers[:-1]
            table = Table(title=title, title_justify='left')
            for h in cols:
                narrow = max(len(w) for w in h.split()) if wrap and h != 'output' else None
                table.add_column(h, justify='left' if h in ('split', 'output') else 'right', no_wrap=h == 'output',
                                 max_width=narrow)
            for row in table_rows:
                table.add_row(*[escape(c) for c in row[:len(cols)]])
            if table_width(console, table) <= console.width:
                break
        console.print(table)
        if not with_output:
            for row in table_rows:
                console.print(f'{row[0]}: {row[-1]}', soft_wrap=True, highlight=False, markup=False)
    except ImportError:  # rich is a dependency, but the report must never be what fails
        print(title, file=stream)
        for row in [headers, *table_rows]:
            print('  '.join(row), file=stream)


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise an :class:`AnnotationError` saying what was expected."""
    if not path.is_file():
        raise AnnotationError(path, f'file not found ({what})')
    return path


def progress(iterable, total: Optional[int] = None, desc: str = ''):
    """A tqdm progress bar on stderr (disabled when stderr is not a terminal)."""
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, disable=not sys.stderr.isatty(), leave=False)


@dataclass
class Rewrite:
    """An output that is its source file with some top-level values replaced and only some annotations kept;
    written by streaming from the source text (see :mod:`ovd.data.prepare.coco_file`)."""
    source: Any
    replace: Dict[str, Any] = field(default_factory=dict)
    keep_annotations: Optional[Any] = None


def load_validated(path: Path, vocabulary: Any, *, unknown_categories: str = 'error',
                   bad_boxes: str = 'error', image_paths: Optional[Callable[[dict], str]] = None,
                   allowed_missing: Sequence[str] = ()):
    """Read a COCO-format file and run every check of :func:`~ovd.data.validation.validate_coco_index`.

    Args:
        path (Path): The annotation file.
        vocabulary (Vocabulary): The vocabulary its categories must belong to.
        image_paths (callable, optional): ``image record -> full path``; given, image files are checked.
        allowed_missing (Sequence[str]): Full paths that may be missing (reported, not fatal).

    Returns:
        tuple: ``(source, index, checked)``: the :class:`~ovd.data.prepare.coco_file.CocoSource` (small
        top-level values parsed, annotations as spans), its :class:`~ovd.data.coco_index.CocoIndex` and the
        :class:`~ovd.data.validation.CocoValidation`.
    """
    from ..validation import validate_coco_index
    from .coco_file import read_coco_source
    source = read_coco_source(path)
    index = source.index
    paths = None
    if image_paths is not None:
        paths = progress((image_paths(im) for im in index.images), total=len(index.images),
                         desc=f'checking images of {path.name}')
    checked = validate_coco_index(index, vocabulary, unknown_categories=unknown_categories,
                                  bad_boxes=bad_boxes, image_paths=paths, allowed_missing=allowed_missing,
                                  require_inside=True)
    return source, index, checked
