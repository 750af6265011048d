"""An open_clip wrapper with text and image encoders, built from any weight source or a model config.

Weights come from a model name plus a pretrained tag, a local weights file, a ``local-dir:`` folder, or random
initialisation (``pretrained=None``); a model config dict builds any architecture (tiny test models).

Why a wrapper: open_clip loads the weights and tokenizes; this class adds what the rest of ovd needs on top:
one constructor for all weight sources with a clear error when weights cannot be fetched (no network), frozen
eval mode by default, and an ``identity()`` that includes a hash of the actual weights, so the embedding cache
(:mod:`ovd.text.cache`) can never confuse two checkpoints.
"""

import functools
import hashlib
import os
from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import nn

NO_WEIGHTS = (None, '', 'none', 'None', 'random')


class OpenCLIPEncoder(nn.Module):
    """CLIP text/image encoders built by open_clip.

    Args:
        model_name: open_clip architecture name (``'ViT-B-32'``, ``'RN50'``, ...) or ``'local-dir:/path'``.
        pretrained: A pretrained tag of that architecture (``'openai'``, ``'laion2b_s34b_b79k'``: downloaded
            by open_clip into ``cache_dir``), a path to a weights file, or ``None``/``'none'`` for random
            init.
        model_cfg: An open_clip model config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``) used instead
            of a built-in architecture, e.g. :data:`ovd.data.synthetic.tiny_text.TINY_CLIP_CONFIG`;
            ``pretrained`` may then be a file.
        device: Device to put the model on.
        cache_dir: open_clip's download directory.
        freeze: Put the model in eval mode with gradients off (the usual teacher/classifier use).
    """

    def __init__(
        self,
        model_name: str = 'ViT-B-32',
        pretrained: Optional[str] = None,
        model_cfg: Optional[Dict[str, Any]] = None,
        device: Union[str, torch.device] = 'cpu',
        cache_dir: Optional[str] = None,
        freeze: bool = True,
    ):
        super().__init__()
        import open_clip

        self.model_name = 'custom' if model_cfg is not None and model_name == 'ViT-B-32' else model_name
        self.pretrained = None if pretrained in NO_WEIGHTS else str(pretrained)
        if model_cfg is not None:
            self.model = self._from_config(open_clip, model_cfg, self.pretrained)
            context_length = model_cfg['text_cfg'].get('context_length', 77)
            self.tokenizer = _simple_tokenizer(context_length)
        else:
            self.model = self._from_name(open_clip, model_name, self.pretrained, cache_dir)
            self.tokenizer = _named_tokenizer(model_name)
        self.model.to(device)
        if freeze:
            self.model.eval()
            for p in self.model.parameters():
                p.requires_grad_(False)
        self._weights_sha256: Optional[str] = None

    @staticmethod
    def _from_config(open_clip, model_cfg: Dict[str, Any], pretrained: Optional[str]) -> nn.Module:
        import copy

        cfg = copy.deepcopy(model_cfg)
        custom_text = cfg.pop('custom_text', False) or 'hf_model_name' in cfg.get('text_cfg', {})
        model = (open_clip.CustomTextCLIP if custom_text else open_clip.CLIP)(**cfg)
        if pretrained is not None:
            if not os.path.isfile(pretrained):
                raise FileNotFoundError(
                    f'pretrained weights file not found: {pretrained} '
                    '(with a model_cfg, pretrained must be a local file or None)'
                )
            open_clip.load_checkpoint(model, pretrained, strict=True)
        return model

    @staticmethod
    def _from_name(
        open_clip, model_name: str, pretrained: Optional[str], cache_dir: Optional[str]
    ) -> nn.Module:
        if not model_name.startswith(('local-dir:', 'hf-hub:')) and model_name not in open_clip.list_models():
            raise ValueError(
                f'unknown open_clip model {model_name!r}; e.g. {open_clip.list_models()[:8]} '
                "(or 'local-dir:/path' with open_clip_config.json)"
            )
        is_file = pretrained is not None and os.path.isfile(pretrained)
        if pretrained is not None and not is_file and not model_name.startswith(('local-dir:', 'hf-hub:')):
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            if pretrained not in tags:
                hint = 'the path does not exist' if os.sep in pretrained else f'known tags: {tags}'
                raise ValueError(
                    f'pretrained {pretrained!r} is neither a weights file nor a tag of {model_name} ({hint})'
                )
        if pretrained is not None and not is_file and not model_name.startswith('local-dir:'):
            _check_download_possible(open_clip, model_name, pretrained, cache_dir)
        try:
            return open_clip.create_model(
                model_name, pretrained=pretrained, cache_dir=cache_dir, load_weights=True
            )
        except Exception as err:
            if is_file:
                raise RuntimeError(
                    f'could not load open_clip weights file {pretrained} into {model_name}: {err}'
                ) from err
            raise RuntimeError(
                f'could not fetch open_clip weights {model_name!r} / {pretrained!r}: {err}. '
                + _download_hint(model_name, pretrained)
            ) from err

    @property
    def embed_dim(self) -> int:
        """Dimension of the joint text/image embedding space."""
        proj = getattr(self.model, 'text_projection', None)
        if isinstance(proj, torch.Tensor):
            return int(proj.shape[1])
        if isinstance(proj, nn.Linear):
            return int(proj.out_features)
        return int(self.encode_text(['x']).shape[-1])

    @property
    def image_size(self) -> int:
        size = getattr(self.model.visual, 'image_size', 224)
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids, LongTensor[B, context_length] (truncated/padded by open_clip's tokenizer)."""
        return self.tokenizer(list(texts))

    def encode_text(self, texts: Union[Sequence[str], torch.Tensor], normalize: bool = False) -> torch.Tensor:
        """Embed texts.

        Args:
            texts: Strings, or token ids LongTensor[B, context_length] from :meth:`tokenize`.
            normalize: L2-normalise each embedding.

        Returns:
            Tensor[B, embed_dim].
        """
        tokens = texts if isinstance(texts, torch.Tensor) else self.tokenize(texts)
        tokens = tokens.to(self.device)
        if self._can_trim():
            return self._encode_text_trimmed(tokens, normalize)
        return self.model.encode_text(tokens, normalize=normalize)

    def _can_trim(self) -> bool:
        import open_clip

        m = self.model
        return (
            type(m) is open_clip.CLIP
            and getattr(m, 'attn_mask', None) is not None
            and getattr(m, 'text_pool_type', None) in ('argmax', 'eos', 'first')
        )

    def _encode_text_trimmed(self, tokens: torch.Tensor, normalize: bool) -> torch.Tensor:
        """open_clip's ``CLIP.encode_text`` run only up to the longest text's end-of-text token.

        Class-name prompts fill 10-20 of CLIP's 77 positions. With the causal attention mask, a position never
        attends to later ones, so the features at and before each end-of-text token do not depend on the
        padding after it: cutting the padding gives the same embeddings (equality is tested against
        ``encode_text``) for a fraction of the compute (``benchmarks/perf/clip_text_encode.py``).
        """
        from open_clip.transformer import text_global_pool

        m = self.model
        # end-of-text is the highest token id (argmax pooling); pad id is 0, so the last non-pad is the EOT
        nonpad = (tokens != 0).int()
        length = int((nonpad * torch.arange(1, tokens.shape[1] + 1, device=tokens.device)).max())
        length = max(1, length)
        text = tokens[:, :length]  # [B, L]
        cast_dtype = m.transformer.get_cast_dtype()
        x = m.token_embedding(text).to(cast_dtype) + m.positional_embedding[:length].to(cast_dtype)
        x = m.transformer(x, attn_mask=m.attn_mask[:length, :length])
        x = m.ln_final(x)  # [B, L, width]
        x = text_global_pool(x, text, m.text_pool_type, eos_token_id=getattr(m, 'text_eos_id', None))
        if m.text_projection is not None:
            x = m.text_projection(x) if isinstance(m.text_projection, nn.Linear) else x @ m.text_projection
        return torch.nn.functional.normalize(x, dim=-1) if normalize else x

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """Embed images already resized and normalised for CLIP.

        Args:
            images: Tensor[B, 3, image_size, image_size].
            normalize: L2-normalise each embedding.

        Returns:
            Tensor[B, embed_dim].
        """
        return self.model.encode_image(images.to(self.device), normalize=normalize)

    def prepare_images(self, images: torch.Tensor) -> torch.Tensor:
        """Resize images (e.g. region crops) to the model's input size and normalise them with its mean/std.

        Crops are resized straight to ``image_size x image_size`` (bicubic), as ViLD feeds region crops to
        CLIP, rather than resized-and-center-cropped like whole images in open_clip's preprocessing.

        Args:
            images: Tensor[B, 3, H, W], RGB, values in [0, 255].

        Returns:
            Tensor[B, 3, image_size, image_size], float32, ready for :meth:`encode_image`.
        """
        import open_clip
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        cfg = open_clip.get_model_preprocess_cfg(self.model)
        mean = torch.tensor(cfg.get('mean') or OPENAI_DATASET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(cfg.get('std') or OPENAI_DATASET_STD, dtype=torch.float32).view(1, 3, 1, 1)
        size = self.image_size
        x = images.float() / 255.0
        if x.shape[-2:] != (size, size):
            x = torch.nn.functional.interpolate(x, size=(size, size), mode='bicubic', align_corners=False)
        return ((x.clamp(0, 1) - mean.to(x.device)) / std.to(x.device)).to(self.device)

    def weights_sha256(self) -> str:
        """SHA-256 over the state dict (names, dtypes, shapes, bytes), computed once."""
        if self._weights_sha256 is None:
            self._weights_sha256 = state_dict_sha256(self.model.state_dict())
        return self._weights_sha256

    def identity(self) -> str:
        """A string naming the encoder exactly: architecture, weight source and weights hash."""
        return f'open_clip:{self.model_name}:{self.pretrained or "random"}:sha256={self.weights_sha256()}'


@functools.lru_cache(maxsize=None)
def _simple_tokenizer(context_length: int):
    # open_clip's BPE tokenizer takes about a second to build (262k merges); it is stateless, so share it.
    import open_clip

    return open_clip.SimpleTokenizer(context_length=context_length)


@functools.lru_cache(maxsize=None)
def _named_tokenizer(model_name: str):
    import open_clip

    return open_clip.get_tokenizer(model_name)


def _download_hint(model_name: str, pretrained: str) -> str:
    return (
        f'Without network access, download the {model_name} / {pretrained} checkpoint elsewhere and pass its '
        'path as pretrained (e.g. --pretrained /path/to/open_clip_pytorch_model.bin), or use pretrained=None '
        '(random init) for tests.'
    )


def _check_download_possible(open_clip, model_name: str, pretrained: str, cache_dir: Optional[str]) -> None:
    """Fail fast, with a clear message, when the weights are neither cached nor downloadable.

    huggingface_hub retries an unreachable host for about a minute before giving up; resolving the host name
    first turns "no network" into an immediate error. Weights already in the local cache are used as usual.
    """
    import socket
    from urllib.parse import urlparse

    cfg = open_clip.get_pretrained_cfg(model_name.replace('/', '-'), pretrained) or {}
    hub_repo = (cfg.get('hf_hub') or '').strip('/')
    if hub_repo:
        try:
            from huggingface_hub import try_to_load_from_cache

            for filename in ('open_clip_model.safetensors', 'open_clip_pytorch_model.bin'):
                if isinstance(try_to_load_from_cache(hub_repo, filename, cache_dir=cache_dir), str):
                    return
        except Exception:  # an unusual cache layout: let open_clip decide
            return
        host = urlparse(os.environ.get('HF_ENDPOINT', 'https://huggingface.co')).hostname
    elif cfg.get('url'):
        cached = os.path.join(cache_dir or os.path.expanduser('~/.cache/clip'), os.path.basename(cfg['url']))
        if os.path.isfile(cached):
            return
        host = urlparse(cfg['url']).hostname
    else:
        return
    try:
        socket.getaddrinfo(host, 443)
    except OSError as err:
        raise RuntimeError(
            f'cannot download open_clip weights {model_name!r} / {pretrained!r}: {host} is not '
            f'reachable ({err}) and the weights are not in the local cache. '
            + _download_hint(model_name, pretrained)
        ) from err


def state_dict_sha256(state_dict: Dict[str, torch.Tensor]) -> str:
    """Hash a state dict's content (independent of how it was loaded or where it is stored)."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b'')
    return digest.hexdigest()
