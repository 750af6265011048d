"""The content-addressed embedding cache: keys, hit/miss, env override, concurrent writers in several
processes."""

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest
import torch

from ovd.text.cache import CACHE_ENV, EmbeddingCache, cache_key, cache_root


def test_key_depends_on_every_input():
    base = cache_key('enc:a', ['a photo of {}.'], ['cat', 'dog'])
    assert base == cache_key('enc:a', ('a photo of {}.',), ('cat', 'dog'))
    assert len(base) == 64
    others = {
        cache_key('enc:b', ['a photo of {}.'], ['cat', 'dog']),
        cache_key('enc:a', ['a {}.'], ['cat', 'dog']),
        cache_key('enc:a', ['a photo of {}.'], ['dog', 'cat']),
        cache_key('enc:a', ['a photo of {}.'], ['cat', 'dog'], extra={'this_is': False}),
    }
    assert base not in others and len(others) == 4


def test_cache_root_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'c'))
    assert cache_root() == tmp_path / 'c'
    assert EmbeddingCache().root == tmp_path / 'c'
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root() == Path.home() / '.cache' / 'ovd'


def test_miss_then_hit(tmp_path):
    cache = EmbeddingCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return torch.arange(6.0).view(2, 3)

    key = cache_key('enc', ['{}'], ['a', 'b'])
    first = cache.get_or_compute(key, compute, meta={'n': 2})
    second = cache.get_or_compute(key, compute)
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert torch.equal(first, second) and torch.equal(second, torch.arange(6.0).view(2, 3))
    assert cache.path(key).is_file() and cache.path(key).parent.name == key[:2]
    assert EmbeddingCache(tmp_path).get(key) is not None  # a fresh instance (another job) hits too
    assert not list(cache.path(key).parent.glob('*.tmp'))


def test_corrupt_entry_is_recomputed(tmp_path):
    cache = EmbeddingCache(tmp_path)
    key = cache_key('enc', ['{}'], ['a'])
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_bytes(b'not a torch file')
    value = cache.get_or_compute(key, lambda: torch.ones(1, 2))
    assert torch.equal(value, torch.ones(1, 2)) and cache.misses == 1
    assert torch.equal(EmbeddingCache(tmp_path).get(key), torch.ones(1, 2))


def _worker(root: str, key: str, log: str, out: str) -> None:
    cache = EmbeddingCache(root)

    def compute():
        with open(log, 'a') as f:
            f.write(f'{os.getpid()}\n')
        time.sleep(0.3)  # a slow encoder: the other processes arrive while this one computes
        return torch.linspace(0, 1, 12).view(3, 4)

    value = cache.get_or_compute(key, compute)
    torch.save(value, out)


def test_concurrent_writers_compute_once(tmp_path):
    key = cache_key('enc', ['{}'], ['a', 'b', 'c'])
    log = tmp_path / 'computations.log'
    ctx = mp.get_context('fork')
    procs = [
        ctx.Process(target=_worker, args=(str(tmp_path / 'cache'), key, str(log), str(tmp_path / f'{i}.pt')))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert len(log.read_text().split()) == 1  # exactly one process computed, the others read its entry
    expected = torch.linspace(0, 1, 12).view(3, 4)
    for i in range(4):
        assert torch.equal(torch.load(tmp_path / f'{i}.pt'), expected)
    entry_dir = EmbeddingCache(tmp_path / 'cache').path(key).parent
    assert [p.suffix for p in entry_dir.iterdir() if p.suffix != '.lock'] == ['.pt']


def test_failed_compute_leaves_nothing(tmp_path):
    cache = EmbeddingCache(tmp_path)
    key = cache_key('enc', ['{}'], ['x'])

    def boom():
        raise RuntimeError('encoder crashed')

    with pytest.raises(RuntimeError, match='encoder crashed'):
        cache.get_or_compute(key, boom)
    assert not cache.path(key).exists()
    assert torch.equal(cache.get_or_compute(key, lambda: torch.zeros(1)), torch.zeros(1))
