"""``ovd demo``'s job order: a region cache waits for the entry training its proposal model, the entries reading
the cache wait for it, everything else runs beside them, and a failure skips only what waits for it."""
import threading
import time

import pytest
from runner_helpers import REPO

from ovd.benchmark.spec import load_spec
from ovd.commands.demo_jobs import Job, Prerequisite, SweepJobs, run_jobs


def _recorder(events, name, ok=True, hold=None):
    def run():
        events.append(('start', name))
        if hold is not None:
            hold.wait(5)
        events.append(('end', name))
        return ok
    return run


def test_jobs_wait_for_their_needs_and_the_rest_run_beside_them():
    events, release = [], threading.Event()
    jobs = [Job('maker', _recorder(events, 'maker', hold=release)),
            Job('cache', _recorder(events, 'cache'), ['maker'], is_entry=False),
            Job('reader', _recorder(events, 'reader'), ['cache']),
            Job('other', _recorder(events, 'other'))]
    seen_running = []

    def on_change(running, outcome):
        seen_running.append(sorted(running))
        if 'other' in outcome:
            release.set()  # 'maker' ends only after 'other' has run beside it

    outcome = run_jobs(jobs, 2, on_change)
    assert outcome == {'maker': True, 'cache': True, 'reader': True, 'other': True}
    assert ['maker', 'other'] in seen_running
    assert events.index(('start', 'cache')) > events.index(('end', 'maker'))
    assert events.index(('start', 'reader')) > events.index(('end', 'cache'))


def test_a_failed_need_skips_its_dependants_only():
    events = []
    jobs = [Job('maker', _recorder(events, 'maker', ok=False)),
            Job('cache', _recorder(events, 'cache'), ['maker'], is_entry=False),
            Job('reader', _recorder(events, 'reader'), ['cache']),
            Job('other', _recorder(events, 'other'))]
    outcome = run_jobs(jobs, 1, lambda running, outcome: None)
    assert outcome == {'maker': False, 'cache': False, 'reader': False, 'other': True}
    assert ('start', 'cache') not in events and ('start', 'reader') not in events


def test_one_worker_runs_one_job_at_a_time_in_order():
    lock, overlaps, events = threading.Lock(), [], []

    def job(name):
        def run():
            if not lock.acquire(blocking=False):
                overlaps.append(name)
                return True
            events.append(name)
            time.sleep(0.01)
            lock.release()
            return True
        return run

    run_jobs([Job(n, job(n)) for n in 'abc'], 1, lambda running, outcome: None)
    assert events == ['a', 'b', 'c'] and not overlaps


def test_a_need_must_name_an_earlier_job():
    with pytest.raises(ValueError, match="job 'a' needs \\['b'\\]"):
        run_jobs([Job('a', lambda: True, ['b']), Job('b', lambda: True)], 1, lambda running, outcome: None)


def test_world_sweep_waits_for_the_clip_and_builds_vild_cache_after_the_base_only_detector(tmp_path):
    sweep = load_spec(str(REPO / 'benchmarks' / 'sweeps' / 'ov_world.yaml'), {'out': str(tmp_path)})
    clip = Prerequisite('world CLIP', lambda: True, str(tmp_path / 'data' / 'synthetic' / 'ov_world' / 'clip'))
    jobs = {job.name: job for job in SweepJobs(sweep, prerequisite=clip).jobs()}
    caches = [job for job in jobs.values() if not job.is_entry and job.name != 'world CLIP']
    # ViLD and ViLD-ensemble share one cache, made of the base-only detector's proposals and CLIP's crops
    assert len(caches) == 1 and caches[0].needs == ['base-only-s0', 'world CLIP']
    assert jobs['vild-s0'].needs == jobs['vild-ensemble-s0'].needs == ['world CLIP', caches[0].name]
    assert jobs['baron-s0'].needs == ['world CLIP']  # its teacher and text encoder
    assert all(not jobs[e].needs for e in ('base-only-s0', 'glip-s0', 'mdetr-s0'))
    assert list(jobs)[:2] == ['world CLIP', 'base-only-s0']


def test_jobs_waiting_in_a_cycle_are_refused():
    from ovd.commands.demo_jobs import _in_start_order
    with pytest.raises(ValueError, match='cycle'):
        _in_start_order([Job('a', lambda: True, ['b']), Job('b', lambda: True, ['a'])])
