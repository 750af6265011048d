"""Prompt templates for CLIP class embeddings: ViLD's 63 templates and its "This is ..." prompt engineering.

Source of the list: ViLD (Gu et al., "Open-vocabulary Object Detection via Vision and Language Knowledge
Distillation", ICLR 2022), whose official demo (tensorflow/tpu, ``models/official/detection/projects/vild``,
``ViLD_demo.ipynb``) builds text embeddings from these 63 templates, derived from the ImageNet prompts of CLIP
(Radford et al., 2021). ViLD fills ``{article}`` with "a"/"an" by the name's first letter, prefixes "This is "
to prompts that start with "a" or "the" (its ``this_is`` flag), encodes each prompt, L2-normalises, averages
over the templates and normalises again (see :mod:`ovd.text.class_embeddings`).
"""

from typing import List, Optional, Sequence

# A sequence of format strings: ``{}`` is the class name, ``{article}`` its indefinite article.
VILD_TEMPLATES: tuple = (
    'There is {article} {} in the scene.',
    'There is the {} in the scene.',
    'a photo of {article} {} in the scene.',
    'a photo of the {} in the scene.',
    'a photo of one {} in the scene.',
    'itap of {article} {}.',
    'itap of my {}.',
    'itap of the {}.',
    'a photo of {article} {}.',
    'a photo of my {}.',
    'a photo of the {}.',
    'a photo of one {}.',
    'a photo of many {}.',
    'a good photo of {article} {}.',
    'a good photo of the {}.',
    'a bad photo of {article} {}.',
    'a bad photo of the {}.',
    'a photo of a nice {}.',
    'a photo of the nice {}.',
    'a photo of a cool {}.',
    'a photo of the cool {}.',
    'a photo of a weird {}.',
    'a photo of the weird {}.',
    'a photo of a small {}.',
    'a photo of the small {}.',
    'a photo of a large {}.',
    'a photo of the large {}.',
    'a photo of a clean {}.',
    'a photo of the clean {}.',
    'a photo of a dirty {}.',
    'a photo of the dirty {}.',
    'a bright photo of {article} {}.',
    'a bright photo of the {}.',
    'a dark photo of {article} {}.',
    'a dark photo of the {}.',
    'a photo of a hard to see {}.',
    'a photo of the hard to see {}.',
    'a low resolution photo of {article} {}.',
    'a low resolution photo of the {}.',
    'a cropped photo of {article} {}.',
    'a cropped photo of the {}.',
    'a close-up photo of {article} {}.',
    'a close-up photo of the {}.',
    'a jpeg corrupted photo of {article} {}.',
    'a jpeg corrupted photo of the {}.',
    'a blurry photo of {article} {}.',
    'a blurry photo of the {}.',
    'a pixelated photo of {article} {}.',
    'a pixelated photo of the {}.',
    'a black and white photo of the {}.',
    'a black and white photo of {article} {}.',
    'a plastic {}.',
    'the plastic {}.',
    'a toy {}.',
    'the toy {}.',
    'a plushie {}.',
    'the plushie {}.',
    'a cartoon {}.',
    'the cartoon {}.',
    'an embroidered {}.',
    'the embroidered {}.',
    'a painting of the {}.',
    'a painting of a {}.',
)
# ViLD's single-template variant (its ``prompt_engineering=False`` path).
SINGLE_TEMPLATE: tuple = ('a photo of {article} {}.',)

TEMPLATE_SETS = {'vild': VILD_TEMPLATES, 'single': SINGLE_TEMPLATE}


def article(name: str) -> str:
    """The indefinite article ViLD uses: "an" before a lower-case vowel, else "a"."""
    return 'an' if name[:1] in 'aeiou' else 'a'


def fill_templates(name: str, templates: Sequence[str] = VILD_TEMPLATES, this_is: bool = True,
                   article_name: Optional[str] = None) -> List[str]:
    """Fill each template with ``name`` (already a class text, e.g. ``Vocabulary.prompt_texts(rule)``).

    Args:
        name: The class name.
        templates: Format strings with ``{}`` and optionally ``{article}``.
        this_is: Prefix "This is " to prompts starting with "a" or "the", as ViLD does.
        article_name: The string whose first letter picks the article (default ``name``): ViLD's code takes
            it from the dataset's own spelling (``article(category['name'])``), so ``'Other Shoes'`` gets "a".

    Returns:
        One prompt per template, in template order.
    """
    prompts = []
    for template in templates:
        text = template.format(name, article=article(name if article_name is None else article_name))
        if this_is and (text.startswith('a') or text.startswith('the')):
            text = 'This is ' + text
        prompts.append(text)
    return prompts


def get_templates(name_or_list) -> tuple:
    """Resolve a template set by name ('vild', 'single') or pass a sequence of templates through."""
    if isinstance(name_or_list, str):
        if name_or_list not in TEMPLATE_SETS:
            raise KeyError(f'unknown template set {name_or_list!r}; known: {sorted(TEMPLATE_SETS)}')
        return TEMPLATE_SETS[name_or_list]
    templates = tuple(name_or_list)
    if not templates or not all(isinstance(t, str) and '{}' in t for t in templates):
        raise ValueError('templates must be a non-empty sequence of format strings each containing "{}"')
    return templates
