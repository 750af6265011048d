"""The dataset's vocabulary reaches the model once per loop, from its metainfo (``VocabularyHook``), the way the
evaluator gets ``dataset_meta``: a real mmengine runner tests the tiny GLIP on a config whose test set says which
vocabulary (and name rule); its samples carry no names."""
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from ovd.data.synthetic import generate_coco
from ovd.data.synthetic.tiny_text import tiny_bert_dir
from ovd.data.vocab import get_vocabulary
from ovd.models.common.text_prompts import VocabularyMixin
from ovd.models.common.vocabulary_hook import VocabularyHook, metainfo_source
from ovd.models.glip import GLIPDetector

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('vocab_hook') / 'coco'
    generate_coco(root, splits={'val2017': 3}, seed=0)
    return root


def _test_cfg(coco_root: Path, work_dir: Path, **dataset) -> Config:
    """The tiny GLIP config, tested on synthetic COCO val with the given dataset arguments."""
    cfg = Config.fromfile(str(REPO / 'configs' / 'glip' / 'glip_tiny_synth.py'))
    bert = str(tiny_bert_dir())
    cfg.model.bbox_head.lang_model_name = bert
    cfg.model.language_model.name = bert
    ann_file = str(coco_root / 'annotations' / 'instances_val2017.json')
    cfg.test_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False, drop_last=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CocoDetDataset', data_root=str(coco_root) + '/',
                     ann_file='annotations/instances_val2017.json', data_prefix=dict(img='val2017/'),
                     test_mode=True, pipeline=cfg.test_pipeline, **dataset))
    cfg.test_evaluator = dict(type='OVDetectionMetric', protocol='coco', ann_file=ann_file)
    for key in ('train_dataloader', 'train_cfg', 'val_dataloader', 'val_cfg', 'val_evaluator',
                'optim_wrapper', 'param_scheduler'):
        cfg[key] = None
    cfg.work_dir = str(work_dir)
    return cfg


def _run_test(cfg: Config, monkeypatch) -> dict:
    """``runner.test()`` with the calls to ``set_vocabulary`` and what ``predict`` saw recorded."""
    seen = dict(vocabularies=[], text_in_samples=[], max_label=-1)
    set_vocabulary, predict = GLIPDetector.set_vocabulary, GLIPDetector.predict

    def record_vocabulary(self, vocabulary, name_rule='default'):
        seen['vocabularies'].append((vocabulary, name_rule))
        return set_vocabulary(self, vocabulary, name_rule)

    def record_predict(self, inputs, samples, rescale=True):
        seen['text_in_samples'] += ['text' in s for s in samples]
        out = predict(self, inputs, samples, rescale)
        seen['max_label'] = max([seen['max_label']] + [int(s.pred_instances.labels.max()) for s in out])
        return out

    monkeypatch.setattr(GLIPDetector, 'set_vocabulary', record_vocabulary)
    monkeypatch.setattr(GLIPDetector, 'predict', record_predict)
    init_default_scope('ovd')
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    seen['metrics'] = runner.test()
    seen['model'] = runner.model
    seen['dataset_vocabulary'] = runner.test_dataloader.dataset.metainfo['vocabulary']
    return seen


@pytest.mark.parametrize('dataset, expected', [
    (dict(name_rule='glip'), ('coco', None)),
    (dict(vocabulary='ov_coco', category_split='novel', unknown_categories='drop', name_rule='glip'),
     ('ov_coco', 'novel')),
], ids=['coco-80', 'ov-coco-novel-17'])
def test_the_test_sets_vocabulary_reaches_the_model_once(coco_root, tmp_path, monkeypatch, dataset, expected):
    seen = _run_test(_test_cfg(coco_root, tmp_path, **dataset), monkeypatch)
    name, split = expected
    vocabulary = get_vocabulary(name)
    vocabulary = vocabulary.subset(split=split) if split else vocabulary
    assert seen['vocabularies'] == [(vocabulary, 'glip')]  # once, before the test loop, with the dataset's rule
    assert seen['dataset_vocabulary'] == vocabulary
    assert seen['model'].vocabulary == vocabulary
    assert seen['model'].vocabulary_texts == vocabulary.prompt_texts('glip')
    assert seen['text_in_samples'] == [False, False, False]  # 3 images, none carries the names
    assert 0 <= seen['max_label'] < len(vocabulary)
    assert 0.0 <= seen['metrics']['coco/bbox_AP'] <= 1.0


def test_the_hook_reads_the_rule_of_the_dataset_whose_metainfo_it_reads(coco_root):
    """mmengine's ConcatDataset reports its first dataset's metainfo: the rule is that dataset's too."""
    from ovd.registry import DATASETS
    init_default_scope('ovd')
    common = dict(type='CocoDetDataset', data_root=str(coco_root) + '/', ann_file='annotations/instances_val2017.json',
                  data_prefix=dict(img='val2017/'), test_mode=True, pipeline=[])
    first, second = DATASETS.build(dict(common, name_rule='mdetr')), DATASETS.build(dict(common, name_rule='glip'))
    concat = ConcatDataset([first, second])
    assert metainfo_source(concat) is first and metainfo_source(SimpleNamespace(dataset=concat)) is first
    model = VocabularyMixin()
    VocabularyHook().before_test(SimpleNamespace(model=model, test_loop=SimpleNamespace(
        dataloader=SimpleNamespace(dataset=concat))))
    assert model.vocabulary_texts == get_vocabulary('coco').prompt_texts('mdetr')


def test_the_hook_leaves_other_models_and_vocabulary_free_datasets_alone():
    lvis = get_vocabulary('lvis_v1')
    detection = SimpleNamespace(metainfo=dict(vocabulary=lvis), name_rule='mdetr')
    grounding = SimpleNamespace(metainfo=dict(classes=()))
    model = VocabularyMixin()
    hook = VocabularyHook()
    hook.before_test(SimpleNamespace(model=model, test_loop=SimpleNamespace(dataloader=SimpleNamespace(
        dataset=grounding))))
    assert model.vocabulary_texts is None
    hook.before_test(SimpleNamespace(model=model, test_loop=SimpleNamespace(dataloader=SimpleNamespace(
        dataset=detection))))
    assert model.vocabulary is lvis and model.vocabulary_texts == lvis.prompt_texts('mdetr')
    other = torch.nn.Linear(1, 1)  # a model without set_vocabulary (e.g. ViLD): nothing to do
    hook.before_test(SimpleNamespace(model=other, test_loop=SimpleNamespace(dataloader=SimpleNamespace(
        dataset=detection))))
    assert not hasattr(other, 'vocabulary_texts')


def test_after_a_validation_inside_training_the_training_vocabulary_is_back():
    from mmengine.runner import BaseLoop

    class Loop(BaseLoop):
        def __init__(self, dataset):  # no runner needed for this check
            self.dataloader = SimpleNamespace(dataset=dataset)

        def run(self):
            pass

    coco, lvis = get_vocabulary('coco'), get_vocabulary('lvis_v1')
    train = SimpleNamespace(metainfo=dict(vocabulary=coco), name_rule='glip')
    val = SimpleNamespace(metainfo=dict(vocabulary=lvis), name_rule='glip')
    model = VocabularyMixin()
    train_loop = Loop(train)
    runner = SimpleNamespace(model=model, _train_loop=train_loop, train_dataloader=train_loop.dataloader,
                             val_loop=SimpleNamespace(dataloader=SimpleNamespace(dataset=val)))
    hook = VocabularyHook()
    hook.before_train(runner)
    assert model.vocabulary is coco
    hook.before_val(runner)
    assert model.vocabulary is lvis
    hook.after_val(runner)
    assert model.vocabulary is coco
