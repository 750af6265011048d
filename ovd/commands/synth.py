"""``ovd synth``: write small synthetic datasets in the real COCO / LVIS v1 / Flickr30k Entities / Objects365
formats (see docs/synthetic_data.md)."""
import argparse
import sys
from pathlib import Path

HELP = 'write small synthetic datasets in the real COCO/LVIS/Flickr30k Entities/Objects365 on-disk formats'

DATASETS = ('coco', 'lvis', 'flickr30k', 'objects365', 'ov-world', 'all')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--dataset', choices=DATASETS, default='all',
                        help="which dataset (default: all = the four formats; 'ov-world' is the open-vocabulary "
                             'world of docs/ov_world.md, written only when asked for)')
    parser.add_argument('--out', required=True, type=Path,
                        help="output folder (for 'all': gets coco/, lvis/, flickr30k/, objects365/)")
    parser.add_argument('--seed', type=int, default=0, help='random seed; same seed = byte-identical files')
    parser.add_argument('--num-images', type=int, default=None,
                        help='images per split (default: each generator\'s small default)')
    parser.add_argument('--no-clip', action='store_true',
                        help="ov-world only: skip pretraining (or reusing) the world's tiny CLIP and writing "
                             'its tiny BERT')


def data_progress():
    """The progress display ``ovd synth`` and ``ovd demo`` show while writing data."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    return Progress(TextColumn('[bold]{task.description}'), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=False)


def image_callback(progress):
    """A generator's ``progress(done, total, label)`` callback driving one bar per dataset."""
    tasks = {}

    def on_image(done: int, total: int, label: str) -> None:
        dataset = label.split()[0]
        if dataset not in tasks:
            tasks[dataset] = progress.add_task(dataset, total=total)
        progress.update(tasks[dataset], completed=done, description=label)
    return on_image


def clip_callback(progress):
    """``ensure_world_clip``'s ``progress(step, total)`` callback driving a 'tiny CLIP' bar."""
    task = progress.add_task('tiny CLIP', total=None)
    return lambda done, total: progress.update(task, completed=done, total=total)


def write_world(out: Path, seed: int = 0, num_images=None) -> None:
    """The open-vocabulary world under ``out`` (kept when its manifest exists and is of this version), its tiny
    BERT and its tiny RoBERTa, with a progress bar; its CLIP is
    :func:`ovd.data.synthetic.world_clip.ensure_world_clip`'s job."""
    import json

    from ovd.data import synthetic
    from ovd.data.synthetic.ov_world import WORLD_FORMAT
    manifest = out / synthetic.MANIFEST_NAME
    if not manifest.is_file() or json.loads(manifest.read_text(encoding='utf-8')).get('format') != WORLD_FORMAT:
        with data_progress() as progress:
            synthetic.generate_ov_world(out, seed=seed, num_images=num_images, progress=image_callback(progress))
    write_world_text_models(out)


def write_world_text_models(out: Path) -> None:
    """The world's tiny BERT (GLIP's) and tiny RoBERTa (MDETR's), unless they exist."""
    from ovd.data.synthetic.world_bert import ensure_world_bert
    from ovd.data.synthetic.world_roberta import ensure_world_roberta
    ensure_world_bert(out)
    ensure_world_roberta(out)


def run(args: argparse.Namespace) -> int:
    from ovd.data import synthetic

    if args.num_images is not None and args.num_images < 1:
        print(f'ovd synth: --num-images must be >= 1, got {args.num_images}', file=sys.stderr)
        return 2
    manifests = {}
    with data_progress() as progress:
        on_image = image_callback(progress)
        try:
            if args.dataset == 'all':
                manifests = synthetic.generate_all(args.out, seed=args.seed, num_images=args.num_images,
                                                   progress=on_image)
            else:
                generate = synthetic.generate_ov_world if args.dataset == 'ov-world' \
                    else synthetic.GENERATORS[args.dataset]
                manifests[args.dataset] = generate(
                    args.out, seed=args.seed, num_images=args.num_images, progress=on_image)
        except (ValueError, OSError) as err:
            print(f'ovd synth: {args.dataset} into {args.out}: {err}', file=sys.stderr)
            return 2
        if args.dataset == 'ov-world' and not args.no_clip:
            from ovd.data.synthetic.world_clip import ensure_world_clip
            clip_dir = ensure_world_clip(args.out, seed=args.seed, progress=clip_callback(progress))
            write_world_text_models(args.out)
    for name, manifest in manifests.items():
        print(f'{name}: {manifest["root"]}')
        for split, info in manifest['splits'].items():
            counts = ', '.join(f'{k} {v}' for k, v in info.items() if isinstance(v, int))
            print(f'  {split}: {counts}')
        print(f'  manifest: {Path(manifest["root"]) / synthetic.MANIFEST_NAME}')
    if args.dataset == 'all':
        print(f'all: {args.out / synthetic.MANIFEST_NAME}')
    if args.dataset == 'ov-world' and not args.no_clip:
        import json

        accuracy = json.loads((clip_dir / 'zero_shot.json').read_text(encoding='utf-8'))
        print(f'tiny CLIP: {clip_dir} (zero-shot crop accuracy: base {accuracy["base"]:.1%}, '
              f'novel {accuracy["novel"]:.1%})')
    return 0
