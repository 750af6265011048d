"""PreemptionCheckpointHook in a real mmengine training loop: a signal mid-training saves a checkpoint and exits
with status 75, and ``resume`` continues from that iteration."""
import os
import subprocess
import sys
import textwrap

import pytest
from runner_helpers import REPO

pytestmark = pytest.mark.slow

# A toy regression model trained by mmengine's Runner, with our hook and a second hook that sends the process
# SIGUSR1 (or SIGTERM) at iteration 3, as SLURM would.
SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import torch
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    import ovd.benchmark.hooks  # noqa: F401  (registers PreemptionCheckpointHook)
    import ovd.setup  # noqa: F401  (the process start: weights_only resume of mmengine checkpoints)

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(2, 1)
        def forward(self, inputs, targets, mode='loss'):
            return {'loss': ((self.w(inputs) - targets) ** 2).mean()}

    class SignalAt(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == 3 and os.environ.get('SEND'):
                os.kill(os.getpid(), getattr(signal, os.environ['SEND']))

    class Started(Hook):
        def before_train(self, runner):
            print('STARTED AT', runner.iter, flush=True)

    data = [dict(inputs=torch.tensor([float(i), 1.0]), targets=torch.tensor([2.0 * i])) for i in range(8)]
    runner = Runner(
        model=Toy(), work_dir=sys.argv[1],
        train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False), batch_size=2,
                              collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=8), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=100, by_epoch=False)),
        custom_hooks=[dict(type='PreemptionCheckpointHook'), SignalAt(), Started()],
        resume=bool(os.environ.get('RESUME')), default_scope='ovd')
    runner.train()
    print('FINISHED AT', runner.iter, flush=True)
''')


@pytest.mark.parametrize('signame', ['SIGTERM'])  # SIGUSR1 takes the same path; the SLURM test sends it
def test_signal_checkpoints_exits_75_and_resumes(tmp_path, signame):
    script = tmp_path / 'train.py'
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), SEND=signame)
    work = tmp_path / 'work'
    first = subprocess.run([sys.executable, str(script), str(work)], env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 75, first.stdout[-2000:] + first.stderr[-2000:]
    assert (work / 'iter_3.pth').is_file() and not (work / 'iter_8.pth').exists()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_3.pth')
    assert f'signal {signame} received: saved iter_3.pth' in first.stdout + first.stderr
    env.pop('SEND')
    second = subprocess.run([sys.executable, str(script), str(work)], env=dict(env, RESUME='1'),
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert 'STARTED AT 3' in second.stdout and 'FINISHED AT 8' in second.stdout
    assert (work / 'iter_8.pth').is_file()


# Epoch-based: 10 samples, batches of 2, shuffled, 3 epochs = 15 iterations; every sample gets random noise
# (NumPy) and the model has dropout (torch), so only an exact resume reproduces the weights. Each trained
# batch's sample ids are printed.
EPOCH_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    import torch
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel
    from mmengine.runner import Runner
    import ovd.benchmark.hooks  # noqa: F401  (registers PreemptionCheckpointHook, ExactResumeHook)
    import ovd.setup  # noqa: F401  (the process start: weights_only resume of mmengine checkpoints)

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(2, 1)
            self.drop = torch.nn.Dropout(0.5)
        def forward(self, inputs, targets, ids, mode='loss'):
            print('BATCH', ids.tolist(), flush=True)
            return {'loss': ((self.w(self.drop(inputs)) - targets) ** 2).mean()}

    class Noisy(torch.utils.data.Dataset):
        def __len__(self):
            return 10
        def __getitem__(self, i):
            x = torch.tensor([float(i), 1.0]) + torch.from_numpy(np.random.randn(2).astype('float32'))
            return dict(inputs=x, targets=torch.tensor([2.0 * i]), ids=torch.tensor(i))

    class SignalAt(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == int(os.environ.get('AT', '0')):
                os.kill(os.getpid(), signal.SIGTERM)

    torch.manual_seed(0)  # the model is built here, before the Runner seeds everything
    runner = Runner(
        model=Toy(), work_dir=sys.argv[1],
        train_dataloader=dict(dataset=Noisy(), sampler=dict(type='DefaultSampler', shuffle=True), batch_size=2,
                              num_workers=0, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=3), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        custom_hooks=[dict(type='PreemptionCheckpointHook'), dict(type='ExactResumeHook'), SignalAt()],
        randomness=dict(seed=3), resume=bool(os.environ.get('RESUME')), default_scope='ovd')
    runner.train()
    print('FINISHED AT', runner.iter, 'WEIGHTS', runner.model.w.weight.tolist(), runner.model.w.bias.tolist(),
          flush=True)
''')


def _run_epoch_script(tmp_path, work, **env):
    script = tmp_path / 'train_epochs.py'
    script.write_text(EPOCH_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(work)], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1', **env))
    batches = [line for line in out.stdout.splitlines() if line.startswith('BATCH')]
    final = [line for line in out.stdout.splitlines() if line.startswith('FINISHED AT')]
    return out, batches, final


@pytest.mark.parametrize('stop_at', [7, 10])  # mid-epoch, and the last batch of an epoch
def test_epoch_run_preempted_mid_epoch_resumes_at_the_same_batch(tmp_path, stop_at):
    whole, whole_batches, whole_final = _run_epoch_script(tmp_path, tmp_path / 'whole')
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert len(whole_batches) == 15 and whole_final[0].startswith('FINISHED AT 15 ')

    work = tmp_path / 'preempted'
    first, first_batches, _ = _run_epoch_script(tmp_path, work, AT=str(stop_at))
    assert first.returncode == 75, first.stderr[-2000:]
    second, second_batches, second_final = _run_epoch_script(tmp_path, work, RESUME='1')
    assert second.returncode == 0, second.stderr[-2000:]
    # every batch trained once, in the uninterrupted order; same iteration count and the same weights
    assert first_batches + second_batches == whole_batches
    assert second_final == whole_final
