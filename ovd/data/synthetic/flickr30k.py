"""Synthetic Flickr30k Entities in the raw release layout.

``root/Sentences/<id>.txt``: 5 sentences per image, one per line, tokens separated by spaces, each annotated
phrase written ``[/EN#<entity id>/<type>[/<type>...] words]``; ``root/Annotations/<id>.xml``: PASCAL-VOC-like
``<annotation>`` with ``<filename>``, ``<size>`` and one ``<object>`` per box (one or more ``<name>`` entity
ids + a 1-based inclusive ``<bndbox>``) or per box-less entity (``<name>``, ``<scene>``, ``<nobndbox>``);
``root/{train,val,test}.txt``: image ids, one per line; ``root/flickr30k-images/<id>.jpg``.

Format facts follow the Flickr30k Entities release (Plummer et al., ICCV 2015; BryanPlummer/flickr30k_entities
``flickr30k_entities_utils.py`` reads it): phrase types people, clothing, bodyparts, animals, vehicles,
instruments, scene, other, notvisual; ``notvisual`` phrases carry entity id 0 and are not in the XML;
entity ids are unique over the whole dataset; a box may belong to several entities (several ``<name>``).

Grounding is learnable: every entity with boxes names a noun, and each of its boxes shows that noun's look
(:func:`noun_look_index`). Every image has an entity with several boxes ("two dogs") or not, per chance, an
entity mentioned in several sentences (always: the first one is in all five), and per chance a scene phrase, a
phrase whose entity has no box (``nobndbox``), a ``notvisual`` phrase and a box shared by two entities.
"""
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union
from xml.sax.saxutils import escape

import numpy as np

from .canvas import Canvas
from .common import (
    DEFAULT_MAX_SIZE,
    DEFAULT_MIN_SIZE,
    MIN_OBJECT_SIDE,
    ProgressFn,
    claim_root,
    image_rng,
    image_size,
    report,
    resolve_splits,
    split_rng,
    write_image,
    write_manifest,
)
from .io import atomic_write_text
from .looks import category_look

PHRASE_TYPES = ('people', 'clothing', 'bodyparts', 'animals', 'vehicles', 'instruments', 'scene', 'other',
                'notvisual')

# nouns that get boxes: (singular, plural, phrase type); the index in this tuple is the noun's look index
BOX_NOUNS = (
    ('man', 'men', 'people'), ('woman', 'women', 'people'), ('boy', 'boys', 'people'),
    ('girl', 'girls', 'people'), ('child', 'children', 'people'), ('worker', 'workers', 'people'),
    ('shirt', 'shirts', 'clothing'), ('hat', 'hats', 'clothing'), ('jacket', 'jackets', 'clothing'),
    ('dress', 'dresses', 'clothing'), ('hand', 'hands', 'bodyparts'), ('face', 'faces', 'bodyparts'),
    ('dog', 'dogs', 'animals'), ('cat', 'cats', 'animals'), ('horse', 'horses', 'animals'),
    ('bird', 'birds', 'animals'), ('car', 'cars', 'vehicles'), ('bicycle', 'bicycles', 'vehicles'),
    ('boat', 'boats', 'vehicles'), ('bus', 'buses', 'vehicles'), ('guitar', 'guitars', 'instruments'),
    ('drum', 'drums', 'instruments'), ('violin', 'violins', 'instruments'), ('ball', 'balls', 'other'),
    ('bench', 'benches', 'other'), ('umbrella', 'umbrellas', 'other'), ('table', 'tables', 'other'),
    ('sign', 'signs', 'other'),
)
# whole-scene entities (``<scene>1</scene>``, no box); a tuple of types is written joined with '/'
SCENE_PHRASES = (('the street', ('scene',)), ('a beach', ('scene',)), ('the park', ('scene',)),
                 ('a field', ('scene',)), ('a room', ('scene',)), ('the stage', ('other', 'scene')))
# entities that are visual but were given no box (``<nobndbox>1</nobndbox>``)
NOBOX_PHRASES = (('the sunshine', 'other'), ('a game', 'other'), ('the crowd', 'people'),
                 ('some music', 'other'))
VERBS = ('is next to', 'stands near', 'looks at', 'is beside', 'waits by', 'is close to')
COUNT_WORDS = {2: 'two', 3: 'three'}

DEFAULT_SPLITS = {'train': 24, 'val': 8, 'test': 8}


def noun_look_index(noun: str) -> int:
    """Look index of a box noun (singular or plural), e.g. ``'dog'`` -> the look every dog box shows."""
    for i, (singular, plural, _) in enumerate(BOX_NOUNS):
        if noun in (singular, plural):
            return i
    raise KeyError(f'{noun!r} is not a Flickr30k synthetic box noun')


class _Entity:
    def __init__(self, entity_id: int, noun: int, n_boxes: int):
        self.id, self.noun, self.n_boxes = entity_id, noun, n_boxes
        self.boxes: List[Tuple[int, int, int, int]] = []
        self.mentions = 0

    def phrase(self, rng: np.random.Generator, first: bool) -> str:
        singular, plural, kind = BOX_NOUNS[self.noun]
        look = category_look(self.noun)
        if self.n_boxes > 1:
            words = f'{COUNT_WORDS.get(self.n_boxes, "some")} {plural}'
        else:
            det = 'a' if first else 'the'
            colour = look.colour[0]
            words = f'{det} {colour} {singular}' if rng.random() < 0.5 else f'{det} {singular}'
            if det == 'a' and words.split()[1][0] in 'aeiou':
                words = 'an' + words[1:]
        return f'[/EN#{self.id}/{kind} {words}]'


def _capitalise(sentence: str) -> str:
    # "[/EN#3/people a man] ..." -> "[/EN#3/people A man] ..."; a plain first word is capitalised directly
    if sentence.startswith('[/EN#'):
        head, rest = sentence.split(' ', 1)
        return f'{head} {rest[0].upper()}{rest[1:]}'
    return sentence[0].upper() + sentence[1:]


def _xml(image_name: str, width: int, height: int, objects: List[str]) -> str:
    body = ''.join(objects)
    return (f'<annotation>\n\t<filename>{escape(image_name)}</filename>\n'
            f'\t<size>\n\t\t<width>{width}</width>\n'
            f'\t\t<height>{height}</height>\n\t\t<depth>3</depth>\n\t</size>\n{body}</annotation>\n')


def _box_object(names: Sequence[int], box: Tuple[int, int, int, int]) -> str:
    # a canvas box covers pixels x0 .. x1 - 1; the release writes 1-based inclusive pixel coordinates
    x0, y0, x1, y1 = box
    name_tags = ''.join(f'\t\t<name>{n}</name>\n' for n in names)
    return (f'\t<object>\n{name_tags}\t\t<bndbox>\n\t\t\t<xmin>{x0 + 1}</xmin>\n\t\t\t<ymin>{y0 + 1}</ymin>\n'
            f'\t\t\t<xmax>{x1}</xmax>\n\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n')


def _boxless_object(name: int, scene: bool) -> str:
    return (f'\t<object>\n\t\t<name>{name}</name>\n\t\t<scene>{int(scene)}</scene>\n'
            f'\t\t<nobndbox>{int(not scene)}</nobndbox>\n\t</object>\n')


def generate_flickr30k(root: Union[str, Path], *,
                       splits: Optional[Union[Mapping[str, int], Sequence[str]]] = None, seed: int = 0,
                       num_images: Optional[int] = None, max_entities: int = 3,
                       multi_box_fraction: float = 0.4, min_size: Tuple[int, int] = DEFAULT_MIN_SIZE,
                       max_size: Tuple[int, int] = DEFAULT_MAX_SIZE,
                       progress: Optional[ProgressFn] = None) -> Dict:
    """Write a synthetic Flickr30k Entities dataset (raw release layout) under ``root``.

    Args:
        root: output folder; gets ``Sentences/``, ``Annotations/``, ``flickr30k-images/``,
            ``{train,val,test}.txt`` and ``synthetic_manifest.json``.
        splits: split names (``train``, ``val``, ``test``) or a mapping split -> number of images; default
            ``{'train': 24, 'val': 8, 'test': 8}``.
        seed: the seed; the same seed writes byte-identical files.
        num_images: if given, the number of images of every split.
        max_entities: most entities with boxes per image (at least one).
        multi_box_fraction: chance that an image's second entity has 2-3 boxes ("two dogs").
        min_size: smallest (width, height) of an image.
        max_size: largest (width, height) of an image.
        progress: optional ``progress(done, total, label)`` callback, called after each image.

    Returns:
        The manifest (also written to ``root/synthetic_manifest.json``) plus ``root``.
    """
    if max_entities < 1:
        raise ValueError(f'max_entities must be >= 1, got {max_entities}')
    root = Path(root)
    split_sizes = resolve_splits(splits, num_images, DEFAULT_SPLITS)
    claim_root(root, 'generate_flickr30k', ['Sentences', 'Annotations', 'flickr30k-images',
                                            *(f'{s}.txt' for s in DEFAULT_SPLITS)])
    total = sum(split_sizes.values())
    id_rng = split_rng(seed, 'flickr30k', 'image_ids')
    all_ids = sorted({int(i) for i in id_rng.integers(10_000_000, 9_999_999_999, size=total * 2)})
    all_ids = [int(i) for i in id_rng.permutation(all_ids)[:total]]
    next_entity = 1
    done = 0
    manifest_splits = {}
    for split, n_images in split_sizes.items():
        ids, all_ids = sorted(all_ids[:n_images]), all_ids[n_images:]
        counts = {k: 0 for k in ('images', 'sentences', 'phrases', 'boxes', 'box_entities',
                                 'multi_box_entities', 'shared_boxes', 'scene_entities', 'nobox_entities',
                                 'notvisual_phrases')}
        for i, image_id in enumerate(ids):
            rng = image_rng(seed, 'flickr30k', split, i)
            width, height = image_size(rng, min_size, max_size)
            canvas = Canvas(rng, width, height)
            # the first image of a split shows every feature (several boxes, shared box, scene, nobox,
            # notvisual) so even a tiny split exercises them all; later images draw them by chance
            showcase = i == 0
            n_entities = max(int(rng.integers(1, max_entities + 1)), min(2, max_entities) if showcase else 1)
            nouns = rng.choice(len(BOX_NOUNS), size=n_entities, replace=False)
            entities: List[_Entity] = []
            for k, noun in enumerate(nouns):
                multi = k == 1 and (showcase or rng.random() < multi_box_fraction)
                n_boxes = int(rng.integers(2, 4)) if multi else 1
                entity = _Entity(next_entity, int(noun), n_boxes)
                next_entity += 1
                max_side = int(min(width, height) * (0.5 if n_boxes == 1 else 0.35))
                for _ in range(n_boxes):
                    box = canvas.place(MIN_OBJECT_SIDE, max_side)
                    if box is not None:
                        canvas.draw_object(category_look(entity.noun), box)
                        entity.boxes.append(box)
                if entity.boxes:
                    entity.n_boxes = len(entity.boxes)
                    entities.append(entity)
                else:
                    next_entity -= 1
            if not entities:
                raise RuntimeError(f'flickr30k image {image_id}: no room for any object in {width}x{height}')
            # a second entity naming the same single box ("the man" ... "the tall man" as another chain)
            alias = None
            if entities[0].n_boxes == 1 and (showcase or rng.random() < 0.25):
                alias = _Entity(next_entity, entities[0].noun, 1)
                alias.boxes = list(entities[0].boxes)
                next_entity += 1
            scene = None
            if showcase or rng.random() < 0.8:
                text, types = SCENE_PHRASES[int(rng.integers(len(SCENE_PHRASES)))]
                scene = (next_entity, text, types)
                next_entity += 1
            nobox = None
            if showcase or rng.random() < 0.35:
                text, kind = NOBOX_PHRASES[int(rng.integers(len(NOBOX_PHRASES)))]
                nobox = (next_entity, text, kind)
                next_entity += 1

            sentences = []
            others = entities[1:]
            for s in range(5):
                first = entities[0] if (alias is None or s % 2 == 0) else alias
                parts = [first.phrase(rng, first=first.mentions == 0)]
                first.mentions += 1
                if (showcase and s == 0) or rng.random() < 0.2:
                    parts.append('[/EN#0/notvisual who]')
                    counts['notvisual_phrases'] += 1
                if others:
                    # round robin so that every entity is mentioned at least once
                    other = others[s % len(others)]
                    parts.append(VERBS[int(rng.integers(len(VERBS)))])
                    parts.append(other.phrase(rng, first=other.mentions == 0))
                    other.mentions += 1
                else:
                    parts.append('is here')
                if scene is not None and (s == 0 or rng.random() < 0.7):
                    sid, text, types = scene
                    parts.append(f"{'in' if 'scene' in types and types[0] == 'scene' else 'on'} "
                                 f"[/EN#{sid}/{'/'.join(types)} {text}]")
                if nobox is not None and (s == 4 or rng.random() < 0.3):
                    nid, text, kind = nobox
                    parts.append(f'enjoying [/EN#{nid}/{kind} {text}]')
                sentences.append(_capitalise(' '.join(parts)) + ' .')
            # entities whose phrases never made it into a sentence are dropped from the XML too
            if alias is not None and alias.mentions == 0:
                alias = None
            mentioned = '\n'.join(sentences)
            objects = []
            for entity in entities:
                for box in entity.boxes:
                    names = [entity.id]
                    if alias is not None and entity is entities[0]:
                        names.append(alias.id)
                        counts['shared_boxes'] += 1
                    objects.append(_box_object(names, box))
            if scene is not None and f'/EN#{scene[0]}/' in mentioned:
                objects.append(_boxless_object(scene[0], scene=True))
                counts['scene_entities'] += 1
            if nobox is not None:
                objects.append(_boxless_object(nobox[0], scene=False))
                counts['nobox_entities'] += 1
            name = str(image_id)
            write_image(root / 'flickr30k-images' / f'{name}.jpg', canvas)
            atomic_write_text(root / 'Sentences' / f'{name}.txt', mentioned + '\n')
            atomic_write_text(root / 'Annotations' / f'{name}.xml',
                              _xml(f'{name}.jpg', width, height, objects))
            counts['images'] += 1
            counts['sentences'] += len(sentences)
            counts['phrases'] += mentioned.count('[/EN#')
            counts['boxes'] += sum(e.n_boxes for e in entities)
            counts['box_entities'] += len(entities) + (alias is not None)
            counts['multi_box_entities'] += sum(e.n_boxes > 1 for e in entities)
            done += 1
            report(progress, done, total, f'flickr30k {split}')
        atomic_write_text(root / f'{split}.txt', ''.join(f'{i}\n' for i in ids))
        manifest_splits[split] = dict(list_file=f'{split}.txt', **counts)
    manifest = {
        'dataset': 'flickr30k_entities', 'generator': 'ovd.data.synthetic.generate_flickr30k', 'seed': seed,
        'splits': manifest_splits,
        'looks': {singular: category_look(i).describe() for i, (singular, _, _) in enumerate(BOX_NOUNS)}}
    return write_manifest(root, manifest)
