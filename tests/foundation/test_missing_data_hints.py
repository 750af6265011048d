"""Errors for missing synthetic data and a missing region cache print the command that creates them."""
import pytest

from ovd.hints import synthetic_data_hint


def test_synthetic_hint_names_the_synth_folder():
    assert synthetic_data_hint('work/data/synthetic/coco/annotations/a.json') == \
        ' (synthetic data: create it with `ovd synth --out work/data/synthetic`)'
    assert synthetic_data_hint('data/coco/annotations/a.json') == ''


def test_tiny_config_on_a_clean_folder_says_run_ovd_synth(tmp_path, monkeypatch, repo_root):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import ovd  # noqa: F401
    from ovd.registry import DATASETS
    monkeypatch.setenv('OVD_DATA_ROOT', str(tmp_path / 'data'))
    cfg = Config.fromfile(str(repo_root / 'configs/smoke/faster-rcnn_r18_tiny_synth-coco.py'))
    init_default_scope('ovd')
    with pytest.raises(Exception) as err:
        DATASETS.build(cfg.train_dataloader.dataset).full_init()
    assert f'create it with `ovd synth --out {tmp_path}/data/synthetic`' in str(err.value)


def test_missing_region_cache_says_run_precompute_regions(tmp_path):
    from ovd.data.region_cache import RegionCache, RegionCacheError
    with pytest.raises(RegionCacheError) as err:
        RegionCache(tmp_path)
    assert ('create it with `ovd precompute-regions --config CONFIG`, CONFIG being the training config whose '
            f'region_cache.root is {tmp_path}') in str(err.value)


def test_missing_tiny_text_model_says_run_ovd_synth(tmp_path, monkeypatch):
    from ovd.text.hf import load_tokenizer
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(OSError, match=r'ovd synth --out .*synthetic`'):
        load_tokenizer(str(tmp_path / 'synthetic' / 'tiny_bert'))
