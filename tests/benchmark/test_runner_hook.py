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
