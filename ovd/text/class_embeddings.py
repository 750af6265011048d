"""Class embeddings: vocabulary x templates -> Tensor[num_classes, dim] via a text encoder and the cache.

The recipe is ViLD's (and Detic's/BARON's): fill every template with the class name, encode each prompt,
L2-normalise, average over the templates, L2-normalise again. The class name is the category's text under a
name rule (:mod:`ovd.data.name_rules`): ViLD's and BARON's configs select their official ``'vild'`` /
``'baron'`` rule (qualifier kept, ``/`` -> " or ", lower case, article from the dataset's spelling).
"""

from typing import Any, List, Optional, Sequence, Tuple, Union

import torch

from .cache import EmbeddingCache, cache_key
from .templates import article, fill_templates, get_templates

VocabLike = Union[str, Sequence[str], Any]


def vocabulary_names(vocab: VocabLike, name_rule: Optional[str] = None) -> List[str]:
    """Class texts of a vocabulary given as a built-in name (``'lvis_v1'``), a ``Vocabulary`` or a list of names.

    Args:
        vocab: The vocabulary.
        name_rule: A rule of :mod:`ovd.data.name_rules`. For a vocabulary, ``None`` means ``'default'`` (its
            ``prompt_name``); a list of names is used as given when ``None``, else each (raw) name goes
            through the rule.
    """
    return class_prompt_names(vocab, name_rule)[0]


def class_prompt_names(vocab: VocabLike, name_rule: Optional[str] = None) -> Tuple[List[str], List[str]]:
    """``(texts, article_names)``: each class's text and the string whose first letter picks its template
    article (ViLD and BARON take it from the dataset's own spelling), see :func:`vocabulary_names`."""
    from ovd.data.name_rules import apply_name_rule, article_names
    if isinstance(vocab, str):
        from ovd.data.vocab import get_vocabulary

        vocab = get_vocabulary(vocab)
    if getattr(vocab, 'categories', None) is not None:
        rule = name_rule or 'default'
        return list(vocab.prompt_texts(rule)), list(vocab.article_names(rule))
    names = list(vocab)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError('a vocabulary must be a built-in name, a Vocabulary or a non-empty list of names')
    if name_rule is None:
        return names, names
    texts = apply_name_rule(names, name_rule)
    return texts, article_names(names, texts, name_rule)


def _progress(total: int, enabled: bool, description: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=description, unit='prompt')


@torch.no_grad()
def encode_class_prompts(
    encoder,
    names: Sequence[str],
    templates: Sequence[str],
    this_is: bool = True,
    batch_size: int = 256,
    progress: bool = False,
    article_names: Optional[Sequence[str]] = None,
) -> torch.Tensor:
    """Encode ``len(names) * len(templates)`` prompts and average them per class (no cache).

    Args:
        encoder: Has ``encode_text(list_of_str) -> Tensor[B, D]`` (e.g.
            :class:`ovd.text.clip.OpenCLIPEncoder`).
        names: Class names.
        templates: Format strings (see :mod:`ovd.text.templates`).
        this_is: ViLD's "This is ..." prefix.
        batch_size: Prompts per forward pass.
        progress: Show a progress bar.
        article_names: Per class, the string whose first letter picks the article (default: the name).

    Returns:
        Tensor[num_classes, D], float32, rows of unit norm.
    """
    articles = names if article_names is None else article_names
    if len(articles) != len(names):
        raise ValueError(f'{len(article_names)} article names for {len(names)} class names')
    prompts = [p for name, art in zip(names, articles) for p in fill_templates(name, templates, this_is, art)]
    # Batches of similar length waste less compute on padding (the CLIP wrapper trims it per batch).
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    chunks = []
    with _progress(len(prompts), progress, 'embedding prompts') as bar:
        for start in range(0, len(prompts), batch_size):
            batch = [prompts[i] for i in order[start : start + batch_size]]
            emb = encoder.encode_text(batch).float()
            chunks.append(torch.nn.functional.normalize(emb, dim=-1).cpu())
            bar.update(len(batch))
    sorted_emb = torch.cat(chunks)
    unsorted = torch.empty_like(sorted_emb)
    unsorted[torch.tensor(order)] = sorted_emb
    per_prompt = unsorted.view(len(names), len(templates), -1)  # [C, T, D]
    return torch.nn.functional.normalize(per_prompt.mean(dim=1), dim=-1)


def build_class_embeddings(
    encoder,
    vocab: VocabLike,
    templates: Union[str, Sequence[str]] = 'vild',
    this_is: bool = True,
    cache: Union[EmbeddingCache, bool, None] = True,
    batch_size: int = 256,
    progress: bool = False,
    name_rule: Optional[str] = None,
) -> torch.Tensor:
    """Class embeddings for a vocabulary, read from / written to the content-addressed cache.

    Args:
        encoder: A text encoder with ``encode_text`` and ``identity()`` (the identity must pin the weights).
        vocab: A built-in vocabulary name, a ``Vocabulary`` or a list of names.
        templates: A template set name ('vild' = ViLD's 63, 'single') or a sequence of templates.
        this_is: ViLD's "This is ..." prefix.
        cache: ``True`` for the default cache, an :class:`EmbeddingCache`, or ``False``/``None`` to skip it.
        batch_size: Prompts per forward pass.
        progress: Show a progress bar while computing.
        name_rule: How names become text (:func:`vocabulary_names`); ViLD's and BARON's heads pass theirs.

    Returns:
        Tensor[num_classes, D] of unit-norm rows, in vocabulary order.
    """
    names, article_names = class_prompt_names(vocab, name_rule)
    templates = get_templates(templates)

    def compute() -> torch.Tensor:
        return encode_class_prompts(encoder, names, templates, this_is, batch_size, progress, article_names)

    if not cache:
        return compute()
    store = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache()
    extra = {'this_is': this_is}
    articles = [article(a) for a in article_names]
    if articles != [article(n) for n in names]:  # keyed only when they change a prompt: older keys stay valid
        extra['articles'] = articles
    key = cache_key(encoder.identity(), templates, names, extra=extra)
    meta = {'encoder': encoder.identity(), 'num_classes': len(names), 'num_templates': len(templates)}
    return store.get_or_compute(key, compute, meta)


def read_class_embeddings(source: Union[str, torch.Tensor, Any], origin: str = 'class embeddings'
                          ) -> torch.Tensor:
    """Class embeddings ``[num_classes, dim]`` from a ``.npy``/``.pt``/``.pth`` file or an array, checked.

    Args:
        source: a file path, or a tensor/array of shape ``[num_classes, dim]``.
        origin: what to call an array source in errors (a file is named by its path).

    Returns:
        Float tensor ``[num_classes, dim]`` (not normalised).

    Raises:
        ValueError: an unknown file type, a wrong shape, or non-finite or all-zero rows.
    """
    import numpy as np
    if isinstance(source, str):
        origin = source
        if source.endswith('.npy'):
            source = np.load(source)
        elif source.endswith(('.pt', '.pth')):
            source = torch.load(source, map_location='cpu', weights_only=True)
        else:
            raise ValueError(f'{source}: class embeddings must be a .npy/.pt/.pth file of shape '
                             f'[num_classes, dim]')
    emb = torch.as_tensor(source if isinstance(source, torch.Tensor) else np.asarray(source)).float()
    if emb.ndim != 2 or emb.shape[0] == 0:
        raise ValueError(f'{origin}: expected shape [num_classes, dim], got {tuple(emb.shape)}')
    if not torch.isfinite(emb).all() or (emb.norm(dim=1) == 0).any():
        raise ValueError(f'{origin}: contains non-finite or all-zero rows')
    return emb
