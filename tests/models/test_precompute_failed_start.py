"""A failed `ovd precompute-regions` leaves no cache that blocks its own rerun: the files a run created before
computing any region are removed, so the corrected rerun starts clean; committed work is never removed."""
import json

import pytest

from ovd.cli import main
from ovd.commands.precompute_regions import remove_failed_start
from ovd.data.region_cache import FieldSpec, RegionCacheWriter

CONFIG = 'configs/vild/vild_tiny_synth-ov-lvis.py'
FIELDS = {'bboxes': FieldSpec('float32', 4), 'scores': FieldSpec('float32')}


def _record():
    import numpy as np
    return {'bboxes': np.zeros((2, 4), np.float32), 'scores': np.ones(2, np.float32)}


def test_bad_checkpoint_then_corrected_rerun(tmp_path, repo_root, monkeypatch, capsys):
    from ovd.data.synthetic import generate_lvis
    from ovd.data.synthetic.tiny_text import save_tiny_clip
    data = tmp_path / 'data'
    generate_lvis(data / 'synthetic' / 'lvis', seed=0, num_images=4)
    save_tiny_clip(data / 'synthetic' / 'tiny_clip')
    monkeypatch.setenv('OVD_DATA_ROOT', str(data))
    monkeypatch.chdir(repo_root)
    cache = tmp_path / 'cache'
    common = ['precompute-regions', '--config', CONFIG, '--cache-root', str(cache), '--device', 'cpu']
    # the missing checkpoint is reported in one line (exit 2), after the cleanup
    assert main(common + ['--cfg-options', f'region_cache.proposal_model.checkpoint={tmp_path}/missing.pth']) == 2
    err = capsys.readouterr().err
    assert 'removed what it had created (' in err and 'missing.pth' in err
    assert not cache.exists()  # before: meta.json and two empty shard files stayed and refused the rerun
    assert main(common + ['--limit', '1']) == 0
    assert '1 new images (0 resumed)' in capsys.readouterr().out
    assert json.loads((cache / 'meta.json').read_text())['producer']['proposal_model']['checkpoint'] is None


def test_committed_records_and_other_shards_are_kept(tmp_path):
    root = tmp_path / 'cache'
    with RegionCacheWriter(root, 0, 2, FIELDS, durable=False) as writer:
        writer.append('1', _record())
    # shard 0 committed a record: nothing is removed
    assert remove_failed_start(str(root), (0, 2), None) == []
    assert sorted(p.name for p in root.iterdir()) == ['meta.json', 'shard-00000-of-00002.bin',
                                                     'shard-00000-of-00002.idx']
    # shard 1 fails before its first record while shard 0 exists: only shard 1's empty files go
    before = {p.name for p in root.iterdir()}
    RegionCacheWriter(root, 1, 2, FIELDS, durable=False).close()
    assert remove_failed_start(str(root), (1, 2), before) == ['shard-00001-of-00002.idx',
                                                              'shard-00001-of-00002.bin']
    assert {p.name for p in root.iterdir()} == before


def test_mismatch_message_names_the_differing_keys(tmp_path):
    from ovd.data.region_cache import RegionCacheError
    RegionCacheWriter(tmp_path, 0, 1, FIELDS, producer={'model': {'checkpoint': 'a.pth', 'nms': 0.7}},
                      durable=False).close()
    with pytest.raises(RegionCacheError) as err:
        RegionCacheWriter(tmp_path, 0, 1, FIELDS, producer={'model': {'checkpoint': 'b.pth', 'nms': 0.7}})
    assert 'producer.model.checkpoint: "a.pth" on disk, "b.pth" now' in str(err.value)
    assert 'nms' not in str(err.value)
