"""Mixed-source training: detection + grounding datasets in one sample stream with set ratios.

GLIP and MDETR pre-train on several sources at once (Objects365 + Flickr30k + ...).
:class:`MixedSourceDataset` concatenates datasets that have different vocabularies/metainfo (each keeps its
own pipeline, e.g. ``DetectionToGroundingPrompt`` for detection data) and tags every sample with its source;
:class:`MixedRatioSampler` draws, per epoch, a fixed share of samples from each source regardless of the
sources' sizes (small sources are repeated, large ones sub-sampled), shuffled together and split across ranks.

Why not mmdet's ``MultiSourceSampler``: it is an infinite, iteration-based sampler with integer per-batch
ratios; this one works with epoch-based loops too and takes any ratios. Per-batch composition is then random
with the set expectation; the per-epoch counts are exact.
"""

import math
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from ovd.registry import DATA_SAMPLERS, DATASETS


@DATASETS.register_module()
class MixedSourceDataset(ConcatDataset):
    """Concatenation of datasets of different kinds (detection + grounding), each sample tagged with its
    source.

    Args:
        datasets: Dataset configs (built in the ``ovd`` scope) or instances.
        source_names: A name per dataset (default ``source0``, ``source1``...), written to each sample as
            ``dataset_source`` (in the packed ``DetDataSample`` metainfo, or the results dict).
        lazy_init: Defer loading the annotations.

    The metainfo is the first dataset's plus ``sources``; metainfo keys are not required to match across
    sources (a detection vocabulary and a grounding dataset legitimately differ).
    """

    def __init__(
        self,
        datasets: Sequence[Union[BaseDataset, dict]],
        source_names: Optional[Sequence[str]] = None,
        lazy_init: bool = False,
    ) -> None:
        built = [DATASETS.build(d) if isinstance(d, dict) else d for d in datasets]
        if not built:
            raise ValueError('MixedSourceDataset needs at least one dataset')
        names = list(source_names) if source_names is not None else [f'source{i}' for i in range(len(built))]
        if len(names) != len(built) or len(set(names)) != len(names):
            raise ValueError(f'source_names must be {len(built)} distinct names, got {names}')
        self.source_names = names
        keys = sorted(set().union(*(d.metainfo.keys() for d in built)))
        super().__init__(built, lazy_init=lazy_init, ignore_keys=keys)
        self._metainfo = dict(self._metainfo, sources=tuple(names))

    @property
    def source_sizes(self) -> List[int]:
        """Number of samples of each source."""
        return [len(d) for d in self.datasets]

    def source_of(self, idx: int) -> int:
        """Index of the source of global sample ``idx``."""
        return self._get_ori_dataset_idx(idx)[0]

    def __getitem__(self, idx: int):
        if not self._fully_initialized:
            self.full_init()
        source, sample_idx = self._get_ori_dataset_idx(idx)
        data = self.datasets[source][sample_idx]
        name = self.source_names[source]
        if (
            isinstance(data, dict)
            and 'data_samples' in data
            and hasattr(data['data_samples'], 'set_metainfo')
        ):
            data['data_samples'].set_metainfo({'dataset_source': name})
        elif isinstance(data, dict):
            data['dataset_source'] = name
        return data


def source_counts(ratios: Sequence[float], total: int) -> List[int]:
    """Split ``total`` samples across sources in proportion to ``ratios`` (largest remainder; exact sum).

    Args:
        ratios: Non-negative weights, at least one positive.
        total: Number of samples to split.

    Returns:
        One count per source, summing to ``total``.
    """
    weights = np.asarray(ratios, dtype=np.float64)
    if weights.ndim != 1 or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f'ratios must be non-negative with a positive sum, got {list(ratios)}')
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    remainder = total - int(counts.sum())
    order = np.argsort(-(exact - counts), kind='stable')
    counts[order[:remainder]] += 1
    return counts.tolist()


@DATA_SAMPLERS.register_module()
class MixedRatioSampler(Sampler):
    """Draw each epoch ``ratios[i] / sum(ratios)`` of the samples from source ``i`` of a concatenated dataset.

    Within a source, samples are taken in a random order without replacement, cycling through the source again
    when it must give more samples than it has. The epoch's indices are shuffled together and split over ranks
    like mmengine's ``DefaultSampler`` (padded to a multiple of the world size).

    Args:
        dataset: A :class:`MixedSourceDataset` (or any ``ConcatDataset``: it needs ``cumulative_sizes``).
        ratios: One weight per source, e.g. ``[2, 1]`` for two detection samples per grounding sample.
        num_samples: Samples per epoch over all ranks (default: the dataset's length).
        seed: Random seed (synchronised across ranks if ``None``).
    """

    def __init__(
        self, dataset, ratios: Sequence[float], num_samples: Optional[int] = None, seed: Optional[int] = None
    ) -> None:
        if not hasattr(dataset, 'datasets'):
            raise TypeError('MixedRatioSampler needs a concatenated dataset (MixedSourceDataset)')
        length = len(dataset)  # also completes a lazily initialised dataset (cumulative_sizes)
        sizes = np.diff([0] + list(dataset.cumulative_sizes)).tolist()
        if len(ratios) != len(sizes):
            raise ValueError(f'{len(ratios)} ratios for {len(sizes)} sources')
        for i, (size, ratio) in enumerate(zip(sizes, ratios)):
            if size == 0 and ratio > 0:
                raise ValueError(f'source {i} is empty but has ratio {ratio}')
        self.dataset = dataset
        self.sizes = sizes
        self.offsets = [0] + list(dataset.cumulative_sizes[:-1])
        self.ratios = list(ratios)
        self.rank, self.world_size = get_dist_info()
        self.total = int(num_samples) if num_samples is not None else length
        self.counts = source_counts(self.ratios, self.total)
        self.num_samples = math.ceil(self.total / self.world_size)
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0

    def _epoch_indices(self) -> List[int]:
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        parts = []
        for size, offset, count in zip(self.sizes, self.offsets, self.counts):
            if count == 0:
                continue
            passes = [torch.randperm(size, generator=g) for _ in range(math.ceil(count / size))]
            parts.append(torch.cat(passes)[:count] + offset)
        indices = torch.cat(parts)
        return indices[torch.randperm(len(indices), generator=g)].tolist()

    def __iter__(self) -> Iterator[int]:
        indices = self._epoch_indices()
        padded = self.num_samples * self.world_size
        indices = (indices * math.ceil(padded / len(indices)))[:padded]
        return iter(indices[self.rank : padded : self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
