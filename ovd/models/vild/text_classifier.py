"""ViLD-text's classifier: project region features to the CLIP space and score them by cosine similarity.

Gu et al. (ICLR 2022), Sec. 3.2: a region embedding is projected to the dimension of the CLIP text embeddings and
L2-normalised; its logits are cosine similarities to the fixed (frozen) text embeddings of the class names and to
one learned background embedding, divided by a temperature (0.01, i.e. x100 as in the official ``vild_resnet.yaml``
``temperature: 100.0``). mmdet's convention puts background in the *last* column, so the logits are
``[cos(e, t_1) .. cos(e, t_C), cos(e, bg)] / T``, shape ``[N, C + 1]``; the class embeddings are a non-persistent
buffer so a checkpoint can be evaluated on another vocabulary.
"""
from typing import Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ovd.registry import MODELS

EmbeddingSource = Union[str, dict, Tensor, np.ndarray]


def load_class_embeddings(source: EmbeddingSource) -> Tensor:
    """Class text embeddings from a file, an array, or the shared class-embedding helper.

    Args:
        source: a ``.pt``/``.pth``/``.npy`` file holding ``[num_classes, dim]``; a tensor/array of that shape; or a
            dict ``clip`` (arguments of :class:`ovd.text.clip.OpenCLIPEncoder`), ``vocabulary`` (a built-in name),
            ``templates`` ('vild' = ViLD's 63 prompts), optional ``this_is`` and ``name_rule`` (default
            ``'vild'``, ViLD's official class-name text, :mod:`ovd.data.name_rules`): computed with
            :func:`ovd.text.class_embeddings.build_class_embeddings`, once, then read from the content-addressed
            embedding cache.

    Returns:
        Float tensor ``[num_classes, dim]`` (not yet normalised).
    """
    from ovd.text.class_embeddings import read_class_embeddings
    if isinstance(source, dict):
        return read_class_embeddings(_embeddings_from_clip(**source), f'class embeddings built from {source!r}')
    return read_class_embeddings(source)


def _embeddings_from_clip(clip: dict, vocabulary: str, templates: str = 'vild', this_is: bool = True,
                          name_rule: str = 'vild') -> Tensor:
    from ovd.text.class_embeddings import build_class_embeddings
    from ovd.text.clip import OpenCLIPEncoder
    encoder = OpenCLIPEncoder(**clip)
    return build_class_embeddings(encoder, vocabulary, templates=templates, this_is=this_is, name_rule=name_rule)


@MODELS.register_module()
class ViLDTextClassifier(nn.Module):
    """Cosine classifier against fixed class text embeddings plus a learned background embedding.

    Built by mmdet's ``BBoxHead`` through ``cls_predictor_cfg``, which passes ``in_features`` and
    ``out_features = num_classes + 1``.

    Args:
        in_features: width of the region feature (the last fc of the box head).
        out_features: ``num_classes + 1``; must match the number of class embeddings + 1.
        class_embeddings: see :func:`load_class_embeddings`.
        temperature: logits are ``cosine / temperature``.
    """

    def __init__(self, in_features: int, out_features: int, class_embeddings: EmbeddingSource,
                 temperature: float = 0.01):
        super().__init__()
        emb = load_class_embeddings(class_embeddings)
        if emb.shape[0] + 1 != out_features:
            raise ValueError(f'the box head has num_classes={out_features - 1} but {emb.shape[0]} class '
                             f'embeddings were given')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.embed_dim = emb.shape[1]
        self.temperature = float(temperature)
        self.projection = nn.Linear(in_features, self.embed_dim)
        self.register_buffer('class_embeddings', F.normalize(emb, dim=1), persistent=False)
        # official ViLD initialises the background kernel with N(0, 0.01)
        self.bg_embedding = nn.Parameter(torch.randn(self.embed_dim) * 0.01)

    @property
    def num_classes(self) -> int:
        return self.class_embeddings.shape[0]

    def embed(self, x: Tensor) -> Tensor:
        """Region embeddings in the CLIP space.

        Args:
            x: region features ``[N, in_features]``.

        Returns:
            L2-normalised embeddings ``[N, dim]`` (a zero vector stays zero instead of becoming NaN).
        """
        return F.normalize(self.projection(x), dim=-1)

    def similarity(self, embeddings: Tensor, with_background: bool = True) -> Tensor:
        """Temperature-scaled cosine logits of normalised region embeddings.

        Args:
            embeddings: ``[N, dim]``, L2-normalised.
            with_background: append the background column (last).

        Returns:
            ``[N, C + 1]`` (or ``[N, C]`` without background).
        """
        logits = embeddings @ self.class_embeddings.t()  # [N, C]
        if with_background:
            bg = F.normalize(self.bg_embedding, dim=0)
            logits = torch.cat([logits, (embeddings @ bg)[:, None]], dim=1)
        return logits / self.temperature

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[N, C + 1]`` (background last) of region features ``[N, in_features]``."""
        return self.similarity(self.embed(x))
