"""Read a COCO-format file for rewriting without holding its annotations as Python objects.

Why: a preparer must write back every kept annotation exactly as it was (polygons included), but
``json.load`` of LVIS v1 train (1.27M boxes) or Objects365 v2 train (~25M boxes) builds gigabytes to tens of
gigabytes of dicts. Here the top level is scanned by hand, every other top-level value is parsed normally
(``images``, ``categories``, ``info``, ...: small), and the ``annotations`` array is decoded one element at a
time: each record is validated into the compact :class:`~ovd.data.coco_index.CocoIndex` arrays and only its
character span is kept. :meth:`CocoSource.write` then streams the output: unchanged values and kept
annotations are copied from the source text, replaced values are serialised.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, List, Optional

import numpy as np

from ..coco_index import AnnotationCollector, CocoIndex, build_index
from ..validation import AnnotationError, PathLike

_WS = re.compile(r'[ \t\n\r]*')
_DECODER = json.JSONDecoder()


def _position(text: str, pos: int) -> str:
    line = text.count('\n', 0, pos) + 1
    return f'line {line} column {pos - text.rfind(chr(10), 0, pos)}'


@dataclass
class CocoSource:
    """A parsed COCO-format file: small top-level values as objects, annotations as spans + arrays.

    Attributes:
        path (str): The file.
        text (str): Its content.
        values (dict): Every top-level value except ``annotations``, parsed.
        spans (dict): ``key -> (start, end)`` of every top-level value in ``text``, in file order.
        ann_starts, ann_ends (np.ndarray): Span of each annotation record, int64, shape (M,).
        index (CocoIndex): The compact index (validated record by record while reading).
    """
    path: str
    text: str
    values: Dict[str, Any]
    spans: Dict[str, tuple]
    ann_starts: np.ndarray
    ann_ends: np.ndarray
    index: CocoIndex = field(repr=False, default=None)

    def write(self, f: IO[bytes], replace: Optional[Dict[str, Any]] = None,
              keep_annotations: Optional[np.ndarray] = None) -> None:
        """Write the file with some top-level values replaced and only the kept annotations.

        Args:
            f: A binary file open for writing.
            replace (dict, optional): Top-level key -> new value (serialised compactly); new keys go last.
            keep_annotations (np.ndarray, optional): Boolean mask over annotations, shape (M,); default all.
        """
        replace = dict(replace or {})
        keys = list(self.spans) + [k for k in replace if k not in self.spans]
        f.write(b'{')
        for n, key in enumerate(keys):
            f.write((',' if n else '').encode() + json.dumps(key).encode() + b':')
            if key in replace:
                f.write(json.dumps(replace[key], separators=(',', ':'), ensure_ascii=False).encode('utf-8'))
            elif key == 'annotations':
                self._write_annotations(f, keep_annotations)
            else:
                start, end = self.spans[key]
                f.write(self.text[start:end].encode('utf-8'))
        f.write(b'}')

    def _write_annotations(self, f: IO[bytes], keep: Optional[np.ndarray]) -> None:
        kept = np.arange(len(self.ann_starts)) if keep is None else np.nonzero(keep)[0]
        text, starts, ends = self.text, self.ann_starts.tolist(), self.ann_ends.tolist()
        f.write(b'[')
        for lo in range(0, len(kept), 10000):  # bounded chunks: the output is never held whole
            if lo:
                f.write(b',')
            f.write(','.join(text[starts[i]:ends[i]] for i in kept[lo:lo + 10000].tolist()).encode('utf-8'))
        f.write(b']')


def read_coco_source(path: PathLike) -> CocoSource:
    """Read and validate (keys, types, JSON syntax) a COCO-format file for rewriting.

    Raises:
        AnnotationError: Malformed JSON (with line and column), missing keys or mistyped ids, naming the
            record and field, as :func:`~ovd.data.coco_index.load_coco_index` does.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, 'file not found')
    try:
        text = path.read_bytes().decode('utf-8')
    except UnicodeDecodeError as err:
        raise AnnotationError(path, f'not UTF-8 text ({err.reason} at byte {err.start})') from None

    def fail(pos: int, what: str):
        raise AnnotationError(path, f'malformed JSON at {_position(text, pos)}: {what}')

    def skip(pos: int) -> int:
        return _WS.match(text, pos).end()

    def decode(pos: int):
        try:
            return _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            where = f'line {err.lineno} column {err.colno}'
            raise AnnotationError(path, f'malformed JSON at {where}: {err.msg}') from None

    collector = AnnotationCollector(path)
    values: Dict[str, Any] = {}
    spans: Dict[str, tuple] = {}
    starts: List[int] = []
    ends: List[int] = []
    pos = skip(0)
    if text[pos:pos + 1] != '{':
        fail(pos, 'expected an object at the top level')
    pos = skip(pos + 1)
    while text[pos:pos + 1] != '}':
        if spans:
            if text[pos:pos + 1] != ',':
                fail(pos, "expected ',' or '}'")
            pos = skip(pos + 1)
        if text[pos:pos + 1] != '"':
            fail(pos, 'expected a key')
        key, pos = decode(pos)
        pos = skip(pos)
        if text[pos:pos + 1] != ':':
            fail(pos, "expected ':'")
        pos = skip(pos + 1)
        value_start = pos
        if key == 'annotations' and text[pos:pos + 1] == '[':
            pos = skip(pos + 1)
            while text[pos:pos + 1] != ']':
                if starts:
                    if text[pos:pos + 1] != ',':
                        fail(pos, "expected ',' or ']'")
                    pos = skip(pos + 1)
                record, end = decode(pos)
                collector.add(record)
                starts.append(pos)
                ends.append(end)
                pos = skip(end)
            pos += 1
        else:
            values[key], pos = decode(pos)
        spans[key] = (value_start, pos)
        pos = skip(pos)
        if pos >= len(text):
            fail(pos, "expected ',' or '}'")
    if skip(pos + 1) != len(text):
        fail(skip(pos + 1), 'extra data after the top-level object')
    if 'annotations' not in spans:
        raise AnnotationError(path, "missing top-level key 'annotations'")
    if 'annotations' in values:
        raise AnnotationError(path, "top-level 'annotations' must be a list, got "
                              f"{type(values['annotations']).__name__}")
    index = build_index(path, dict(values, annotations=[]), collector)
    return CocoSource(path=str(path), text=text, values=values, spans=spans,
                      ann_starts=np.asarray(starts, dtype=np.int64),
                      ann_ends=np.asarray(ends, dtype=np.int64),
                      index=index)
