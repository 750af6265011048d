"""MDETR's optimiser groups and learning-rate schedule (official ``main.py`` / ``util/optim.py`` behaviour).

Three parameter groups: the backbone (names containing ``backbone``), the text encoder (``text_encoder``) and
the rest (transformer, resizer, heads), each with its own learning rate (1e-5 / 5e-5 / 1e-4 for R101
pre-training). The schedule ``linear_with_warmup`` (the official default) multiplies the backbone and
transformer rates by 0.1 every ``lr_drop`` epochs, while the text encoder's rate rises linearly over the first
``warmup_fraction`` of all steps and then falls linearly to 0 at the last step; ``all_linear_with_warmup``
applies the latter to every group. mmengine's stock schedulers act on all groups alike, hence these two small
classes.
"""
from typing import List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from torch import nn

from ovd.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS

GROUPS = ('transformer', 'backbone', 'text_encoder')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MDETROptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Builds the three named parameter groups.

    ``paramwise_cfg`` keys: ``backbone_lr`` and ``text_encoder_lr`` (absolute rates); the optimizer's ``lr``
    is the rest's rate. Parameters with ``requires_grad=False`` are left out, as in the official code.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        unknown = set(self.paramwise_cfg) - {'backbone_lr', 'text_encoder_lr'}
        if unknown:
            raise KeyError(f'MDETROptimWrapperConstructor: unknown paramwise_cfg keys {sorted(unknown)}')
        lrs = dict(transformer=self.base_lr, backbone=self.paramwise_cfg.get('backbone_lr', self.base_lr),
                   text_encoder=self.paramwise_cfg.get('text_encoder_lr', self.base_lr))
        params = {g: [] for g in GROUPS}
        for name, param in model.named_parameters():
            if param.requires_grad:
                group = 'backbone' if 'backbone' in name else 'text_encoder' if 'text_encoder' in name \
                    else 'transformer'
                params[group].append(param)
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = [dict(name=g, params=params[g], lr=lrs[g]) for g in GROUPS if params[g]]
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))


@PARAM_SCHEDULERS.register_module()
class MDETRLR(LRSchedulerMixin, _ParamScheduler):
    """The official MDETR schedule, stepped every iteration.

    Configure it over the whole training in epochs with ``convert_to_iter_based=True``, e.g.
    ``dict(type='MDETRLR', lr_drop=35, max_epochs=40, begin=0, end=40, by_epoch=True,
    convert_to_iter_based=True)``.

    Args:
        optimizer: the wrapped optimizer (groups named by :class:`MDETROptimWrapperConstructor`).
        lr_drop (int): epochs between two 10x drops of the non-linear groups.
        max_epochs (int): training length in epochs (``end - begin`` iterations).
        warmup_fraction (float): fraction of all steps of linear warm-up (0.01).
        schedule (str): 'linear_with_warmup' or 'all_linear_with_warmup'.
    """

    def __init__(self, optimizer, lr_drop: int, max_epochs: int, warmup_fraction: float = 0.01,
                 schedule: str = 'linear_with_warmup', begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = False, verbose: bool = False) -> None:
        if schedule not in ('linear_with_warmup', 'all_linear_with_warmup'):
            raise ValueError(f'MDETRLR schedule must be linear_with_warmup or all_linear_with_warmup, '
                             f'got {schedule!r}')
        if by_epoch or end == INF:
            raise ValueError('MDETRLR steps every iteration: set end (epochs) and convert_to_iter_based=True')
        self.lr_drop = lr_drop
        self.max_epochs = max_epochs
        self.warmup_fraction = warmup_fraction
        self.schedule = schedule
        super().__init__(optimizer, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, begin: int = 0, end: int = INF, by_epoch: bool = True,
                              epoch_length: Optional[int] = None, **kwargs) -> 'MDETRLR':
        """Build from an epoch-based config (what ``convert_to_iter_based=True`` calls)."""
        if not by_epoch or end == INF or not epoch_length:
            raise ValueError('MDETRLR: give begin/end in epochs with by_epoch=True (the runner adds '
                             'epoch_length)')
        return cls(*args, begin=int(begin * epoch_length), end=int(end * epoch_length), by_epoch=False,
                   **kwargs)

    def factors(self, step: int) -> dict:
        """Multipliers ``{'step': ..., 'linear': ...}`` of the base rates at iteration ``step`` (from 0)."""
        total = self.end - self.begin
        warmup = round(self.warmup_fraction * total)
        if step < warmup:
            linear = step / max(1, warmup)
        else:
            linear = max(0.0, (total - step) / max(1, total - warmup))
        epoch = int(step // (total / self.max_epochs))
        return dict(step=0.1 ** (epoch // self.lr_drop), linear=linear)

    def _get_value(self) -> List[float]:
        f = self.factors(self.last_step)
        values = []
        for group, base in zip(self.optimizer.param_groups, self.base_values):
            linear = self.schedule == 'all_linear_with_warmup' or group.get('name') == 'text_encoder'
            values.append(base * (f['linear'] if linear else f['step']))
        return values

