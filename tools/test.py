"""Evaluate a checkpoint with an ovd config (what ``mim test ovd CONFIG --checkpoint CKPT`` runs).

Arguments follow mmdetection's ``tools/test.py``: ``--work-dir``, ``--out`` (raw predictions, pickle),
``--cfg-options``, ``--launcher``. The metrics ``runner.test()`` returns are written as JSON to
``<work_dir>/<timestamp>/metrics.json``, beside that run's logs (:mod:`ovd.evaluation.metrics_file`); the benchmark
runner's run records are built from that file.
"""
import argparse

from mmengine.dist import is_main_process
from mmengine.runner import Runner

from ovd.evaluation.metrics_file import write_metrics
from ovd.quiet import quiet_by_default
from ovd.setup import setup_process
from ovd.tool_args import add_common_arguments, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) an ovd detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='checkpoint file (or use --checkpoint)')
    parser.add_argument('--checkpoint', dest='checkpoint_opt', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to this pickle file')
    add_common_arguments(parser, 'where logs and metrics go', 'test_dataloader.batch_size=2')
    args = parser.parse_args()
    args.checkpoint = args.checkpoint_opt or args.checkpoint
    if args.checkpoint is None:
        parser.error('a checkpoint is required (positional or --checkpoint)')
    return args


def main() -> None:
    setup_process()  # compatibility fixes; ovd's registries import their modules on first lookup
    args = parse_args()
    quiet_by_default()  # library warnings and config-loading INFO lines; OVD_VERBOSE=1 keeps them
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end in .pkl or .pickle, got {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
            else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpDetResults', out_file_path=args.out))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if is_main_process():  # every rank gets the metrics; one writes them
        path = write_metrics(runner.log_dir, metrics)
        runner.logger.info(f'metrics written to {path}')


if __name__ == '__main__':
    main()
