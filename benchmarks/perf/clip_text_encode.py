"""Class-prompt text encoding speed: ``OpenCLIPEncoder.encode_text`` (padding trimmed) vs open_clip's own
``CLIP.encode_text`` (all 77 positions), on ViLD prompts of LVIS names, same model and tokens, same process.

Prints prompts/s of each and the speed-up ours / open_clip's (higher is better), and the largest difference of
the embeddings. Random weights (the architecture, not the values, sets the cost).

Run: ``PYTHONPATH=. python benchmarks/perf/clip_text_encode.py [--model ViT-B-32] [--prompts 64]``
"""
import argparse
import json
import random
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-32')
    parser.add_argument('--prompts', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()

    from ovd.text.clip import OpenCLIPEncoder
    from ovd.text.templates import VILD_TEMPLATES, fill_templates

    meta = Path(__file__).resolve().parents[2] / 'ovd' / 'data' / 'metadata' / 'lvis_v1_categories.json'
    with open(meta) as f:
        names = [c['name'].replace('_', ' ') for c in json.load(f)]
    rng = random.Random(0)
    prompts = [rng.choice(fill_templates(rng.choice(names), VILD_TEMPLATES)) for _ in range(args.prompts)]
    torch.manual_seed(0)
    enc = OpenCLIPEncoder(args.model, pretrained=None, device=args.device)
    tokens = enc.tokenize(prompts).to(args.device)
    batches = tokens.split(args.batch_size)

    def timed(fn):
        with torch.no_grad():
            fn(batches[0][:2])  # warm-up
            start = time.perf_counter()
            out = torch.cat([fn(b) for b in batches])
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
        return time.perf_counter() - start, out

    ref_t, ref = timed(enc.model.encode_text)
    ours_t, ours = timed(enc.encode_text)
    print(f'{args.model} text tower, {len(prompts)} ViLD prompts of LVIS names, batch {args.batch_size}, '
          f'{args.device}; longest prompt {int((tokens != 0).sum(1).max())} of {tokens.shape[1]} tokens')
    print(f'open_clip CLIP.encode_text:      {len(prompts) / ref_t:8.1f} prompts/s')
    print(f'OpenCLIPEncoder.encode_text:     {len(prompts) / ours_t:8.1f} prompts/s')
    print(f'speed-up ours / open_clip: {ref_t / ours_t:.2f}x   max |difference|: '
          f'{(ours - ref).abs().max().item():.2e}')


if __name__ == '__main__':
    main()
