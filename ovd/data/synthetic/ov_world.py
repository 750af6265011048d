"""The synthetic open-vocabulary world: categories named by what they look like, split into base and novel.

Every category is a combination of a colour, a texture and a shape, and its name says so: ``'red star'``,
``'blue striped ring'``. A seeded split marks about a quarter of the combinations **novel**, so that every word
of every novel name occurs in some base name (the words are known) while no novel combination is ever a box
label in training (the combination is not). It is the analogue of OV-LVIS: novel categories have LVIS
frequency ``'r'``, base ones ``'c'``/``'f'``, so the ``lvis`` protocol's ``APr`` is novel AP.

What ``generate_ov_world`` writes under its root, each in a format the methods already read:

- ``annotations/lvis_v1_{train,val}.json`` (LVIS v1 detection format, images at the paths their ``coco_url``
  names): train images carry boxes of base categories only; novel objects are painted in train images too but
  left unannotated, as the rare annotations removed from OV-LVIS; val has boxes of every category.
- ``annotations/grounding_train.json`` (MDETR's pre-processed grounding format: COCO layout, one caption per
  image, ``tokens_positive`` character spans per box): captions such as ``"a red striped ring left of a blue
  star."`` whose base phrases are boxed; novel phrases may be mentioned but have no box.
- ``captions/{train,val}.tsv`` (open_clip's ``CsvDataset`` layout: tab-separated ``filepath`` and ``title``)
  with crops of every object, novel ones included, and whole images described by their objects: the analogue of
  the web data a CLIP model saw, over all categories. Every object is cropped at each of :data:`CROP_GEOMETRIES`
  (tight, a small margin, ViLD's 1.5x box, a wider context), the ways detectors crop regions for a CLIP teacher;
  the random margins come from their own generator, so the detection and grounding files do not depend on them.

Deterministic by seed: the same arguments write byte-identical files. ``docs/ov_world.md`` explains the world.
"""
import io
import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .canvas import Canvas, DrawnObject
from .common import (
    ProgressFn,
    SYNTHETIC_LICENSE,
    claim_root,
    image_rng,
    report,
    resolve_splits,
    split_rng,
    write_image,
    write_manifest,
)
from .io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .looks import PALETTE, Look

DATASET = 'ov_world'
# The layout and content version of a written world, in its manifest: a folder of another version is rewritten
# (2: every object captioned at the CROP_GEOMETRIES instead of one 4 px crop).
WORLD_FORMAT = 2
COLOURS = ('red', 'green', 'blue', 'yellow')
SHAPES = ('rectangle', 'ellipse', 'triangle', 'star')
# texture word in the name -> the canvas texture that paints it
TEXTURES = {'solid': 'solid', 'striped': 'dstripes'}
STRIPE_COLOUR = 'black'
NOVEL_FRACTION = 0.25
DEFAULT_SPLITS = {'train': 240, 'val': 60}
MIN_SIZE, MAX_SIZE = (128, 128), (192, 192)
MIN_SIDE = 22
MIN_OBJECTS, MAX_OBJECTS = 2, 4
# How the caption pairs crop an object (the box grown per side, clipped to the image), in CROP_GEOMETRIES order:
# 'tight' the box itself (a well-placed proposal); 'margin' 0 to SMALL_MARGIN px per side; 'enlarged' ViLD's
# second crop, the box scaled by VILD_ENLARGE about its centre; 'context' up to CONTEXT_EXTENT of the box side per
# side, drawn per side: the span of a BARON bag (a 3x3 grid of box-sized neighbours overlapping by a tenth of a
# side reaches 0.9 sides out), with the object anywhere in it.
CROP_GEOMETRIES = ('tight', 'margin', 'enlarged', 'context')
SMALL_MARGIN = 8
VILD_ENLARGE = 1.5
CONTEXT_EXTENT = 0.9
RELATIONS = {'left of': lambda a, b: a[2] <= b[0], 'right of': lambda a, b: a[0] >= b[2],
             'above': lambda a, b: a[3] <= b[1], 'below': lambda a, b: a[1] >= b[3]}
OV_WORLD_INFO = {'description': 'ovd synthetic open-vocabulary world in LVIS v1 format', 'url': '',
                 'version': '1.0', 'year': 2026, 'contributor': 'ovd.data.synthetic', 'date_created': '2026-12-06'}

_RGB = dict(PALETTE)


@dataclass(frozen=True)
class WorldCategory:
    """One category of the world.

    Attributes:
        id: LVIS-style category id, 1-based.
        colour: one of :data:`COLOURS`.
        texture: a key of :data:`TEXTURES` (``'solid'`` is not spoken in the name).
        shape: one of :data:`SHAPES`.
        split: ``'base'`` or ``'novel'``.
    """
    id: int
    colour: str
    texture: str
    shape: str
    split: str

    @property
    def words(self) -> Tuple[str, ...]:
        return (self.colour, self.shape) if self.texture == 'solid' else (self.colour, self.texture, self.shape)

    @property
    def text(self) -> str:
        """The category as said in captions and prompts, e.g. ``'red striped star'``."""
        return ' '.join(self.words)

    @property
    def name(self) -> str:
        """The LVIS-style name, e.g. ``'red_striped_star'``."""
        return '_'.join(self.words)

    @property
    def look(self) -> Look:
        second = (STRIPE_COLOUR, _RGB[STRIPE_COLOUR]) if self.texture != 'solid' else (self.colour, _RGB[self.colour])
        return Look(self.id - 1, self.shape, (self.colour, _RGB[self.colour]), TEXTURES[self.texture], second)

    @property
    def frequency(self) -> str:
        return 'r' if self.split == 'novel' else ('f' if self.id % 2 else 'c')


def world_categories(seed: int = 0, novel_fraction: float = NOVEL_FRACTION) -> List[WorldCategory]:
    """The world's categories in id order, with the seeded base/novel split.

    The split is drawn until every word of every novel name occurs in some base name, so the novel categories
    are new combinations of known words.

    Args:
        seed: the split's seed.
        novel_fraction: fraction of the combinations that are novel (0 < fraction < 1).
    """
    if not 0 < novel_fraction < 1:
        raise ValueError(f'novel_fraction must be in (0, 1), got {novel_fraction}')
    combos = list(itertools.product(COLOURS, TEXTURES, SHAPES))
    n_novel = max(1, round(novel_fraction * len(combos)))
    rng = split_rng(seed, DATASET, 'split')
    for _ in range(1000):
        novel = set(rng.choice(len(combos), size=n_novel, replace=False).tolist())
        cats = [WorldCategory(i + 1, c, t, s, 'novel' if i in novel else 'base')
                for i, (c, t, s) in enumerate(combos)]
        base_words = {w for c in cats if c.split == 'base' for w in c.words}
        if all(set(c.words) <= base_words for c in cats if c.split == 'novel'):
            return cats
    raise ValueError(f'no split with {n_novel} novel categories keeps every novel word in a base name')


def _lvis_category(cat: WorldCategory, instance_count: int, image_count: int) -> dict:
    return {'id': cat.id, 'name': cat.name, 'synonyms': [cat.name], 'def': f'a {cat.text} (ovd synthetic world)',
            'synset': f'{cat.name}.n.01', 'frequency': cat.frequency, 'image_count': image_count,
            'instance_count': instance_count}


def _relation(a: DrawnObject, b: DrawnObject) -> Optional[str]:
    for word, holds in RELATIONS.items():
        if holds(a.box, b.box):
            return word
    return None


# The words _caption joins phrases with, besides RELATIONS' words. 'next to' (said only of objects in no relation)
# is left to word pieces: the world's tiny BERT, which GLIP's measured figures come from, was built without it.
CAPTION_WORDS = ('a', 'and')


def world_words() -> Tuple[str, ...]:
    """The words of the world's names, relations and joins, sorted: what a tokenizer for the world keeps whole."""
    words = set(COLOURS) | set(SHAPES) | {t for t in TEXTURES if t != 'solid'} | set(CAPTION_WORDS)
    return tuple(sorted(words | {w for relation in RELATIONS for w in relation.split()}))


def _caption(objects: Sequence[Tuple[WorldCategory, DrawnObject]]) -> Tuple[str, List[Tuple[int, int]]]:
    """A caption naming every object, e.g. ``'a red star left of a blue ring and a green ellipse.'``, and the
    character span of each object's phrase (the category words, without the article)."""
    text, spans = '', []
    for k, (cat, obj) in enumerate(objects):
        if k == 0:
            text = 'a '
        elif k == 1:
            relation = _relation(objects[0][1], obj)
            text += f' {relation} a ' if relation else ' next to a '
        else:
            text += ' and a '
        spans.append((len(text), len(text) + len(cat.text)))
        text += cat.text
    return text + '.', spans


def crop_box(box: Sequence[float], geometry: str, width: int, height: int,
             rng: Optional[np.random.Generator] = None) -> Tuple[int, int, int, int]:
    """The pixel box (xyxy, clipped to the image) of a crop of ``box`` at one of :data:`CROP_GEOMETRIES`.

    Args:
        box: the object's xyxy box.
        geometry: a name in :data:`CROP_GEOMETRIES`, or ``'margin:<px>'`` for a fixed margin of ``<px>`` per side.
        width, height: the image size.
        rng: draws the per-side margins of ``'margin'`` and ``'context'``.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if geometry == 'tight':
        grow = np.zeros(4)
    elif geometry == 'enlarged':
        grow = (VILD_ENLARGE - 1) / 2 * np.array([w, h, w, h])
    elif geometry.startswith('margin:'):
        grow = np.full(4, float(geometry.split(':', 1)[1]))
    elif geometry in ('margin', 'context'):
        if rng is None:
            raise ValueError(f'crop geometry {geometry!r} draws its margins: pass rng')
        grow = (rng.integers(0, SMALL_MARGIN + 1, size=4).astype(float) if geometry == 'margin'
                else rng.uniform(0, CONTEXT_EXTENT, size=4) * np.array([w, h, w, h]))
    else:
        raise ValueError(f'unknown crop geometry {geometry!r}; expected one of {CROP_GEOMETRIES} or margin:<px>')
    return (max(0, int(np.floor(x0 - grow[0]))), max(0, int(np.floor(y0 - grow[1]))),
            min(width, int(np.ceil(x1 + grow[2]))), min(height, int(np.ceil(y1 + grow[3]))))


def _crop(canvas: Canvas, box: Tuple[int, int, int, int]) -> bytes:
    buf = io.BytesIO()
    canvas.image.crop(box).save(buf, format='JPEG', quality=90, subsampling=0)
    return buf.getvalue()


def generate_ov_world(root: Union[str, Path], *, splits=None, seed: int = 0, num_images: Optional[int] = None,
                      novel_fraction: float = NOVEL_FRACTION, progress: Optional[ProgressFn] = None) -> Dict:
    """Write the open-vocabulary world under ``root`` (see the module docstring for the files).

    Args:
        root: output folder.
        splits: split names (``train``, ``val``) or a mapping split -> number of images; default
            ``{'train': 240, 'val': 60}``.
        seed: the seed of the split and of every image.
        num_images: if given, the number of images of every split.
        novel_fraction: fraction of the categories that are novel.
        progress: optional ``progress(done, total, label)`` callback, called after each image.

    Returns:
        The manifest (also written to ``root/synthetic_manifest.json``) plus ``root``.
    """
    root = Path(root)
    split_sizes = resolve_splits(splits, num_images, DEFAULT_SPLITS)
    cats = world_categories(seed, novel_fraction)
    claim_root(root, 'generate_ov_world', ['annotations', 'train2017', 'val2017', 'captions'])
    id_rng = split_rng(seed, DATASET, 'image_ids')
    pool = (id_rng.choice(581929, size=sum(split_sizes.values()), replace=False) + 1).tolist()
    total, done, ann_id = sum(split_sizes.values()), 0, 1
    manifest_splits = {}
    for split, n in split_sizes.items():
        image_ids, pool = sorted(pool[:n]), pool[n:]
        folder = 'train2017' if split == 'train' else 'val2017'
        rng = split_rng(seed, DATASET, split)
        images, annotations, caption_rows = [], [], []
        grounding_images, grounding_anns = [], []
        for i, image_id in enumerate(image_ids):
            irng = image_rng(seed, DATASET, split, i)
            crop_rng = image_rng(seed, DATASET, f'{split}/crops', i)  # its own stream: images and boxes ignore it
            width = int(irng.integers(MIN_SIZE[0], MAX_SIZE[0] + 1))
            height = int(irng.integers(MIN_SIZE[1], MAX_SIZE[1] + 1))
            canvas = Canvas(irng, width, height)
            picks = rng.choice(len(cats), size=int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1)), replace=False)
            drawn = []
            for k in picks.tolist():
                box = canvas.place(MIN_SIDE, int(min(width, height) * 0.55))
                if box is not None:
                    drawn.append((cats[k], canvas.draw_object(cats[k].look, box)))
            file_name = f'{image_id:012d}.jpg'
            write_image(root / folder / file_name, canvas)
            boxed = [(c, o) for c, o in drawn if split != 'train' or c.split == 'base']
            present = {c.id for c, _ in drawn}
            absent = [c.id for c in cats if c.id not in present and (split != 'train' or c.split == 'base')]
            neg = sorted(int(c) for c in irng.choice(absent, size=min(2, len(absent)), replace=False))
            images.append({'id': image_id, 'coco_url': f'http://images.cocodataset.org/{folder}/{file_name}',
                           'height': height, 'width': width, 'license': 1, 'flickr_url': '',
                           'date_captured': '2013-11-14 16:28:13', 'neg_category_ids': neg,
                           'not_exhaustive_category_ids': []})
            for cat, obj in boxed:
                annotations.append({'id': ann_id, 'image_id': image_id, 'category_id': cat.id,
                                    'segmentation': obj.polygons, 'area': obj.area, 'bbox': obj.bbox})
                ann_id += 1
            if drawn:
                caption, spans = _caption(drawn)
                caption_rows.append((f'../{folder}/{file_name}', caption))
                for k, (cat, obj) in enumerate(drawn):
                    for geometry in CROP_GEOMETRIES:
                        crop_name = f'crops/{split}/{image_id:012d}_{k}_{geometry}.jpg'
                        box = crop_box(obj.box, geometry, width, height, crop_rng)
                        atomic_write_bytes(root / 'captions' / crop_name, _crop(canvas, box))
                        caption_rows.append((crop_name, f'a {cat.text}.'))
                if split == 'train':
                    grounding_images.append({'id': image_id, 'file_name': file_name, 'height': height,
                                             'width': width, 'caption': caption, 'dataset_name': DATASET,
                                             'tokens_negative': [[0, len(caption)]]})
                    for (cat, obj), span in zip(drawn, spans):
                        if cat.split != 'base':
                            continue  # mentioned, never boxed: the grounding analogue of OV-LVIS
                        grounding_anns.append({'id': len(grounding_anns) + 1, 'image_id': image_id,
                                               'bbox': obj.bbox, 'area': obj.area, 'iscrowd': 0,
                                               'category_id': 1, 'tokens_positive': [list(span)]})
            done += 1
            report(progress, done, total, f'ov-world {split}')
        instance_count = Counter(a['category_id'] for a in annotations)
        image_count = Counter(c for _, c in {(a['image_id'], a['category_id']) for a in annotations})
        ann_file = f'annotations/lvis_v1_{split}.json'
        atomic_write_json(root / ann_file, {
            'info': OV_WORLD_INFO, 'licenses': [SYNTHETIC_LICENSE], 'images': images, 'annotations': annotations,
            'categories': [_lvis_category(c, instance_count[c.id], image_count[c.id]) for c in cats]})
        atomic_write_text(root / 'captions' / f'{split}.tsv',
                          'filepath\ttitle\n' + ''.join(f'{p}\t{t}\n' for p, t in caption_rows))
        manifest_splits[split] = {'ann_file': ann_file, 'images': len(images), 'annotations': len(annotations),
                                  'caption_pairs': len(caption_rows)}
        if split == 'train':
            atomic_write_json(root / 'annotations' / 'grounding_train.json', {
                'info': OV_WORLD_INFO, 'images': grounding_images, 'annotations': grounding_anns,
                'categories': [{'id': 1, 'name': 'object', 'supercategory': 'object'}]})
            manifest_splits[split]['grounding_file'] = 'annotations/grounding_train.json'
            manifest_splits[split]['grounding_boxes'] = len(grounding_anns)
    manifest = {'dataset': DATASET, 'generator': 'ovd.data.synthetic.generate_ov_world', 'format': WORLD_FORMAT,
                'seed': seed,
                'categories': {str(c.id): {'name': c.text, 'split': c.split} for c in cats},
                'base': [c.text for c in cats if c.split == 'base'],
                'novel': [c.text for c in cats if c.split == 'novel'], 'splits': manifest_splits}
    return write_manifest(root, manifest)
