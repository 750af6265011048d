"""Executors run sweep entries: :class:`LocalExecutor` (a bounded pool of processes on this machine) and
:class:`SlurmExecutor` (``sbatch`` jobs / job arrays on a SLURM cluster)."""
from .base import Executor, Submission
from .local import LocalExecutor
from .slurm import SlurmExecutor


def build_executor(name: str, **kwargs) -> Executor:
    """An executor by name ('local' or 'slurm'); ``kwargs`` go to its constructor."""
    if name == 'local':
        return LocalExecutor(**kwargs)
    if name == 'slurm':
        return SlurmExecutor(**kwargs)
    raise ValueError(f"unknown executor {name!r}; choose 'local' or 'slurm'")


__all__ = ['Executor', 'Submission', 'LocalExecutor', 'SlurmExecutor', 'build_executor']
