"""Hugging Face text encoders for grounding: BERT (GLIP) and RoBERTa (MDETR), from a hub name or directory.

``load_tokenizer`` returns a *fast* tokenizer (offsets are needed for positive maps, see
:func:`ovd.data.prompts.build_positive_map`); :class:`HFTextEncoder` wraps ``AutoModel`` and returns the token
features the fusion/alignment heads consume. Loading failures (no network, wrong path) raise an error that
says what to pass instead.
"""

import os
from typing import Dict, Sequence, Union

import torch
from torch import nn

from ovd.hints import synthetic_data_hint

DEFAULT_BERT = 'bert-base-uncased'  # GLIP's language backbone
DEFAULT_ROBERTA = 'roberta-base'  # MDETR's text encoder


def _load_error(what: str, name_or_path: str, err: Exception) -> OSError:
    where = 'local directory' if os.path.isdir(name_or_path) else 'hub name (no local directory of that name)'
    return OSError(
        f'could not load the {what} {name_or_path!r} as a {where}: {err}. Without network access pass a '
        'directory holding config.json, the weights and the tokenizer files (what save_pretrained writes; '
        'ovd.data.synthetic.tiny_text.save_tiny_bert shows the layout), or set HF_HOME to a populated cache.'
        + synthetic_data_hint(name_or_path)
    )


def check_loadable(name_or_path: str) -> None:
    """Fail fast when ``name_or_path`` is neither a directory, nor in the local hub cache, nor reachable.

    huggingface_hub retries an unreachable host for about a minute; resolving the host first makes "no
    network" an immediate, explained error.
    """
    import socket
    from urllib.parse import urlparse

    if os.path.isdir(name_or_path) or os.environ.get('HF_HUB_OFFLINE') == '1':
        return
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(name_or_path, 'config.json'), str):
            return
    except Exception:  # not a valid repo id or an unusual cache: let transformers report it
        return
    host = urlparse(os.environ.get('HF_ENDPOINT', 'https://huggingface.co')).hostname
    try:
        socket.getaddrinfo(host, 443)
    except OSError as err:
        raise _load_error(
            'model',
            name_or_path,
            OSError(f'{host} is not reachable ({err}) and the files are not in the local hub cache'),
        ) from err


def load_tokenizer(name_or_path: str = DEFAULT_BERT, **kwargs):
    """Load a fast tokenizer by hub name or from a directory.

    Args:
        name_or_path: e.g. ``'bert-base-uncased'``, ``'roberta-base'`` or a local directory.
        **kwargs: Passed to ``AutoTokenizer.from_pretrained``.

    Returns:
        A ``PreTrainedTokenizerFast``.
    """
    from transformers import AutoTokenizer

    check_loadable(str(name_or_path))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(name_or_path), use_fast=True, **kwargs)
    except (OSError, ValueError) as err:
        raise _load_error('tokenizer', str(name_or_path), err) from err
    if not tokenizer.is_fast:
        raise TypeError(f'{name_or_path!r} has no fast tokenizer; positive maps need character offsets')
    return tokenizer


class HFTextEncoder(nn.Module):
    """A BERT/RoBERTa text encoder returning per-token features.

    Args:
        name_or_path: Hub name or local directory (config, weights and tokenizer files).
        pretrained: Load the weights; ``False`` builds the architecture from its config with random weights.
        max_tokens: Maximum text length in tokens (GLIP and MDETR: 256).
        padding: ``'max_length'`` pads every text to ``max_tokens`` (GLIP), ``'longest'`` to the longest in
            the batch (MDETR).
        num_layers_out: Average the last N hidden layers (GLIP's ``num_layers`` option; 1 = last layer).
        freeze: Turn off gradients (eval mode is left to the caller's ``train()``/``eval()``).
    """

    def __init__(
        self,
        name_or_path: str = DEFAULT_BERT,
        pretrained: bool = True,
        max_tokens: int = 256,
        padding: str = 'max_length',
        num_layers_out: int = 1,
        freeze: bool = False,
    ):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if padding not in ('max_length', 'longest'):
            raise ValueError(f"padding must be 'max_length' or 'longest', got {padding!r}")
        self.name_or_path = str(name_or_path)
        self.pretrained = pretrained
        self.max_tokens = max_tokens
        self.padding = padding
        self.num_layers_out = num_layers_out
        self.tokenizer = load_tokenizer(self.name_or_path)
        try:
            if pretrained:
                self.model = AutoModel.from_pretrained(self.name_or_path, add_pooling_layer=False)
            else:
                self.model = AutoModel.from_config(
                    AutoConfig.from_pretrained(self.name_or_path), add_pooling_layer=False
                )
        except (OSError, ValueError) as err:
            raise _load_error('text encoder', self.name_or_path, err) from err
        if freeze:
            for p in self.model.parameters():
                p.requires_grad_(False)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: Sequence[str]):
        """Tokenize a batch: ``input_ids``/``attention_mask`` LongTensor[B, L] and ``offset_mapping`` [B, L,
        2]."""
        return self.tokenizer(
            list(texts),
            padding=self.padding,
            truncation=True,
            max_length=self.max_tokens,
            return_offsets_mapping=True,
            return_tensors='pt',
        )

    def forward(self, texts: Union[Sequence[str], Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """Encode texts.

        Args:
            texts: Strings, or the output of :meth:`tokenize`.

        Returns: dict with ``hidden`` Tensor[B, L, hidden_size] (the average of the last ``num_layers_out``
            layers), ``masks`` LongTensor[B, L] (1 on real tokens), ``input_ids`` LongTensor[B, L] and
            ``offset_mapping`` LongTensor[B, L, 2] when available.
        """
        batch = self.tokenize(texts) if not isinstance(texts, dict) and not hasattr(texts, 'keys') else texts
        device = next(self.model.parameters()).device
        inputs = {
            k: batch[k].to(device) for k in ('input_ids', 'attention_mask', 'token_type_ids') if k in batch
        }
        out = self.model(**inputs, output_hidden_states=self.num_layers_out > 1)
        if self.num_layers_out > 1:
            hidden = torch.stack(out.hidden_states[-self.num_layers_out :], dim=1).mean(dim=1)
        else:
            hidden = out.last_hidden_state
        result = {'hidden': hidden, 'masks': inputs['attention_mask'], 'input_ids': inputs['input_ids']}
        if 'offset_mapping' in batch:
            result['offset_mapping'] = batch['offset_mapping']
        return result

    def identity(self) -> str:
        """Name, weight source and weights hash (for caches of text features)."""
        from .clip import state_dict_sha256

        return (
            f'hf:{self.name_or_path}:{"pretrained" if self.pretrained else "random"}:'
            f'sha256={state_dict_sha256(self.model.state_dict())}'
        )

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """Mean-pooled token features, Tensor[B, hidden_size] (lets a BERT stand in for CLIP in class
        embeddings)."""
        out = self.forward(texts)
        mask = out['masks'].unsqueeze(-1).to(out['hidden'].dtype)
        return (out['hidden'] * mask).sum(1) / mask.sum(1).clamp(min=1)
