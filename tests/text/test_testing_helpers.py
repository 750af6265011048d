"""The offline test helpers in ovd.data.synthetic.tiny_text: tiny tokenizers split words into sub-words, tiny
models load back."""

import torch
from transformers import AutoModel, AutoTokenizer

from ovd.data.synthetic.tiny_text import (
    TINY_HIDDEN_SIZE,
    build_tiny_bert_tokenizer,
    build_tiny_roberta_tokenizer,
    save_tiny_bert,
    save_tiny_roberta,
)


def test_tiny_bert_tokenizer_splits_rare_names_into_wordpieces():
    tok = build_tiny_bert_tokenizer()
    assert tok.is_fast and tok.cls_token == '[CLS]'
    pieces = tok.tokenize('hair dryer')
    assert pieces[0] == 'hair' and len(pieces) > 2 and all(p.startswith('##') for p in pieces[2:])
    enc = tok('cat. dog', return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(enc.input_ids) == ['[CLS]', 'cat', '.', 'dog', '[SEP]']
    assert enc.offset_mapping == [(0, 0), (0, 3), (3, 4), (5, 8), (0, 0)]


def test_tiny_roberta_tokenizer_is_byte_level_with_trimmed_offsets():
    tok = build_tiny_roberta_tokenizer()
    enc = tok('cat. dog', return_offsets_mapping=True)
    tokens = tok.convert_ids_to_tokens(enc.input_ids)
    assert tokens[0] == '<s>' and tokens[-1] == '</s>' and tokens[3] == '\u0120dog'  # G-dot marks the space
    assert enc.offset_mapping[3] == (5, 8)  # the leading space is trimmed from the offsets
    assert len(tok.tokenize(' hair dryer')) > 2


def test_tiny_models_round_trip_through_from_pretrained(tmp_path):
    for save in (save_tiny_bert, save_tiny_roberta):
        path = save(tmp_path / save.__name__)
        model, tok = (
            AutoModel.from_pretrained(path, add_pooling_layer=False),
            AutoTokenizer.from_pretrained(path),
        )
        batch = tok(['a cat', 'a hair dryer'], padding=True, return_tensors='pt')
        out = model(**batch).last_hidden_state
        assert out.shape == (2, batch.input_ids.shape[1], TINY_HIDDEN_SIZE)
        again = AutoModel.from_pretrained(save(tmp_path / (save.__name__ + "2")), add_pooling_layer=False)
        assert all(
            torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values())
        )


def test_learn_bpe_merges_by_count_then_text():
    from ovd.data.synthetic.tiny_text.tokenizers import learn_bpe
    words = {('a', 'b', 'c'): 2, ('a', 'b'): 1, ('b', 'c'): 2}
    # (b, c) occurs 4 times, (a, b) 3: merge (b, c); then (a, bc) twice beats (a, b) once
    assert learn_bpe(words, 5) == [('b', 'c'), ('a', 'bc'), ('a', 'b')]
    assert learn_bpe({('x', 'y'): 1, ('a', 'b'): 1}, 1) == [('a', 'b')]  # a tie goes to the smaller text


def test_tokenizers_are_identical_across_processes():
    """The library's trainers break ties by hash order (a new vocabulary per process); ours do not."""
    import subprocess
    import sys
    from pathlib import Path

    from ovd.data.synthetic.tiny_text.tokenizers import _byte_level_bpe, _wordpiece_vocab
    root = Path(__file__).resolve().parents[2]
    # a bare process loading only the module's file (not ovd, torch or transformers): it starts in a second
    code = ('import sys, importlib.util as u; s = u.spec_from_file_location("t", sys.argv[1]); '
            'm = u.module_from_spec(s); s.loader.exec_module(m); '
            'print(repr((m._wordpiece_vocab(400), m._byte_level_bpe(600))))')
    module_file = str(root / 'ovd' / 'data' / 'synthetic' / 'tiny_text' / 'tokenizers.py')
    out = subprocess.run([sys.executable, '-c', code, module_file], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert eval(out.stdout) == (_wordpiece_vocab(400), _byte_level_bpe(600))


def test_tiny_bert_keeps_whole_words_whole(tmp_path):
    default = AutoTokenizer.from_pretrained(save_tiny_bert(tmp_path / 'default'))
    words = AutoTokenizer.from_pretrained(save_tiny_bert(tmp_path / 'words', whole_words=['red striped star']))
    assert len(default.tokenize('red striped star')) > 3
    assert words.tokenize('a red striped star.') == ['a', 'red', 'striped', 'star', '.']
