"""Training step time and peak memory: ovd's GLIPDetector against mmdet 3.3's GLIP on the same batch.

Same weights (ours loaded into mmdet's GLIP), same images and boxes, same prompt: the 80 COCO names joined as
"person. bicycle. ..." (mmdet builds it from the name list; ours gets the identical caption and spans, i.e. a
grounding-style sample, so no negative sampling differs). One step = forward + backward + AdamW update. Each model
runs in its own subprocess so the peak resident memory (``ru_maxrss``) of one does not hide the other's; the
reported memory is the peak during the timed steps minus the resident size before the first step.

Default: GLIP-T (Swin-T, 6 fused DyHead blocks, 12-layer BERT-base-sized encoder with ovd's tiny tokenizer plus
the COCO words as whole tokens, so the caption is about as long as with bert-base-uncased; mmdet pads it to 256),
batch 2 at 800x1333. ``--shape 480,800`` runs the smallest of GLIP's training scales when memory is short.

Usage::

    python benchmarks/perf/glip_train_step.py --steps 2 --shape 800,1333
"""
import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def coco_names():
    cats = json.loads((REPO / 'ovd/data/metadata/coco_categories.json').read_text())
    cats = cats['categories'] if isinstance(cats, dict) else cats
    return [c['name'] for c in sorted(cats, key=lambda c: c['id'])]


def batch(which: str, shape, n: int = 2, boxes_per_image: int = 6):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from ovd.data.prompts import build_caption
    names = coco_names()
    caption, spans = build_caption(names)
    g = torch.Generator().manual_seed(0)
    h, w = shape
    images = torch.randn(n, 3, h, w, generator=g) * 50
    samples = []
    for _ in range(n):
        xy = torch.rand(boxes_per_image, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
        wh = 32 + torch.rand(boxes_per_image, 2, generator=g) * torch.tensor([w * 0.35, h * 0.35])
        labels = torch.randint(0, len(names), (boxes_per_image, ), generator=g)
        ds = DetDataSample()
        meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape, batch_input_shape=shape,
                    scale_factor=(1.0, 1.0))
        if which == 'ours':
            meta.update(text=caption, tokens_positive=[[s] for s in spans])
        else:
            meta.update(text=tuple(names), custom_entities=True)
        ds.set_metainfo(meta)
        ds.gt_instances = InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=labels)
        samples.append(ds)
    return images, samples


def child(which: str, bert: str, shape, steps: int, checkpoint_fusion: bool = False) -> dict:
    import ovd  # noqa: F401
    from mmengine.registry import init_default_scope

    from glip_chunked_eval import model_cfgs
    from ovd.registry import MODELS
    init_default_scope('ovd')
    ours_cfg, peer_cfg = model_cfgs('full', bert, True)
    peer_cfg.bbox_head.use_checkpoint = checkpoint_fusion
    ours_cfg.bbox_head.fusion_cfg = dict(ours_cfg.bbox_head.get('fusion_cfg') or {}, use_checkpoint=checkpoint_fusion)
    torch.manual_seed(0)
    ours = MODELS.build(ours_cfg)
    model = ours
    if which == 'peer':
        model = MODELS.build(peer_cfg)
        model.load_state_dict(ours.state_dict(), strict=True)
        del ours
    fuse_layers = [m for m in model.modules() if type(m).__name__ == 'VLFuse']
    assert fuse_layers and all(m.use_checkpoint == checkpoint_fusion for m in fuse_layers)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(steps):
        images, samples = batch(which, shape)
        t0 = time.perf_counter()
        losses = model.loss(images, samples)
        loss = sum(v for v in losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(which=which, step_s=times, mean_step_s=sum(times) / len(times),
                peak_rss_gib=peak / 2**20, step_peak_over_start_gib=(peak - base_rss) / 2**20,
                losses={k: float(v) for k, v in losses.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=2)
    parser.add_argument('--shape', default='800,1333')
    parser.add_argument('--child', choices=['ours', 'peer'])
    parser.add_argument('--sides', default='peer,ours', help='which models to run (e.g. "ours" to re-measure one)')
    parser.add_argument('--bert', default='')
    parser.add_argument('--checkpoint-fusion', action='store_true',
                        help='gradient checkpointing of the X-MHA layers in both models (use_checkpoint=True, as '
                             "mmdet's GLIP-L configs set): what makes 800x1333 fit in 24 GiB")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(','))
    if args.child:
        print('RESULT ' + json.dumps(child(args.child, args.bert, shape, args.steps, args.checkpoint_fusion)),
              flush=True)
        return
    from glip_chunked_eval import write_bert
    # COCO's words as whole tokens: the caption then has about as many tokens as with bert-base-uncased.
    bert = write_bert(Path(tempfile.mkdtemp(prefix='glip-bench-')) / 'bert', full=True, whole_words=coco_names())
    results = {}
    for which in args.sides.split(','):
        out = subprocess.run([sys.executable, __file__, '--child', which, '--bert', bert, '--steps', str(args.steps),
                              '--shape', args.shape] + ['--checkpoint-fusion'] * args.checkpoint_fusion,
                             capture_output=True, text=True, env=dict(os.environ))
        line = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
        if out.returncode or not line:
            killed = out.returncode < 0 and -out.returncode == signal.SIGKILL
            reason = ('killed by SIGKILL (the kernel\'s out-of-memory killer, when memory runs out)' if killed
                      else f'exit code {out.returncode}: {out.stderr.strip().splitlines()[-1:]}')
            results[which] = dict(which=which, failed=reason)
            print(json.dumps(results[which]), flush=True)
            continue
        results[which] = json.loads(line[0][len('RESULT '):])
        print(json.dumps(results[which]), flush=True)

    # The first step warms allocators and caches; compare the later ones when there are any.
    def steady(r):
        return sum(r['step_s'][1:]) / len(r['step_s'][1:]) if len(r['step_s']) > 1 else r['step_s'][0]
    if any('failed' in r for r in results.values()) or len(results) < 2:
        for which, r in results.items():
            print(f'{which}: ' + (r['failed'] if 'failed' in r else
                                  f'step {steady(r):.1f} s, peak RSS {r["peak_rss_gib"]:.2f} GiB'))
        return
    print(f'batch 2 at {shape}: step time peer/ours = {steady(results["peer"]) / steady(results["ours"]):.2f}x '
          f'(peer {steady(results["peer"]):.1f} s, ours {steady(results["ours"]):.1f} s); peak RSS peer '
          f'{results["peer"]["peak_rss_gib"]:.2f} GiB, ours {results["ours"]["peak_rss_gib"]:.2f} GiB')


if __name__ == '__main__':
    main()
