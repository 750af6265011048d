"""Speed of the synthetic dataset generators (``ovd.data.synthetic``).

Goal (issue #2 item 6): writing the default set of every format takes a few seconds. Peer, measured in the same
run: the bare cost of the same images -- a noise background of the same sizes, JPEG-encoded at the same quality
and written to disk with PIL, without objects, annotations or atomic renames. The ratio (ours / peer) is the
overhead of drawing the looks and writing the annotation files.

Usage: python benchmarks/perf/synthetic_generation.py [--repeat 3] [--num-images N]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _peer(image_sizes, out: Path) -> float:
    """PIL only: noise image of each size -> JPEG -> file."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for k, (w, h) in enumerate(image_sizes):
        pixels = rng.integers(84, 162, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels, 'RGB').save(out / f'{k}.jpg', format='JPEG', quality=90, subsampling=0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--num-images', type=int, default=None, help='images per split (default: defaults)')
    args = parser.parse_args()
    from ovd.data.synthetic import GENERATORS, generate_all

    ours, peer, per_dataset = [], [], {name: [] for name in GENERATORS}
    for rep in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            start = time.perf_counter()
            generate_all(tmp / 'all', seed=rep, num_images=args.num_images)
            ours.append(time.perf_counter() - start)
            sizes = [Image.open(p).size for p in sorted((tmp / 'all').rglob('*.jpg'))]
            for name, generate in GENERATORS.items():
                start = time.perf_counter()
                generate(tmp / 'single' / name, seed=rep, num_images=args.num_images)
                per_dataset[name].append(time.perf_counter() - start)
            (tmp / 'peer').mkdir()
            peer.append(_peer(sizes, tmp / 'peer'))
    best, best_peer = min(ours), min(peer)
    print(f'images written per run: {len(sizes)}')
    for name, times in per_dataset.items():
        print(f'  {name:<11} {min(times):6.2f} s')
    print(f'generate_all (best of {args.repeat}): {best:.2f} s')
    print(f'peer, PIL noise image + JPEG + write only: {best_peer:.2f} s')
    print(f'ratio ours / peer: {best / best_peer:.2f}')


if __name__ == '__main__':
    main()
