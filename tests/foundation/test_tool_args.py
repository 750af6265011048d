"""The arguments tools/train.py and tools/test.py share, and the config they produce."""
import argparse
import os

from ovd.tool_args import add_common_arguments, load_config


def _parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_common_arguments(parser, 'work dir', 'a.b=1')
    return parser.parse_args(argv)


def test_defaults_follow_mmdetection(tmp_path, monkeypatch):
    config = tmp_path / 'my_model_cfg.py'
    config.write_text("model = dict(depth=18)\ntrain_cfg = dict(max_iters=100)\n")
    monkeypatch.setenv('LOCAL_RANK', 'unset')  # so that teardown restores whatever was there
    monkeypatch.delenv('LOCAL_RANK')
    cfg = load_config(_parse([str(config)]))
    assert cfg.work_dir == './work_dirs/my_model_cfg' and cfg.launcher == 'none'
    assert os.environ['LOCAL_RANK'] == '0'


def test_cfg_options_work_dir_and_launcher(tmp_path):
    config = tmp_path / 'c.py'
    config.write_text("train_cfg = dict(max_iters=100)\nwork_dir = 'from_config'\n")
    cfg = load_config(_parse([str(config), '--cfg-options', 'train_cfg.max_iters=3', '--launcher', 'pytorch']))
    assert cfg.train_cfg.max_iters == 3 and cfg.launcher == 'pytorch' and cfg.work_dir == 'from_config'
    cfg = load_config(_parse([str(config), '--work-dir', str(tmp_path / 'w')]))
    assert cfg.work_dir == str(tmp_path / 'w')
