"""``ovd prepare``: derived files, counts, idempotency, validation before writing, datasets loading them."""
import json
import os
import re
import shutil

import pytest
from det_data_builders import lvis_v1_file, objects365_file

from ovd.cli import main
from ovd.data.datasets import LVISV1Dataset, Objects365V2Dataset, OVCocoDataset, OVLVISDataset
from ovd.data.prepare import PREPARERS
from ovd.data.vocab import OV_COCO_BASE, OV_COCO_NOVEL

COCO = 'coco_instances_val2014_100.json'


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file())


def expected_counts(fixtures_dir):
    data = json.loads((fixtures_dir / COCO).read_text())
    name_of = {c['id']: c['name'] for c in data['categories']}
    names = [name_of[a['category_id']] for a in data['annotations']]
    return dict(base=sum(n in OV_COCO_BASE for n in names), novel=sum(n in OV_COCO_NOVEL for n in names),
                total=len(names))


def test_coco_ov_outputs_counts_and_idempotency(coco_root, fixtures_dir, capsys):
    counts = expected_counts(fixtures_dir)
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 0
    report = capsys.readouterr().out
    ann = coco_root / 'annotations'
    train = json.loads((ann / 'instances_train2017_ov_base.json').read_text())
    val = json.loads((ann / 'instances_val2017_ov65.json').read_text())
    assert len(train['images']) == len(val['images']) == 100
    assert len(train['annotations']) == counts['base']
    assert len(val['annotations']) == counts['base'] + counts['novel']
    assert len(train['categories']) == 48 and {c['split'] for c in train['categories']} == {'base'}
    assert len(val['categories']) == 65
    assert str(counts['base']) in report and str(counts['total'] - counts['base'] - counts['novel']) in report
    assert oct(os.stat(ann / 'instances_val2017_ov65.json').st_mode & 0o044) == oct(0o044)

    # Second run: up to date, nothing rewritten.
    stamp = os.stat(ann / 'instances_train2017_ov_base.json').st_mtime_ns
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 0
    assert 'up to date' in capsys.readouterr().out
    assert os.stat(ann / 'instances_train2017_ov_base.json').st_mtime_ns == stamp
    # A changed input or --force rebuilds.
    (ann / 'instances_val2017.json').write_text((fixtures_dir / COCO).read_text() + '\n')
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 0
    assert 'up to date' not in capsys.readouterr().out

    # The datasets load what was written.
    ds = OVCocoDataset(ann_file=str(ann / 'instances_train2017_ov_base.json'), category_split='base',
                       pipeline=[])
    assert len(ds) == 100 and ds.load_stats['boxes'] == counts['base']
    assert ds.load_stats['dropped_other_split'] == ds.load_stats['dropped_not_in_vocabulary'] == 0
    ds = OVCocoDataset(ann_file=str(ann / 'instances_val2017_ov65.json'), test_mode=True, pipeline=[])
    assert ds.load_stats['boxes'] == counts['base'] + counts['novel']


def _corrupt(data, case):
    anns, images = data['annotations'], data['images']
    if case == 'missing key':
        del anns[7]['bbox']
        return r"annotations\[7\] \(id=\d+\): field 'bbox': missing key"
    if case == 'non-positive box':
        anns[7]['bbox'][3] = 0
        return r"annotations\[7\] \(id=\d+\): field 'bbox': non-positive"
    if case == 'unknown category':
        anns[7]['category_id'] = 12  # COCO has no id 12
        return (r"annotations\[7\] \(id=\d+\): field 'category_id': "
                r"category_id 12 is not in the file's categories")
    if case == 'category not in vocabulary':
        data['categories'].append({'id': 12, 'name': 'street sign'})
        anns[7]['category_id'] = 12
        return r"annotations\[7\] .*category_id 12 is not in vocabulary 'coco'"
    if case == 'duplicate annotation id':
        anns[7]['id'] = anns[2]['id']
        return rf"annotations\[7\] \(id={anns[2]['id']}\): field 'id': duplicate id"
    if case == 'duplicate image id':
        images[5]['id'] = images[1]['id']
        return rf"images\[5\] \(id={images[1]['id']}\): field 'id': duplicate id"
    if case == 'unknown image':
        anns[7]['image_id'] = 999999999
        return r"annotations\[7\] .*field 'image_id': image_id 999999999 is not in the file's images"
    raise AssertionError(case)


@pytest.mark.parametrize('case', ['missing key', 'non-positive box', 'unknown category',
                                  'category not in vocabulary', 'duplicate annotation id',
                                  'duplicate image id', 'unknown image'])
def test_bad_input_stops_before_writing(coco_root, case, capsys):
    val_file = coco_root / 'annotations' / 'instances_val2017.json'
    data = json.loads(val_file.read_text())
    pattern = _corrupt(data, case)
    val_file.write_text(json.dumps(data))
    before = files_under(coco_root)
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 1
    err = capsys.readouterr().err
    assert 'instances_val2017.json' in err and 'nothing was written' in err
    assert re.search(pattern, err), err
    assert files_under(coco_root) == before  # not even the (valid) train output


def test_malformed_json_and_missing_input(coco_root, capsys):
    val_file = coco_root / 'annotations' / 'instances_val2017.json'
    val_file.write_text(val_file.read_text()[:5000])
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 1
    assert 'instances_val2017.json: malformed JSON at line 1 column' in capsys.readouterr().err
    val_file.unlink()
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 1
    assert 'instances_val2017.json: file not found (COCO 2017 val instances)' in capsys.readouterr().err
    assert files_under(coco_root) == ['annotations/instances_train2017.json']


def test_drop_bad_boxes_option(coco_root, capsys):
    val_file = coco_root / 'annotations' / 'instances_val2017.json'
    data = json.loads(val_file.read_text())
    data['annotations'][0]['bbox'][2] = -1
    val_file.write_text(json.dumps(data))
    assert main(['prepare', 'coco-ov', '--root', str(coco_root), '--drop-bad-boxes']) == 0
    assert 'bad box' in capsys.readouterr().out


def test_check_images(coco_root, capsys):
    data = json.loads((coco_root / 'annotations' / 'instances_val2017.json').read_text())
    for split in ('train2017', 'val2017'):
        (coco_root / split).mkdir()
        for im in data['images']:
            (coco_root / split / im['file_name']).write_bytes(b'')
    (coco_root / 'val2017' / data['images'][42]['file_name']).unlink()
    assert main(['prepare', 'coco-ov', '--root', str(coco_root), '--check-images']) == 1
    err = capsys.readouterr().err
    assert f"images[42] (id={data['images'][42]['id']}): field 'file_name': image file not found" in err
    (coco_root / 'val2017' / data['images'][42]['file_name']).write_bytes(b'')
    assert main(['prepare', 'coco-ov', '--root', str(coco_root), '--check-images']) == 0


def test_lvis_ov_and_minival(tmp_path, capsys):
    root = tmp_path / 'lvis'
    (root / 'annotations').mkdir(parents=True)
    facts = lvis_v1_file(root / 'annotations' / 'lvis_v1_train.json')
    shutil.copy(root / 'annotations' / 'lvis_v1_train.json', root / 'annotations' / 'lvis_v1_val.json')
    assert main(['prepare', 'lvis-ov', '--root', str(root)]) == 0
    out = json.loads((root / 'annotations' / 'lvis_v1_train_ov_base.json').read_text())
    assert len(out['images']) == 4 and len(out['categories']) == 1203
    assert [a['id'] for a in out['annotations']] == [2, 3, 5, 6, 7]  # the two rare boxes are gone
    ds = OVLVISDataset(ann_file=str(root / 'annotations' / 'lvis_v1_train_ov_base.json'),
                       category_split='base', pipeline=[])
    assert ds.load_stats['boxes'] == 5 and ds.load_stats['dropped_other_split'] == 0

    assert main(['prepare', 'lvis-minival', '--root', str(root)]) == 0
    minival = json.loads((root / 'annotations' / 'lvis_v1_minival.json').read_text())
    assert [im['id'] for im in minival['images']] == [101, 103]
    assert [a['id'] for a in minival['annotations']] == [3, 4, 7]
    ds = LVISV1Dataset(ann_file=str(root / 'annotations' / 'lvis_v1_minival.json'), pipeline=[])
    assert len(ds) == 2 and ds.load_stats['boxes'] == 3
    assert ds.get_data_info(0)['neg_category_ids'] == [facts['rare'], 2]

    # Same split from a COCO train2017 file's image ids.
    coco_train = tmp_path / 'instances_train2017.json'
    coco_train.write_text(json.dumps({
        'images': [dict(id=i, file_name=f'{i:012d}.jpg', height=480, width=640) for i in (100, 102)],
        'annotations': [], 'categories': []}))
    (root / 'annotations' / 'lvis_v1_minival.json').unlink()
    assert main(['prepare', 'lvis-minival', '--root', str(root), '--coco-train-ann', str(coco_train)]) == 0
    assert json.loads((root / 'annotations' / 'lvis_v1_minival.json').read_text()) == minival


def test_objects365_v2(tmp_path, capsys):
    root = tmp_path / 'objects365'
    (root / 'annotations').mkdir(parents=True)
    objects365_file(root / 'annotations' / 'zhiyuan_objv2_train.json')
    objects365_file(root / 'annotations' / 'zhiyuan_objv2_val.json')
    with pytest.warns(UserWarning, match='removed 1 images missing from the Objects365 release'):
        assert main(['prepare', 'objects365', '--root', str(root)]) == 0
    out = json.loads((root / 'annotations' / 'objects365_v2_train_ovd.json').read_text())
    assert [im['file_name'] for im in out['images']] == ['patch0/objects365_v1_00000001.jpg',
                                                         'patch16/objects365_v2_00900001.jpg']
    assert [a['id'] for a in out['annotations']] == [1, 2, 4]
    # the release's names as written (what mmdet's Objects365V2Dataset matches), ovd's fix beside them
    cats = {c['id']: c for c in out['categories']}
    assert (cats[38]['name'], cats[38]['display_name']) == ('Moniter/TV', 'Monitor/TV')
    assert (cats[1]['name'], cats[1]['display_name']) == ('Person ', 'Person')
    assert 'display_name' not in cats[2] and [c['id'] for c in out['categories']] == list(range(1, 366))
    with warnings_as_errors():
        ds = Objects365V2Dataset(ann_file=str(root / 'annotations' / 'objects365_v2_train_ovd.json'),
                                 data_prefix=dict(img='train/'), pipeline=[])
    assert len(ds) == 2 and ds.load_stats['boxes'] == 3
    assert ds.get_data_info(0)['img_path'] == 'train/patch0/objects365_v1_00000001.jpg'

    # --check-images: the known missing image may be absent, any other may not.
    for name in ('patch0/objects365_v1_00000001.jpg', 'patch16/objects365_v2_00900001.jpg'):
        for split in ('train', 'val'):
            (root / split / name).parent.mkdir(parents=True, exist_ok=True)
            (root / split / name).write_bytes(b'')
    with pytest.warns(UserWarning):
        assert main(['prepare', 'objects365', '--root', str(root), '--check-images']) == 0
    (root / 'val' / 'patch16/objects365_v2_00900001.jpg').unlink()
    with pytest.warns(UserWarning, match='removed 1 images'):  # the train split, checked first, is fine
        assert main(['prepare', 'objects365', '--root', str(root), '--check-images']) == 1
    assert "zhiyuan_objv2_val.json: images[1] (id=2): field 'file_name': image file not found" in \
        capsys.readouterr().err


def test_objects365_v1_and_wrong_version(tmp_path, capsys):
    root = tmp_path / 'objects365'
    (root / 'annotations').mkdir(parents=True)
    source = objects365_file(root / 'annotations' / 'objects365_train.json', version='v1')
    with pytest.warns(UserWarning, match='removed 1 images missing .*: obj365_train_000000000006.jpg'):
        assert main(['prepare', 'objects365', '--root', str(root), '--version', 'v1', '--splits', 'train']) == 0
    out = json.loads((root / 'annotations' / 'objects365_v1_train_ovd.json').read_text())
    assert [im['id'] for im in out['images']] == [1, 2] and [a['id'] for a in out['annotations']] == [1, 2, 4]
    cats = {c['id']: c for c in out['categories']}
    assert (cats[159]['name'], cats[159]['display_name']) == ('tissue ', 'tissue')  # the release's name kept
    assert [c['id'] for c in out['categories']] == list(range(1, 366))  # sorted; the release's order is not
    assert (out['type'], out['info']) == (source['type'], source['info'])  # v1's extra keys kept
    # --check-images: the three v1 train images missing from the release may be absent, no other may
    for image in out['images']:
        (root / 'train' / image['file_name']).parent.mkdir(parents=True, exist_ok=True)
        (root / 'train' / image['file_name']).write_bytes(b'')
    with pytest.warns(UserWarning, match='removed 1 images'):
        assert main(['prepare', 'objects365', '--root', str(root), '--version', 'v1', '--splits', 'train',
                     '--check-images', '--force']) == 0
    (root / 'train' / 'obj365_train_000000000002.jpg').unlink()
    assert main(['prepare', 'objects365', '--root', str(root), '--version', 'v1', '--splits', 'train',
                 '--check-images', '--force']) == 1
    assert "images[1] (id=2): field 'file_name': image file not found" in capsys.readouterr().err
    # A v1 file where v2 is expected is caught by the category names.
    shutil.copy(root / 'annotations' / 'objects365_train.json', root / 'annotations' / 'zhiyuan_objv2_val.json')
    assert main(['prepare', 'objects365', '--root', str(root), '--splits', 'val']) == 1
    assert "categories[0] (id=%d): field 'name'" % source['categories'][0]['id'] in capsys.readouterr().err


def test_preparer_table_is_the_cli(capsys):
    assert set(PREPARERS) >= {'coco-ov', 'lvis-ov', 'lvis-minival', 'objects365'}
    with pytest.raises(SystemExit):
        main(['prepare', '--help'])
    out = capsys.readouterr().out
    assert all(name in out for name in PREPARERS)


class warnings_as_errors:
    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter('error', UserWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
