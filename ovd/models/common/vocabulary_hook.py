"""Hands the loop's dataset vocabulary to the model once, as mmengine hands its metainfo to the evaluator.

mmengine's ``ValLoop``/``TestLoop`` set ``evaluator.dataset_meta = dataloader.dataset.metainfo``; nothing gives
the model the same. :class:`VocabularyHook` does, before every train, val and test loop: it reads the
``Vocabulary`` under ``metainfo['vocabulary']`` (the object the metric maps labels with) and the name rule of the
dataset that metainfo comes from, and calls the model's ``set_vocabulary`` (GLIP, MDETR:
:class:`~ovd.models.common.text_prompts.VocabularyMixin`); after a validation inside training it sets the
training set's back. Models without ``set_vocabulary`` and datasets without
a vocabulary (grounding only) are left alone. ``configs/_base_/default_runtime.py`` adds it to ``default_hooks``.
"""
from typing import Any, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from ovd.registry import HOOKS


def metainfo_source(dataset: Any) -> Any:
    """The dataset whose metainfo a (possibly wrapped) dataset reports: mmengine's wrappers report their inner
    dataset's (``dataset``), and a concatenation its first dataset's (``datasets[0]``)."""
    while True:
        if hasattr(dataset, 'datasets') and len(dataset.datasets):
            dataset = dataset.datasets[0]
        elif hasattr(dataset, 'dataset'):
            dataset = dataset.dataset
        else:
            return dataset


@HOOKS.register_module()
class VocabularyHook(Hook):
    """Before each loop, set the model's vocabulary from the loop's dataset metainfo (see the module docstring)."""

    priority = 'VERY_HIGH'  # before any hook that may run the model

    def before_train(self, runner) -> None:
        self._set(runner, runner.train_dataloader)

    def before_val(self, runner) -> None:
        self._set(runner, runner.val_loop.dataloader)

    def after_val(self, runner) -> None:
        train_loop = getattr(runner, '_train_loop', None)  # a loop object only while training
        if isinstance(train_loop, BaseLoop):
            self._set(runner, train_loop.dataloader)

    def before_test(self, runner) -> None:
        self._set(runner, runner.test_loop.dataloader)

    @staticmethod
    def _set(runner, dataloader: Optional[Any]) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        dataset = getattr(dataloader, 'dataset', None)
        if not hasattr(model, 'set_vocabulary') or dataset is None:
            return
        vocabulary = dataset.metainfo.get('vocabulary')
        if vocabulary is None:
            return
        model.set_vocabulary(vocabulary, getattr(metainfo_source(dataset), 'name_rule', 'default'))


__all__ = ['VocabularyHook', 'metainfo_source']
