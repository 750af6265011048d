"""The world's tiny RoBERTa: every world word one token, other text as the tiny RoBERTa, written once and reused."""
import pytest

from ovd.data.synthetic.ov_world import world_words
from ovd.data.synthetic.tiny_text import build_tiny_roberta_tokenizer
from ovd.data.synthetic.world_roberta import build_world_roberta_tokenizer, ensure_world_roberta
from ovd.text.hf import HFTextEncoder, load_tokenizer


def test_world_words_are_single_tokens_with_offsets():
    tok = build_world_roberta_tokenizer(world_words())
    caption = 'yellow striped ellipse. a red star left of a blue rectangle'
    enc = tok(caption, return_offsets_mapping=True)
    pieces = tok.convert_ids_to_tokens(enc['input_ids'])
    words = caption.replace('.', ' .').split()
    assert pieces[0] == '<s>' and pieces[-1] == '</s>' and len(pieces) == len(words) + 2
    assert [caption[s:e] for s, e in enc['offset_mapping'][1:-1]] == words
    # the plain tiny RoBERTa cuts the same words into near letters; other text tokenizes as it does
    assert len(build_tiny_roberta_tokenizer()(caption)['input_ids']) > 2 * len(enc['input_ids'])
    other = 'a photo of a cat. hair dryer'
    assert tok.tokenize(other) == build_tiny_roberta_tokenizer().tokenize(other)
    with pytest.raises(ValueError, match="single words, got 'red star'"):
        build_world_roberta_tokenizer(['red star'])


def test_written_once_loadable_and_deterministic(tmp_path):
    first = ensure_world_roberta(tmp_path / 'a')
    assert first == tmp_path / 'a' / 'tiny_roberta'
    weights = (first / 'model.safetensors').read_bytes()
    assert ensure_world_roberta(tmp_path / 'a') == first  # reused, not rewritten
    assert (ensure_world_roberta(tmp_path / 'b') / 'model.safetensors').read_bytes() == weights
    tokenizer = load_tokenizer(str(first))
    assert tokenizer.tokenize('blue striped star') == ['blue', 'Ġstriped', 'Ġstar']
    encoder = HFTextEncoder(str(first), padding='longest')
    out = encoder(['blue striped star', 'red ellipse'])
    assert out['hidden'].shape[:2] == (2, 5) and out['masks'].sum().item() == 5 + 4
