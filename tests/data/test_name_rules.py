"""Name rules: each method's official class-name text on hard cases, and on the built-in vocabularies.

The expected strings are worked out by hand from the official functions (cited in configs/<method>/README.md):
GLIP's and MDETR's ``clean_name`` (greedy ``\\(.*\\)`` removed, ``_`` -> space, one pass of two spaces -> one,
nothing stripped) and ViLD's / ovdet's ``processed_name(name, rm_dot=True)`` (``_`` -> space, ``/`` -> " or ",
lower case, trailing dots removed).
"""
import pytest

from ovd.data.name_rules import (
    NAME_RULES,
    apply_name_rule,
    default_text,
    grounding_clean_text,
    parse_name_rule,
    text_collisions,
    vild_text,
)
from ovd.data.vocab import BUILTIN_VOCABULARIES, get_vocabulary


@pytest.mark.parametrize('raw, expected', [
    ('bow_(weapon)', 'bow '),  # the qualifier goes, its underscore stays as a trailing space
    ('bow_(decorative_ribbons)', 'bow '),
    ('football_(American)', 'football '),
    ('monitor_(computer_equipment) computer_monitor', 'monitor computer monitor'),
    ('salad_plate/side_plate', 'salad plate/side plate'),
    ('cabinet/shelf', 'cabinet/shelf'),
    ('tea pot', 'tea pot'),
    ('tissue ', 'tissue '),
    ('Tape Measur/ Ruler', 'Tape Measur/ Ruler'),
    ('Cigar/Cigarette ', 'Cigar/Cigarette '),
    ('a_(b)_c_(d)', 'a '),  # greedy: from the first "(" to the last ")"
    ('a_(b)_c', 'a c'),
    ('x___y', 'x  y'),  # three spaces: one pair replaced, one pass
    ('x____y', 'x  y'),  # four spaces become two, not one
])
def test_glip_and_mdetr_clean_name(raw, expected):
    assert grounding_clean_text(raw) == expected
    assert apply_name_rule([raw], 'glip') == apply_name_rule([raw], 'mdetr') == [expected]


@pytest.mark.parametrize('raw, expected', [
    ('bow_(weapon)', 'bow (weapon)'),
    ('monitor_(computer_equipment) computer_monitor', 'monitor (computer equipment) computer monitor'),
    ('salad_plate/side_plate', 'salad plate or side plate'),
    ('Band_Aid', 'band aid'),
    ('Moniter/TV', 'moniter or tv'),
    ('Tape Measur/ Ruler', 'tape measur or  ruler'),  # the space after "/" stays
    ('Formula 1 ', 'formula 1 '),
    ('st._bernard..', 'st. bernard'),  # rm_dot: trailing dots only
])
def test_vild_and_baron_processed_name(raw, expected):
    assert vild_text(raw) == expected
    assert apply_name_rule([raw], 'vild') == apply_name_rule([raw], 'baron') == [expected]


def test_default_rule_keeps_qualifier_and_slash():
    assert default_text('bow_(weapon)') == 'bow (weapon)'
    assert default_text('Tape Measur/ Ruler') == 'Tape Measur/Ruler'
    assert default_text('  two   spaces_ ') == 'two spaces'


def test_lvis_v1_under_glip_and_mdetr():
    """Issue 20's count from the official code: 107 LVIS v1 texts keep a trailing space, 31 of them rare."""
    lvis = get_vocabulary('lvis_v1')
    texts = lvis.prompt_texts('glip')
    assert texts == lvis.prompt_texts('mdetr')
    text = dict(zip(lvis.names, texts))
    assert (text['bow_(weapon)'], text['fish_(food)'], text['fish']) == ('bow ', 'fish ', 'fish')
    trailing = [i for i, t in enumerate(texts) if t != t.rstrip()]
    assert len(trailing) == 107
    assert sum(lvis[i].frequency == 'r' for i in trailing) == 31
    # The official rule merges five pairs (whitespace aside); fidelity keeps it, and the groups are known.
    groups = {tuple(sorted(lvis[i].name for i in idx)) for idx in text_collisions(texts).values()}
    assert groups == {('bow_(decorative_ribbons)', 'bow_(weapon)'), ('fish', 'fish_(food)'),
                      ('octopus_(animal)', 'octopus_(food)'), ('pan_(for_cooking)', 'pan_(metal_container)'),
                      ('salmon_(fish)', 'salmon_(food)')}
    assert len(text_collisions(texts, strip=False)) == 4  # 'fish' and 'fish ' differ as strings


def test_unique_switch_falls_back_to_the_default_text_for_merged_categories_only():
    lvis = get_vocabulary('lvis_v1')
    official, unique = lvis.prompt_texts('glip'), lvis.prompt_texts('glip+unique')
    merged = {i for idx in text_collisions(official).values() for i in idx}
    assert len(merged) == 10
    assert all(unique[i] == (lvis[i].prompt_name if i in merged else official[i]) for i in range(len(lvis)))
    text = dict(zip(lvis.names, unique))
    assert (text['bow_(weapon)'], text['fish_(food)'], text['fish']) == ('bow (weapon)', 'fish (food)', 'fish')
    assert not text_collisions(unique)


def test_objects365_under_glip_is_the_release_spelling():
    """GLIP prompts Objects365 with the release's names through clean_name, which leaves them as they are."""
    for version in ('v1', 'v2'):
        vocab = get_vocabulary(f'objects365_{version}')
        assert vocab.prompt_texts('glip') == tuple(c.source_name for c in vocab)
    v1 = get_vocabulary('objects365_v1')
    text = dict(zip(v1.names, v1.prompt_texts('glip')))
    assert (text['cabinet/shelf'], text['teapot'], text['tissue']) == ('cabinet/shelf', 'tea pot', 'tissue ')
    v2 = get_vocabulary('objects365_v2')
    assert v2.prompt_texts('glip')[v2.index_of_id(38)] == 'Moniter/TV'
    assert v2.prompt_texts('glip')[v2.index_of_id(309)] == 'Formula 1 '


def test_vild_rule_on_builtins_and_its_articles():
    lvis = get_vocabulary('ov_lvis')
    text = dict(zip(lvis.names, lvis.prompt_texts('vild')))
    assert (text['bow_(weapon)'], text['Band_Aid']) == ('bow (weapon)', 'band aid')
    v2 = get_vocabulary('objects365_v2')
    i = v2.index_of_id(4)
    # ViLD's article reads the dataset's own spelling: 'Other Shoes' starts with "O", so "a", not "an"
    assert (v2.prompt_texts('vild')[i], v2.article_names('vild')[i]) == ('other shoes', 'Other Shoes')
    assert v2.article_names('default')[i] == 'Other Shoes' and v2.article_names('glip')[i] == 'Other Shoes'
    assert v2.prompt_texts('vild')[v2.index_of_id(38)] == 'moniter or tv'


@pytest.mark.parametrize('vocab_name', BUILTIN_VOCABULARIES)
def test_every_rule_gives_text_and_unique_restores_uniqueness(vocab_name):
    vocab = get_vocabulary(vocab_name)
    for rule in NAME_RULES:
        texts = vocab.prompt_texts(rule)
        assert len(texts) == len(vocab) and all(t.strip() for t in texts)
        assert not text_collisions([t.lower() for t in vocab.prompt_texts(rule + '+unique')])


def test_bad_rules_and_empty_texts_are_named():
    with pytest.raises(ValueError, match="unknown name_rule 'clip'.*default, vild, baron, glip, mdetr"):
        parse_name_rule('clip')
    with pytest.raises(ValueError, match="name_rule 'glip': category 1 \\('\\(blank\\)'\\) has no text left"):
        apply_name_rule(['cat', '(blank)'], 'glip')
    with pytest.raises(ValueError, match='unknown name_rule'):
        get_vocabulary('coco').prompt_texts('glip+unique+unique')
    assert parse_name_rule('mdetr+unique') == ('mdetr', True)


def test_vild_article_reaches_the_prompts():
    """ViLD's prompt for Objects365 v2 'Other Shoes' reads "a other shoes" (article of the dataset's spelling)."""
    from ovd.text.class_embeddings import class_prompt_names
    from ovd.text.templates import fill_templates
    texts, articles = class_prompt_names('objects365_v2', 'vild')
    i = get_vocabulary('objects365_v2').index_of_id(4)
    assert fill_templates(texts[i], ['a photo of {article} {}.'], article_name=articles[i]) == \
        ['This is a photo of a other shoes.']
    assert fill_templates(texts[i], ['a photo of {article} {}.']) == ['This is a photo of an other shoes.']
