"""Name rules: how a category name becomes the text a method's text encoder reads.

A dataset spells its categories its own way (LVIS ``bow_(weapon)``, Objects365 v2 ``Cabinet/shelf`` or
``Formula 1 `` with a trailing space), and each method's official code turns them into text in its own way.
ovd keeps one rule per spelling, selected by name (the ``name_rule`` key of datasets and class-embedding
configs); each method's configs select its official rule, so a released checkpoint sees the text it was
trained with.

- ``default`` (reads ``Category.name``): ``_`` -> space, qualifiers kept, ``/`` kept (spaces around it removed),
  runs of whitespace collapsed, ends stripped: ``bow_(weapon)`` -> ``bow (weapon)``, ``Tape Measure/ Ruler`` ->
  ``Tape Measure/Ruler``.
- ``vild`` (reads ``Category.source_name``): ViLD's ``processed_name``: ``_`` -> space, ``/`` -> " or ", lower case,
  trailing ``.`` removed, qualifier kept: ``bow (weapon)``, ``cabinet or shelf``. The template article
  ("a"/"an") comes from the dataset's own spelling, as in ViLD's code.
- ``baron`` (reads ``source_name``): the same as ``vild`` (ovdet builds BARON's hand-crafted class embeddings with
  ViLD's function).
- ``glip`` (reads ``source_name``): GLIP's ``clean_name``: from the first ``(`` to the last ``)`` removed, ``_`` ->
  space, each pair of spaces -> one space (one pass), nothing stripped: ``bow_(weapon)`` -> ``bow `` (trailing
  space), ``cabinet/shelf`` and ``tea pot`` kept.
- ``mdetr`` (reads ``source_name``): MDETR's ``clean_name``, the same function as GLIP's.

Method rules read the dataset's own spelling (``Category.source_name``: what the official code reads from
the annotation file, typos included); the default rule reads the display name (``Category.name``, typo-fixed).
Where the official file and line of each rule are is written in ``configs/<method>/README.md``.

Uniqueness: the default rule never gives two categories of a built-in vocabulary the same text (a test checks
every built-in). An official rule may (GLIP's and MDETR's drop the qualifier, so LVIS ``bow_(weapon)`` and
``bow_(decorative_ribbons)`` both read ``bow ``); fidelity comes first, so such a rule stays as it is and
:func:`text_collisions` lists the groups. Appending ``+unique`` to a rule (``'glip+unique'``, a documented
deviation) gives every category of such a group its default-rule text instead, which restores uniqueness.
"""
import re
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

UNIQUE_SUFFIX = '+unique'

_UNDERSCORE = re.compile('_')
_GREEDY_PARENTHESES = re.compile(r'\(.*\)')  # from the first "(" to the last ")" on the line
_DOUBLE_SPACE = re.compile('  ')
_SPACED_SLASH = re.compile(r'\s*/\s*')


def default_text(name: str) -> str:
    """ovd's default: ``_`` -> space, qualifiers and ``/`` kept, whitespace collapsed (see the module table)."""
    text = _SPACED_SLASH.sub('/', name.replace('_', ' '))
    return ' '.join(text.split())


def vild_text(name: str) -> str:
    """ViLD's ``processed_name(name, rm_dot=True)``: ``_`` -> space, ``/`` -> " or ", lower case, trailing
    dots removed; qualifiers and other whitespace kept as they are."""
    return name.replace('_', ' ').replace('/', ' or ').lower().rstrip('.')


def grounding_clean_text(name: str) -> str:
    """GLIP's and MDETR's ``clean_name``: three regex substitutions, in order, and nothing else.

    The parenthesis pattern is greedy (``a_(b)_c_(d)`` loses everything from the first ``(`` to the last
    ``)``), the double-space substitution runs once (four spaces become two) and the ends are not stripped, so
    ``bow_(weapon)`` reads ``"bow "``.
    """
    text = _GREEDY_PARENTHESES.sub('', name)
    text = _UNDERSCORE.sub(' ', text)
    return _DOUBLE_SPACE.sub(' ', text)


class NameRule(NamedTuple):
    """One rule: the text function, which name it reads, and where the template article comes from."""
    text: Callable[[str], str]
    reads_source_name: bool
    article_from_source_name: bool


NAME_RULES: Dict[str, NameRule] = {
    'default': NameRule(default_text, reads_source_name=False, article_from_source_name=False),
    'vild': NameRule(vild_text, reads_source_name=True, article_from_source_name=True),
    'baron': NameRule(vild_text, reads_source_name=True, article_from_source_name=True),
    'glip': NameRule(grounding_clean_text, reads_source_name=True, article_from_source_name=False),
    'mdetr': NameRule(grounding_clean_text, reads_source_name=True, article_from_source_name=False),
}


def parse_name_rule(rule: str) -> Tuple[str, bool]:
    """Split ``'<rule>[+unique]'`` into the rule's name and the uniqueness switch; ValueError if unknown."""
    if not isinstance(rule, str):
        raise ValueError(f'name_rule must be a string, got {type(rule).__name__} {rule!r}')
    base, unique = (rule[:-len(UNIQUE_SUFFIX)], True) if rule.endswith(UNIQUE_SUFFIX) else (rule, False)
    if base not in NAME_RULES:
        known = ', '.join(NAME_RULES)
        raise ValueError(f'unknown name_rule {rule!r}: use one of {known}, optionally with "{UNIQUE_SUFFIX}"')
    return base, unique


def apply_name_rule(names: Sequence[str], rule: str) -> List[str]:
    """The text of each of ``names`` (raw dataset spellings) under ``rule``, e.g. for a user's name list.

    With ``+unique``, names whose texts collide get their default-rule text instead (see the module notes).
    """
    base, unique = parse_name_rule(rule)
    texts = [NAME_RULES[base].text(n) for n in names]
    if unique:
        texts = _deduplicate(texts, [default_text(n) for n in names], rule)
    _check_texts(texts, names, rule)
    return texts


def category_texts(names: Sequence[str], source_names: Sequence[str], rule: str) -> List[str]:
    """The texts of a vocabulary's categories under ``rule`` (display names and dataset spellings given)."""
    base, unique = parse_name_rule(rule)
    spec = NAME_RULES[base]
    read = source_names if spec.reads_source_name else names
    texts = [spec.text(n) for n in read]
    if unique:
        texts = _deduplicate(texts, [default_text(n) for n in names], rule)
    _check_texts(texts, read, rule)
    return texts


def article_names(source_names: Sequence[str], texts: Sequence[str], rule: str) -> List[str]:
    """The string whose first letter picks each category's template article ("a"/"an") under ``rule``."""
    spec = NAME_RULES[parse_name_rule(rule)[0]]
    return list(source_names) if spec.article_from_source_name else list(texts)


def text_collisions(texts: Sequence[str], strip: bool = True) -> Dict[str, List[int]]:
    """Groups of positions whose texts are equal, keyed by the text (``strip``: compared without the outer
    whitespace, as a whitespace-insensitive tokenizer such as BERT's sees them; RoBERTa's byte-level BPE
    does see a trailing space)."""
    groups: Dict[str, List[int]] = {}
    for i, text in enumerate(texts):
        groups.setdefault(text.strip() if strip else text, []).append(i)
    return {text: idx for text, idx in groups.items() if len(idx) > 1}


def _deduplicate(texts: List[str], fallback: List[str], rule: str) -> List[str]:
    out = list(texts)
    for idx in text_collisions(texts).values():
        for i in idx:
            out[i] = fallback[i]
    left = text_collisions(out)
    if left:
        text, idx = next(iter(left.items()))
        raise ValueError(f'name_rule {rule!r}: positions {idx} still share the text {text!r} after falling back '
                         'to the default rule (the default rule needs distinct names)')
    return out


def _check_texts(texts: Sequence[str], names: Sequence[str], rule: str) -> None:
    for i, (text, name) in enumerate(zip(texts, names)):
        if not text.strip():
            raise ValueError(f'name_rule {rule!r}: category {i} ({name!r}) has no text left')


__all__ = [
    'NAME_RULES',
    'UNIQUE_SUFFIX',
    'NameRule',
    'apply_name_rule',
    'article_names',
    'category_texts',
    'default_text',
    'grounding_clean_text',
    'parse_name_rule',
    'text_collisions',
    'vild_text',
]
