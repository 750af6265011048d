"""Positive-map construction speed: ovd's offset-based ``build_positive_map`` vs mmdet's GLIP
``create_positive_map`` (char_to_token lookups), on GLIP-sized prompts (LVIS names up to 256 tokens).

Both run on the same captions and tokenizations in the same process; prints the time per caption of each and
the ratio ours / mmdet's (lower is better), and checks the two maps agree.

Run: ``PYTHONPATH=. python benchmarks/perf/positive_map.py [--captions 200]``
"""

import argparse
import json
import random
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--captions', type=int, default=200)
    parser.add_argument(
        '--names',
        type=int,
        default=60,
        help='names per caption (GLIP: positives + 85 negatives until 256 tokens)',
    )
    args = parser.parse_args()

    from mmdet.models.detectors.glip import create_positive_map

    from ovd.data.prompts import build_caption, build_positive_map
    from ovd.data.synthetic.tiny_text import build_tiny_bert_tokenizer

    meta = Path(__file__).resolve().parents[2] / 'ovd' / 'data' / 'metadata' / 'lvis_v1_categories.json'
    with open(meta) as f:
        cats = json.load(f)
    names = [c['name'].replace('_', ' ') for c in cats]
    tok = build_tiny_bert_tokenizer()
    rng = random.Random(0)
    prompts = []
    for _ in range(args.captions):
        caption, spans = build_caption(rng.sample(names, args.names))
        enc = tok(caption, return_offsets_mapping=True, truncation=True, max_length=256)
        prompts.append((enc, [[s] for s in spans]))

    def run(fn):
        start = time.perf_counter()
        out = [fn(enc, tp) for enc, tp in prompts]
        return (time.perf_counter() - start) / len(prompts), out

    ours_t, ours = run(lambda e, tp: build_positive_map(e, tp, 256, normalize=True))
    mmdet_t, theirs = run(lambda e, tp: create_positive_map(e, tp, 256))

    # A name cut by truncation at 256 tokens keeps its visible sub-words in ours and nothing in mmdet's;
    # compare the phrases that lie entirely inside the kept tokens.
    def inside(enc, tp):
        last = max(e for _, e in enc['offset_mapping'])
        return [i for i, ((_, e),) in enumerate(tp) if e <= last]

    agree = all(
        torch.allclose(a[idx], b[idx], atol=1e-5)
        for (enc, tp), a, b in zip(prompts, ours, theirs)
        for idx in [inside(enc, tp)]
    )
    print(f'captions: {len(prompts)} x {args.names} LVIS names, max 256 tokens (tiny WordPiece tokenizer)')
    print(f'ovd build_positive_map:      {ours_t * 1e3:.3f} ms/caption')
    print(f'mmdet create_positive_map:   {mmdet_t * 1e3:.3f} ms/caption')
    print(f'ratio ovd / mmdet: {ours_t / mmdet_t:.2f}x   maps identical: {agree}')


if __name__ == '__main__':
    main()
