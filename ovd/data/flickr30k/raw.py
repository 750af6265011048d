"""Readers for the raw Flickr30k Entities release: sentence files, box XML files, split lists.

Format (Plummer et al., ICCV 2015; github.com/BryanPlummer/flickr30k_entities): a sentence file has one
sentence per line, words separated by spaces, each annotated phrase written ``[/EN#<entity
id>/<type>[/<type>...] words]`` (``notvisual`` phrases have entity id 0). An annotation file is
PASCAL-VOC-like: ``<size>`` and one ``<object>`` per box with one or more ``<name>`` entity ids and a 1-based
inclusive ``<bndbox>``, or per box-less entity with ``<nobndbox>`` and ``<scene>`` flags.

Written here rather than taken from the release's ``flickr30k_entities_utils.py`` (not a package) so that bad
input stops with an error naming the file, the line or object, and the field, and so that phrases carry their
character spans in the caption. Boxes come in two conventions (:data:`BOX_CONVENTIONS`): ``'raw'`` (default:
the integers as written, ``[xmin, ymin, xmax, ymax]``, what MDETR's ``flickr_eval.py`` scores against and what
MDETR's and GLIP's training annotations hold) and ``'pixel'`` (``[xmin - 1, ymin - 1, xmax, ymax]``, the pixel
edges of the 1-based inclusive box; a named switch, off by default). Sentence lines are counted as MDETR's
reader counts them (only empty lines are skipped), so sentence ids agree with its evaluator.
"""

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ...hints import synthetic_data_hint
from ..validation import BOX_BORDER_TOLERANCE, AnnotationError

PathLike = Union[str, os.PathLike]
BOX_CONVENTIONS = ('raw', 'pixel')
DEFAULT_BOX_CONVENTION = 'raw'
PHRASE_TYPES = (
    'people',
    'clothing',
    'bodyparts',
    'animals',
    'vehicles',
    'instruments',
    'scene',
    'other',
    'notvisual',
)


class Flickr30kFormatError(AnnotationError):
    """Bad input in a Flickr30k Entities file; the message names the file, the line/object and the field.

    An :class:`~ovd.data.validation.AnnotationError` (so ``ovd prepare`` reports it the same way), with the
    record given as text: ``'line 3'`` for a sentence file, ``'object 2'`` or ``'<size>'`` for an XML file.
    """

    def __init__(
        self, file: PathLike, problem: str, record: Optional[str] = None, field: Optional[str] = None
    ):
        super().__init__(file, problem, section=record, field=field)
        self.record = record


@dataclass
class Phrase:
    """An annotated phrase of a sentence: text, character span in the caption, entity id and types."""

    text: str
    start: int
    end: int
    entity_id: int
    types: Tuple[str, ...]
    first_word: int


@dataclass
class Sentence:
    caption: str
    phrases: List[Phrase]


@dataclass
class ImageAnnotation:
    """The boxes of one image by entity id, and the entities marked box-less or whole-scene."""

    width: int
    height: int
    filename: str
    boxes: Dict[int, List[List[float]]] = field(default_factory=dict)
    nobox: List[int] = field(default_factory=list)
    scene: List[int] = field(default_factory=list)
    bad_boxes: int = 0


def parse_sentence(line: str, file: PathLike = '<string>', line_no: int = 1) -> Sentence:
    """Parse one annotated sentence into its plain caption and its phrases (with character spans).

    Args:
        line: e.g. ``'[/EN#18/people A child] in [/EN#19/clothing a pink dress] .'``
        file: File name used in error messages.
        line_no: 1-based line number used in error messages.

    Returns:
        A :class:`Sentence`; ``caption[p.start:p.end] == p.text`` for every phrase ``p``.
    """
    where = f'line {line_no}'
    words: List[str] = []
    phrases: List[Phrase] = []
    current: Optional[dict] = None
    for token in line.split():
        if current is None:
            if token.startswith('['):
                header = token[1:]
                if header.endswith(']'):
                    raise Flickr30kFormatError(file, f'phrase {token!r} has no words', where, 'phrase')
                parts = header.split('/')
                if len(parts) < 3 or parts[0] != '' or not parts[1].startswith('EN#'):
                    raise Flickr30kFormatError(
                        file,
                        f'malformed phrase header {token!r} (expected [/EN#<id>/<type> ...)',
                        where,
                        'phrase header',
                    )
                try:
                    entity = int(parts[1][3:])
                except ValueError:
                    raise Flickr30kFormatError(
                        file, f'entity id {parts[1][3:]!r} is not an integer', where, 'entity id'
                    ) from None
                types = tuple(parts[2:])
                if not all(types):
                    raise Flickr30kFormatError(file, f'empty phrase type in {token!r}', where, 'phrase type')
                current = dict(entity=entity, types=types, first=len(words), words=[])
                continue
            if ']' in token and token != ']':
                raise Flickr30kFormatError(file, f'unexpected {token!r} outside a phrase', where, 'phrase')
            words.append(token)
        else:
            if token.startswith('[/EN#'):
                raise Flickr30kFormatError(
                    file, f'phrase opened inside another phrase at {token!r}', where, 'phrase'
                )
            closing = token.endswith(']')
            word = token[:-1] if closing else token
            if closing and not word:
                raise Flickr30kFormatError(file, 'stray "]"', where, 'phrase')
            current['words'].append(word)
            words.append(word)
            if closing:
                phrases.append(current)
                current = None
    if current is not None:
        raise Flickr30kFormatError(
            file, f'phrase [/EN#{current["entity"]}/... is not closed with "]"', where, 'phrase'
        )
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    caption = ' '.join(words)
    out = []
    for p in phrases:
        first, last = p['first'], p['first'] + len(p['words']) - 1
        start, end = starts[first], starts[last] + len(words[last])
        out.append(Phrase(caption[start:end], start, end, p['entity'], p['types'], first))
    return Sentence(caption, out)


def parse_sentences_file(path: PathLike) -> List[Sentence]:
    """All sentences of a ``Sentences/<id>.txt`` file; at least one non-blank sentence is required.

    Lines are split on ``\\n`` and only empty lines are skipped, as the release's reader (and MDETR's copy of it)
    does: a whitespace-only line is a sentence without phrases and takes a sentence id.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise Flickr30kFormatError(path, 'file not found' + synthetic_data_hint(path)) from None
    except UnicodeDecodeError as err:
        raise Flickr30kFormatError(path, f'not UTF-8 text ({err})') from None
    sentences = [parse_sentence(line, path, i + 1) for i, line in enumerate(text.split('\n')) if line]
    if not any(s.caption for s in sentences):
        raise Flickr30kFormatError(path, 'no sentence in the file')
    return sentences


def _int(elem: Optional[ET.Element], file: Path, record: str, name: str) -> int:
    if elem is None or elem.text is None:
        raise Flickr30kFormatError(file, 'missing', record, name)
    try:
        return int(float(elem.text.strip()))
    except ValueError:
        raise Flickr30kFormatError(file, f'{elem.text.strip()!r} is not a number', record, name) from None


def parse_annotation_xml(
    path: PathLike, convention: str = DEFAULT_BOX_CONVENTION, bad_boxes: str = 'error'
) -> ImageAnnotation:
    """Read an ``Annotations/<id>.xml`` file.

    Args:
        path: The file.
        convention: ``'raw'`` (as written, the default) or ``'pixel'`` (pixel edges, ``[xmin-1, ymin-1, xmax,
            ymax]``).
        bad_boxes: ``'error'`` stops on a box with non-positive width or height as a 1-based inclusive box
            (``xmax < xmin`` or ``ymax < ymin``; the same boxes in either convention) or one outside the image
            (beyond :data:`~ovd.data.validation.BOX_BORDER_TOLERANCE`), ``'drop'`` skips and counts it.

    Returns:
        An :class:`ImageAnnotation`.
    """
    check_box_convention(convention)
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise Flickr30kFormatError(path, 'file not found' + synthetic_data_hint(path)) from None
    except ET.ParseError as err:
        raise Flickr30kFormatError(path, f'malformed XML ({err})') from None
    size = root.find('size')
    if size is None:
        raise Flickr30kFormatError(path, 'missing', '<annotation>', 'size')
    width, height = (
        _int(size.find('width'), path, '<size>', 'width'),
        _int(size.find('height'), path, '<size>', 'height'),
    )
    if width <= 0 or height <= 0:
        raise Flickr30kFormatError(
            path, f'non-positive image size {width}x{height}', '<size>', 'width/height'
        )
    filename = (root.findtext('filename') or f'{path.stem}.jpg').strip()
    ann = ImageAnnotation(width=width, height=height, filename=filename)
    for k, obj in enumerate(root.findall('object')):
        record = f'object {k}'
        names = obj.findall('name')
        if not names:
            raise Flickr30kFormatError(path, 'missing', record, 'name')
        ids = [_int(n, path, record, 'name') for n in names]
        box = obj.find('bndbox')
        if box is not None:
            x1, y1, x2, y2 = (
                _int(box.find(t), path, record, f'bndbox/{t}') for t in ('xmin', 'ymin', 'xmax', 'ymax')
            )
            # pixel edges of the 1-based inclusive box, for the image-border check
            edges = (x1 - 1, y1 - 1, x2, y2)
            problem = None
            if x2 < x1 or y2 < y1:
                problem = 'box has non-positive size'
            elif min(edges[:2]) < -BOX_BORDER_TOLERANCE or edges[2] > width + BOX_BORDER_TOLERANCE or \
                    edges[3] > height + BOX_BORDER_TOLERANCE:
                problem = f'box reaches outside the {width}x{height} image'
            if problem:
                if bad_boxes == 'drop':
                    ann.bad_boxes += 1
                    continue
                raise Flickr30kFormatError(
                    path,
                    f'{problem}: xmin..xmax, ymin..ymax = '
                    f'{box.findtext("xmin")}..{box.findtext("xmax")}, '
                    f'{box.findtext("ymin")}..{box.findtext("ymax")}',
                    record,
                    'bndbox',
                )
            if convention == 'pixel':
                x1, y1 = x1 - 1, y1 - 1
            for entity in ids:
                ann.boxes.setdefault(entity, []).append([float(x1), float(y1), float(x2), float(y2)])
        else:
            nobox = obj.find('nobndbox')
            scene = obj.find('scene')
            if nobox is None and scene is None:
                raise Flickr30kFormatError(
                    path, 'an object needs <bndbox> or <nobndbox>/<scene>', record, 'bndbox'
                )
            if nobox is not None and _int(nobox, path, record, 'nobndbox') > 0:
                ann.nobox.extend(ids)
            if scene is not None and _int(scene, path, record, 'scene') > 0:
                ann.scene.extend(ids)
    return ann


def check_box_convention(convention: str) -> str:
    """Return ``convention`` or raise ValueError naming the valid ones."""
    if convention not in BOX_CONVENTIONS:
        raise ValueError(f'Flickr30k box convention must be one of {BOX_CONVENTIONS}, got {convention!r}')
    return convention


def to_box_convention(box: Sequence[float], convention: str) -> List[float]:
    """A box as written in the XML (``'raw'``) in ``convention``: unchanged, or ``'pixel'`` edges."""
    if check_box_convention(convention) == 'pixel':
        return [box[0] - 1, box[1] - 1, box[2], box[3]]
    return list(box)


def read_split_ids(path: PathLike) -> List[str]:
    """Image ids of a split list (``train.txt``...): one per line, blank lines skipped, duplicates
    rejected."""
    path = Path(path)
    try:
        lines = path.read_text(encoding='utf-8').splitlines()
    except FileNotFoundError:
        raise Flickr30kFormatError(path, 'file not found' + synthetic_data_hint(path)) from None
    ids, seen = [], {}
    for i, line in enumerate(lines):
        image_id = line.strip()
        if not image_id:
            continue
        if not image_id.isdigit():
            raise Flickr30kFormatError(
                path, f'{image_id!r} is not a Flickr image id', f'line {i + 1}', 'image id'
            )
        if image_id in seen:
            raise Flickr30kFormatError(
                path,
                f'image id {image_id} repeated (first on line {seen[image_id]})',
                f'line {i + 1}',
                'image id',
            )
        seen[image_id] = i + 1
        ids.append(image_id)
    if not ids:
        raise Flickr30kFormatError(path, 'no image id in the split list')
    return ids


def merge_boxes(boxes: Sequence[Sequence[float]]) -> List[float]:
    """The smallest box enclosing all ``boxes`` (the merged-box protocol's ground truth)."""
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]
