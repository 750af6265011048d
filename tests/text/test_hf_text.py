"""HF text encoders (BERT for GLIP, RoBERTa for MDETR) from a local directory, and clear loading errors."""

import pytest
import torch

from ovd.data.synthetic.tiny_text import TINY_HIDDEN_SIZE, tiny_bert_dir, tiny_roberta_dir
from ovd.text.hf import HFTextEncoder, load_tokenizer


def test_bert_from_directory_pads_to_max_tokens():
    enc = HFTextEncoder(str(tiny_bert_dir()), max_tokens=16)
    out = enc(['cat. hair dryer', 'dog'])
    assert out['hidden'].shape == (2, 16, TINY_HIDDEN_SIZE)
    assert out['masks'][1].tolist() == [1, 1, 1] + [0] * 13  # [CLS] dog [SEP]
    assert out['offset_mapping'].shape == (2, 16, 2)


def test_roberta_longest_padding_and_layer_average():
    last = HFTextEncoder(str(tiny_roberta_dir()), padding='longest')
    avg = HFTextEncoder(str(tiny_roberta_dir()), padding='longest', num_layers_out=2)
    batch = last.tokenize(['a man', 'a hair dryer'])
    h_last, h_avg = last(batch)['hidden'], avg(batch)['hidden']
    assert h_last.shape == h_avg.shape == (2, batch['input_ids'].shape[1], TINY_HIDDEN_SIZE)
    with torch.no_grad():
        states = last.model(
            input_ids=batch['input_ids'], attention_mask=batch['attention_mask'], output_hidden_states=True
        ).hidden_states
    assert torch.allclose(h_avg, (states[-1] + states[-2]) / 2, atol=1e-6)
    assert torch.allclose(h_last, states[-1], atol=1e-6)


def test_random_init_and_identity():
    a = HFTextEncoder(str(tiny_bert_dir()), pretrained=True)
    b = HFTextEncoder(str(tiny_bert_dir()), pretrained=False)
    assert a.identity() != b.identity() and a.identity().startswith('hf:')
    assert load_tokenizer(str(tiny_bert_dir())).is_fast


def test_missing_directory_error_names_it(tmp_path):
    with pytest.raises(OSError, match='no_model_here'):
        HFTextEncoder(str(tmp_path / 'no_model_here'))
    with pytest.raises(ValueError, match='padding'):
        HFTextEncoder(str(tiny_bert_dir()), padding='sometimes')
