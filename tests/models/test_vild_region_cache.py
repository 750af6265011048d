"""The sharded region cache: round trip, resume after a real kill, skip of finished shards, damage detection."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ovd.data.region_cache import (
    FieldSpec,
    RegionCache,
    RegionCacheError,
    RegionCacheWriter,
    verify_shard,
)

FIELDS = {'bboxes': FieldSpec('float32', 4), 'scores': FieldSpec('float32'),
          'embeddings': FieldSpec('float16', 8)}


def _record(i: int, rows: int = 3) -> dict:
    rng = np.random.default_rng(i)
    return {'bboxes': rng.uniform(0, 100, (rows, 4)).astype(np.float32),
            'scores': rng.uniform(0, 1, rows).astype(np.float32),
            'embeddings': rng.normal(size=(rows, 8)).astype(np.float16)}


def _write_shard(root, index, num_shards, keys, finish=True):
    with RegionCacheWriter(root, index, num_shards, FIELDS, producer={'test': 1}, durable=False) as writer:
        for key in keys:
            writer.append(key, _record(key))
        if finish:
            writer.finish()


def test_round_trip_two_shards(tmp_path):
    _write_shard(tmp_path, 0, 2, [1, 3])
    _write_shard(tmp_path, 1, 2, [2, 4])
    cache = RegionCache(tmp_path, verify=True)
    assert len(cache) == 4 and 3 in cache and '4' in cache and 5 not in cache
    got = cache.get(3)
    want = _record(3)
    assert set(got) == set(FIELDS)
    for name in FIELDS:
        np.testing.assert_array_equal(got[name], want[name])
    assert got['scores'].shape == (3,) and got['embeddings'].dtype == np.float16
    with pytest.raises(KeyError, match='no record for image .5.'):
        cache.get(5)


def test_zero_row_record(tmp_path):
    with RegionCacheWriter(tmp_path, 0, 1, FIELDS, durable=False) as writer:
        writer.append(7, {'bboxes': np.zeros((0, 4)), 'scores': np.zeros(0), 'embeddings': np.zeros((0, 8))})
        writer.finish()
    assert RegionCache(tmp_path).get(7)['bboxes'].shape == (0, 4)


def test_bad_record_shapes_are_refused(tmp_path):
    with RegionCacheWriter(tmp_path, 0, 1, FIELDS, durable=False) as writer:
        bad = _record(1)
        bad['embeddings'] = bad['embeddings'][:, :5]
        with pytest.raises(ValueError, match="field 'embeddings'"):
            writer.append(1, bad)
        bad = _record(1)
        bad['scores'] = bad['scores'][:2]
        with pytest.raises(ValueError, match="field 'scores': 2 rows"):
            writer.append(1, bad)
        writer.append(1, _record(1))
        with pytest.raises(RegionCacheError, match='already committed'):
            writer.append(1, _record(1))


_KILLED_WRITER = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    sys.path.insert(0, {repo!r})
    from ovd.data.region_cache import FieldSpec, RegionCacheWriter
    fields = {{'bboxes': FieldSpec('float32', 4), 'scores': FieldSpec('float32'),
              'embeddings': FieldSpec('float16', 8)}}
    def record(i, rows=3):
        rng = np.random.default_rng(i)
        return {{'bboxes': rng.uniform(0, 100, (rows, 4)).astype(np.float32),
                'scores': rng.uniform(0, 1, rows).astype(np.float32),
                'embeddings': rng.normal(size=(rows, 8)).astype(np.float16)}}
    writer = RegionCacheWriter({root!r}, 0, 1, fields, producer={{'test': 1}})
    for key in writer.done_keys:
        assert False, 'fresh shard expected'
    for key in (10, 11, 12):
        writer.append(key, record(key))
    # a torn write: half a record's bytes and half an index line, then the job is killed
    writer._bin.write(b'x' * 50); writer._bin.flush()
    writer._idx.write(b'{{"key":"13","off'); writer._idx.flush()
    os.kill(os.getpid(), signal.SIGKILL)
''')


def test_resume_after_kill(tmp_path, repo_root):
    root = tmp_path / 'cache'
    script = _KILLED_WRITER.format(repo=str(repo_root), root=str(root))
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # killed before finishing: the reader refuses the cache, naming the shard
    with pytest.raises(RegionCacheError, match='1 of 1 shards are not finished .0/1'):
        RegionCache(root)
    writer = RegionCacheWriter(root, 0, 1, FIELDS, producer={'test': 1})
    assert writer.done_keys == ['10', '11', '12']
    record_bytes = 3 * (16 + 4 + 16)
    assert os.path.getsize(root / 'shard-00000-of-00001.bin') == 3 * record_bytes  # torn tail cut
    for key in (13, 14):
        writer.append(key, _record(key))
    writer.finish()
    cache = RegionCache(root, verify=True)
    assert sorted(cache.keys(), key=int) == ['10', '11', '12', '13', '14']
    for key in (10, 13, 14):
        np.testing.assert_array_equal(cache.get(key)['embeddings'], _record(key)['embeddings'])


def test_finished_shard_is_skipped(tmp_path):
    _write_shard(tmp_path, 0, 1, [1, 2])
    writer = RegionCacheWriter(tmp_path, 0, 1, FIELDS, producer={'test': 1})
    assert writer.finished and writer.done_keys == ['1', '2']
    with pytest.raises(RegionCacheError, match='shard is finished'):
        writer.append(3, _record(3))


def test_flipped_byte_is_detected(tmp_path):
    _write_shard(tmp_path, 0, 1, [1, 2])
    data = tmp_path / 'shard-00000-of-00001.bin'
    blob = bytearray(data.read_bytes())
    blob[-3] ^= 0xFF  # inside record 2
    data.write_bytes(bytes(blob))
    cache = RegionCache(tmp_path)  # sizes still agree: opening without a full verify succeeds
    cache.get(1)
    with pytest.raises(RegionCacheError, match=r"shard-00000-of-00001\.bin: record '2' .* crc32"):
        cache.get(2)
    with pytest.raises(RegionCacheError, match='sha256 differs'):
        verify_shard(tmp_path, 0, 1, full=True)
    with pytest.raises(RegionCacheError, match="committed record '2'"):
        # resuming a damaged unfinished shard refuses to append after the damage
        (tmp_path / 'shard-00000-of-00001.done').unlink()
        RegionCacheWriter(tmp_path, 0, 1, FIELDS, producer={'test': 1})


def test_truncated_finished_shard_is_detected(tmp_path):
    _write_shard(tmp_path, 0, 1, [1, 2])
    os.truncate(tmp_path / 'shard-00000-of-00001.bin', 40)
    with pytest.raises(RegionCacheError, match=r'\.bin: 40 bytes, but shard-00000-of-00001\.done says 216'):
        RegionCache(tmp_path)


def test_mismatched_meta_is_refused(tmp_path):
    _write_shard(tmp_path, 0, 2, [1])
    with pytest.raises(RegionCacheError, match="field 'num_shards' differs"):
        RegionCacheWriter(tmp_path, 0, 3, FIELDS, producer={'test': 1})
    with pytest.raises(RegionCacheError, match="field 'producer' differs"):
        RegionCacheWriter(tmp_path, 1, 2, FIELDS, producer={'test': 2})
    meta = json.loads((tmp_path / 'meta.json').read_text())
    assert meta['fields'] == [{'name': 'bboxes', 'dtype': '<f4', 'width': 4},
                              {'name': 'scores', 'dtype': '<f4', 'width': None},
                              {'name': 'embeddings', 'dtype': '<f2', 'width': 8}]


def test_bad_index_line_names_file_and_line(tmp_path):
    _write_shard(tmp_path, 0, 1, [1], finish=False)
    idx = tmp_path / 'shard-00000-of-00001.idx'
    idx.write_text(idx.read_text() + 'not json\n')
    with pytest.raises(RegionCacheError, match=r'\.idx: line 2 is not a valid index record'):
        RegionCacheWriter(tmp_path, 0, 1, FIELDS, producer={'test': 1})
