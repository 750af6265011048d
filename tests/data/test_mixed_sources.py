"""Mixed-source training: concatenating a detection-like and a grounding dataset, exact per-epoch ratios."""

from collections import Counter

import pytest
from mmengine.dataset import BaseDataset

import ovd  # noqa: F401
from ovd.data.datasets.mixed import MixedRatioSampler, MixedSourceDataset, source_counts
from ovd.registry import DATA_SAMPLERS, DATASETS


class ListDataset(BaseDataset):
    def __init__(self, n, metainfo, tag):
        self._n, self._tag = n, tag
        super().__init__(metainfo=metainfo, serialize_data=False, lazy_init=False)

    def load_data_list(self):
        return [dict(tag=self._tag, i=i) for i in range(self._n)]


def mixed(sizes=(100, 10)):
    det = ListDataset(sizes[0], dict(classes=('cat', 'dog')), 'det')
    grd = ListDataset(sizes[1], dict(classes=(), dataset_type='grounding'), 'grd')
    return MixedSourceDataset([det, grd], source_names=['o365', 'flickr'])


def test_concatenation_tags_sources_despite_different_metainfo():
    ds = mixed()
    assert len(ds) == 110 and ds.source_sizes == [100, 10]
    assert ds.metainfo['sources'] == ('o365', 'flickr') and ds.metainfo['classes'] == ('cat', 'dog')
    assert ds[5]['tag'] == 'det' and ds[5]['dataset_source'] == 'o365'
    assert ds[105]['tag'] == 'grd' and ds[105]['i'] == 5 and ds[105]['dataset_source'] == 'flickr'
    with pytest.raises(ValueError, match='distinct'):
        MixedSourceDataset([ListDataset(1, {}, 'a'), ListDataset(1, {}, 'b')], source_names=['x', 'x'])


def test_source_counts_largest_remainder():
    assert source_counts([1, 1], 7) == [4, 3]
    assert source_counts([2, 1], 90) == [60, 30]
    assert source_counts([1, 0, 3], 10) == [3, 0, 7]  # 2.5 and 7.5: the tie goes to the first source
    assert sum(source_counts([0.3, 0.3, 0.4], 1001)) == 1001
    with pytest.raises(ValueError):
        source_counts([0, 0], 5)


def test_ratios_hold_exactly_per_epoch_and_small_source_repeats():
    ds = mixed()
    sampler = MixedRatioSampler(ds, ratios=[1, 1], seed=0)
    assert len(sampler) == 110
    for epoch in range(3):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        per_source = Counter(ds.source_of(i) for i in indices)
        assert per_source == {0: 55, 1: 55}
        grounding = Counter(i for i in indices if i >= 100)
        assert set(grounding) == set(range(100, 110))  # every grounding sample used, 5 or 6 times
        assert max(grounding.values()) - min(grounding.values()) <= 1
        detection = [i for i in indices if i < 100]
        assert len(set(detection)) == 55  # the big source is sub-sampled without repeats
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_batches_mix_sources_and_ratios_follow_weights():
    ds = mixed((300, 40))
    sampler = DATA_SAMPLERS.build(
        dict(type='MixedRatioSampler', ratios=[3, 1], num_samples=400), default_args=dict(dataset=ds, seed=1)
    )
    indices = list(sampler)
    assert Counter(ds.source_of(i) for i in indices) == {0: 300, 1: 100}
    batches = [indices[k : k + 8] for k in range(0, 400, 8)]
    mixed_batches = sum(1 for b in batches if len({ds.source_of(i) for i in b}) == 2)
    assert mixed_batches > 40  # sources are interleaved, not in blocks


def test_distributed_ranks_partition_the_epoch(monkeypatch):
    ds = mixed((30, 7))
    import ovd.data.datasets.mixed as mixed_module

    shards = []
    for rank in range(3):
        monkeypatch.setattr(mixed_module, 'get_dist_info', lambda r=rank: (r, 3))
        sampler = MixedRatioSampler(ds, ratios=[1, 2], seed=5)
        shards.append(list(sampler))
        assert len(sampler) == 13
    full = [shards[r][k] for k in range(13) for r in range(3)]
    monkeypatch.setattr(mixed_module, 'get_dist_info', lambda: (0, 1))
    single = list(MixedRatioSampler(ds, ratios=[1, 2], seed=5))
    assert full[:37] == single and Counter(ds.source_of(i) for i in single) == {0: 12, 1: 25}


def test_config_build_and_errors():
    ds = DATASETS.build(
        dict(
            type='MixedSourceDataset',
            datasets=[dict(type='Flickr30kEntitiesDataset', ann_file='missing.txt', lazy_init=True)],
            lazy_init=True,
        )
    )
    assert ds.source_names == ['source0']
    lazy = MixedSourceDataset([ListDataset(4, {}, 'a'), ListDataset(2, {}, 'b')], lazy_init=True)
    assert len(list(MixedRatioSampler(lazy, ratios=[1, 1], seed=0))) == 6
    with pytest.raises(ValueError, match='2 ratios for 1 sources'):
        MixedRatioSampler(MixedSourceDataset([ListDataset(3, {}, 'a')]), ratios=[1, 1])
    with pytest.raises(ValueError, match='empty'):
        MixedRatioSampler(
            MixedSourceDataset([ListDataset(3, {}, 'a'), ListDataset(0, {}, 'b')]), ratios=[1, 1]
        )
