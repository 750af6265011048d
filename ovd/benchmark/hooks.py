"""An mmengine hook that turns SIGTERM/SIGUSR1 (SLURM cancel, preemption, time limit warning) into a saved
checkpoint and a clean exit, so the job can be requeued and resumed with ``--resume``.

SLURM signals every task of a step, but not necessarily between the same two iterations, so the ranks agree
on the flag (an all-reduce of one integer per iteration, negligible next to the gradient all-reduce) before
all of them save and stop at the same iteration.
"""
import os
import os.path as osp
import signal
import sys
from typing import Optional

from mmengine.dist import all_reduce, barrier, is_distributed, is_main_process
from mmengine.hooks import Hook

from ovd.registry import HOOKS
from .state import EXIT_CHECKPOINTED

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@HOOKS.register_module()
class PreemptionCheckpointHook(Hook):
    """Save a checkpoint and exit with :data:`EXIT_CHECKPOINTED` when SIGTERM or SIGUSR1 arrives.

    The checkpoint is written like :class:`mmengine.hooks.CheckpointHook` writes one (``iter_<n>.pth`` or
    ``epoch_<n>.pth`` plus the ``last_checkpoint`` pointer) so ``tools/train.py --resume`` finds it.
    A signal that arrives before the first iteration exits at once: there is nothing to save yet.

    Args:
        exit_code: the process exit status after saving.
    """
    priority = 'VERY_LOW'

    def __init__(self, exit_code: int = EXIT_CHECKPOINTED) -> None:
        self.exit_code = exit_code
        self._signal: Optional[int] = None
        self._in_loop = False
        self._previous = {}

    def _handler(self, signum: int, frame) -> None:
        self._signal = signum
        if not self._in_loop:
            sys.exit(self.exit_code)

    def before_run(self, runner) -> None:
        for sig in HANDLED_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handler)

    def before_train(self, runner) -> None:
        self._in_loop = True

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._stop_requested():
            return
        # Mid-epoch checkpoints keep the epoch counter; mmengine's resume then restarts that epoch.
        name = f'iter_{runner.iter + 1}.pth'
        runner.save_checkpoint(runner.work_dir, name, by_epoch=False)
        if is_main_process():
            with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(runner.work_dir, name))
            runner.logger.warning(
                f'signal {signal.Signals(self._signal or signal.SIGTERM).name} received: saved {name} '
                f'at iteration {runner.iter + 1}; exiting with status {self.exit_code} to be resumed')
        if is_distributed():
            barrier()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(self.exit_code)  # skip the remaining hooks and the dataloader worker teardown

    def _stop_requested(self) -> bool:
        flag = 1 if self._signal is not None else 0
        if not is_distributed():
            return bool(flag)
        import torch
        t = torch.tensor([flag], dtype=torch.int32)
        all_reduce(t, op='max')
        if t.item() and self._signal is None:
            self._signal = signal.SIGTERM
        return bool(t.item())

    def after_run(self, runner) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
