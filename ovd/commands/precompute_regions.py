"""``ovd precompute-regions``: run a proposal model and CLIP over a training set and write the region cache.

The expensive step of ViLD-image (users report days, DetPro #23), so it is sharded and resumable: shard ``i`` of
``n`` takes every n-th image; a killed shard restarts after its last committed image; a finished shard is skipped;
a damaged shard is reported (see :mod:`ovd.data.region_cache`). As a SLURM array
(``sbatch --array=0-63``), leave out ``--shard`` and give ``--num-shards 64``: the index comes from
``SLURM_ARRAY_TASK_ID``.

The config's ``region_cache`` dict says what to compute::

    region_cache = dict(
        root='data/ovd_cache/vild_ov-lvis_vit-b-32',     # output directory
        dataset=None,                 # dataset config; default: the config's train_dataloader.dataset
        proposal_model=dict(config=None, checkpoint=None),  # default: this config's model (its RPN)
        num_regions=300,              # top-scoring proposals kept per image (official ViLD: 300)
        rpn_nms_iou=0.7,
        clip=dict(model_name='ViT-B-32', pretrained='openai'),  # the shared open_clip wrapper's arguments
        crop_scales=(1.0, 1.5), chunk_size=256, test_scale=(1333, 800), batch_size=1, num_workers=2)
"""
import argparse
import os
import sys
from pathlib import Path
from typing import List, Mapping, Optional, Tuple

HELP = 'precompute proposals and their CLIP region embeddings for ViLD (sharded, resumable, SLURM-array ready)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True, help='model config with a region_cache section')
    parser.add_argument('--shard', help='I/N: compute shard I (0-based) of N; default from SLURM_ARRAY_TASK_ID '
                                        'with --num-shards, else 0/1')
    parser.add_argument('--num-shards', type=int, help='N when the shard index comes from SLURM_ARRAY_TASK_ID')
    parser.add_argument('--cache-root', help='override region_cache.root')
    parser.add_argument('--device', default=None, help='torch device (default: cuda if available, else cpu)')
    parser.add_argument('--limit', type=int, help='stop after this many new images (for smoke runs)')
    parser.add_argument('--verify', action='store_true',
                        help='only check every finished shard in full (sha256 + per-record crc32) and report')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config values (mmengine DictAction syntax)')


def parse_shard(spec: Optional[str] = None, num_shards: Optional[int] = None,
                environ: Mapping[str, str] = os.environ) -> Tuple[int, int]:
    """``(index, count)`` from ``--shard I/N``, or from SLURM array variables with ``--num-shards``.

    Args:
        spec: ``'I/N'`` or None.
        num_shards: N when the index comes from ``SLURM_ARRAY_TASK_ID`` (minus ``SLURM_ARRAY_TASK_MIN``).
        environ: environment to read (injectable for tests).
    """
    if spec:
        try:
            index, count = (int(v) for v in spec.split('/'))
        except ValueError:
            raise ValueError(f'--shard must look like I/N (e.g. 3/8), got {spec!r}') from None
    elif 'SLURM_ARRAY_TASK_ID' in environ:
        index = int(environ['SLURM_ARRAY_TASK_ID']) - int(environ.get('SLURM_ARRAY_TASK_MIN', 0))
        count = num_shards or int(environ.get('SLURM_ARRAY_TASK_COUNT', 0))
        if not count:
            raise ValueError('running as a SLURM array task: give --num-shards N (or --shard I/N)')
    else:
        index, count = 0, num_shards or 1
        if count != 1:
            raise ValueError(f'--num-shards {count} without SLURM_ARRAY_TASK_ID: give --shard I/{count}')
    if count < 1 or not 0 <= index < count:
        raise ValueError(f'shard {index}/{count} is out of range (need 0 <= I < N)')
    return index, count


def run(args: argparse.Namespace) -> int:
    from mmengine.config import Config, DictAction

    from ovd.data.region_cache import RegionCacheError, list_shards, read_meta, verify_shard

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *args.cfg_options]).o)
    if 'region_cache' not in cfg:
        print(f'{args.config}: no region_cache section; see `ovd precompute-regions --help`', file=sys.stderr)
        return 2
    root = args.cache_root or cfg.region_cache.root
    if args.verify:
        try:
            num_shards = read_meta(root)['num_shards']
            present = {i for i, n in list_shards(root) if n == num_shards}
            missing = [i for i in range(num_shards) if i not in present]
            total = sum(verify_shard(root, i, num_shards, full=True) for i in sorted(present))
        except RegionCacheError as err:
            print(f'damaged: {err}', file=sys.stderr)
            return 1
        if missing:
            print(f'{root}: {len(missing)} of {num_shards} shards missing: {missing[:20]}', file=sys.stderr)
            return 1
        print(f'{root}: {num_shards} shards, {total} records, all checks passed')
        return 0
    try:
        shard = parse_shard(args.shard, args.num_shards)
    except ValueError as err:
        print(f'ovd precompute-regions: {err}', file=sys.stderr)
        return 2
    from ovd.models.vild.region_precompute import precompute_shard
    before = _cache_files(root)
    try:
        summary = precompute_shard(cfg, root, shard[0], shard[1], device=args.device, limit=args.limit)
    except BaseException as err:
        removed = remove_failed_start(root, shard, before)
        if removed:
            print(f'ovd precompute-regions: the run failed before computing any region; removed what it had '
                  f'created ({", ".join(removed)}) so that a corrected rerun starts clean', file=sys.stderr)
        if isinstance(err, RegionCacheError):
            print(f'ovd precompute-regions: {err}', file=sys.stderr)
            return 1
        raise
    print(summary)
    return 0


def _cache_files(root: str) -> Optional[set]:
    """Names in the cache folder, or None when the folder does not exist."""
    path = Path(root)
    return {p.name for p in path.iterdir()} if path.is_dir() else None


def remove_failed_start(root: str, shard: Tuple[int, int], before: Optional[set]) -> List[str]:
    """After a failed run, remove the files it created while no record was committed anywhere: its shard's
    empty ``.idx`` (and the ``.bin`` beside it) and, when no other shard exists, the ``meta.json`` it wrote,
    whose producer (e.g. a wrong checkpoint path) would otherwise refuse the corrected rerun.

    Args:
        root: the cache folder.
        shard: ``(index, count)`` of the failed run.
        before: :func:`_cache_files` before the run (None: the folder did not exist).

    Returns:
        The names removed (empty when the run had committed something or created nothing).
    """
    from ovd.data.region_cache import META_FILE, shard_stem
    path = Path(root)
    if not path.is_dir():
        return []
    existed = before or set()
    stem = shard_stem(*shard)
    idx, data, done = path / f'{stem}.idx', path / f'{stem}.bin', path / f'{stem}.done'
    if done.exists() or (idx.exists() and idx.stat().st_size > 0):
        return []  # records were committed: a rerun resumes them
    removed = []
    for file in (idx, data):
        if file.exists() and file.name not in existed:
            file.unlink()
            removed.append(file.name)
    others = [p for p in path.glob('shard-*') if p.name not in existed]
    meta = path / META_FILE
    if meta.exists() and META_FILE not in existed and not others and not any(
            n.startswith('shard-') for n in existed):
        meta.unlink()
        removed.append(META_FILE)
    if before is None and not any(path.iterdir()):
        path.rmdir()
        removed.append(f'{root}/')
    return removed
