"""A text-only Flickr30k Entities release with the evaluation's hard cases, and ranked predictions for it.

Unlike :func:`ovd.data.synthetic.generate_flickr30k` (learnable images for training), this writes only
``Sentences/``, ``Annotations/`` and ``<split>.txt`` (no images), fast enough for a release the size of the test
split, and chooses its content to exercise every rule of the Recall@k evaluation: phrases with several boxes,
boxes shared by two entities, ``nobndbox`` and ``scene`` entities (one of them also with a box), chains of
``EN#0`` ``notvisual`` phrases, phrases with several types, boxes touching the image border, 1-pixel-wide boxes
(zero width as written), sentences with no evaluated phrase and whitespace-only lines in sentence files.

:func:`mdetr_predictions` draws predictions in MDETR's format (per sentence, per evaluated phrase a ranked box
list) with hits at every rank, near-misses around IoU 0.5 and zero-area boxes. Used by the Flickr30k parity
fixture (tests/parity/fixtures/flickr30k/) and ``benchmarks/perf/flickr30k_eval_speed.py``.
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

TYPES = ('people', 'clothing', 'bodyparts', 'animals', 'vehicles', 'instruments', 'other')
WORDS = ('a', 'the', 'red', 'small', 'tall', 'old', 'young', 'blue', 'man', 'dog', 'shirt', 'car', 'hat', 'ball')


def _box(rng: np.random.Generator, w: int, h: int) -> List[int]:
    """A 1-based inclusive box; one in four touches a border, one in twenty is 1 pixel wide."""
    bw, bh = int(rng.integers(3, max(4, w // 2))), int(rng.integers(3, max(4, h // 2)))
    x1, y1 = int(rng.integers(1, w - bw + 2)), int(rng.integers(1, h - bh + 2))
    box = [x1, y1, min(w, x1 + bw - 1), min(h, y1 + bh - 1)]
    u = rng.random()
    if u < 0.25:
        side = int(rng.integers(4))
        box[side] = (1, 1, w, h)[side]
    elif u < 0.3:
        box[2] = box[0]
    return box


def _sentence(rng: np.random.Generator, mentions: List[str]) -> str:
    parts = []
    for m in mentions:
        parts += list(rng.choice(WORDS, size=int(rng.integers(0, 3))))
        parts.append(m)
    return ' '.join(parts + ['.'])


def write_release(root: Union[str, Path], n_images: int, seed: int = 0, split: str = 'test',
                  phrases_per_sentence: Tuple[int, int] = (1, 4),
                  boxes_per_entity: Sequence[int] = (1, 1, 1, 2, 3, 4)) -> Dict[str, int]:
    """Write ``root/{Sentences,Annotations}`` and ``root/<split>.txt``; return counts.

    ``phrases_per_sentence``: least and most entity phrases per sentence (``(4, 7)`` gives about the 14.5
    evaluated phrases per image of the real test split). ``boxes_per_entity``: the number of boxes of an entity
    is drawn from it (the default, 2 on average, stresses the any-box rule; the release has 276k boxes for 244k
    entities).
    """
    root = Path(root)
    (root / 'Sentences').mkdir(parents=True, exist_ok=True)
    (root / 'Annotations').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = sorted({int(i) for i in rng.integers(10 ** 8, 10 ** 10, size=n_images * 2)})[:n_images]
    rng.shuffle(ids)
    next_entity = 1
    counts = dict(images=0, sentences=0)
    for image_id in ids:
        w, h = int(rng.integers(60, 500)), int(rng.integers(60, 500))
        objects, mentions = [], []
        n_ent = int(rng.integers(2, 5))
        for e in range(n_ent):
            eid, next_entity = next_entity, next_entity + 1
            types = list(rng.choice(TYPES, size=2 if rng.random() < 0.15 else 1, replace=False))
            n_boxes = int(rng.choice(boxes_per_entity))
            for _ in range(n_boxes):
                objects.append(([eid], _box(rng, w, h)))
            if rng.random() < 0.1:  # an entity with boxes that is also marked as the scene
                objects.append(([eid], 'scene'))
                types.append('scene')
            mentions.append((eid, '/'.join(types)))
        if rng.random() < 0.3:  # a second entity naming the first entity's first box
            eid, next_entity = next_entity, next_entity + 1
            first = next(i for i, (names, box) in enumerate(objects) if not isinstance(box, str))
            objects[first][0].append(eid)
            mentions.append((eid, 'people'))
        if rng.random() < 0.6:
            eid, next_entity = next_entity, next_entity + 1
            objects.append(([eid], 'scene'))
            mentions.append((eid, 'scene'))
        if rng.random() < 0.4:
            eid, next_entity = next_entity, next_entity + 1
            objects.append(([eid], 'nobox'))
            mentions.append((eid, 'other'))
        lines = []
        for s in range(5):
            if rng.random() < 0.08:  # only box-less phrases: a sentence nothing is evaluated in
                chosen = [m for m in mentions if not any(m[0] in names and not isinstance(b, str)
                                                         for names, b in objects)][:1] or []
                phrases = [f'[/EN#{e}/{t} {rng.choice(WORDS[:2])} {rng.choice(WORDS[8:])}]' for e, t in chosen]
                phrases.append('[/EN#0/notvisual it]')
            else:
                lo, hi = phrases_per_sentence
                k = int(rng.integers(min(lo, len(mentions)), min(hi, len(mentions)) + 1))
                picked = [mentions[i] for i in rng.choice(len(mentions), size=k, replace=False)]
                phrases = [f'[/EN#{e}/{t} {rng.choice(WORDS[:2])} {rng.choice(WORDS[8:])}]' for e, t in picked]
                for _ in range(int(rng.choice([0, 0, 1, 2]))):  # EN#0 chains
                    phrases.insert(int(rng.integers(len(phrases) + 1)), '[/EN#0/notvisual who]')
            text = _sentence(rng, phrases)
            lines.append(text[0].upper() + text[1:] if not text.startswith('[') else text)
            if s < 4 and rng.random() < 0.03:
                lines.append('   ')  # counts as a sentence in the release's reader
        (root / 'Sentences' / f'{image_id}.txt').write_text('\n'.join(lines) + '\n')
        xml = [f'<annotation>\n<filename>{image_id}.jpg</filename>\n<size>\n<width>{w}</width>\n'
               f'<height>{h}</height>\n<depth>3</depth>\n</size>\n']
        for names, box in objects:
            tags = ''.join(f'<name>{n}</name>\n' for n in names)
            if isinstance(box, str):
                scene = int(box == 'scene')
                xml.append(f'<object>\n{tags}<nobndbox>{1 - scene}</nobndbox>\n<scene>{scene}</scene>\n</object>\n')
            else:
                xml.append(f'<object>\n{tags}<bndbox>\n<xmin>{box[0]}</xmin>\n<ymin>{box[1]}</ymin>\n'
                           f'<xmax>{box[2]}</xmax>\n<ymax>{box[3]}</ymax>\n</bndbox>\n</object>\n')
        xml.append('</annotation>\n')
        (root / 'Annotations' / f'{image_id}.xml').write_text(''.join(xml))
        counts['images'] += 1
        counts['sentences'] += len(lines)
    (root / f'{split}.txt').write_text(''.join(f'{i}\n' for i in ids))
    return counts


def mdetr_predictions(root: Union[str, Path], split: str = 'test', seed: int = 0,
                      boxes_per_phrase: Optional[int] = None) -> List[dict]:
    """Ranked predictions in MDETR's format for the release under ``root``.

    Args:
        root: a release (e.g. written by :func:`write_release`).
        split: its split.
        seed: the seed.
        boxes_per_phrase: boxes in every list (MDETR ranks all its 100 queries for every phrase), the box near
            the truth mostly among the first (geometric rank); default a random length of 1 to 14 with it at any
            rank.

    Returns:
        One record per sentence with an evaluated phrase, plus an empty record for some of the others.
    """
    from ovd.data.flickr30k.index import iter_raw_records, record_phrases
    rng = np.random.default_rng(seed + 1)
    out = []
    for record in iter_raw_records(Path(root), Path(root) / f'{split}.txt'):
        w, h = record['width'], record['height']
        for sid, sentence in enumerate(record['sentences']):
            phrases = record_phrases(record, sentence)
            if not phrases:
                if rng.random() < 0.5:
                    out.append({'image_id': record['id'], 'sentence_id': sid, 'boxes': []})
                continue
            lists = []
            for *_, gt in phrases:
                n = boxes_per_phrase or int(rng.integers(1, 15))
                x1, y1 = rng.uniform(0, w, n), rng.uniform(0, h, n)
                boxes = np.stack([x1, y1, x1 + rng.uniform(0, w / 2, n), y1 + rng.uniform(0, h / 2, n)], 1)
                u = rng.random()
                if u < 0.8:  # a box near the truth at some rank (beyond 10 only the upper bound sees it)
                    g = np.asarray(gt[int(rng.integers(len(gt)))], float) if rng.random() < 0.7 else \
                        np.array([min(b[0] for b in gt), min(b[1] for b in gt), max(b[2] for b in gt),
                                  max(b[3] for b in gt)], float)
                    size = np.maximum(g[2:] - g[:2], 1.0)
                    jitter = rng.normal(0, 0.12, 4) * np.concatenate([size, size])
                    near = g + jitter
                    near[2:] = np.maximum(near[2:], near[:2])
                    # fixed-length lists (a model's ranking) put it near the top; random lengths anywhere
                    rank = min(int(rng.geometric(0.6)) - 1, n - 1) if boxes_per_phrase else int(rng.integers(n))
                    boxes[rank] = near
                    thin = [b for b in gt if b[2] == b[0]]
                    if thin and n > 1 and rng.random() < 0.7:
                        # the zero-width truth itself (IoU 0/0) ahead of an exact copy of another of its boxes
                        r = np.sort(rng.choice(n, 2, replace=False))
                        boxes[r[0]] = thin[0]
                        boxes[r[1]] = gt[int(rng.integers(len(gt)))]
                elif u < 0.85:  # a zero-area box
                    i = int(rng.integers(n))
                    boxes[i, 2:] = boxes[i, :2]
                lists.append(np.round(boxes, 3).tolist())
            out.append({'image_id': record['id'], 'sentence_id': sid, 'boxes': lists})
    order = rng.permutation(len(out))
    return [out[i] for i in order]
