"""What ``tools/train.py`` and ``tools/test.py`` share: mmdetection's common arguments and the config they yield."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction


def add_common_arguments(parser: argparse.ArgumentParser, work_dir_help: str, cfg_options_example: str) -> None:
    """``config``-independent arguments both tools take, spelled as in mmdetection's tools."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=f'override config values, e.g. {cfg_options_example}')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged, the launcher set and a work dir (mmdetection's default:
    ``./work_dirs/<config name>``); exports ``LOCAL_RANK`` for launchers that pass ``--local-rank``."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
