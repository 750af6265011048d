"""Separate detection and distillation images per batch, as ovdet trains BARON (2 + 2 images per GPU).

ovdet (``configs/_base_/datasets/coco_ovd_kd_ms.py``, ``lvis_v1_ovd_kd.py``) draws each batch from two datasets with
mmdet's ``GroupMultiSourceSampler`` (``source_ratio=[2, 2]``): detection images (with base annotations) and
distillation images (``filter_empty_gt=False``), packed by mmdet's ``MultiBranch`` transform into the branches
``det_batch`` / ``kd_batch``; mmdet's ``MultiBranchDataPreprocessor`` normalises and pads each branch on its own.
:class:`BaronDataPreprocessor` does the same, and also accepts ordinary (single-branch) batches, so one model config
serves both the two-branch data configs and the shared-batch switch (one pipeline, both losses on the same images).
"""
from mmdet.models.data_preprocessors import DetDataPreprocessor

from ovd.registry import MODELS

BRANCHES = ('det_batch', 'kd_batch')


@MODELS.register_module()
class BaronDataPreprocessor(DetDataPreprocessor):
    """``DetDataPreprocessor`` per branch for ``MultiBranch`` data; unchanged for ordinary batches.

    Returns, for two-branch training data, ``inputs`` and ``data_samples`` as dicts keyed by branch (branches with
    no image in the batch are left out).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        if not (training and isinstance(data.get('inputs'), dict)):
            return super().forward(data, training)
        unknown = set(data['inputs']) - set(BRANCHES)
        if unknown:
            raise ValueError(f'BaronDataPreprocessor: unknown branches {sorted(unknown)} (expected {BRANCHES}); '
                             f'check the MultiBranch branch_field of the training pipeline')
        inputs, samples = {}, {}
        for branch, branch_inputs in data['inputs'].items():
            keep = [i for i, x in enumerate(branch_inputs) if x is not None]
            if not keep:
                continue
            out = super().forward(dict(inputs=[branch_inputs[i] for i in keep],
                                       data_samples=[data['data_samples'][branch][i] for i in keep]), training)
            inputs[branch], samples[branch] = out['inputs'], out['data_samples']
        return dict(inputs=inputs, data_samples=samples)
