"""A fake instant sweep job for benchmarks/perf/runner_overhead.py: writes the run record and status.json the
real driver would write, and nothing else. Runs as ``python -S runner_fake_job.py ENTRY_DIR`` or in-process."""
import json
import os
import sys
import time


def _write(path: str, obj: dict) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def fake_job(entry_dir: str, env: dict) -> int:
    with open(os.path.join(entry_dir, 'entry.json')) as f:
        entry = json.load(f)
    os.makedirs(os.path.join(entry_dir, 'records'), exist_ok=True)
    _write(os.path.join(entry_dir, 'records', 'coco.json'), dict(
        schema='ovd.run_record/1', run_id=f'{entry["sweep"]}/{entry["id"]}/coco', method=entry['method'],
        protocol='coco', metrics={'AP': 1.0, 'AP50': 2.0}, status='done', finished_at=time.time(),
        seed=entry['seed'], experiment=entry['experiment']))
    _write(os.path.join(entry_dir, 'status.json'), dict(state='done', attempts=1, attempt_id=env['OVD_ATTEMPT_ID']))
    return 0


if __name__ == '__main__':
    sys.exit(fake_job(sys.argv[1], dict(os.environ)))
