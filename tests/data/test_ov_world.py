"""The synthetic open-vocabulary world: the split's invariants, the files' formats, determinism."""
import csv
import json
from collections import Counter
import subprocess
import sys

import pytest

from ovd.data.datasets.mdetr_grounding import load_mdetr_grounding
from ovd.data.synthetic import generate_ov_world, world_categories
from ovd.data.vocab import vocabulary_from_categories


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp('ov_world')
    manifest = generate_ov_world(root, num_images=16, seed=3)
    return root, manifest


def _json(root, rel):
    return json.loads((root / rel).read_text())


@pytest.mark.parametrize('seed', range(5))
def test_novel_names_are_new_combinations_of_base_words(seed):
    cats = world_categories(seed)
    novel = [c for c in cats if c.split == 'novel']
    base = [c for c in cats if c.split == 'base']
    assert len(novel) == round(0.25 * len(cats)) and len({c.text for c in cats}) == len(cats)
    base_words = {w for c in base for w in c.words}
    assert all(set(c.words) <= base_words for c in novel)
    assert {c.frequency for c in novel} == {'r'} and {c.frequency for c in base} == {'c', 'f'}
    assert world_categories(seed) == cats


def test_train_boxes_only_base_val_boxes_all(world):
    root, manifest = world
    split_of = {int(k): v['split'] for k, v in manifest['categories'].items()}
    train = _json(root, 'annotations/lvis_v1_train.json')
    val = _json(root, 'annotations/lvis_v1_val.json')
    assert train['annotations'] and {split_of[a['category_id']] for a in train['annotations']} == {'base'}
    assert 'novel' in {split_of[a['category_id']] for a in val['annotations']}
    # LVIS v1 layout: every category listed with its frequency, images with coco_url and the federated lists
    assert [c['id'] for c in train['categories']] == sorted(split_of)
    for image in train['images'] + val['images']:
        assert {'coco_url', 'neg_category_ids', 'not_exhaustive_category_ids'} <= set(image)
    present = {(a['image_id'], a['category_id']) for a in val['annotations']}
    assert not any((im['id'], c) in present for im in val['images'] for c in im['neg_category_ids'])


def test_detection_files_load_with_the_lvis_dataset(world):
    from ovd.data.datasets.lvis import LVISV1Dataset
    root, manifest = world
    vocab = vocabulary_from_categories('ov_world', _json(root, 'annotations/lvis_v1_val.json')['categories'])
    assert [vocab.names[i] for i in vocab.indices(frequency='r')] == \
        [n.replace(' ', '_') for n in manifest['novel']]
    dataset = LVISV1Dataset(data_root=str(root), ann_file='annotations/lvis_v1_val.json',
                            data_prefix=dict(img=''), vocabulary=vocab, pipeline=[], test_mode=True)
    assert len(dataset) == 16 and dataset.load_stats['boxes'] == manifest['splits']['val']['annotations']
    assert (root / dataset[0]['img_path'].split(str(root) + '/')[-1]).is_file()


def test_grounding_boxes_name_base_phrases_only(world):
    root, manifest = world
    base = set(manifest['base'])
    samples = load_mdetr_grounding(root / 'annotations/grounding_train.json', {'img': str(root / 'train2017')})
    assert samples
    mentioned_novel = 0
    for sample in samples:
        for spans in sample['tokens_positive']:
            assert all(sample['text'][s:e] in base for s, e in spans)
        mentioned_novel += any(n in sample['text'] for n in manifest['novel'])
    assert mentioned_novel > 0  # novel objects are named in captions, but never boxed


def test_caption_pairs_cover_every_category(world):
    root, manifest = world
    with open(root / 'captions' / 'train.tsv', newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    assert rows and all((root / 'captions' / r['filepath']).is_file() for r in rows)
    said = ' '.join(r['title'] for r in rows)
    assert any(n in said for n in manifest['novel'])


def test_every_object_is_captioned_at_every_crop_geometry(world):
    from PIL import Image

    from ovd.data.synthetic.ov_world import CONTEXT_EXTENT, CROP_GEOMETRIES, SMALL_MARGIN, VILD_ENLARGE
    root, manifest = world
    with open(root / 'captions' / 'val.tsv', newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    val = _json(root, 'annotations/lvis_v1_val.json')
    crops = {r['filepath']: r['title'] for r in rows if r['filepath'].startswith('crops/')}
    assert len(crops) == len(CROP_GEOMETRIES) * len(val['annotations'])
    # the largest crop width each geometry allows, in box widths (+2 px for rounding outwards)
    widest = {'tight': 1, 'margin': None, 'enlarged': VILD_ENLARGE, 'context': 1 + 2 * CONTEXT_EXTENT}
    seen = Counter()
    for a in val['annotations']:  # val boxes every object, in drawing order
        k = seen[a['image_id']]
        seen[a['image_id']] += 1
        w = a['bbox'][2]
        for geometry in CROP_GEOMETRIES:
            name = f'crops/val/{a["image_id"]:012d}_{k}_{geometry}.jpg'
            assert crops[name] == f'a {manifest["categories"][str(a["category_id"])]["name"]}.'
            with Image.open(root / 'captions' / name) as im:
                crop_w = im.size[0]
            most = w + 2 * SMALL_MARGIN if geometry == 'margin' else w * widest[geometry]
            assert w - 2 <= crop_w <= most + 2, (name, w, crop_w)  # every crop holds its box


def test_crop_margins_leave_detection_and_grounding_data_unchanged(tmp_path, world, monkeypatch):
    """The crop margins come from their own generator: writing fewer crop geometries (no random margins at
    all) changes no image, no box and no grounding caption."""
    from ovd.data.synthetic import ov_world
    root, _ = world
    monkeypatch.setattr(ov_world, 'CROP_GEOMETRIES', ('tight',))
    generate_ov_world(tmp_path / 'tight_only', num_images=16, seed=3)
    files = sorted(p.relative_to(root) for d in ('annotations', 'train2017', 'val2017') for p in (root / d).iterdir())
    assert len(files) > 30
    for rel in files:
        assert (tmp_path / 'tight_only' / rel).read_bytes() == (root / rel).read_bytes(), rel


def test_crop_box_geometries():
    from ovd.data.synthetic.ov_world import crop_box
    assert crop_box((10, 20, 30, 60), 'tight', 100, 100) == (10, 20, 30, 60)
    assert crop_box((10, 20, 30, 60), 'margin:4', 100, 100) == (6, 16, 34, 64)
    assert crop_box((10, 20, 30, 60), 'enlarged', 100, 100) == (5, 10, 35, 70)
    assert crop_box((2, 20, 30, 98), 'enlarged', 100, 100) == (0, 0, 37, 100)  # clipped to the image
    with pytest.raises(ValueError, match='pass rng'):
        crop_box((10, 20, 30, 60), 'context', 100, 100)
    with pytest.raises(ValueError, match="unknown crop geometry 'huge'"):
        crop_box((10, 20, 30, 60), 'huge', 100, 100)


def test_same_seed_same_bytes(tmp_path, world):
    root, _ = world
    generate_ov_world(tmp_path / 'again', num_images=16, seed=3)
    for rel in ('annotations/lvis_v1_train.json', 'annotations/grounding_train.json', 'captions/val.tsv',
                'captions/crops/val/' + sorted(p.name for p in (root / 'captions/crops/val').glob('*_context.jpg'))[0]):
        assert (tmp_path / 'again' / rel).read_bytes() == (root / rel).read_bytes()


def test_cli_writes_the_world(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'ovd.cli', 'synth', '--dataset', 'ov-world', '--out',
                             str(tmp_path / 'w'), '--num-images', '4'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'w' / 'synthetic_manifest.json').is_file()
    assert (tmp_path / 'w' / 'tiny_bert' / 'config.json').is_file()  # GLIP's world text encoder
    assert 'tiny CLIP' in result.stdout and 'novel' in result.stdout


def test_tiny_clip_is_trained_once_per_input(world):
    from ovd.data.synthetic.world_clip import Recipe, cache_key, ensure_world_clip
    root, _ = world
    recipe = Recipe(epochs=1, batch_size=32, warmup_steps=1)
    steps = []
    folder = ensure_world_clip(root, seed=0, recipe=recipe, progress=lambda done, total: steps.append(done))
    assert steps and folder.name == cache_key(root, 0, recipe)
    assert {'open_clip_config.json', 'open_clip_model.safetensors', 'zero_shot.json'} <= \
        {p.name for p in folder.iterdir()}
    assert (folder.parent / 'current').resolve() == folder.resolve()  # the path the ov-world configs name
    accuracy = json.loads((folder / 'zero_shot.json').read_text())
    assert set(accuracy['by_geometry']) == {'tight', 'margin:4', 'enlarged', 'context'}
    assert all(0 <= v[s] <= 1 for v in accuracy['by_geometry'].values() for s in ('base', 'novel'))
    again = []
    assert ensure_world_clip(root, seed=0, recipe=recipe, progress=lambda d, t: again.append(d)) == folder
    assert not again  # reused, not retrained
    assert (folder.parent / 'current').resolve() == folder.resolve()
    assert cache_key(root, 1, recipe) != folder.name  # another seed is another model
    # the folder loads through ovd's CLIP wrapper, the way ViLD and BARON load a teacher
    from ovd.data.synthetic.world_clip import WORLD_CLIP_CONFIG, WEIGHTS_NAME
    from ovd.text.clip import OpenCLIPEncoder
    encoder = OpenCLIPEncoder(model_cfg=WORLD_CLIP_CONFIG, pretrained=str(folder / WEIGHTS_NAME))
    assert encoder.encode_text(['a red star.']).shape == (1, WORLD_CLIP_CONFIG['embed_dim'])


def test_builtin_vocabulary_is_the_world_of_seed_0(tmp_path):
    """The configs name the world by the built-in 'ov_world' vocabulary: same ids, names, frequencies and split
    as the files the generator writes for seed 0 (another seed draws another split)."""
    from ovd.data.vocab import get_vocabulary
    root = tmp_path / 'world'
    generate_ov_world(root, num_images=2, seed=0)
    vocab = get_vocabulary('ov_world')
    for split in ('train', 'val'):
        cats = json.loads((root / 'annotations' / f'lvis_v1_{split}.json').read_text())['categories']
        assert [(c['id'], c['name'], c['frequency']) for c in cats] == \
            [(c.id, c.name, c.frequency) for c in vocab]
    assert len(get_vocabulary('ov_world:novel')) == 8 and set(get_vocabulary('ov_world:novel').frequencies) == {'r'}
    assert vocab.prompt_names[vocab.names.index('blue_striped_star')] == 'blue striped star'


def test_demo_rewrites_a_world_of_an_earlier_format(tmp_path):
    """``ovd demo`` keeps a world it wrote before, unless the generator's format changed since (a world of
    4 px crops only would teach the CLIP the wrong geometry)."""
    import json

    from ovd.commands.synth import write_world
    from ovd.data.synthetic.ov_world import WORLD_FORMAT
    world = tmp_path / 'ov_world'
    write_world(world, num_images=4)
    manifest = world / 'synthetic_manifest.json'
    assert json.loads(manifest.read_text())['format'] == WORLD_FORMAT
    kept = manifest.stat().st_mtime_ns
    write_world(world, num_images=4)
    assert manifest.stat().st_mtime_ns == kept  # same format: kept
    old = json.loads(manifest.read_text())
    old.pop('format')
    manifest.write_text(json.dumps(old))
    write_world(world, num_images=4)
    assert json.loads(manifest.read_text())['format'] == WORLD_FORMAT
