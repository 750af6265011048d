"""ViLD training step time: distillation targets read from the region cache (ovd) vs CLIP run online (peer).

Both paths train the same detector (default: the paper's ViLD R50-FPN Mask R-CNN from
``configs/vild/vild_r50-fpn_lsj-180k_ov-lvis.py``, plain BN on CPU, random weights and random text embeddings: no
download) on the same synthetic batch. The cached path reads each image's region embeddings from a real region
cache (:class:`~ovd.data.region_cache.RegionCache`); the online path gives the detector an
``online_teacher`` (CLIP ViT-B/32 at real size, random weights) that crops and embeds the same regions at 1x and
1.5x every step. Proposals are the same boxes in both paths, so the difference is exactly the teacher's cost that
the cache removes (an online pipeline would also have to run the proposal model).

    PYTHONPATH=. python benchmarks/perf/vild_train_step.py [--regions 64] [--size 512] [--batch 1] [--steps 2]

ViLD uses 300 regions per image at 1024x1024 (``--regions 300 --size 1024``); the defaults are smaller so the
run stays modest on a shared CPU.
"""
import argparse
import copy
import tempfile
import time

import numpy as np
import torch


def _plain_bn(cfg):
    """SyncBN -> BN everywhere (single process, CPU)."""
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        for value in cfg.values():
            _plain_bn(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _plain_bn(value)
    return cfg


def make_batch(batch: int, size: int, regions: int, num_base: int, seed: int = 0):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    rng = np.random.default_rng(seed)
    inputs = torch.from_numpy(rng.normal(size=(batch, 3, size, size)).astype(np.float32))
    samples = []
    for i in range(batch):
        meta = dict(img_id=i, img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                    batch_input_shape=(size, size), scale_factor=(1.0, 1.0))
        sample = DetDataSample(metainfo=meta)
        xy = rng.uniform(0, size * 0.7, (6, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(16, size * 0.3, (6, 2))], 1).astype(np.float32)
        masks = np.zeros((6, size, size), np.uint8)
        for k, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
            masks[k, y0:y1, x0:x1] = 1
        sample.gt_instances = InstanceData(bboxes=torch.from_numpy(boxes),
                                           labels=torch.from_numpy(rng.integers(0, num_base, 6)),
                                           masks=BitmapMasks(masks, size, size))
        rxy = rng.uniform(0, size * 0.8, (regions, 2))
        rboxes = np.concatenate([rxy, np.minimum(rxy + rng.uniform(8, size * 0.5, (regions, 2)), size)], 1)
        sample.regions = InstanceData(bboxes=torch.from_numpy(rboxes.astype(np.float32)))
        samples.append(sample)
    return inputs, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default='configs/vild/vild_r50-fpn_lsj-180k_ov-lvis.py')
    parser.add_argument('--regions', type=int, default=64)
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--steps', type=int, default=2)
    args = parser.parse_args()

    from mmengine.config import Config, ConfigDict
    from mmengine.registry import init_default_scope
    from mmengine.structures import InstanceData

    import ovd  # noqa: F401
    from ovd.models.vild.clip_region_teacher import CLIPRegionTeacher
    from ovd.data.region_cache import FieldSpec, RegionCache, RegionCacheWriter
    from ovd.registry import MODELS
    from ovd.text.clip import OpenCLIPEncoder

    init_default_scope('ovd')
    torch.manual_seed(0)
    cfg = Config.fromfile(args.config)
    model_cfg = _plain_bn(copy.deepcopy(cfg.model.to_dict()))
    model_cfg['backbone']['init_cfg'] = None
    model_cfg['data_preprocessor'].pop('batch_augments', None)
    head = model_cfg['roi_head']['bbox_head']
    head['class_embeddings'] = torch.randn(head['num_classes'], 512)
    clip = OpenCLIPEncoder(model_name='ViT-B-32', pretrained=None)
    teacher = CLIPRegionTeacher(clip, crop_scales=(1.0, 1.5), chunk_size=128)

    cached_model = MODELS.build(ConfigDict(copy.deepcopy(model_cfg))).train()
    online_model = MODELS.build(ConfigDict(copy.deepcopy(model_cfg), online_teacher=dict(clip=clip, chunk_size=128)))
    online_model.load_state_dict(cached_model.state_dict())
    online_model.train()
    num_base = int(cached_model.roi_head.bbox_head.base_mask.sum())
    inputs, samples = make_batch(args.batch, args.size, args.regions, num_base)

    with tempfile.TemporaryDirectory() as root:
        # the cache holds what precompute-regions would have written for these images
        fields = {'bboxes': FieldSpec('float32', 4), 'scores': FieldSpec('float32'),
                  'embeddings': FieldSpec('float16', 512)}
        with RegionCacheWriter(root, 0, 1, fields) as writer:
            embeddings = teacher([inputs[i] * 50 + 120 for i in range(args.batch)],
                                 [s.regions.bboxes for s in samples])
            for sample, emb in zip(samples, embeddings):
                writer.append(sample.img_id, {'bboxes': sample.regions.bboxes.numpy(),
                                              'scores': np.ones(args.regions, np.float32),
                                              'embeddings': emb.numpy()})
            writer.finish()
        cache = RegionCache(root)

        def cached_step(model, optim):
            batch = copy.deepcopy(samples)
            for sample in batch:
                record = cache.get(sample.img_id)
                sample.regions = InstanceData(bboxes=torch.from_numpy(np.array(record['bboxes'])),
                                              embeddings=torch.from_numpy(record['embeddings'].astype(np.float32)))
            return _step(model, optim, batch)

        def online_step(model, optim):
            return _step(model, optim, copy.deepcopy(samples))

        def _step(model, optim, batch):
            losses = model.loss(inputs, batch)
            total, _ = model.parse_losses(losses)  # sums the per-level RPN lists too
            optim.zero_grad()
            total.backward()
            optim.step()
            return losses['loss_distill'].item()

        times = {}
        for name, model, step in (('cache', cached_model, cached_step), ('online', online_model, online_step)):
            optim = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
            step(model, optim)  # warm-up
            start = time.perf_counter()
            for _ in range(args.steps):
                step(model, optim)
            times[name] = (time.perf_counter() - start) / args.steps

    print(f'detector: {args.config} (BN, random init); teacher: CLIP ViT-B/32 size, random weights; '
          f'torch threads: {torch.get_num_threads()}')
    print(f'batch {args.batch} x {args.size}x{args.size}, {args.regions} regions/image x 2 crop scales; '
          f'{args.steps} timed steps after one warm-up')
    print(f'peer  online CLIP teacher : {times["online"]:7.2f} s/step')
    print(f'ovd   region cache        : {times["cache"]:7.2f} s/step')
    print(f'ratio online / cache: {times["online"] / times["cache"]:.2f}x')


if __name__ == '__main__':
    main()
