"""The order of ``ovd demo``'s work: every sweep entry is a job, a region cache (ViLD's) is a job that waits for
the entry training its proposal model, the entries reading a cache wait for it, and a prerequisite (the world's
CLIP) is a job that the entries and caches whose configs name its path wait for; jobs start, in spec order, on
``workers`` lanes as soon as what they wait for has finished, so a method that needs nothing trains beside the
CLIP and the proposal model instead of after them.

A sweep entry trains and evaluates; it does not prepare data, so building a region cache (``ovd
precompute-regions``) is the demo's job. Its proposal model is the entry whose training config is the cache's
``region_cache.proposal_model.config``; where the sweep has none, the cache reads the checkpoint the config names
as it is and waits for nothing.
"""
import dataclasses
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence


@dataclasses.dataclass
class Job:
    """One piece of the demo's work: ``run()`` returns True on success; it starts once every job named in
    ``needs`` has succeeded, and is skipped (False) when one of them failed."""
    name: str
    run: Callable[[], bool]
    needs: List[str] = dataclasses.field(default_factory=list)
    is_entry: bool = True  # counted in the progress bar's runs


def run_jobs(jobs: Sequence[Job], workers: int, on_change: Callable[[List[str], Dict[str, bool]], None],
             on_interrupt: Callable[[], None] = lambda: None) -> Dict[str, bool]:
    """Run ``jobs`` on ``workers`` threads, each as soon as its needs have succeeded, in the given order otherwise.

    Args:
        jobs: the jobs; every name in a job's ``needs`` is the name of an earlier job.
        workers: jobs at once.
        on_change: called with the running job names and the outcomes so far whenever a job starts or ends.
        on_interrupt: called when Ctrl-C reaches this thread, before KeyboardInterrupt propagates (to stop the
            jobs' processes).

    Returns:
        ``{name: succeeded}``; a job skipped because a need failed counts as failed.
    """
    names = [job.name for job in jobs]
    for job in jobs:
        unknown = [n for n in job.needs if n not in names[:names.index(job.name)]]
        if unknown:
            raise ValueError(f'job {job.name!r} needs {unknown}, which are not earlier jobs')
    outcome: Dict[str, bool] = {}
    waiting = list(jobs)
    running: Dict[Future, Job] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            while waiting or running:
                for job in list(waiting):
                    if any(outcome.get(n) is False for n in job.needs):
                        outcome[job.name] = False
                        waiting.remove(job)
                    elif len(running) < workers and all(outcome.get(n) for n in job.needs):
                        running[pool.submit(job.run)] = job
                        waiting.remove(job)
                on_change([j.name for j in running.values()], dict(outcome))
                if not running:
                    continue  # every waiting job was skipped this round
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    outcome[running.pop(future).name] = bool(future.result())
            on_change([], dict(outcome))
        except KeyboardInterrupt:
            on_interrupt()
            raise
    return outcome


@dataclasses.dataclass
class Prerequisite:
    """Work some entries need done first: ``run()`` does it (True on success); an entry or region cache whose
    config section names ``path`` (in any string value) waits for it."""
    name: str
    run: Callable[[], bool]
    path: str


@dataclasses.dataclass
class EntryConfig:
    """What the jobs need to know of an entry's training config, read under the entry's environment."""
    path: Optional[str] = None
    model: dict = dataclasses.field(default_factory=dict)
    region_cache: Optional[dict] = None  # ViLD's cache section, which ``ovd precompute-regions`` fills


def read_entry_config(entry) -> EntryConfig:
    """The entry's training config (an empty :class:`EntryConfig` when it has none or it is missing: the sweep
    itself reports a missing config as the entry's failure)."""
    from mmengine.config import Config
    config = _resolved(entry.train_config)
    if config is None:
        return EntryConfig()
    cfg = _with_env(entry.env, lambda: Config.fromfile(str(config)))
    cache = cfg.get('region_cache')
    return EntryConfig(str(config), cfg.get('model', {}).to_dict() if cfg.get('model') else {},
                       cache.to_dict() if cache else None)


def names_path(section, path: str) -> bool:
    """Whether any string in the (nested) config ``section`` contains ``path``."""
    if isinstance(section, str):
        return path in section
    if isinstance(section, dict):
        return any(names_path(v, path) for v in section.values())
    if isinstance(section, (list, tuple)):
        return any(names_path(v, path) for v in section)
    return False


def _with_env(env, fn):
    """``fn()`` with ``env`` set in os.environ (configs read OVD_DATA_ROOT and friends while they are parsed)."""
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return fn()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _resolved(config: Optional[str]) -> Optional[Path]:
    """``config`` found as :func:`ovd.benchmark.spec.resolve_path` finds sweep configs, as an absolute path."""
    from ovd.benchmark.spec import default_search_dirs, resolve_path
    found = resolve_path(config, default_search_dirs()) if config else None
    return Path(found).resolve() if found is not None else None


class SweepJobs:
    """The jobs of one sweep (see the module docstring), and what they need to run and to be stopped."""

    def __init__(self, sweep, log: Callable[[str], None] = print,
                 prerequisite: Optional[Prerequisite] = None) -> None:
        from ovd.benchmark.executors import LocalExecutor
        self.sweep = sweep
        self.log = log
        self.prerequisite = prerequisite
        self._executors: List[LocalExecutor] = []
        self._lock = threading.Lock()

    def jobs(self) -> List[Job]:
        configs = {e.id: read_entry_config(e) for e in self.sweep.entries}
        pre = self.prerequisite
        out: List[Job] = [Job(pre.name, pre.run, [], False)] if pre else []

        def after_prerequisite(section) -> List[str]:
            return [pre.name] if pre and names_path(section, pre.path) else []

        cache_jobs: Dict[str, str] = {}  # cache root -> job name
        for entry in self.sweep.entries:
            cache = configs[entry.id].region_cache
            needs = after_prerequisite(configs[entry.id].model)
            if cache is not None:
                root = str(cache['root'])
                if root not in cache_jobs:
                    proposal_config = _resolved((cache.get('proposal_model') or {}).get('config'))
                    makers = [e.id for e in self.sweep.entries if configs[e.id].region_cache is None
                              and proposal_config is not None and configs[e.id].path == str(proposal_config)]
                    cache_jobs[root] = f'region cache of {entry.id}'
                    out.append(Job(cache_jobs[root], self._cache_job(entry, configs[entry.id].path),
                                   makers + after_prerequisite(cache), False))
                needs = needs + [cache_jobs[root]]
            out.append(Job(entry.id, self._entry_job(entry), needs))
        return _in_start_order(out)

    def _entry_job(self, entry) -> Callable[[], bool]:
        def run() -> bool:
            from ovd.benchmark.executors import LocalExecutor
            from ovd.benchmark.state import State
            from ovd.benchmark.sweep import run_sweep
            executor = LocalExecutor(workers=1, progress=False)
            with self._lock:
                self._executors.append(executor)
            summary = run_sweep(dataclasses.replace(self.sweep, entries=[entry]), executor, log=self.log)
            return all(s.state == State.DONE for s in summary.statuses)
        return run

    def _cache_job(self, entry, config: str) -> Callable[[], bool]:
        def run() -> bool:
            self.log(f'demo: building the region cache of {entry.train_config}')
            proc = subprocess.run([sys.executable, '-m', 'ovd.cli', 'precompute-regions', '--config', config,
                                   '--shard', '0/1'], env=dict(os.environ, **entry.env),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0:
                self.log(proc.stdout[-3000:])
                self.log(f'demo: ovd precompute-regions failed for {entry.train_config}')
            return proc.returncode == 0
        return run

    def stop(self) -> None:
        """SIGTERM every running job process: each checkpoints and records itself as interrupted."""
        with self._lock:
            executors = list(self._executors)
        for executor in executors:
            executor.terminate(signal.SIGTERM)


def _in_start_order(jobs: List[Job]) -> List[Job]:
    """``jobs`` ordered so each comes after what it waits for, the ones other jobs wait for (the prerequisite, a
    cache's proposal model, a cache) as early as that allows, the rest in spec order."""
    needed = {n for job in jobs for n in job.needs}
    rest = sorted(jobs, key=lambda j: j.name not in needed)  # stable
    placed: List[Job] = []
    while rest:
        ready = next((j for j in rest if all(n in {p.name for p in placed} for n in j.needs)), None)
        if ready is None:
            raise ValueError('demo jobs wait for each other in a cycle: ' + ', '.join(j.name for j in rest))
        placed.append(ready)
        rest.remove(ready)
    return placed
