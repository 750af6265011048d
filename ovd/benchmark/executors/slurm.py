"""Run sweep entries on SLURM with ``sbatch``: entries that ask for the same resources go into one job array
(one ``sbatch`` call however many entries), and every job is requeueable and told before its time limit.

Why sbatch and not submitit: the job script is a plain file next to the entry that a user can read and resubmit
by hand; job state comes from ``squeue`` plus the job's own ``status.json``, so no accounting database
(``sacct``, which submitit polls) is needed; and multi-task training is just ``srun`` inside the allocation,
which is what mmengine's slurm launcher expects. No extra dependency either.

Each job runs ``python -m ovd.benchmark.driver ENTRY_DIR`` as the batch step's main process (``exec``), so
``--signal=B:USR1@<grace>`` reaches the driver, which checkpoints and requeues the job itself.
"""
import getpass
import os
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ovd.fileio import atomic_write_text
from ..spec_schema import Resources
from .base import Executor, Submission, python_path, write_submission

QUEUED_STATES = {'PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'CONFIGURING', 'RESIZING', 'SUSPENDED',
                 'SPECIAL_EXIT'}
RUNNING_STATES = {'RUNNING', 'COMPLETING', 'STOPPED', 'SIGNALING', 'STAGE_OUT'}


class SlurmError(RuntimeError):
    """A SLURM command failed; the message holds the command and its error output."""


def _run(cmd: List[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise SlurmError(f'{cmd[0]} not found: is this a SLURM login node? '
                         f'(scripts/slurm/start_single_node.sh starts a one-node cluster here)') from None
    if out.returncode != 0:
        raise SlurmError(f'{" ".join(shlex.quote(c) for c in cmd)} failed ({out.returncode}): '
                         f'{out.stderr.strip() or out.stdout.strip()}')
    return out.stdout


class SlurmExecutor(Executor):
    """Submits entries with ``sbatch`` (grouped into job arrays by resources) and tracks them with ``squeue``.

    Args:
        partition: overrides every entry's partition.
        array: group entries with equal resources into job arrays (one job per entry otherwise).
        extra_args: more ``sbatch`` options for every job.
        job_name: SLURM job name prefix.
    """
    name = 'slurm'
    blocking = False

    def __init__(self, partition: Optional[str] = None, array: bool = True,
                 extra_args: Sequence[str] = (), job_name: str = 'ovd') -> None:
        self.partition = partition
        self.array = array
        self.extra_args = list(extra_args)
        self.job_name = job_name

    def sbatch_options(self, res: Resources, name: str) -> List[str]:
        """The ``#SBATCH`` options for one job of these resources."""
        opts = [f'--job-name={name}', f'--nodes={res.nodes}', f'--ntasks={res.tasks}',
                f'--ntasks-per-node={res.tasks // res.nodes}', f'--cpus-per-task={res.cpus_per_task}',
                '--requeue', f'--signal=B:USR1@{res.signal_grace_s}', '--open-mode=append']
        if res.gpus_per_node:
            opts.append(f'--gpus-per-node={res.gpus_per_node}')
        for key, flag in (('mem', '--mem'), ('time', '--time'), ('account', '--account'), ('qos', '--qos'),
                          ('constraint', '--constraint')):
            if getattr(res, key):
                opts.append(f'{flag}={getattr(res, key)}')
        partition = self.partition or res.partition
        if partition:
            opts.append(f'--partition={partition}')
        return opts + list(res.sbatch_args) + self.extra_args

    def script(self, subs: Sequence[Submission], res: Resources, script_dir: Path) -> str:
        """The batch script for a group of entries (a job array when there is more than one)."""
        name = f'{self.job_name}-{subs[0].entry.sweep}'
        opts = self.sbatch_options(res, name)
        out_name = 'slurm-%A_%a.out' if len(subs) > 1 else 'slurm-%j.out'
        opts.append(f'--output={script_dir / out_name}')
        if len(subs) > 1:
            opts.append(f'--array=0-{len(subs) - 1}')
        dirs = ' '.join(shlex.quote(str(s.edir.path.resolve())) for s in subs)
        attempts = ' '.join(s.attempt_id for s in subs)
        lines = ['#!/bin/bash', f'# ovd sweep {subs[0].entry.sweep}: {len(subs)} entry(ies)']
        lines += [f'#SBATCH {o}' for o in opts]
        lines += [
            'set -eu',
            f'dirs=({dirs})',
            f'attempts=({attempts})',
            'i=${SLURM_ARRAY_TASK_ID:-0}',
            'jid=${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}}',
            'jid=${jid:-$SLURM_JOB_ID}',
            'dir=${dirs[$i]}',
            'mkdir -p "$dir/logs"',
            'export OVD_LOG_FILE="$dir/logs/slurm-$jid.log" OVD_ATTEMPT_ID=${attempts[$i]}',
            f'export PYTHONPATH={shlex.quote(python_path())}',
            'echo "[ovd job] $jid on $(hostname) restart ${SLURM_RESTART_COUNT:-0} at $(date -Is)" \\',
            '    >>"$OVD_LOG_FILE"',
            # exec: the driver becomes the batch step's main process and receives --signal=B:USR1.
            f'exec {shlex.quote(sys.executable)} -m ovd.benchmark.driver "$dir" >>"$OVD_LOG_FILE" 2>&1',
        ]
        return '\n'.join(lines) + '\n'

    def submit(self, subs: Sequence[Submission]) -> None:
        groups: Dict[Tuple, List[Submission]] = defaultdict(list)
        for sub in subs:
            key = (sub.entry.sweep, sub.entry.resources) if self.array else (sub.entry.id,)
            groups[key].append(sub)
        for group in groups.values():
            res = group[0].entry.resources
            script_dir = group[0].edir.path.parent / '.slurm'
            script_dir.mkdir(parents=True, exist_ok=True)
            script_path = script_dir / (f'{group[0].entry.id}.sbatch' if len(group) == 1 else
                                        f'array-{group[0].attempt_id}.sbatch')
            atomic_write_text(script_path, self.script(group, res, script_dir))
            job_id = _run(['sbatch', '--parsable', f'--chdir={os.getcwd()}', str(script_path)]).strip()
            job_id = job_id.split(';')[0]
            for i, sub in enumerate(group):
                jid = f'{job_id}_{i}' if len(group) > 1 else job_id
                write_submission(sub, executor='slurm', job_id=jid, script=str(script_path),
                                 log=str(sub.edir.logs_dir / f'slurm-{jid}.log'))

    def queue(self) -> Dict[str, str]:
        """job id (``123`` or ``123_4``) -> SLURM state of this user's jobs still known to ``squeue``."""
        out = _run(['squeue', '-h', '-r', '-u', getpass.getuser(), '-o', '%i|%T'])
        states = {}
        for line in out.splitlines():
            if '|' in line:
                jid, state = line.strip().split('|', 1)
                states[jid] = state
        return states

    def alive(self, submissions: Mapping[str, Optional[dict]]) -> Dict[str, Optional[str]]:
        wanted = {eid: sub['job_id'] for eid, sub in submissions.items()
                  if sub and sub.get('executor') == 'slurm'}
        queue = self.queue() if wanted else {}
        out: Dict[str, Optional[str]] = {}
        for eid in submissions:
            state = queue.get(wanted.get(eid, ''), '')
            out[eid] = 'queued' if state in QUEUED_STATES else 'running' if state in RUNNING_STATES else None
        return out

    def cancel(self, submissions: Mapping[str, Optional[dict]]) -> List[str]:
        alive = self.alive(submissions)
        ids = [submissions[e]['job_id'] for e, s in alive.items() if s]
        if ids:
            _run(['scancel'] + ids)
        return [e for e, s in alive.items() if s]
