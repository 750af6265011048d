"""Re-running a sweep: finished entries are skipped, failed ones retried within their budget, interrupted ones
resumed, changed ones re-run with the old results kept, live ones left alone. The local executor runs a small
stand-in job (an injectable command) that writes what the real driver writes."""
import json
import sys
import textwrap

from runner_helpers import write_spec

from ovd.benchmark.executors import LocalExecutor
from ovd.benchmark.spec import load_spec
from ovd.benchmark.state import EntryDir, State, resolve_state
from ovd.benchmark.sweep import collect_status, run_sweep

# Stand-in for the driver: entries named "bad*" fail, entries with a file "interrupt-once" stop once like a
# signalled job, everything else writes its record. It writes status.json exactly as the driver does.
FAKE_JOB = textwrap.dedent('''
    import json, os, pathlib, sys, time
    d = pathlib.Path(sys.argv[1])
    st = json.loads((d / 'status.json').read_text()) if (d / 'status.json').exists() else {}
    st.update(attempt_id=os.environ['OVD_ATTEMPT_ID'], attempts=st.get('attempts', 0) + 1, state='running')
    entry = json.loads((d / 'entry.json').read_text())
    if entry['id'].startswith('bad'):
        st.update(state='failed', error='KeyError: NoSuchDetector', failures=st.get('failures', 0) + 1)
    elif (d / 'interrupt-once').exists():
        (d / 'interrupt-once').unlink()
        st.update(state='interrupted', reason='SIGTERM')
    else:
        rec = dict(schema='ovd.run_record/1', run_id=entry['sweep'] + '/' + entry['id'] + '/coco',
                   method=entry['method'], protocol='coco', metrics={'AP': 1.0}, status='done',
                   finished_at=time.time(), seed=entry['seed'])
        (d / 'records').mkdir(exist_ok=True)
        (d / 'records' / 'coco.json').write_text(json.dumps(rec))
        st.update(state='done')
    (d / 'status.json').write_text(json.dumps(st))
    sys.exit(1 if st['state'] == 'failed' else 0)
''')

SPEC = """
name: st
defaults: {retries: 1}
experiments:
  - {name: good, method: smoke, train: @SMOKE@, seeds: [0, 1], evaluate: [{protocol: coco}]}
  - {name: bad, method: smoke, train: @SMOKE@, evaluate: [{protocol: coco}]}
"""


def executor(tmp_path):
    script = tmp_path / 'fake_job.py'
    script.write_text(FAKE_JOB)
    return LocalExecutor(workers=2, command=lambda d: [sys.executable, '-S', str(script), str(d)], progress=False)


def states(sweep, ex):
    return {s.entry_id: (s.state, s.attempts, s.failures) for s in collect_status(sweep, ex)}


def test_rerun_skips_done_retries_failed_within_budget_and_resumes(tmp_path):
    sweep = load_spec(str(write_spec(tmp_path / 's.yaml', SPEC)), root=str(tmp_path / 'root'))
    ex = executor(tmp_path)
    first = run_sweep(sweep, ex, log=lambda m: None)
    assert sorted(first.submitted) == ['bad-s0', 'good-s0', 'good-s1']
    assert states(sweep, ex) == {'good-s0': (State.DONE, 1, 0), 'good-s1': (State.DONE, 1, 0),
                                 'bad-s0': (State.FAILED, 1, 1)}
    # The failure is shown with its error; the second run retries only it (retries: 1).
    assert next(s for s in first.statuses if s.entry_id == 'bad-s0').error == 'KeyError: NoSuchDetector'
    second = run_sweep(sweep, ex, log=lambda m: None)
    assert second.submitted == ['bad-s0'] and sorted(second.skipped_done) == ['good-s0', 'good-s1']
    third = run_sweep(sweep, ex, log=lambda m: None)
    assert third.submitted == [] and third.gave_up == ['bad-s0']
    assert states(sweep, ex)['bad-s0'] == (State.FAILED, 2, 2)
    # --max-retries raises the budget.
    assert run_sweep(sweep, ex, max_retries=5, log=lambda m: None).submitted == ['bad-s0']


def test_interrupted_entries_resume_and_changed_entries_rerun_keeping_old_results(tmp_path):
    spec = write_spec(tmp_path / 's.yaml', SPEC)
    sweep = load_spec(str(spec), root=str(tmp_path / 'root'))
    ex = executor(tmp_path)
    (tmp_path / 'root' / 'good-s1').mkdir(parents=True)
    (tmp_path / 'root' / 'good-s1' / 'interrupt-once').touch()
    run_sweep(sweep, ex, log=lambda m: None)
    assert states(sweep, ex)['good-s1'][0] == State.INTERRUPTED
    notes = []
    assert sorted(run_sweep(sweep, ex, log=notes.append).submitted) == ['bad-s0', 'good-s1']
    assert 'good-s1: resuming (SIGTERM)' in notes
    assert states(sweep, ex)['good-s1'] == (State.DONE, 2, 0)
    # Changing an entry's overrides re-runs it; the earlier results move to .superseded, never deleted.
    changed = load_spec(str(write_spec(tmp_path / 's.yaml', SPEC.replace(
        'seeds: [0, 1],', 'seeds: [0, 1], cfg_options: {train_cfg.max_epochs: 3},'))), root=str(tmp_path / 'root'))
    assert {s.entry_id: s.state for s in collect_status(changed, ex)}['good-s0'] == State.CHANGED
    summary = run_sweep(changed, ex, max_retries=0, log=lambda m: None)
    assert sorted(summary.submitted) == ['good-s0', 'good-s1'] and len(summary.superseded) == 2
    old = list((tmp_path / 'root' / '.superseded').glob('good-s0-*/records/coco.json'))
    assert len(old) == 1 and json.loads(old[0].read_text())['run_id'] == 'st/good-s0/coco'


def test_live_jobs_are_left_alone(tmp_path):
    sweep = load_spec(str(write_spec(tmp_path / 's.yaml', SPEC)), root=str(tmp_path / 'root'))
    entry = sweep.entries[0]
    edir = EntryDir(sweep.root, entry.id)
    edir.path.mkdir(parents=True)
    edir.write_entry(entry)
    (edir.path / 'submission.json').write_text(json.dumps(dict(executor='slurm', job_id='42', attempt_id='a')))
    (edir.path / 'status.json').write_text(json.dumps(dict(state='running', attempt_id='a', attempts=1)))
    assert resolve_state(edir, entry, 'running').state == State.RUNNING
    assert resolve_state(edir, entry, 'queued').state == State.QUEUED
    # Gone from the queue while status.json still says running: killed hard (e.g. node failure) -> resume.
    gone = resolve_state(edir, entry, None)
    assert gone.state == State.INTERRUPTED and 'vanished' in gone.detail
    # Submitted, gone from the queue, never started (status belongs to an older attempt): run it again.
    (edir.path / 'submission.json').write_text(json.dumps(dict(executor='slurm', job_id='43', attempt_id='b')))
    assert resolve_state(edir, entry, None).state == State.PENDING


def test_one_damaged_entry_is_reported_and_the_rest_of_the_sweep_runs(tmp_path):
    sweep = load_spec(str(write_spec(tmp_path / 's.yaml', SPEC)), root=str(tmp_path / 'root'))
    ex = executor(tmp_path)
    damaged = EntryDir(sweep.root, 'good-s1')
    damaged.path.mkdir(parents=True)
    damaged.entry_file.write_text('{"id": "good-s1", "ha')  # cut short (a full disk, a crash mid-write)
    summary = run_sweep(sweep, ex, log=lambda m: None)
    assert summary.broken == ['good-s1'] and sorted(summary.submitted) == ['bad-s0', 'good-s0']
    found = {s.entry_id: s for s in collect_status(sweep, ex)}
    assert found['good-s0'].state == State.DONE and found['bad-s0'].state == State.FAILED
    assert found['good-s1'].state == State.BROKEN
    assert found['good-s1'].error.startswith(f'{damaged.entry_file}: not valid JSON')
    damaged.entry_file.unlink()  # fixed by hand: the next run runs it
    assert 'good-s1' in run_sweep(sweep, ex, log=lambda m: None).submitted
    assert {s.entry_id: s.state for s in collect_status(sweep, ex)}['good-s1'] == State.DONE
