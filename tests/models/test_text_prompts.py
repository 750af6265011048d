"""The text path GLIP and MDETR share: one reader of a sample's caption (or training names), the model's
vocabulary, one cache of encoded prompts."""
import pytest
from mmengine.structures import BaseDataElement

from ovd.data.vocab import get_vocabulary
from ovd.models.common.text_prompts import (TextCache, VocabularyMixin, read_caption, read_inference_text,
                                            read_sample_text, vocabulary_texts)


def _sample(**meta) -> BaseDataElement:
    return BaseDataElement(metainfo=dict(img_path='imgs/1.jpg', **meta))


def test_a_caption_comes_with_its_phrase_spans_and_names_without():
    caption = read_sample_text(_sample(text='a cat on a mat', tokens_positive=[[[2, 5]], [[11, 14], [0, 1]]]), 'M')
    assert caption.is_caption and caption.text == 'a cat on a mat'
    assert caption.spans == [[(2, 5)], [(11, 14), (0, 1)]]
    names = read_sample_text(_sample(text=('cat', 'bow ')), 'M')
    assert not names.is_caption and names.text == ['cat', 'bow '] and names.spans is None
    assert read_sample_text(_sample(), 'M') is None and read_sample_text(_sample(text=None), 'M') is None


def test_at_inference_a_detection_sample_has_no_names_of_its_own():
    assert read_inference_text(_sample(), 'M') is None
    assert read_inference_text(_sample(text='a cat', tokens_positive=[[[2, 5]]]), 'M').spans == [[(2, 5)]]
    with pytest.raises(ValueError, match=r'imgs/1.jpg: GLIP: a test sample carries class names.*test_mode=True'):
        read_inference_text(_sample(text=['cat']), 'GLIP')


@pytest.mark.parametrize('meta, match', [
    (dict(text='a cat'), r'imgs/1.jpg: GLIP: a caption .*"tokens_positive"'),
    (dict(text=[]), r'imgs/1.jpg: GLIP: "text" must be a caption.*got list'),
    (dict(text=7), r'imgs/1.jpg: GLIP: "text" must be a caption.*got int'),
])
def test_anything_else_is_an_error_naming_the_image(meta, match):
    with pytest.raises(ValueError, match=match):
        read_sample_text(_sample(**meta), 'GLIP')


def test_a_grounding_model_asks_for_a_caption():
    with pytest.raises(ValueError, match=r'imgs/1.jpg: MDETR grounding needs a caption string.*got list'):
        read_caption(_sample(text=['cat']), 'MDETR')
    assert read_caption(_sample(text='a cat', tokens_positive=[[[2, 5]]]), 'MDETR').spans == [[(2, 5)]]


def test_vocabulary_texts_read_a_vocabulary_under_a_name_rule_or_take_texts_as_given():
    lvis = get_vocabulary('lvis_v1')
    assert vocabulary_texts(lvis, 'glip') == lvis.prompt_texts('glip') != lvis.prompt_texts()
    assert vocabulary_texts(['bow ', 'cat']) == ('bow ', 'cat')
    for bad, match in (([], 'empty'), (['cat', ''], 'text 1 must be a non-empty str'), ('cat', 'sequence')):
        with pytest.raises(ValueError, match=match):
            vocabulary_texts(bad)
    with pytest.raises(ValueError, match="name_rule 'glip' applies to a Vocabulary"):
        vocabulary_texts(['cat'], 'glip')


def test_a_model_keeps_one_vocabulary_and_hears_when_it_changes():
    class Model(VocabularyMixin):
        changes = 0

        def _vocabulary_changed(self):
            self.changes += 1

    model = Model()
    with pytest.raises(ValueError, match=r'imgs/1.jpg: M: a detection sample .* no vocabulary.*VocabularyHook'):
        model.require_vocabulary(_sample(), 'M')
    coco = get_vocabulary('coco')
    model.set_vocabulary(coco)
    model.set_vocabulary(coco)  # the same texts again (every validation): nothing derived is dropped
    assert model.changes == 1 and model.vocabulary is coco and model.require_vocabulary(_sample(), 'M') == \
        coco.prompt_names
    model.set_vocabulary(['cat', 'dog'])
    assert model.changes == 2 and model.vocabulary_texts == ('cat', 'dog')


def test_cache_computes_once_keeps_up_to_capacity_and_can_be_bypassed():
    calls = []

    def compute(value):
        calls.append(value)
        return value * 10

    cache = TextCache(capacity=2)
    assert cache.get('a', lambda: compute(1)) == 10 and cache.get('a', lambda: compute(2)) == 10
    assert calls == [1]
    cache.get('b', lambda: compute(3))
    cache.get('c', lambda: compute(4))  # full: the oldest ('a') goes
    assert 'a' not in cache and 'b' in cache and 'c' in cache and len(cache) == 2
    assert cache.get('b', lambda: compute(5), enabled=False) == 50  # bypassed: computed, not kept
    assert cache.get('b', lambda: compute(6)) == 30
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match='capacity'):
        TextCache(capacity=0)
