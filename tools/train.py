"""Train a detector from an ovd config (what ``mim train ovd CONFIG`` runs).

Mirrors mmdetection's ``tools/train.py`` arguments so mmdet users need nothing new:
``--work-dir``, ``--resume [CKPT]``, ``--amp``, ``--cfg-options``, ``--launcher {none,pytorch,slurm,mpi}``.
"""
import argparse

from mmengine.config import Config
from mmengine.runner import Runner

from ovd.quiet import quiet_by_default
from ovd.setup import setup_process
from ovd.tool_args import add_common_arguments, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train an ovd detector')
    parser.add_argument('config', help='config file path')
    add_common_arguments(parser, 'where logs and checkpoints go', 'train_cfg.max_iters=10')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the work dir if no path')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the LR by the actual batch size')
    return parser.parse_args()


def build_config(args: argparse.Namespace) -> Config:
    cfg = load_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError(f'{args.config} has no auto_scale_lr.base_batch_size; cannot scale the LR')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main() -> None:
    setup_process()  # compatibility fixes; ovd's registries import their modules on first lookup
    args = parse_args()
    quiet_by_default()  # library warnings and config-loading INFO lines; OVD_VERBOSE=1 keeps them
    cfg = build_config(args)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
