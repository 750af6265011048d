"""Run the package's ``tools/train.py`` / ``tools/test.py`` (what ``mim train/test ovd`` runs) for a sweep job.

    python -m ovd.benchmark.launch train CONFIG [tools/train.py arguments...]
    python -m ovd.benchmark.launch test CONFIG CHECKPOINT [tools/test.py arguments...]

Why not ``mim train ovd ... --launcher slurm``: mim then runs its own ``srun`` with GPU flags and a required
partition, but a sweep job already holds its allocation and runs ``srun`` itself. This wrapper keeps the tools'
own argument parsing and config building and adds two things:

* training gets :class:`~ovd.benchmark.hooks.PreemptionCheckpointHook` (checkpoint + exit on SIGTERM/SIGUSR1)
  and :class:`~ovd.benchmark.hooks.ExactResumeHook` (a resumed epoch continues at the batch where it stopped);
* on a machine without CUDA, distributed runs work on gloo: mmengine's pytorch and slurm launchers call
  ``torch.cuda.set_device`` unconditionally and its DDP wrapper passes ``device_ids`` for a CPU module, both of
  which raise. :func:`allow_cpu_distributed` makes the first a no-op when CUDA is absent and the sweep driver
  selects :class:`CPUDistributedDataParallel` for the second.
"""
import os
import runpy
import sys
from pathlib import Path
from typing import Any, Dict, List

from mmengine.model import MMDistributedDataParallel

# mmengine's runner looks model wrappers up in its root registry (not in scope 'ovd'), so register there.
from mmengine.registry import MODEL_WRAPPERS

from .step_error import write_step_error


def tool_path(name: str) -> Path:
    """The ``tools/<name>.py`` that ``mim`` would run: the installed package's ``.mim/tools``, else the source
    checkout's ``tools/``."""
    import ovd
    pkg = Path(ovd.__file__).resolve().parent
    for candidate in (pkg / '.mim' / 'tools' / f'{name}.py', pkg.parent / 'tools' / f'{name}.py'):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f'tools/{name}.py not found in {pkg / ".mim" / "tools"} nor {pkg.parent / "tools"}')


def allow_cpu_distributed() -> None:
    """Let mmengine's launchers initialise a gloo process group on a machine without CUDA.

    Only ``torch.cuda.set_device`` changes, and only where CUDA is unavailable (where it would raise).
    """
    import torch
    if torch.cuda.is_available() or getattr(torch.cuda.set_device, '_ovd_cpu_noop', False):
        return
    original = torch.cuda.set_device

    def set_device(device: Any) -> None:
        if torch.cuda.is_available():
            original(device)

    set_device._ovd_cpu_noop = True  # type: ignore[attr-defined]
    torch.cuda.set_device = set_device


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper for a model on CPU: drops the ``device_ids`` mmengine's runner passes
    (``[LOCAL_RANK]``), which torch rejects for CPU modules."""

    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs) -> None:
        if next(module.parameters()).device.type == 'cpu':
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module, detect_anomalous_params=detect_anomalous_params, **kwargs)


def _train(argv: List[str]) -> None:
    tool: Dict[str, Any] = runpy.run_path(str(tool_path('train')), run_name='ovd_train_tool')
    if 'parse_args' not in tool or 'build_config' not in tool:
        raise RuntimeError(f'{tool_path("train")} no longer defines parse_args() and build_config()')
    sys.argv = [str(tool_path('train'))] + argv
    args = tool['parse_args']()
    cfg = tool['build_config'](args)
    hooks = list(cfg.get('custom_hooks', None) or [])
    hooks += [dict(type='PreemptionCheckpointHook'), dict(type='ExactResumeHook')]
    cfg.custom_hooks = hooks
    from mmengine.runner import Runner
    Runner.from_cfg(cfg).train()


def _test(argv: List[str]) -> None:
    path = tool_path('test')
    sys.argv = [str(path)] + argv
    runpy.run_path(str(path), run_name='__main__')


def main(argv: List[str]) -> None:
    if not argv or argv[0] not in ('train', 'test'):
        raise SystemExit('usage: python -m ovd.benchmark.launch {train,test} CONFIG ...')
    import ovd.setup  # noqa: F401  (compatibility fixes, as the tools apply them)
    from ovd.benchmark import hooks  # noqa: F401  (registers PreemptionCheckpointHook, ExactResumeHook)
    if os.environ.get('OVD_CPU_DISTRIBUTED', '1') == '1':
        allow_cpu_distributed()
    try:
        (_train if argv[0] == 'train' else _test)(argv[1:])
    except BaseException as err:
        if not (isinstance(err, SystemExit) and err.code in (0, None)):
            write_step_error(err)  # the driver reports this line as the step's failure
        raise


if __name__ == '__main__':
    main(sys.argv[1:])
