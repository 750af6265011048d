"""The Flickr30k base dataset configs load and build their dataset and pipeline on synthetic data."""

import pytest
from mmengine.config import Config
from mmengine.dataset import Compose

import ovd  # noqa: F401
from ovd.data.synthetic import generate_flickr30k
from ovd.registry import DATASETS, METRICS, TRANSFORMS


@pytest.mark.parametrize('split', ['val', 'test'])
def test_flickr30k_config_builds_on_synthetic_data(split, repo_root, tmp_path):
    cfg = Config.fromfile(repo_root / 'configs' / '_base_' / 'datasets' / f'flickr30k_{split}.py')
    generate_flickr30k(tmp_path, splits={split: 2}, seed=1)
    ds_cfg = cfg[f'{split}_dataloader']['dataset'].copy()
    ds_cfg.update(data_root=str(tmp_path) + '/')
    pipeline = ds_cfg.pop('pipeline')
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) > 0
    packed = Compose([TRANSFORMS.build(t) for t in pipeline])(dataset[0])
    meta = packed['data_samples'].metainfo
    assert meta['text'] and meta['phrase_types'] and meta['sentence_id'] == 0
    gt = packed['data_samples'].gt_instances
    assert len(gt.labels) > 0 and int(gt.labels.max()) < len(meta['tokens_positive'])


def test_flickr30k_val_pipeline_and_metric_score_perfect_predictions(repo_root, tmp_path):
    """Dataset + pipeline + the configured evaluator end to end: the ground truth as predictions gives R@1 =
    1."""
    from mmengine.structures import InstanceData

    cfg = Config.fromfile(repo_root / 'configs' / '_base_' / 'datasets' / 'flickr30k_val.py')
    generate_flickr30k(tmp_path, splits={'val': 3}, seed=2)
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.update(data_root=str(tmp_path) + '/')
    pipeline = Compose([TRANSFORMS.build(t) for t in ds_cfg.pop('pipeline')])
    dataset = DATASETS.build(ds_cfg)
    metric = METRICS.build(cfg.val_evaluator)
    samples = []
    for i in range(len(dataset)):
        sample = pipeline(dataset[i])['data_samples']
        gt = sample.gt_instances
        sample.pred_instances = InstanceData(
            bboxes=gt.bboxes.tensor if hasattr(gt.bboxes, 'tensor') else gt.bboxes,
            scores=gt.labels.new_ones(len(gt.labels)).float(),
            labels=gt.labels,
        )
        samples.append(sample.to_dict())
    metric.process({}, samples)
    result = metric.compute_metrics(metric.results)
    assert result['R@1'] == 1.0
