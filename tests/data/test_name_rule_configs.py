"""Each method's configs select its official name rule, and that rule reaches the text the method encodes:
GLIP's chunked LVIS prompts and MDETR's per-name captions built from a config's dataset (the vocabulary the
model gets from the dataset's metainfo through ``VocabularyHook``, and a training sample's names), ViLD's and
BARON's class embeddings built from a config's ``class_embeddings`` dict."""
import inspect
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from det_data_builders import lvis_v1_file
from mmengine.config import Config
from mmengine.registry import init_default_scope

from ovd.data.prompts import build_caption
from ovd.data.vocab import get_vocabulary
from ovd.models.common.text_prompts import VocabularyMixin
from ovd.models.common.vocabulary_hook import VocabularyHook
from ovd.registry import DATASETS
from ovd.data.synthetic.tiny_text import tiny_clip_config

REPO_ROOT = Path(__file__).resolve().parents[2]
METHODS = ('glip', 'mdetr', 'vild', 'baron')
CONFIGS = sorted(p for m in METHODS for p in (REPO_ROOT / 'configs' / m).glob('*.py'))
DETECTION_DATASETS = {'CocoStyleDetDataset', 'CocoDetDataset', 'OVCocoDataset', 'LVISV1Dataset', 'OVLVISDataset',
                      'LVISV05Dataset', 'Objects365V1Dataset', 'Objects365V2Dataset'}


def _dicts(node):
    """Every dict inside a config, depth first."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _dicts(item)


def _code_default_rule(method: str) -> str:
    """The rule a ViLD/BARON class-embedding dict gets when it names none (the code's own default)."""
    if method == 'vild':
        from ovd.models.vild.text_classifier import _embeddings_from_clip
        return inspect.signature(_embeddings_from_clip).parameters['name_rule'].default
    return 'baron'  # ovd.models.baron.bbox_head.load_class_embeddings; test_baron_default_rule_is_ovdets


@pytest.mark.parametrize('path', CONFIGS, ids=[f'{p.parent.name}/{p.name}' for p in CONFIGS])
def test_config_selects_its_methods_rule(path):
    method = path.parent.name
    cfg = Config.fromfile(str(path))
    nodes = list(_dicts(cfg.to_dict()))
    datasets = [d for d in nodes if d.get('type') in DETECTION_DATASETS]
    embeddings = [d['class_embeddings'] for d in nodes if isinstance(d.get('class_embeddings'), dict)]
    if 'name_rule' in cfg:
        assert cfg.name_rule == method
    if method in ('glip', 'mdetr'):
        for dataset in datasets:  # their text comes from the dataset: each one must spell names the method's way
            assert dataset.get('name_rule') == method, f'{path.name}: {dataset["type"]} without name_rule={method!r}'
    else:
        # BARON's OV-LVIS default is ovdet's released embedding file (DetPro's prompts, configs/baron/README.md):
        # its text was fixed when the file was made, so there is no rule to select; the dict form is the switch
        files = [d['class_embeddings'] for d in nodes if isinstance(d.get('class_embeddings'), str)]
        assert embeddings or (method == 'baron' and files and all(f.endswith('.npy') for f in files)), \
            f'{path.name}: no class_embeddings dict'
        for emb in embeddings:
            assert emb.get('name_rule', _code_default_rule(method)) == method


def test_every_glip_and_mdetr_lvis_config_is_checked():
    checked = [p for p in CONFIGS if p.parent.name in ('glip', 'mdetr') and 'lvis' in p.name]
    assert len(checked) >= 6


@pytest.fixture(scope='module')
def lvis_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('names') / 'lvis.json'
    lvis_v1_file(path)
    return path


def _dataset_text(config: str, lvis_file: Path, key: str = 'val_dataloader'):
    """The texts a config's dataset gives the model: through ``VocabularyHook`` (as before a val loop) for the
    test set, a sample's own names for the training set."""
    init_default_scope('ovd')
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / config))
    ds_cfg = cfg[key]['dataset']
    ds_cfg.update(data_root='', ann_file=str(lvis_file), data_prefix=dict(img=''), pipeline=[])
    dataset = DATASETS.build(ds_cfg)
    if key == 'train_dataloader':
        return cfg, dataset.get_data_info(0)['text']
    assert 'text' not in dataset.get_data_info(0)
    model = VocabularyMixin()
    VocabularyHook().before_val(SimpleNamespace(model=model, val_loop=SimpleNamespace(
        dataloader=SimpleNamespace(dataset=dataset))))
    return cfg, model.vocabulary_texts


def test_glip_lvis_prompts_from_the_config_are_glips(lvis_file):
    """The zero-shot LVIS config -> the model's vocabulary -> GLIP's own chunking: the prompt reads "bow . " where
    GLIP's ``create_queries_and_maps`` puts ``clean_name('bow_(weapon)')``."""
    from ovd.models.glip.detector import chunk_prompts
    cfg, text = _dataset_text('glip/glip-t_zeroshot_lvis-minival-fixedap.py', lvis_file)
    lvis = get_vocabulary('lvis_v1')
    assert tuple(text) == lvis.prompt_texts('glip')
    prompts = chunk_prompts(text, cfg.model.test_cfg.chunk_size)
    assert len(prompts) == 31
    label = lvis.names.index('bow_(weapon)')
    prompt = next(p for p in prompts if label in p.label_ids)
    (start, end), = prompt.tokens_positive[prompt.label_ids.index(label)]
    assert prompt.caption[start:end] == 'bow ' and 'bow . ' in prompt.caption


def test_glip_o365_training_text_is_the_release_spelling(tmp_path):
    from det_data_builders import objects365_file
    init_default_scope('ovd')
    objects365_file(tmp_path / 'o365.json', 'v1')
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / 'glip' / 'glip-t-a_swin-t_fpn_dyhead_pretrain_o365.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root='', ann_file=str(tmp_path / 'o365.json'), data_prefix=dict(img=''), pipeline=[])
    text = DATASETS.build(ds_cfg).get_data_info(0)['text']
    assert 'cabinet/shelf' in text and 'tea pot' in text and 'tissue ' in text


def test_mdetr_lvis_captions_from_the_config_keep_the_trailing_space(lvis_file):
    """MDETR's LVIS config -> one caption per name as ``scripts/eval_lvis.py`` builds it; RoBERTa's byte-level
    BPE sees the trailing space as a token of its own."""
    from ovd.data.synthetic.tiny_text.tokenizers import build_tiny_roberta_tokenizer
    _, text = _dataset_text('mdetr/mdetr_r101_lvis-10pct.py', lvis_file)
    lvis = get_vocabulary('lvis_v1')
    assert tuple(text) == lvis.prompt_texts('mdetr')
    caption, spans = build_caption([text[lvis.names.index('bow_(weapon)')]])
    assert (caption, spans) == ('bow ', [(0, 4)])
    tokenizer = build_tiny_roberta_tokenizer()
    assert len(tokenizer.tokenize(caption)) == len(tokenizer.tokenize('bow')) + 1


def test_mdetr_tiny_lvis_config_trains_and_tests_with_mdetrs_text(lvis_file):
    for key in ('train_dataloader', 'val_dataloader'):
        _, text = _dataset_text('mdetr/mdetr_tiny_synth-lvis.py', lvis_file, key)
        assert tuple(text) == get_vocabulary('lvis_v1').prompt_texts('mdetr')


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('OVD_CACHE_DIR', str(tmp_path / 'cache'))


def test_vild_class_embeddings_from_the_config_use_vilds_names(private_cache):
    """The OV-LVIS config's class_embeddings dict (tiny CLIP, one template) equals the embeddings of ViLD's
    own texts, and the LVIS pairs that the old text merged get different rows."""
    from ovd.models.vild.text_classifier import load_class_embeddings
    from ovd.text.class_embeddings import encode_class_prompts
    from ovd.text.clip import OpenCLIPEncoder
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / 'vild' / 'vild_r50-fpn_lsj-180k_ov-lvis.py'))
    source = cfg.model.roi_head.bbox_head.class_embeddings.to_dict()
    tiny = dict(model_cfg=tiny_clip_config(), pretrained=None)
    source.update(clip=tiny, templates='single')
    torch.manual_seed(0)
    got = load_class_embeddings(source)
    torch.manual_seed(0)
    encoder = OpenCLIPEncoder(**tiny)
    vocab = get_vocabulary(source['vocabulary'])
    expected = encode_class_prompts(encoder, vocab.prompt_texts('vild'), ['a photo of {article} {}.'],
                                    article_names=vocab.article_names('vild'))
    assert torch.allclose(got, expected, atol=1e-6)
    a, b = vocab.names.index('bow_(weapon)'), vocab.names.index('bow_(decorative_ribbons)')
    assert not torch.allclose(got[a], got[b])


def test_baron_default_rule_is_ovdets(private_cache):
    """BARON's class_embeddings dict (as its configs write it) gives ovdet's texts; without a name_rule too."""
    from ovd.models.baron.bbox_head import load_class_embeddings
    from ovd.models.baron.frozen_clip import FrozenCLIP
    from ovd.text.class_embeddings import build_class_embeddings
    cfg = Config.fromfile(str(REPO_ROOT / 'configs' / 'baron' / 'baron-kd_r50-fpn_90kx2_ov-coco.py'))
    source = {k: v for k, v in _find_class_embeddings(cfg).items()}
    assert source['name_rule'] == 'baron'
    torch.manual_seed(0)
    clip = FrozenCLIP(dict(model_cfg=tiny_clip_config(), pretrained=None))
    names = ['Band_Aid', 'bow_(weapon)', 'Cabinet/shelf']
    with_rule = load_class_embeddings(dict(vocabulary=names, templates='single', name_rule='baron'), clip)
    without = load_class_embeddings(dict(vocabulary=names, templates='single'), clip)
    ovdet = build_class_embeddings(clip.encoder, ['band aid', 'bow (weapon)', 'cabinet or shelf'], 'single')
    assert torch.equal(with_rule, without) and torch.allclose(with_rule, ovdet, atol=1e-6)


def _find_class_embeddings(cfg) -> dict:
    return next(d['class_embeddings'] for d in _dicts(cfg.to_dict()) if isinstance(d.get('class_embeddings'), dict))
