"""BARON-KD training step: time and peak memory with bag sampling and the CLIP teacher on, vs the base-only peer.

Builds the paper's BARON-KD R50-FPN OV-COCO model (``configs/baron/baron-kd_r50-fpn_90kx2_ov-coco.py``; plain BN
on one process, random weights, CLIP ViT-B/32 at real size with random weights: no download) and trains it on a
synthetic batch. Each mode runs in its own subprocess so peak memory is its own (CUDA: max allocated; CPU: peak
RSS of the process); the step-time ratio comes from the ``kd`` process, which alternates distillation steps with
base-only steps so both see the same machine load:

- ``kd``: detection + bags of regions + teacher + both InfoNCE losses (what ``mim train`` runs);
- ``base``: the same detector with ``distill=None`` (the base-only baseline), the peer.

Inside ``kd`` the script times the teacher (crops + CLIP image encoder) and the bag sampling + packing, and
reports their share of the step. A second measurement compares the vectorised neighbourhood sampling with the
same sampler called once per proposal (the per-box loop that ovdet's ``multi_apply`` amounts to).

    PYTHONPATH=. python benchmarks/perf/baron_step.py [--size 512] [--batch 2] [--steps 2] [--device cpu]
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import torch

CONFIG = 'configs/baron/baron-kd_r50-fpn_90kx2_ov-coco.py'


def _plain_bn(cfg):
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        for value in cfg.values():
            _plain_bn(value)
    elif isinstance(cfg, list):
        for value in cfg:
            _plain_bn(value)
    return cfg


def build_model(mode: str, device: str):
    from mmengine.config import Config, ConfigDict
    from mmengine.registry import init_default_scope

    import ovd  # noqa: F401
    from ovd.registry import MODELS
    init_default_scope('ovd')
    cfg = Config.fromfile(CONFIG)
    model_cfg = _plain_bn(cfg.model.to_dict())
    model_cfg['backbone']['init_cfg'] = None
    model_cfg['roi_head']['clip'] = dict(model_name='ViT-B-32', pretrained=None)  # real size, random weights
    head = model_cfg['roi_head']['bbox_head']
    head['class_embeddings'] = dict(head['class_embeddings'], templates='single', cache=False)  # keeps its feature
    if mode == 'base':
        model_cfg['roi_head']['distill'] = None
    return MODELS.build(ConfigDict(model_cfg)).to(device).train()


def make_batch(model, batch: int, size: int, device: str, seed: int = 0):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(batch):
        inputs.append(torch.randint(0, 255, (3, size, size), generator=gen, dtype=torch.uint8))
        meta = dict(img_id=i, img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0))
        sample = DetDataSample(metainfo=meta)
        xy = torch.rand(6, 2, generator=gen) * size * 0.6
        boxes = torch.cat([xy, xy + 32 + torch.rand(6, 2, generator=gen) * size * 0.3], dim=1)
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.randint(0, 48, (6,), generator=gen))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)
    return data['inputs'].to(device), data['data_samples']


class Timer:
    """Accumulates the wall time of wrapped calls."""

    def __init__(self, device: str):
        self.total, self.device = 0.0, device

    def wrap(self, fn):
        def timed(*args, **kwargs):
            self._sync()
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self._sync()
            self.total += time.perf_counter() - start
            return out
        return timed

    def _sync(self):
        if self.device.startswith('cuda'):
            torch.cuda.synchronize()


def run_mode(mode: str, size: int, batch: int, steps: int, device: str) -> dict:
    import copy

    import ovd.models.baron.roi_head as roi_head_module
    model = build_model(mode, device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    teacher, sampling = Timer(device), Timer(device)
    if model.roi_head.distiller is not None:
        model.roi_head.distiller.teacher = teacher.wrap(model.roi_head.distiller.teacher)
        roi_head_module.sample_bags = sampling.wrap(roi_head_module.sample_bags)
        roi_head_module.select_seeds = sampling.wrap(roi_head_module.select_seeds)
    inputs, samples = make_batch(model, batch, size, device)

    def train_step() -> float:
        batch_samples = copy.deepcopy(samples)
        Timer(device)._sync()
        start = time.perf_counter()
        losses = model.loss(inputs, batch_samples)
        loss = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                   for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        Timer(device)._sync()
        train_step.losses = losses
        return time.perf_counter() - start

    times, peer_times = [], []
    distiller = model.roi_head.distiller
    for step in range(steps + 1):  # the first step warms up
        if step == 1:
            teacher.total = sampling.total = 0.0
            if device.startswith('cuda'):
                torch.cuda.reset_peak_memory_stats()
        elapsed = train_step()
        losses = train_step.losses
        if step:
            times.append(elapsed)
        if distiller is not None:  # the base-only peer, interleaved so that both see the same machine load
            model.roi_head.distiller = None
            elapsed = train_step()
            model.roi_head.distiller = distiller
            if step:
                peer_times.append(elapsed)
    step_s = sum(times) / len(times)
    peer_s = sum(peer_times) / len(peer_times) if peer_times else None
    if device.startswith('cuda'):
        peak_mb = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(mode=mode, step_s=step_s, interleaved_base_s=peer_s, teacher_s=teacher.total / steps,
                sampling_s=sampling.total / steps, peak_mb=peak_mb, losses=sorted(k for k in losses if 'loss' in k))


def sampling_vs_loop(num_proposals: int = 600, repeats: int = 3) -> dict:
    from ovd.models.baron.neighborhood import sample_bags
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(num_proposals, 2, generator=gen) * 600
    boxes = torch.cat([xy, xy + 20 + torch.rand(num_proposals, 2, generator=gen) * 200], dim=1)
    hw = torch.tensor([[800.0, 1000.0]]).expand(num_proposals, 2)

    def vectorised():
        sample_bags(boxes, hw)

    def per_box():
        for i in range(num_proposals):
            sample_bags(boxes[i:i + 1], hw[i:i + 1])

    out = {}
    for name, fn in (('vectorised', vectorised), ('per_box_loop', per_box)):
        best = float('inf')
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        out[name] = best
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=512)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--mode', choices=('kd', 'base'), help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.size, args.batch, args.steps, args.device)))
        return
    results = {}
    for mode in ('kd', 'base'):
        proc = subprocess.run([sys.executable, __file__, '--mode', mode, '--size', str(args.size), '--batch',
                               str(args.batch), '--steps', str(args.steps), '--device', args.device],
                              capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f'{mode} run failed:\n{proc.stderr[-3000:]}')
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    kd, base = results['kd'], results['base']
    print(f'BARON-KD R50-FPN + CLIP ViT-B/32, {args.batch} x {args.size}^2 images, {args.steps} timed steps, '
          f'device {args.device}')
    print(f'{"mode":<8}{"step s":>10}{"peak MB":>12}')
    for r in (kd, base):
        print(f'{r["mode"]:<8}{r["step_s"]:>10.3f}{r["peak_mb"]:>12.0f}')
    print(f'kd / base-only step time (interleaved in one process, same load): '
          f'{kd["step_s"] / kd["interleaved_base_s"]:.2f}x ({kd["step_s"]:.3f} s vs {kd["interleaved_base_s"]:.3f} s); '
          f'peak memory: {kd["peak_mb"] / base["peak_mb"]:.2f}x')
    print(f'teacher (crops + CLIP image encoder): {kd["teacher_s"]:.3f} s = {kd["teacher_s"] / kd["step_s"]:.1%} of '
          f'the kd step')
    print(f'bag sampling + seed selection: {kd["sampling_s"]:.4f} s = {kd["sampling_s"] / kd["step_s"]:.2%} of the '
          f'kd step')
    cmp = sampling_vs_loop()
    print(f'neighbourhood sampling of 600 proposals: vectorised {cmp["vectorised"] * 1e3:.1f} ms, per-box loop '
          f'{cmp["per_box_loop"] * 1e3:.1f} ms: {cmp["per_box_loop"] / cmp["vectorised"]:.0f}x faster')


if __name__ == '__main__':
    main()
