"""mmengine hooks for preemptible training: :class:`PreemptionCheckpointHook` turns SIGTERM/SIGUSR1 (SLURM
cancel, preemption, time limit warning) into a saved checkpoint and a clean exit, so the job can be requeued and
resumed with ``--resume``; :class:`ExactResumeHook` makes that resume continue exactly where the run stopped.

SLURM signals every task of a step, but not necessarily between the same two iterations, so the ranks agree
on the flag (an all-reduce of one integer per iteration, negligible next to the gradient all-reduce) before
all of them save and stop at the same iteration.
"""
import collections
import itertools
import os
import os.path as osp
import random
import signal
import sys
from typing import Any, Dict, Iterator, Optional

from mmengine.dist import all_reduce, barrier, get_world_size, is_distributed, is_main_process
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
        # Mid-epoch checkpoints keep the epoch counter; ExactResumeHook skips the epoch's trained batches.
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


RNG_KEY = 'ovd_rng_state'


def _rng_state() -> Dict[str, Any]:
    import numpy as np
    import torch
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {'python': random.getstate(), 'numpy': (name, keys.tolist(), pos, has_gauss, gauss),
             'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    import numpy as np
    import torch
    random.setstate(tuple(x if not isinstance(x, list) else tuple(x) for x in state['python']))
    name, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


class ResumeBatchSampler:
    """The train dataloader's batch sampler, able to start its next pass after the first ``skip`` batches (only
    indices are drawn for those: no image is loaded) and to restore the random state first.

    Args:
        inner: the batch sampler it wraps (mmengine/mmdet batch samplers, or torch's ``BatchSampler``).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.skip = 0
        self.rng_state: Optional[Dict[str, Any]] = None

    def __iter__(self) -> Iterator[Any]:
        skip, state = self.skip, self.rng_state
        self.skip, self.rng_state = 0, None
        return self._batches(skip, state)

    def _batches(self, skip: int, state: Optional[Dict[str, Any]]) -> Iterator[Any]:
        # Runs at the first batch request, after the DataLoader iterator has drawn its own seed: the random
        # state is then the one the interrupted run had before it fetched this batch.
        if state is not None:
            _set_rng_state(state)
        batches = iter(self.inner)
        collections.deque(itertools.islice(batches, skip), maxlen=0)
        yield from batches

    def __len__(self) -> int:
        return len(self.inner)

    def __getattr__(self, name: str) -> Any:  # sampler, batch_size, drop_last, ... of the wrapped one
        if name == 'inner':
            raise AttributeError(name)
        return getattr(self.inner, name)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Resume an epoch-based run mid-epoch at the batch where it stopped, with the random state it had.

    mmengine's resume of an :class:`~mmengine.runner.EpochBasedTrainLoop` restores the iteration counter but
    restarts the interrupted epoch from its first batch, so every preemption trains some batches twice and the
    run ends past its schedule. This hook skips the batches the checkpoint's epoch has already trained (the
    sampler's order is seeded by seed + epoch, so it is the same order) and, in single-process runs, restores
    the Python/NumPy/torch random state saved with the checkpoint, so on CPU with a fixed seed and
    ``num_workers=0`` the resumed run computes the same weights as an uninterrupted one. (Dataloader worker
    processes re-seed themselves each epoch; their augmentations after a resume are not replayed exactly.)
    Iteration-based loops need none of this: mmengine advances their infinite sampler itself.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._loaded_rng: Optional[Dict[str, Any]] = None
        self._pending_epoch_rng: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[RNG_KEY] = _rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded_rng = checkpoint.get(RNG_KEY)

    def before_train(self, runner) -> None:
        from mmengine.runner import EpochBasedTrainLoop
        loop = runner.train_loop
        if not isinstance(loop, EpochBasedTrainLoop) or loop.iter == 0:
            return
        state = self._loaded_rng if get_world_size() == 1 else None
        self._loaded_rng = None
        trained = loop.iter - loop.epoch * len(loop.dataloader)
        if trained <= 0:
            if state is not None:
                self._pending_epoch_rng = state
            return
        loader = loop.dataloader
        if loader.batch_sampler is None:
            runner.logger.warning('ExactResumeHook: the train dataloader has no batch sampler; the interrupted '
                                  'epoch restarts from its first batch')
            return
        wrapper = loader.batch_sampler if isinstance(loader.batch_sampler, ResumeBatchSampler) else \
            ResumeBatchSampler(loader.batch_sampler)
        wrapper.skip, wrapper.rng_state = trained, state
        # DataLoader forbids reassigning batch_sampler once built; the wrapper yields the same batches.
        object.__setattr__(loader, 'batch_sampler', wrapper)
        runner.logger.info(f'resuming epoch {loop.epoch + 1} at batch {trained + 1}/{len(loader)} '
                           f'(iteration {loop.iter + 1}): skipping the {trained} batch(es) it already trained')

    def before_train_epoch(self, runner) -> None:
        state = self._pending_epoch_rng
        if state is not None:  # resumed at an epoch boundary: the state the run had when it saved
            self._pending_epoch_rng = None
            _set_rng_state(state)
