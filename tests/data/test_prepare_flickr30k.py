"""Flickr30k preparation: indexes written from synthetic raw data load in the dataset; bad input writes
nothing."""

from pathlib import Path

import pytest

from ovd.data.datasets.flickr30k import Flickr30kEntitiesDataset
from ovd.data.flickr30k.raw import Flickr30kFormatError
from ovd.data.prepare.flickr30k import OUTPUT_DIR, output_path, prepare_flickr30k
from ovd.data.synthetic import generate_flickr30k


@pytest.fixture
def raw(tmp_path):
    manifest = generate_flickr30k(tmp_path, splits={'train': 2, 'val': 2, 'test': 2}, seed=7)
    return tmp_path, manifest


def test_prepare_writes_indexes_the_dataset_loads(raw):
    root, manifest = raw
    counts = prepare_flickr30k(root)
    assert set(counts) == {'train', 'val', 'test'}
    for split, c in counts.items():
        expect = manifest['splits'][split]
        assert (c['images'], c['sentences'], c['phrases']) == (
            expect['images'],
            expect['sentences'],
            expect['phrases'],
        )
        from_index = Flickr30kEntitiesDataset(
            data_root=str(root), ann_file=f'{OUTPUT_DIR}/flickr30k_entities_{split}.json', test_mode=True
        )
        from_raw = Flickr30kEntitiesDataset(data_root=str(root), ann_file=f'{split}.txt', test_mode=True)
        assert [from_index.get_data_info(i) for i in range(len(from_index))] == [
            from_raw.get_data_info(i) for i in range(len(from_raw))
        ]
        assert Path(from_index.get_data_info(0)['img_path']).is_file()


def test_bad_input_names_file_and_writes_nothing(raw):
    root, _ = raw
    image_id = (root / 'test.txt').read_text().split()[0]
    xml = root / 'Annotations' / f'{image_id}.xml'
    xml.write_text(xml.read_text().replace('<xmin>', '<xmin>x', 1))
    with pytest.raises(Flickr30kFormatError, match=rf'{image_id}.xml: object 0: field \'bndbox/xmin\''):
        prepare_flickr30k(root)
    assert not (root / OUTPUT_DIR).exists() or not list((root / OUTPUT_DIR).iterdir())


def test_missing_files_and_splits(raw):
    root, _ = raw
    with pytest.raises(Flickr30kFormatError, match='split list'):
        prepare_flickr30k(root, splits=['nosuch'])
    image_id = (root / 'val.txt').read_text().split()[0]
    (root / 'Sentences' / f'{image_id}.txt').unlink()
    with pytest.raises(Flickr30kFormatError, match=rf'Sentences/{image_id}.txt: file not found'):
        prepare_flickr30k(root, splits=['val'])
    assert not output_path(root, 'val').exists()
    prepare_flickr30k(root, splits=['train'])
    assert output_path(root, 'train').is_file() and not list((root / OUTPUT_DIR).glob('*.tmp'))


def test_ovd_prepare_flickr30k_cli(raw, capsys):
    from ovd.cli import main

    root, manifest = raw
    assert main(['prepare', 'flickr30k', '--root', str(root)]) == 0
    out = capsys.readouterr().out
    assert 'flickr30k' in out and output_path(root, 'val').is_file()
    assert main(['prepare', 'flickr30k', '--root', str(root)]) == 0
    assert 'up to date' in capsys.readouterr().out
    assert main(['prepare', 'flickr30k', '--root', str(root), '--check-images']) == 0
    image_id = (root / 'val.txt').read_text().split()[0]
    (root / 'flickr30k-images' / f'{image_id}.jpg').unlink()
    assert main(['prepare', 'flickr30k', '--root', str(root), '--check-images', '--force']) == 1
    assert f'{image_id}.jpg: image file not found' in capsys.readouterr().err


def test_ovd_prepare_flickr30k_bad_input_cli(raw, capsys):
    from ovd.cli import main

    root, _ = raw
    image_id = (root / 'train.txt').read_text().split()[0]
    sentences = root / 'Sentences' / f'{image_id}.txt'
    lines = sentences.read_text().splitlines()
    lines[1] = lines[1].replace(']', '', 1)
    sentences.write_text('\n'.join(lines) + '\n')
    assert main(['prepare', 'flickr30k', '--root', str(root)]) == 1
    err = capsys.readouterr().err
    assert f'Sentences/{image_id}.txt: line 2' in err and 'nothing was written' in err
    assert not (root / OUTPUT_DIR).exists()
