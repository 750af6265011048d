"""A tiny CLIP pretrained on the open-vocabulary world's image-caption pairs: the teacher that knows novel names.

open_clip's own model class (:class:`open_clip.CLIP`, a small ViT and text transformer from
:data:`WORLD_CLIP_CONFIG`, CLIP's real BPE tokenizer) is trained with open_clip's contrastive loss
(:class:`open_clip.loss.ClipLoss`) on ``captions/train.tsv`` of a world written by
:func:`ovd.data.synthetic.generate_ov_world`: crops of every object, novel ones included, and whole images. The
premise of the world is that this model can name novel categories; :func:`zero_shot_accuracy` measures it on
the val crops as captioned, and :func:`geometry_accuracy` on val objects cropped the ways detectors crop them,
separately for base and novel categories.

The result is written in open_clip's ``local-dir:`` layout under ``<world>/clip/<key>/`` where ``key`` hashes
everything the weights depend on (the caption file and its images, the config, the recipe, the seed, torch's
version), so a second call with the same inputs reuses it and a changed input trains anew; ``<world>/clip/current``
links to the model of the latest call, the path the ov-world configs name. Deterministic by seed (one thread).
"""
import copy
import csv
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .io import atomic_write_json

# context_length 38: BARON's bag of 3x3 regions x 4 pseudo words (ovdet's value) between the start and end tokens;
# it also holds the longest whole-image caption (26 tokens) whole.
WORLD_CLIP_CONFIG = {
    'embed_dim': 64,
    'vision_cfg': {'image_size': 48, 'layers': 3, 'width': 96, 'head_width': 32, 'patch_size': 8},
    'text_cfg': {'context_length': 38, 'vocab_size': 49408, 'width': 64, 'heads': 2, 'layers': 2},
}
WEIGHTS_NAME = 'open_clip_model.safetensors'
CURRENT_NAME = 'current'  # <world>/clip/current -> the model of the latest ensure_world_clip call
TEMPLATE = 'a {}.'
# the crops geometry_accuracy reports: how ViLD crops a proposal (tight, 1.5x), the 4 px margin the captions had
# before they varied, and a BARON bag's span (ov_world.crop_box names them)
REPORTED_GEOMETRIES = ('tight', 'margin:4', 'enlarged', 'context')


@dataclass(frozen=True)
class Recipe:
    """How the tiny CLIP is trained (part of the cache key)."""
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 20


def _read_pairs(world: Path, split: str) -> List[Tuple[Path, str]]:
    path = world / 'captions' / f'{split}.tsv'
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    for i, row in enumerate(rows):
        if set(row) != {'filepath', 'title'} or not row['filepath'] or not row['title']:
            raise ValueError(f'{path}: row {i + 2}: expected non-empty "filepath" and "title" columns')
    return [(world / 'captions' / r['filepath'], r['title']) for r in rows]


def _load_images(paths: Sequence[Path], size: int) -> torch.Tensor:
    """Images as a uint8 tensor [N, 3, size, size] (bicubic resize, as region crops are fed to CLIP)."""
    from PIL import Image
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert('RGB').resize((size, size), Image.BICUBIC))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _normalise(images: torch.Tensor) -> torch.Tensor:
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def cache_key(world: Path, seed: int, recipe: Recipe, config: Dict = WORLD_CLIP_CONFIG) -> str:
    """SHA-256 (first 16 hex digits) of every input of the weights."""
    h = hashlib.sha256()
    h.update(json.dumps({'config': config, 'recipe': asdict(recipe), 'seed': seed,
                         'torch': torch.__version__.split('+')[0]}, sort_keys=True).encode())
    for path, title in _read_pairs(world, 'train'):
        h.update(title.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:16]


def _build(seed: int, config: Dict) -> torch.nn.Module:
    import open_clip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return open_clip.CLIP(**copy.deepcopy(config))


def _tokenize(texts: Sequence[str], context_length: int) -> torch.Tensor:
    import open_clip
    return open_clip.get_tokenizer('ViT-B-32', context_length=context_length)(list(texts))


def train_world_clip(world: Path, seed: int, recipe: Recipe,
                     progress: Optional[Callable[[int, int], None]] = None) -> torch.nn.Module:
    """Train the tiny CLIP on ``world/captions/train.tsv`` and return it (eval mode), on one torch thread: the
    weights then do not depend on the machine's core count (a sum's order does), nor does anything built on them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(world, seed, recipe, progress)
    finally:
        torch.set_num_threads(threads)


def _train(world: Path, seed: int, recipe: Recipe,
           progress: Optional[Callable[[int, int], None]]) -> torch.nn.Module:
    from open_clip.loss import ClipLoss

    config = WORLD_CLIP_CONFIG
    pairs = _read_pairs(world, 'train')
    images = _normalise(_load_images([p for p, _ in pairs], config['vision_cfg']['image_size']))
    tokens = _tokenize([t for _, t in pairs], config['text_cfg']['context_length'])
    model = _build(seed, config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = -(-len(pairs) // recipe.batch_size)
    total = recipe.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / recipe.warmup_steps)
                                                 * 0.5 * (1 + np.cos(np.pi * s / total)))
    loss_fn = ClipLoss()
    generator = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(recipe.epochs):
        order = torch.randperm(len(pairs), generator=generator)
        for start in range(0, len(pairs), recipe.batch_size):
            batch = order[start:start + recipe.batch_size]
            image_features, text_features, logit_scale = model(images[batch], tokens[batch])
            loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if progress is not None:
                progress(step, total)
    return model.eval()


def _classify(model: torch.nn.Module, images: torch.Tensor, names: Sequence[str]) -> List[int]:
    """Index of the name whose ``TEMPLATE`` text embedding is nearest each normalised image."""
    text = model.encode_text(_tokenize([TEMPLATE.format(n) for n in names], model.context_length),
                             normalize=True)
    return (model.encode_image(images, normalize=True) @ text.T).argmax(1).tolist()


def _image_size(model: torch.nn.Module) -> int:
    size = model.visual.image_size
    return size[0] if isinstance(size, tuple) else size


def _rates(hits: Dict[str, List[bool]]) -> Dict[str, float]:
    return {s: float(np.mean(h)) if h else float('nan') for s, h in hits.items()}


@torch.no_grad()
def zero_shot_accuracy(model: torch.nn.Module, world: Path, split: str = 'val') -> Dict[str, float]:
    """Top-1 accuracy of classifying the world's object crops of ``split`` among all category names.

    Returns:
        ``{'base': ..., 'novel': ..., 'all': ...}`` (fractions), from the crops whose caption names a category.
    """
    manifest = json.loads((world / 'synthetic_manifest.json').read_text(encoding='utf-8'))
    names = manifest['base'] + manifest['novel']
    split_of = {n: 'base' for n in manifest['base']} | {n: 'novel' for n in manifest['novel']}
    crops = [(p, t[len('a '):-1]) for p, t in _read_pairs(world, split) if 'crops' in p.parts]
    predicted = _classify(model, _normalise(_load_images([p for p, _ in crops], _image_size(model))), names)
    hits = {'base': [], 'novel': []}
    for (_, truth), k in zip(crops, predicted):
        hits[split_of[truth]].append(names[k] == truth)
    out = _rates(hits)
    out['all'] = float(np.mean(hits['base'] + hits['novel']))
    return out


@torch.no_grad()
def geometry_accuracy(model: torch.nn.Module, world: Path, split: str = 'val', seed: int = 0,
                      geometries: Sequence[str] = REPORTED_GEOMETRIES) -> Dict[str, Dict[str, float]]:
    """Top-1 accuracy among all category names on every annotated object of ``split``, cropped from its image at
    each geometry (:func:`ovd.data.synthetic.ov_world.crop_box`; ``'context'`` margins drawn with ``seed``).

    Returns:
        ``{geometry: {'base': ..., 'novel': ...}}`` (fractions).
    """
    from PIL import Image

    from .ov_world import crop_box
    manifest = json.loads((world / 'synthetic_manifest.json').read_text(encoding='utf-8'))
    names = manifest['base'] + manifest['novel']
    ann_path = world / manifest['splits'][split]['ann_file']
    ann = json.loads(ann_path.read_text(encoding='utf-8'))
    files = {im['id']: world / '/'.join(im['coco_url'].split('/')[-2:]) for im in ann['images']}
    size, rng = _image_size(model), np.random.default_rng(seed)
    crops = {g: [] for g in geometries}
    truths = []
    for a in ann['annotations']:
        category = manifest['categories'].get(str(a['category_id']))
        if category is None or a['image_id'] not in files:
            raise ValueError(f'{ann_path}: annotation {a["id"]}: category_id {a["category_id"]} or image_id '
                             f'{a["image_id"]} is not in the world')
        truths.append(category)
        x, y, w, h = a['bbox']
        with Image.open(files[a['image_id']]) as im:
            im = im.convert('RGB')
            for g in geometries:
                box = crop_box((x, y, x + w, y + h), g, im.width, im.height, rng)
                crops[g].append(np.asarray(im.crop(box).resize((size, size), Image.BICUBIC)))
    out = {}
    for g in geometries:
        images = _normalise(torch.from_numpy(np.stack(crops[g])).permute(0, 3, 1, 2).contiguous())
        hits = {'base': [], 'novel': []}
        for truth, k in zip(truths, _classify(model, images, names)):
            hits[truth['split']].append(names[k] == truth['name'])
        out[g] = _rates(hits)
    return out


def ensure_world_clip(world, seed: int = 0, recipe: Recipe = Recipe(),
                      progress: Optional[Callable[[int, int], None]] = None) -> Path:
    """The tiny CLIP of ``world``: trained and written once per input, else reused.

    Args:
        world: a folder written by :func:`ovd.data.synthetic.generate_ov_world`.
        seed: the seed of initialisation and batch order.
        recipe: the training recipe.
        progress: optional ``progress(step, total)`` callback during training.

    Returns:
        The model folder (open_clip ``local-dir:`` layout: ``open_clip_config.json``, the weights, and
        ``zero_shot.json``: ``base`` / ``novel`` / ``all``, the accuracy on the val crops as captioned, and
        ``by_geometry``, on the val objects at each of :data:`REPORTED_GEOMETRIES`); ``local-dir:<folder>`` loads
        it in open_clip and
        ``ovd.text.clip.OpenCLIPEncoder(model_cfg=WORLD_CLIP_CONFIG, pretrained=<folder>/<weights>)`` in ovd.
    """
    world = Path(world)
    folder = world / 'clip' / cache_key(world, seed, recipe)
    if not (folder / 'zero_shot.json').is_file():
        _train_and_write(world, folder, seed, recipe, progress)
    _publish(folder)
    return folder


def _publish(folder: Path) -> None:
    """Point ``<world>/clip/current`` (the path configs name) at ``folder``, atomically."""
    link = folder.parent / CURRENT_NAME
    if link.is_symlink() and os.readlink(link) == folder.name:
        return
    partial = folder.parent / f'.{CURRENT_NAME}.partial'
    if partial.is_symlink() or partial.exists():
        partial.unlink()
    partial.symlink_to(folder.name, target_is_directory=True)
    partial.replace(link)


def _train_and_write(world: Path, folder: Path, seed: int, recipe: Recipe,
                     progress: Optional[Callable[[int, int], None]]) -> None:
    from safetensors.torch import save_file

    model = train_world_clip(world, seed, recipe, progress)
    accuracy = zero_shot_accuracy(model, world)
    accuracy['by_geometry'] = geometry_accuracy(model, world, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f'.{WEIGHTS_NAME}.partial'
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(partial))
    partial.replace(folder / WEIGHTS_NAME)
    atomic_write_json(folder / 'open_clip_config.json', {'model_cfg': WORLD_CLIP_CONFIG, 'preprocess_cfg': {}},
                      indent=1)
    # written last: its presence marks a complete model
    atomic_write_json(folder / 'zero_shot.json', {'seed': seed, 'recipe': asdict(recipe), **accuracy}, indent=1)
