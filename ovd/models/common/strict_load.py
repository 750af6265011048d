"""Check converted weights against an ovd config: build its model and load them strictly (converters' ``--config``)."""
from typing import Dict

import torch


def check_against_config(state_dict: Dict[str, torch.Tensor], config: str) -> None:
    """Build the model of an ovd config in its default scope ('ovd') and load ``state_dict`` into it strictly.

    Raises:
        ValueError: naming the config and the keys that are missing, unexpected or of another shape.
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from ovd.registry import MODELS
    cfg = Config.fromfile(config)
    # the model's data_preprocessor, backbone and neck are mmdet types that resolve only inside a default scope
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'ovd')):
        model = MODELS.build(cfg.model)
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}' for k in sorted(set(own) & set(state_dict))
              if state_dict[k].shape != own[k].shape]
    problems = [f'{len(keys)} {what} (first: {keys[:5]})'
                for what, keys in (('missing keys', missing), ('unexpected keys', unexpected),
                                   ('shape mismatches, converted vs model', shapes)) if keys]
    if problems:
        raise ValueError(f'{config}: the converted weights do not fit its model: ' + '; '.join(problems))
    model.load_state_dict(state_dict, strict=True)
