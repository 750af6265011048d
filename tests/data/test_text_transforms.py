"""Text transforms: detection -> grounding prompts (labels remapped, budget drops counted), positive maps,
packing into DetDataSample metainfo, and a Flickr30k sample through the pipeline."""

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.dataset import Compose

import ovd  # noqa: F401  (registers the transforms)
from ovd.registry import TRANSFORMS
from ovd.data.synthetic.tiny_text import build_tiny_bert_tokenizer, tiny_bert_dir

NAMES = ['cat', 'dog', 'person', 'hair dryer', 'car', 'bench', 'teddy bear', 'kite']


def det_results():
    return dict(
        img_path='x.jpg',
        text=list(NAMES),
        gt_bboxes=HorizontalBoxes(torch.tensor([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 4, 4.0]])),
        gt_bboxes_labels=np.array([3, 0, 3]),
        gt_ignore_flags=np.array([False, False, True]),
    )


def test_training_prompt_remaps_labels_to_phrases():
    t = TRANSFORMS.build(
        dict(type='DetectionToGroundingPrompt', num_negatives=4, full_sampling_prob=1.0, seed=0)
    )
    out = t(det_results())
    caption, phrase_labels = out['text'], out['phrase_label_ids']
    assert len(phrase_labels) == 6 and {0, 3} <= set(phrase_labels)
    for phrase, label in enumerate(phrase_labels):
        ((s, e),) = out['tokens_positive'][phrase]
        assert caption[s:e] == NAMES[label]
    assert [phrase_labels[i] for i in out['gt_bboxes_labels']] == [3, 0, 3]
    assert out['gt_ignore_flags'].tolist() == [False, False, True]
    assert out['prompt_stats'] == dict(
        num_positive=2, num_negative=4, dropped_labels=0, dropped_boxes=0, negatives_dropped=0
    )
    assert out['text_names'] == NAMES


def test_budget_drops_boxes_and_counts_them():
    tok = build_tiny_bert_tokenizer()
    t = TRANSFORMS.build(
        dict(type='DetectionToGroundingPrompt', num_negatives=0, max_tokens=5, tokenizer=tok, shuffle=False)
    )
    res = det_results()
    res['gt_bboxes_labels'] = np.array([3, 0, 1])  # "hair dryer" alone needs 4 word pieces + [CLS]/[SEP]
    out = t(res)
    assert out['text'] == 'cat. dog' and out['phrase_label_ids'] == [0, 1]
    assert out['prompt_stats']['dropped_labels'] == 1 and out['prompt_stats']['dropped_boxes'] == 1
    assert len(out['gt_bboxes']) == 2 and out['gt_bboxes_labels'].tolist() == [0, 1]
    assert torch.equal(out['gt_bboxes'].tensor, torch.tensor([[5, 5, 20, 20], [1, 1, 4, 4.0]]))


def test_test_mode_captions_whole_vocabulary_in_order():
    t = TRANSFORMS.build(dict(type='DetectionToGroundingPrompt', training=False))
    out = t(det_results())
    assert out['text'] == 'cat. dog. person. hair dryer. car. bench. teddy bear. kite'
    assert out['phrase_label_ids'] == list(range(8)) and out['gt_bboxes_labels'].tolist() == [3, 0, 3]
    with pytest.raises(ValueError, match='vocabulary names'):
        t(dict(img_path='y.jpg', text='a caption'))


def test_positive_map_and_packing_from_a_tokenizer_directory():
    pipeline = Compose(
        [
            TRANSFORMS.build(cfg)
            for cfg in [
                dict(type='DetectionToGroundingPrompt', training=False),
                dict(type='AddPositiveMap', tokenizer=str(tiny_bert_dir()), max_tokens=32),
                dict(type='PackGroundingInputs'),
            ]
        ]
    )
    res = det_results()
    res.update(img=np.zeros((20, 20, 3), np.uint8), img_id=1, ori_shape=(20, 20), img_shape=(20, 20))
    packed = pipeline(res)
    meta = packed['data_samples'].metainfo
    assert meta['text'].startswith('cat. dog.') and len(meta['tokens_positive']) == 8
    pm = meta['positive_map']
    assert pm.shape == (8, 32)
    tok = build_tiny_bert_tokenizer()
    ids = tok(meta['text'])['input_ids']
    hair_dryer_tokens = tok.convert_ids_to_tokens([ids[i] for i in pm[3].nonzero().flatten().tolist()])
    assert hair_dryer_tokens == ['hair', 'dr', '##y', '##er']
    assert packed['data_samples'].gt_instances.labels.tolist() == [3, 0]
    assert packed['data_samples'].ignored_instances.labels.tolist() == [3]


def test_grounding_sample_keeps_its_phrases():
    t = TRANSFORMS.build(
        dict(type='AddPositiveMap', tokenizer=build_tiny_bert_tokenizer(), max_tokens=16, normalize=True)
    )
    out = t(dict(text='A man with a hair dryer .', tokens_positive=[[[0, 5]], [[11, 23]]]))
    assert out['positive_map'].shape == (2, 16)
    assert torch.allclose(out['positive_map'].sum(-1), torch.ones(2))
    with pytest.raises(ValueError, match='tokens_positive'):
        t(dict(text='no spans'))
