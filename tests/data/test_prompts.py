"""Prompt layer: captions with spans, vocabulary chunks, negative sampling under a token budget, positive
maps."""

import random
import re

import pytest
import torch

from ovd.data.prompts import (
    build_caption,
    build_chunked_prompts,
    build_positive_map,
    chunk_vocabulary,
    sample_detection_prompt,
)
from ovd.data.synthetic.tiny_text import build_tiny_bert_tokenizer, build_tiny_roberta_tokenizer


@pytest.fixture(scope='module')
def bert_tok():
    return build_tiny_bert_tokenizer()


@pytest.fixture(scope='module')
def roberta_tok():
    return build_tiny_roberta_tokenizer()


def test_build_caption_spans():
    caption, spans = build_caption(['cat', 'dog', 'hair dryer'])
    assert caption == 'cat. dog. hair dryer'
    assert spans == [(0, 3), (5, 8), (10, 20)]
    assert [caption[s:e] for s, e in spans] == ['cat', 'dog', 'hair dryer']
    with pytest.raises(ValueError, match='name 1'):
        build_caption(['cat', ' '])


def test_chunk_vocabulary_lvis_gives_31_prompts():
    chunks = chunk_vocabulary(1203)
    assert len(chunks) == 31
    assert [len(c) for c in chunks] == [40] * 30 + [3]
    assert sum(chunks, []) == list(range(1203))
    assert chunk_vocabulary(80, 40) == [list(range(40)), list(range(40, 80))]
    assert chunk_vocabulary(0) == []
    with pytest.raises(ValueError):
        chunk_vocabulary(10, 0)


def test_chunked_prompts_cover_names():
    names = [f'name{i}' for i in range(85)]
    prompts = build_chunked_prompts(names, chunk_size=40)
    assert [len(p.label_ids) for p in prompts] == [40, 40, 5]
    last = prompts[-1]
    assert last.caption == 'name80. name81. name82. name83. name84'
    assert [last.caption[s:e] for s, e in last.spans] == names[80:]


def test_negative_sampling_counts_and_positions():
    names = [f'class{i}' for i in range(200)]
    rng = random.Random(0)
    p = sample_detection_prompt(
        names, [3, 3, 7], num_negatives=85, max_tokens=10_000, full_sampling_prob=1.0, rng=rng
    )
    assert sorted(p.positive_label_ids) == [3, 7] and p.dropped_label_ids == []
    assert len(p.negative_label_ids) == 85 and not {3, 7} & set(p.negative_label_ids)
    assert len(set(p.label_ids)) == 87 == len(p.spans)
    for label, (s, e) in zip(p.label_ids, p.spans):
        assert p.caption[s:e] == names[label]
    assert all(p.label_ids[p.label_to_phrase[label]] == label for label in (3, 7))


def test_negative_count_is_random_when_not_full_and_capped_by_vocabulary():
    names = [f'c{i}' for i in range(30)]
    counts = {
        len(
            sample_detection_prompt(
                names, [0], num_negatives=85, max_tokens=10_000, full_sampling_prob=0.0, rng=random.Random(s)
            ).negative_label_ids
        )
        for s in range(60)
    }
    assert counts <= set(range(1, 30)) and len(counts) > 5  # uniform in [1, 29]: 29 = all non-positive names
    full = sample_detection_prompt(
        names, [0], num_negatives=85, max_tokens=10_000, full_sampling_prob=1.0, rng=random.Random(0)
    )
    assert len(full.negative_label_ids) == 29


def test_budget_drops_positives_and_counts_them(bert_tok):
    names = ['cat', 'dog', 'person', 'car', 'hair dryer']
    # "[CLS] cat . dog [SEP]" = 5 tokens: two one-token names fit in 5, the third positive does not.
    p = sample_detection_prompt(
        names,
        [0, 1, 2],
        num_negatives=0,
        max_tokens=5,
        tokenizer=bert_tok,
        shuffle=False,
        rng=random.Random(0),
    )
    assert p.caption == 'cat. dog' and p.positive_label_ids == [0, 1]
    assert p.dropped_label_ids == [2]
    assert len(bert_tok(p.caption)['input_ids']) <= 5


def test_budget_respected_exactly_with_real_tokenizer(bert_tok):
    names = ['refrigerator', 'hair dryer', 'baseball glove', 'toothbrush', 'teddy bear', 'wine glass'] * 10
    for seed in range(5):
        p = sample_detection_prompt(
            names, [0, 1], num_negatives=85, max_tokens=24, tokenizer=bert_tok, rng=random.Random(seed)
        )
        assert len(bert_tok(p.caption)['input_ids']) <= 24
        assert len(p.label_ids) + p.num_negatives_dropped + len(p.dropped_label_ids) >= 2


def test_positive_map_multi_subword_bert(bert_tok):
    caption, spans = build_caption(['cat', 'hair dryer'])
    enc = bert_tok(caption, return_offsets_mapping=True)
    tokens = bert_tok.convert_ids_to_tokens(enc['input_ids'])
    assert tokens == ['[CLS]', 'cat', '.', 'hair', 'dr', '##y', '##er', '[SEP]']
    pm = build_positive_map(enc, [[s] for s in spans], max_tokens=12)
    assert pm.shape == (2, 12)
    assert pm[0].nonzero().flatten().tolist() == [1]
    assert pm[1].nonzero().flatten().tolist() == [3, 4, 5, 6]  # every sub-word of "hair dryer"
    pmn = build_positive_map(enc, [[s] for s in spans], max_tokens=12, normalize=True)
    assert torch.allclose(pmn[1, 3:7], torch.full((4,), 0.25)) and torch.allclose(pmn.sum(-1), torch.ones(2))


def test_positive_map_byte_level_roberta_and_multi_span(roberta_tok):
    caption = 'a man with a hair dryer and a man'
    enc = roberta_tok(caption, return_offsets_mapping=True, return_tensors='pt')  # batch of 1 is accepted
    tokens = roberta_tok.convert_ids_to_tokens(enc['input_ids'][0])
    pm = build_positive_map(enc, [[(13, 23)], [(2, 5), (30, 33)]], max_tokens=20)
    hair_dryer = [i for i, t in enumerate(tokens) if t.lstrip('\u0120') in {'hair', 'dr', 'y', 'er'}]
    assert pm[0].nonzero().flatten().tolist() == hair_dryer and len(hair_dryer) >= 3
    man_tokens = [tokens[i].lstrip('\u0120') for i in pm[1].nonzero().flatten().tolist()]
    assert ''.join(man_tokens) == 'manman'  # both spans, whatever the sub-word split of "man"


def test_positive_map_truncation_and_errors(bert_tok):
    caption, spans = build_caption(['cat', 'dog'])
    enc = bert_tok(caption, return_offsets_mapping=True)
    pm = build_positive_map(enc, [[spans[0]], [spans[1]]], max_tokens=3)
    assert pm[0].tolist() == [0, 1, 0] and pm[1].sum() == 0  # "dog" is token 3, cut off
    with pytest.raises(ValueError, match='offsets'):
        build_positive_map({'input_ids': [1, 2]}, [[(0, 1)]])
    with pytest.raises(ValueError, match='phrase 0'):
        build_positive_map(enc, [[(3, 3)]])


def test_positive_map_equals_mmdet_glip_on_random_prompts(bert_tok, roberta_tok):
    """Parity with mmdet's GLIP ``create_positive_map`` (char_to_token based) on sub-word-heavy captions."""
    from mmdet.models.detectors.glip import create_positive_map

    vocab = [
        'hair dryer',
        'teddy bear',
        'refrigerator',
        'cat',
        'baseball glove',
        'wine glass',
        'toothbrush',
        'fire hydrant',
        'person',
        'traffic light',
        'aerosol can',
        'alarm clock',
    ]
    rng = random.Random(3)
    for tok in (bert_tok, roberta_tok):
        for _ in range(10):
            names = rng.sample(vocab, 6)
            caption, spans = build_caption(names)
            enc = tok(caption, return_offsets_mapping=True)
            ours = build_positive_map(enc, [[s] for s in spans], max_tokens=64, normalize=True)
            theirs = create_positive_map(enc, [[s] for s in spans], max_num_entities=64)
            assert torch.allclose(ours, theirs, atol=1e-5)


def test_positive_map_keeps_whitespace_tokens_inside_a_span_as_official(roberta_tok):
    """The official rule fills every token from char_to_token(start) to char_to_token(end - 1): a byte-level
    BPE's bare 'Ġ' token (empty offsets) inside a phrase is positive, also after a double space."""
    from mmdet.models.detectors.glip import create_positive_map  # the official rule, as mmdet 3.3 ships it

    rng = random.Random(5)
    words = ['a', 'man', 'in', 'red', 'shirt', 'riding', 'bike', 'next', 'to', 'dog', 'hair', 'dryer']
    found_inner_space_token = False
    for _ in range(30):
        text = ''.join(rng.choice(words) + rng.choice([' ', ' ', '  ']) for _ in range(8)).strip()
        bounds = [m.span() for m in re.finditer(r'\S+', text)]
        spans = []
        for _ in range(4):
            i = rng.randrange(len(bounds))
            j = rng.randrange(i, min(i + 3, len(bounds)))
            spans.append([(bounds[i][0], bounds[j][1])])
        enc = roberta_tok(text, return_offsets_mapping=True)
        ours = build_positive_map(enc, spans, max_tokens=64, normalize=True)
        theirs = create_positive_map(enc, spans, max_num_entities=64)
        assert torch.equal(ours, theirs), text
        tokens = roberta_tok.convert_ids_to_tokens(enc['input_ids'])
        for row in build_positive_map(enc, spans, max_tokens=64):
            idx = row.nonzero().flatten().tolist()
            found_inner_space_token |= any(tokens[k] == '\u0120' for k in idx[1:-1])
    assert found_inner_space_token  # the case the old overlap rule dropped is exercised
