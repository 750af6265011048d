"""Fill one shard of a region cache: proposals from a detector's RPN, embeddings from a CLIP region teacher.

Driven by ``ovd precompute-regions`` (:mod:`ovd.commands.precompute_regions`), which documents the config's
``region_cache`` section. Shard ``i`` of ``n`` owns the dataset indices ``j`` with ``j % n == i``; records are
keyed by the dataset's ``img_id``, which is what :class:`~ovd.data.region_transforms.LoadRegionEmbeddings`
looks up at training time. Boxes are stored in the original image frame, sorted by proposal score.
"""
import copy
import sys
import time
from typing import Mapping, Optional

import numpy as np
import torch
from mmengine.config import Config, ConfigDict

from ovd.data.region_cache import FieldSpec, RegionCacheWriter

from .clip_region_teacher import CLIPRegionTeacher

DEFAULTS = dict(dataset=None, proposal_model=dict(config=None, checkpoint=None), num_regions=300,
                rpn_nms_iou=0.7, crop_scales=(1.0, 1.5), chunk_size=256, test_scale=(1333, 800), batch_size=1,
                num_workers=2, embedding_dtype='float16')


def _unwrap_dataset(ds_cfg: dict) -> dict:
    """The innermost dataset of wrappers such as ClassBalancedDataset / RepeatDataset."""
    while 'dataset' in ds_cfg and isinstance(ds_cfg['dataset'], dict):
        ds_cfg = ds_cfg['dataset']
    return ds_cfg


def build_region_dataset(cfg: Config, rc: dict):
    """The training images with a test-style pipeline for the proposal model."""
    from ovd.registry import DATASETS
    ds_cfg = copy.deepcopy(rc['dataset'] or _unwrap_dataset(cfg.train_dataloader.dataset))
    ds_cfg = _unwrap_dataset(ds_cfg)
    ds_cfg['pipeline'] = [
        dict(type='LoadImageFromFile', backend_args=ds_cfg.get('backend_args')),
        dict(type='Resize', scale=tuple(rc['test_scale']), keep_ratio=True),
        dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
    ]
    # test_mode skips mmdet's filter_data, so the cache covers every image the training set may keep
    ds_cfg['test_mode'] = True
    return DATASETS.build(ds_cfg)


def _identified(spec):
    """A proposal-model or CLIP spec as the cache's producer metadata, naming what the paths hold now: a
    ``local-dir:`` CLIP by its resolved folder (the world's ``clip/current`` is a link that moves when the CLIP is
    retrained) and a checkpoint by its SHA-256 too (a retrained proposal model overwrites the same path), so a cache
    built from other weights is refused instead of silently reused."""
    import hashlib
    import os
    if not isinstance(spec, Mapping):
        return spec
    out = dict(spec)
    name = out.get('model_name')
    if isinstance(name, str) and name.startswith('local-dir:'):
        out['model_name'] = 'local-dir:' + os.path.realpath(name[len('local-dir:'):])
    checkpoint = out.get('checkpoint')
    if isinstance(checkpoint, str) and os.path.isfile(checkpoint):
        digest = hashlib.sha256()
        with open(checkpoint, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
        out['checkpoint_sha256'] = digest.hexdigest()
    return out


def build_proposal_model(cfg: Config, rc: dict, device: str):
    from mmengine.runner import load_checkpoint

    from ovd.registry import MODELS
    spec = rc['proposal_model'] or {}
    model_cfg = Config.fromfile(spec['config']).model if spec.get('config') else copy.deepcopy(cfg.model)
    model = MODELS.build(model_cfg)
    if spec.get('checkpoint'):
        load_checkpoint(model, spec['checkpoint'], map_location='cpu')
    else:
        from mmengine.logging import print_log
        print_log('precompute-regions: no proposal_model.checkpoint given; proposals come from an untrained RPN '
                  '(fine for smoke tests, useless for training a real model)', logger='current', level=30)
    model.rpn_head.test_cfg = ConfigDict(dict(model.rpn_head.test_cfg, max_per_img=rc['num_regions'],
                                              nms=dict(type='nms', iou_threshold=rc['rpn_nms_iou'])))
    return model.to(device).eval()


def precompute_shard(cfg: Config, root: str, shard_index: int, num_shards: int, device: Optional[str] = None,
                     limit: Optional[int] = None) -> str:
    """Compute the missing records of one shard and mark it finished.

    Args:
        cfg: full model config with a ``region_cache`` section.
        root: cache directory.
        shard_index, num_shards: which shard.
        device: torch device; default CUDA when available.
        limit: stop after this many new images without finishing the shard (smoke runs).

    Returns:
        A one-line summary.
    """
    import mmcv
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from torch.utils.data import DataLoader, Subset
    from tqdm import tqdm

    init_default_scope(cfg.get('default_scope', 'ovd'))
    rc = dict(DEFAULTS, **cfg.region_cache)
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    dataset = build_region_dataset(cfg, rc)
    teacher = CLIPRegionTeacher(clip=rc['clip'], crop_scales=rc['crop_scales'], chunk_size=rc['chunk_size'])
    teacher = teacher.to(device)
    fields = {'bboxes': FieldSpec('float32', 4), 'scores': FieldSpec('float32'),
              'embeddings': FieldSpec(rc['embedding_dtype'], teacher.embed_dim)}
    producer = {'proposal_model': _identified(rc['proposal_model']), 'num_regions': rc['num_regions'],
                'rpn_nms_iou': rc['rpn_nms_iou'], 'test_scale': list(rc['test_scale']), 'clip': _identified(rc['clip']),
                'crop_scales': list(rc['crop_scales']),
                'dataset': {k: _unwrap_dataset(dict(rc['dataset'] or cfg.train_dataloader.dataset)).get(k)
                            for k in ('type', 'data_root', 'ann_file')}}
    writer = RegionCacheWriter(root, shard_index, num_shards, fields, producer=producer)
    if writer.finished:
        return f'shard {shard_index}/{num_shards} of {root} is already finished ({len(writer.done_keys)} images)'
    todo = [j for j in range(shard_index, len(dataset), num_shards)
            if str(dataset.get_data_info(j)['img_id']) not in writer]
    resumed = len(writer.done_keys)
    if limit is not None:
        todo = todo[:limit]
    model = build_proposal_model(cfg, rc, device)
    loader = DataLoader(Subset(dataset, todo), batch_size=rc['batch_size'], num_workers=rc['num_workers'],
                        collate_fn=pseudo_collate)
    start, crops = time.perf_counter(), 0
    # in a log file (a SLURM job, ovd demo's runs) a bar redrawn 5 times a second is a wall of text: every 30 s
    bar = tqdm(total=len(todo), desc=f'shard {shard_index}/{num_shards}', unit='img',
               mininterval=0.2 if sys.stderr.isatty() else 30.0)
    with torch.no_grad(), bar:
        for data in loader:
            data = model.data_preprocessor(data, False)
            feats = model.extract_feat(data['inputs'])
            proposals = model.rpn_head.predict(feats, data['data_samples'], rescale=True)
            for sample, props in zip(data['data_samples'], proposals):
                height, width = sample.ori_shape
                boxes = props.bboxes[:rc['num_regions']].float()
                boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
                boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
                image = torch.from_numpy(np.ascontiguousarray(
                    mmcv.imread(sample.img_path, channel_order='rgb').transpose(2, 0, 1))).to(device)
                embeddings = teacher([image], [boxes])[0]
                crops += len(boxes) * len(rc['crop_scales'])
                writer.append(sample.img_id, {'bboxes': boxes.cpu().numpy(),
                                              'scores': props.scores[:rc['num_regions']].float().cpu().numpy(),
                                              'embeddings': embeddings.cpu().numpy()})
                bar.update(1)
    elapsed = time.perf_counter() - start
    done_now = len(writer.done_keys) - resumed
    remaining = sum(1 for j in range(shard_index, len(dataset), num_shards)
                    if str(dataset.get_data_info(j)['img_id']) not in writer)
    if remaining == 0:
        writer.finish()
    writer.close()
    state = 'finished' if remaining == 0 else f'{remaining} images left (rerun to continue)'
    return (f'shard {shard_index}/{num_shards} of {root}: {done_now} new images ({resumed} resumed), '
            f'{crops} crops in {elapsed:.1f}s ({crops / max(elapsed, 1e-9):.1f} crops/s); {state}')
