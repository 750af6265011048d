#!/usr/bin/env python
"""MDETR LVIS inference: batched class captions over shared image features vs one full forward per caption.

The paper's LVIS protocol runs every class name as its own caption: 1203 captions per image. The peer is the
naive way, one full forward (backbone, RoBERTa, joint encoder, decoder) per caption; ours encodes the image
once, runs the captions in batches over the shared image features and caches the encoded captions across
images. Both must give the same detections (checked here too).

Measured on a few captions, per image and per caption, then extrapolated to 1203 captions (stated as such):
- naive: ``n * t_naive_caption``;
- ours: ``t_image + n * t_batched_caption`` (caption encoding cached after the first image; its one-off cost
is
  printed separately).

Models: ``--size tiny`` (the tiny test config) and ``--size full`` (ResNet-101 + a RoBERTa-base-sized encoder,
256-wide 6+6-layer transformer, 100 queries, random weights: speed does not depend on the weights) at
``--image`` resolution (default 800x1333, the paper's test size).

Also reports one training step (forward + backward) time and the process's peak memory (CPU here).

Run: ``PYTHONPATH=. python benchmarks/perf/mdetr_lvis_captions.py --size tiny --captions 16``
"""
import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def roberta_base_dir() -> str:
    """A directory with a RoBERTa-base-sized config and the tiny offline tokenizer (weights: random init)."""
    from transformers import RobertaConfig

    from ovd.data.synthetic.tiny_text import build_tiny_roberta_tokenizer
    folder = Path(tempfile.mkdtemp(prefix='mdetr-bench-roberta-'))
    tokenizer = build_tiny_roberta_tokenizer()
    tokenizer.save_pretrained(folder)
    # roberta-base's architecture (12 layers, 768 wide, 50265 tokens)
    config = RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                           pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                           eos_token_id=tokenizer.eos_token_id)
    config.save_pretrained(folder)
    return str(folder)


def build_model(size: str):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import ovd  # noqa: F401
    from ovd.registry import MODELS
    from ovd.data.synthetic.tiny_text import tiny_roberta_dir
    os.environ['OVD_TINY_ROBERTA'] = str(tiny_roberta_dir())
    init_default_scope('ovd')
    if size == 'tiny':
        cfg = Config.fromfile(str(REPO / 'configs/mdetr/mdetr_tiny_synth-flickr30k.py')).model
    else:
        cfg = Config.fromfile(str(REPO / 'configs/mdetr/_base_/mdetr_r101.py')).model
        cfg.backbone.init_cfg = None
        cfg.text_encoder.update(name_or_path=roberta_base_dir(), pretrained=False)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def sample(h, w):
    """A detection sample: the class captions are the model's vocabulary (set_vocabulary)."""
    from mmdet.structures import DetDataSample
    return DetDataSample(metainfo=dict(img_path='bench.jpg', img_shape=(h, w), ori_shape=(h, w),
                                       batch_input_shape=(h, w), scale_factor=(1.0, 1.0)))


def timed(fn, repeat=1):
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', choices=('tiny', 'full'), default='tiny')
    parser.add_argument('--captions', type=int, default=16, help='class-name captions measured')
    parser.add_argument('--batch', type=int, default=8,
                        help='captions per batch (test_cfg.captions_per_batch)')
    parser.add_argument('--image', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='image size (default: 800 1333 full, 128 160 tiny)')
    parser.add_argument('--vocabulary', type=int, default=1203, help='captions per image to extrapolate to')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--no-train-step', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    h, w = args.image or ((800, 1333) if args.size == 'full' else (128, 160))

    from mmengine.structures import InstanceData

    from ovd.data.vocab import get_vocabulary
    names = list(get_vocabulary('lvis_v1').prompt_texts('mdetr'))[:args.captions]  # MDETR's caption text
    model = build_model(args.size)
    model.test_cfg.update(captions_per_batch=args.batch, names_per_caption=1, max_per_img=None)
    torch.manual_seed(1)
    image = torch.rand(1, 3, h, w) * 255
    inputs = model.data_preprocessor({'inputs': [image[0]], 'data_samples': [sample(h, w)]})['inputs']

    with torch.no_grad():
        # peer: one full forward per caption, no caching
        def naive():
            parts = []
            for label, name in enumerate(names):
                model.set_vocabulary([name])  # drops the cached captions
                res = model.predict(inputs, [sample(h, w)])[0].pred_instances
                res.labels = torch.full_like(res.labels, label)
                parts.append(res)
            return InstanceData.cat(parts)

        t_naive, ref = timed(naive)

        model.set_vocabulary(names)
        t_text, _ = timed(model.encoded_vocabulary)  # one-off: cached for the next images
        t_ours, ours = timed(lambda: model.predict(inputs, [sample(h, w)])[0].pred_instances, repeat=2)
        t_image, _ = timed(lambda: model.image_tokens(inputs, [sample(h, w)]), repeat=2)

    same = (torch.equal(ours.labels, ref.labels) and torch.allclose(ours.scores, ref.scores, atol=1e-4)
            and torch.allclose(ours.bboxes, ref.bboxes, atol=1e-2))
    n = len(names)
    per_caption_naive = t_naive / n
    per_caption_ours = max(t_ours - t_image, 1e-9) / n
    extrapolated_naive = args.vocabulary * per_caption_naive
    extrapolated_ours = t_image + args.vocabulary * per_caption_ours
    result = dict(
        size=args.size, image=[h, w], captions=n, batch=args.batch, threads=args.threads,
        naive_s_per_image=round(t_naive, 3), ours_s_per_image=round(t_ours, 3),
        measured_speedup=round(t_naive / t_ours, 2),
        image_features_s=round(t_image, 3), naive_s_per_caption=round(per_caption_naive, 4),
        ours_s_per_caption=round(per_caption_ours, 4), caption_encoding_one_off_s=round(t_text, 3),
        extrapolated_vocabulary=args.vocabulary,
        extrapolated_naive_s_per_image=round(extrapolated_naive, 1),
        extrapolated_ours_s_per_image=round(extrapolated_ours, 1),
        extrapolated_speedup=round(extrapolated_naive / extrapolated_ours, 2),
        identical_detections=bool(same))

    if not args.no_train_step:
        from mmdet.structures import DetDataSample
        model.train()
        caption = 'A man in a blue shirt is standing on a ladder'
        s = DetDataSample(metainfo=dict(img_path='bench.jpg', img_shape=(h, w), ori_shape=(h, w),
                                        batch_input_shape=(h, w), scale_factor=(1.0, 1.0), text=caption,
                                        tokens_positive=[[(0, 5)], [(11, 21)], [(37, 45)]]))
        boxes = [[10., 10, w / 2, h / 2], [w / 4, h / 4, w / 2, h / 2], [w / 2, 0, w - 1, h - 1]]
        s.gt_instances = InstanceData(bboxes=torch.tensor(boxes), labels=torch.tensor([0, 1, 2]))

        def step():
            model.zero_grad()
            losses = model.loss(inputs, [s])
            sum(losses.values()).backward()

        step()  # warm-up
        t_step, _ = timed(step)
        result['train_step_s_batch1'] = round(t_step, 3)
    result['peak_rss_gib'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)
    result['gpu'] = 'not measured (no GPU lent)'
    print(json.dumps(result, indent=1))
    print(f"ratio naive/ours per image: measured on {n} captions {result['measured_speedup']}x, "
          f"extrapolated to {args.vocabulary} captions {result['extrapolated_speedup']}x "
          f"(goal >= 5x); identical detections: {same}")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
