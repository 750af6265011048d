"""Vocabularies: the ordered category lists every dataset, prompt and classifier in ovd indexes into.

A :class:`Vocabulary` is an immutable, ordered tuple of :class:`Category`; a detection label is a position in
it (``bbox_label``), never a dataset category id. A category's ``prompt_name`` is its default text
(:func:`normalize_name`: ``bow_(weapon)`` -> ``bow (weapon)``, qualifier kept); a method whose official code
spells class names another way gets its texts from :meth:`Vocabulary.prompt_texts` with its name rule
(:mod:`ovd.data.name_rules`). No two categories of a built-in vocabulary share a default text.
:func:`get_vocabulary` returns the built-ins:

============== ===== =========================================================================================
name           size  content
============== ===== =========================================================================================
coco           80    COCO 2017 detection categories, ids 1..90 with gaps
ov_coco        65    OV-COCO: 48 base + 17 novel (Bansal et al., ECCV 2018 split as used by OVR-CNN, Detic,
                     ovdet); the other 15 COCO classes are left out
ov_coco_80     80    all COCO classes with the OV-COCO base/novel marks; the 15 excluded have ``split=None``
                     (the "all 80 classes" evaluation protocol)
lvis_v1        1203  LVIS v1 with frequency r/c/f (337/461/405)
ov_lvis        1203  LVIS v1 with ``split``: base = common + frequent (866), novel = rare (337)
lvis_v0.5      1230  LVIS v0.5 with frequency r/c/f (454/461/315)
objects365_v1  365   Objects365 v1 (2019 release) ids and names, with typo fixes
objects365_v2  365   Objects365 v2 (2020 release) ids and names (trailing spaces kept), with typo fixes
ov_world       32    the synthetic open-vocabulary world of seed 0 (``docs/ov_world.md``): 24 base (frequency
                     c/f) + 8 novel (frequency r), names such as ``red_striped_star``
============== ===== =========================================================================================

Where each list comes from is written in ``ovd/data/metadata/README.md``.
"""
import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .name_rules import article_names, category_texts, default_text, parse_name_rule

METADATA_DIR = Path(__file__).resolve().parent / 'metadata'

SPLITS = ('base', 'novel')
FREQUENCIES = ('r', 'c', 'f')


def normalize_name(name: str) -> str:
    """The default text of a category name (the ``default`` rule of :mod:`ovd.data.name_rules`).

    ``_`` becomes a space, parenthesised qualifiers are kept, ``/`` is kept with the spaces around it removed,
    runs of whitespace become one space and the ends are stripped: ``'bow_(weapon)'`` -> ``'bow (weapon)'``,
    ``'Tape Measure/ Ruler'`` -> ``'Tape Measure/Ruler'``, ``'tissue '`` -> ``'tissue'``. Case is kept. Keeping
    the qualifier and the slash loses nothing that tells two categories apart, so the texts of a vocabulary are
    as distinct as its names (every built-in is checked by a test).

    Args:
        name (str): The category name as the dataset spells it.

    Returns:
        str: The normalised name.
    """
    return default_text(name)


@dataclass(frozen=True)
class Category:
    """One category of a vocabulary.

    Attributes:
        id (int): The dataset's category id (what annotation files store).
        name (str): The display name (typo-fixed where the dataset's own name is wrong).
        prompt_name (str): ``normalize_name(name)``: the default text of the category (qualifier kept); a
            method's own rule is applied by :meth:`Vocabulary.prompt_texts`.
        synonyms (tuple[str]): Other names (LVIS synonyms), as the dataset spells them.
        frequency (str | None): ``'r'``, ``'c'`` or ``'f'`` for LVIS, else None.
        split (str | None): ``'base'`` or ``'novel'`` for open-vocabulary vocabularies, else None.
        source_name (str): The name as written in the dataset's annotation files (differs from ``name``
            only where a typo was fixed).
    """
    id: int
    name: str
    prompt_name: str
    synonyms: Tuple[str, ...] = ()
    frequency: Optional[str] = None
    split: Optional[str] = None
    source_name: str = ''

    def __post_init__(self) -> None:
        if self.frequency not in (None, *FREQUENCIES):
            raise ValueError(f'category {self.id} ({self.name!r}): frequency must be r/c/f or None, '
                             f'got {self.frequency!r}')
        if self.split not in (None, *SPLITS):
            raise ValueError(f'category {self.id} ({self.name!r}): split must be base/novel or None, '
                             f'got {self.split!r}')
        if not self.source_name:
            object.__setattr__(self, 'source_name', self.name)

    @classmethod
    def make(cls, id: int, name: str, **kwargs) -> 'Category':
        """Build a category whose ``prompt_name`` is ``normalize_name(name)``."""
        synonyms = tuple(kwargs.pop('synonyms', ()) or ())
        return cls(id=int(id), name=name, prompt_name=normalize_name(name), synonyms=synonyms, **kwargs)


class Vocabulary:
    """An immutable ordered list of categories; a label is a position in it.

    Args:
        name (str): The vocabulary's name (e.g. ``'ov_lvis'``, or ``'ov_lvis:base'`` for a subset).
        categories (Sequence[Category]): The categories in label order; ids must be unique.
    """

    def __init__(self, name: str, categories: Sequence[Category]) -> None:
        self.name = name
        self._categories: Tuple[Category, ...] = tuple(categories)
        ids = [c.id for c in self._categories]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f'vocabulary {name!r}: duplicate category ids {dup[:10]}')
        self._index: Dict[int, int] = {cat_id: i for i, cat_id in enumerate(ids)}
        self._ids = np.asarray(ids, dtype=np.int64)
        # Dense id -> label lookup table so that mapping a million annotation ids is one gather.
        table_size = int(self._ids.max()) + 1 if len(ids) else 1
        self._lut = np.full(table_size, -1, dtype=np.int64)
        self._lut[self._ids] = np.arange(len(ids))
        self._texts: Dict[str, Tuple[str, ...]] = {}  # name rule -> texts, filled on demand

    # -- sequence behaviour -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._categories)

    def __iter__(self) -> Iterator[Category]:
        return iter(self._categories)

    def __getitem__(self, index: int) -> Category:
        return self._categories[index]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocabulary) and other.name == self.name
                and other._categories == self._categories)

    def __hash__(self) -> int:
        return hash((self.name, self._categories))

    def __reduce__(self):
        # Pickled as its name and categories (the lookup tables are rebuilt): checkpoints carry the vocabulary
        # in meta['dataset_meta'], and weights_only loading may rebuild only these allow-listed records.
        return Vocabulary, (self.name, self._categories)

    def __repr__(self) -> str:
        return f'Vocabulary({self.name!r}, {len(self)} categories)'

    # Immutable: mmengine deep-copies ``metainfo`` on every access; sharing is safe and keeps that cheap.
    def __copy__(self) -> 'Vocabulary':
        return self

    def __deepcopy__(self, memo: dict) -> 'Vocabulary':
        return self

    # -- views --------------------------------------------------------------------------------------
    @property
    def categories(self) -> Tuple[Category, ...]:
        return self._categories

    @property
    def ids(self) -> np.ndarray:
        """Category ids in label order, int64 array of shape (K,)."""
        return self._ids.copy()

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self._categories)

    @property
    def prompt_names(self) -> Tuple[str, ...]:
        return tuple(c.prompt_name for c in self._categories)

    def prompt_texts(self, name_rule: str = 'default') -> Tuple[str, ...]:
        """The text of every category under a name rule (:mod:`ovd.data.name_rules`), in label order.

        ``'default'`` gives :attr:`prompt_names`; a method's rule (``'glip'``, ``'mdetr'``, ``'vild'``,
        ``'baron'``, optionally with ``'+unique'``) reads what its official code reads, e.g. LVIS
        ``bow_(weapon)`` -> ``'bow '`` under ``'glip'``, ``'bow (weapon)'`` under ``'vild'``.
        """
        rule = parse_name_rule(name_rule)
        if rule == ('default', False):
            return self.prompt_names
        cached = self._texts.get(name_rule)
        if cached is None:
            cached = tuple(category_texts(self.names, [c.source_name for c in self._categories], name_rule))
            self._texts[name_rule] = cached
        return cached

    def article_names(self, name_rule: str = 'default') -> Tuple[str, ...]:
        """Per category, the string whose first letter picks the template article ("a"/"an") under
        ``name_rule``: ViLD and BARON take it from the dataset's own spelling, the others from the text."""
        return tuple(article_names([c.source_name for c in self._categories], self.prompt_texts(name_rule),
                                   name_rule))

    @property
    def frequencies(self) -> Tuple[Optional[str], ...]:
        return tuple(c.frequency for c in self._categories)

    @property
    def splits(self) -> Tuple[Optional[str], ...]:
        return tuple(c.split for c in self._categories)

    def has_id(self, cat_id: int) -> bool:
        return int(cat_id) in self._index

    def index_of_id(self, cat_id: int) -> int:
        """The label (position) of a category id; KeyError naming the vocabulary if it is not in it."""
        try:
            return self._index[int(cat_id)]
        except KeyError:
            raise KeyError(f'category id {cat_id} is not in vocabulary {self.name!r}') from None

    def labels_of_ids(self, cat_ids: np.ndarray) -> np.ndarray:
        """Map category ids to labels, -1 where an id is not in the vocabulary.

        Args:
            cat_ids (np.ndarray): Integer category ids, any shape.

        Returns:
            np.ndarray: int64 labels, same shape as ``cat_ids``.
        """
        cat_ids = np.asarray(cat_ids, dtype=np.int64)
        inside = (cat_ids >= 0) & (cat_ids < len(self._lut))
        labels = np.full(cat_ids.shape, -1, dtype=np.int64)
        labels[inside] = self._lut[cat_ids[inside]]
        return labels

    def indices(self, split: Optional[str] = None, frequency: Optional[Iterable[str]] = None) -> List[int]:
        """Labels of the categories in ``split`` and/or with a frequency in ``frequency``."""
        freqs = None if frequency is None else set(frequency)
        return [i for i, c in enumerate(self._categories)
                if (split is None or c.split == split) and (freqs is None or c.frequency in freqs)]

    def subset(self, split: Optional[str] = None, frequency: Optional[Iterable[str]] = None,
               name: Optional[str] = None) -> 'Vocabulary':
        """A new vocabulary with only the categories in ``split`` / ``frequency`` (order kept).

        Labels of the subset index into the subset, e.g. ``get_vocabulary('ov_lvis').subset('base')`` has
        866 categories named ``'ov_lvis:base'``.
        """
        keep = self.indices(split, frequency)
        suffix = split if split is not None else ''.join(sorted(frequency or ()))
        return Vocabulary(name or f'{self.name}:{suffix}', [self._categories[i] for i in keep])

    def metainfo(self) -> dict:
        """The dataset ``metainfo`` entries for this vocabulary: ``vocabulary`` and mmdet's ``classes``."""
        return dict(vocabulary=self, classes=self.names)


# -- built-ins --------------------------------------------------------------------------------------

# OV-COCO split of Bansal et al., "Zero-Shot Object Detection" (ECCV 2018), adopted by OVR-CNN (Zareian et
# al., CVPR 2021) and then Detic, ViLD, BARON and ovdet: 48 base (seen) and 17 novel (unseen) classes.
OV_COCO_BASE = (
    'person', 'bicycle', 'car', 'motorcycle', 'train', 'truck', 'boat', 'bench', 'bird', 'horse', 'sheep',
    'bear', 'zebra', 'giraffe', 'backpack', 'handbag', 'suitcase', 'frisbee', 'skis', 'kite', 'surfboard',
    'bottle', 'fork', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'pizza',
    'donut', 'chair', 'bed', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'microwave', 'oven', 'toaster',
    'refrigerator', 'book', 'clock', 'vase', 'toothbrush')
OV_COCO_NOVEL = (
    'airplane', 'bus', 'cat', 'dog', 'cow', 'elephant', 'umbrella', 'tie', 'snowboard', 'skateboard', 'cup',
    'knife', 'cake', 'couch', 'keyboard', 'sink', 'scissors')


def _read_json(filename: str) -> list:
    with open(METADATA_DIR / filename, encoding='utf-8') as f:
        return json.load(f)


def _coco(ov_marks: bool, keep_excluded: bool, name: str) -> Vocabulary:
    split_of = {n: 'base' for n in OV_COCO_BASE}
    split_of.update({n: 'novel' for n in OV_COCO_NOVEL})
    cats = []
    for rec in _read_json('coco_categories.json'):
        split = split_of.get(rec['name']) if ov_marks else None
        if ov_marks and split is None and not keep_excluded:
            continue
        cats.append(Category.make(rec['id'], rec['name'], split=split))
    return Vocabulary(name, cats)


def _lvis(filename: str, name: str, ov_split: bool) -> Vocabulary:
    cats = []
    for rec in sorted(_read_json(filename), key=lambda r: r['id']):
        split = ('novel' if rec['frequency'] == 'r' else 'base') if ov_split else None
        cats.append(Category.make(rec['id'], rec['name'], synonyms=rec.get('synonyms', ()),
                                  frequency=rec['frequency'], split=split))
    return Vocabulary(name, cats)


def _objects365(filename: str, name: str) -> Vocabulary:
    cats = []
    with open(METADATA_DIR / filename, encoding='utf-8', newline='') as f:
        for row in csv.reader(f):
            if not row:
                continue
            cat_id, source_name, fixed = row
            cats.append(Category.make(int(cat_id), fixed.strip(), source_name=source_name))
    return Vocabulary(name, cats)


def _ov_world(name: str) -> Vocabulary:
    from .synthetic.ov_world import world_categories  # the world's split is generated, not a metadata file
    return Vocabulary(name, [Category.make(c.id, c.name, frequency=c.frequency, split=c.split)
                             for c in world_categories()])


_BUILDERS = {
    'coco': lambda: _coco(False, True, 'coco'),
    'ov_coco': lambda: _coco(True, False, 'ov_coco'),
    'ov_coco_80': lambda: _coco(True, True, 'ov_coco_80'),
    'lvis_v1': lambda: _lvis('lvis_v1_categories.json', 'lvis_v1', False),
    'ov_lvis': lambda: _lvis('lvis_v1_categories.json', 'ov_lvis', True),
    'lvis_v0.5': lambda: _lvis('lvis_v0.5_categories.json', 'lvis_v0.5', False),
    'objects365_v1': lambda: _objects365('objects365_v1_names_fix.csv', 'objects365_v1'),
    'objects365_v2': lambda: _objects365('objects365_v2_names_fix.csv', 'objects365_v2'),
    'ov_world': lambda: _ov_world('ov_world'),
}

BUILTIN_VOCABULARIES = tuple(_BUILDERS)

VocabularyLike = Union[str, Vocabulary]


@cache
def _builtin(name: str) -> Vocabulary:
    return _BUILDERS[name]()


def get_vocabulary(name: VocabularyLike) -> Vocabulary:
    """Return a built-in vocabulary by name, or a subset ``'<name>:<split>'`` (e.g. ``'ov_lvis:base'``).

    Args:
        name (str | Vocabulary): A built-in name (see the module docstring) or a Vocabulary (returned as is).

    Returns:
        Vocabulary: The (cached, immutable) vocabulary.
    """
    if isinstance(name, Vocabulary):
        return name
    base_name, _, split = str(name).partition(':')
    if base_name not in _BUILDERS:
        raise KeyError(f'unknown vocabulary {name!r}; built-ins: {", ".join(BUILTIN_VOCABULARIES)}')
    vocab = _builtin(base_name)
    if not split:
        return vocab
    if split in SPLITS:
        return vocab.subset(split=split)
    if set(split) <= set(FREQUENCIES):
        return vocab.subset(frequency=split)
    raise KeyError(f'unknown subset {split!r} in {name!r}: use base, novel or frequency letters (e.g. cf)')


def vocabulary_from_categories(name: str, records: Sequence[dict]) -> Vocabulary:
    """Build a vocabulary from COCO-style category records (``id``, ``name``, optional ``synonyms``,
    ``frequency``, ``split``), sorted by id, e.g. for a custom annotation file."""
    cats = [Category.make(r['id'], r['name'], synonyms=r.get('synonyms', ()), frequency=r.get('frequency'),
                          split=r.get('split')) for r in sorted(records, key=lambda r: r['id'])]
    return Vocabulary(name, cats)


__all__ = [
    'BUILTIN_VOCABULARIES',
    'OV_COCO_BASE',
    'OV_COCO_NOVEL',
    'Category',
    'Vocabulary',
    'VocabularyLike',
    'get_vocabulary',
    'normalize_name',
    'vocabulary_from_categories',
]
