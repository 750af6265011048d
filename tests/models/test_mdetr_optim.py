"""MDETR's parameter groups and learning-rate schedule, checked against hand-worked rates."""
import pytest
from torch import nn

import ovd  # noqa: F401
from ovd.models.mdetr.optim import MDETRLR
from ovd.registry import OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.text_encoder = nn.Linear(2, 2)
        self.decoder = nn.Linear(2, 2)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def build(schedule='linear_with_warmup'):
    wrapper = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='MDETROptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4)),
        paramwise_cfg=dict(backbone_lr=1e-5, text_encoder_lr=5e-5)))(Toy())
    # 10 epochs of 10 iterations, drop every 5 epochs, 10 % warm-up; what the runner does with
    # convert_to_iter_based=True
    scheduler = MDETRLR.build_iter_from_epoch(
        wrapper, lr_drop=5, max_epochs=10, warmup_fraction=0.1, schedule=schedule, begin=0, end=10,
        by_epoch=True, epoch_length=10)
    return wrapper, scheduler


def rates_at(step, schedule='linear_with_warmup'):
    wrapper, scheduler = build(schedule)
    for _ in range(step):
        wrapper.step()
        scheduler.step()
    return {g['name']: g['lr'] for g in wrapper.optimizer.param_groups}


def test_three_named_groups_without_frozen_parameters():
    wrapper, _ = build()
    groups = {g['name']: g for g in wrapper.optimizer.param_groups}
    assert list(groups) == ['transformer', 'backbone', 'text_encoder']
    assert [len(g['params']) for g in groups.values()] == [2, 2, 2]


@pytest.mark.parametrize('step,transformer,backbone,text', [
    (0, 1e-4, 1e-5, 0.0),             # text encoder starts at 0
    (5, 1e-4, 1e-5, 0.5 * 5e-5),      # half-way through the 10-step warm-up
    (10, 1e-4, 1e-5, 5e-5),           # peak
    (49, 1e-4, 1e-5, 51 / 90 * 5e-5),  # last step of epoch 4; linear decay (100 - 49) / 90
    (50, 1e-5, 1e-6, 50 / 90 * 5e-5),  # epoch 5: 10x drop of the step groups
    (99, 1e-5, 1e-6, 1 / 90 * 5e-5),
])
def test_linear_with_warmup_rates(step, transformer, backbone, text):
    rates = rates_at(step)
    assert rates['transformer'] == pytest.approx(transformer)
    assert rates['backbone'] == pytest.approx(backbone)
    assert rates['text_encoder'] == pytest.approx(text)


def test_all_linear_with_warmup_applies_to_every_group():
    rates = rates_at(55, 'all_linear_with_warmup')
    assert rates['transformer'] == pytest.approx(0.5 * 1e-4)
    assert rates['backbone'] == pytest.approx(0.5 * 1e-5)


def test_epoch_based_use_is_rejected():
    wrapper, _ = build()
    with pytest.raises(ValueError, match='convert_to_iter_based'):
        PARAM_SCHEDULERS.build(dict(type='MDETRLR', lr_drop=5, max_epochs=10, begin=0, end=10, by_epoch=True),
                               default_args=dict(optimizer=wrapper))
    with pytest.raises(KeyError, match='lr_mult'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='MDETROptimWrapperConstructor',
            optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-4)),
            paramwise_cfg=dict(lr_mult=0.1)))(Toy())
