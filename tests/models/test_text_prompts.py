"""The text path GLIP and MDETR share: one reader of a sample's caption-or-names, one cache of encoded prompts."""
import pytest
from mmengine.structures import BaseDataElement

from ovd.models.common.text_prompts import TextCache, read_caption, read_sample_text


def _sample(**meta) -> BaseDataElement:
    return BaseDataElement(metainfo=dict(img_path='imgs/1.jpg', **meta))


def test_a_caption_comes_with_its_phrase_spans_and_names_without():
    caption = read_sample_text(_sample(text='a cat on a mat', tokens_positive=[[[2, 5]], [[11, 14], [0, 1]]]), 'M')
    assert caption.is_caption and caption.text == 'a cat on a mat'
    assert caption.spans == [[(2, 5)], [(11, 14), (0, 1)]]
    names = read_sample_text(_sample(text=('cat', 'bow ')), 'M')
    assert not names.is_caption and names.text == ['cat', 'bow '] and names.spans is None


@pytest.mark.parametrize('meta, match', [
    (dict(text='a cat'), r'imgs/1.jpg: GLIP: a caption .*"tokens_positive"'),
    (dict(text=None), r'imgs/1.jpg: GLIP needs "text".*got NoneType'),
    (dict(text=[]), r'imgs/1.jpg: GLIP needs "text".*got list'),
    (dict(text=7), r'imgs/1.jpg: GLIP needs "text".*got int'),
])
def test_anything_else_is_an_error_naming_the_image(meta, match):
    with pytest.raises(ValueError, match=match):
        read_sample_text(_sample(**meta), 'GLIP')


def test_a_grounding_model_asks_for_a_caption():
    with pytest.raises(ValueError, match=r'imgs/1.jpg: MDETR grounding needs a caption string.*got list'):
        read_caption(_sample(text=['cat']), 'MDETR')
    assert read_caption(_sample(text='a cat', tokens_positive=[[[2, 5]]]), 'MDETR').spans == [[(2, 5)]]


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
