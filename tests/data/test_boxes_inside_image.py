"""``ovd prepare`` refuses boxes outside their image (or drops and counts them with ``--drop-bad-boxes``) for
COCO-format files (COCO, LVIS, Objects365) and Flickr30k Entities, naming file, record and field; boxes that
reach past the border by float rounding (up to ``BOX_BORDER_TOLERANCE``) and the real fixtures pass."""
import json
import re

import pytest
from det_data_builders import objects365_file

from ovd.cli import main
from ovd.data.coco_index import load_coco_index
from ovd.data.prepare.flickr30k import OUTPUT_DIR
from ovd.data.synthetic import generate_flickr30k
from ovd.data.validation import BOX_BORDER_TOLERANCE, validate_coco_index
from ovd.data.vocab import get_vocabulary

COCO = 'coco_instances_val2014_100.json'


def _report_cell(report: str, split: str, column: str) -> str:
    """One cell of `ovd prepare`'s counts table."""
    header = next(line for line in report.splitlines() if column in line)
    row = next(line for line in report.splitlines() if re.match(rf'^│ {split}\b', line))
    return [c.strip() for c in row.split('│')][[c.strip() for c in header.split('┃')].index(column)]


def _image_of(data, ann):
    return next(im for im in data['images'] if im['id'] == ann['image_id'])


@pytest.mark.parametrize('fixture, vocab', [(COCO, 'coco'), ('lvis_v0.5_val_100.json', None)])
def test_real_files_pass(fixtures_dir, fixture, vocab):
    index = load_coco_index(fixtures_dir / fixture)
    checked = validate_coco_index(index, get_vocabulary(vocab) if vocab else None, require_inside=True)
    assert checked.good_box.all()


def test_coco_box_outside_is_refused_naming_file_record_field(coco_root, capsys):
    val_file = coco_root / 'annotations' / 'instances_val2017.json'
    data = json.loads(val_file.read_text())
    ann = data['annotations'][7]
    image = _image_of(data, ann)
    ann['bbox'] = [image['width'] + 50, image['height'] + 50, 20, 20]  # entirely beyond the bottom right
    val_file.write_text(json.dumps(data))
    before = sorted(p.name for p in coco_root.rglob('*'))
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 1
    err = capsys.readouterr().err
    assert re.search(rf"instances_val2017.json: annotations\[7\] \(id={ann['id']}\): field 'bbox': box .* reaches "
                     rf"outside its image \(image_id {image['id']}: {image['width']}x{image['height']}", err), err
    assert '--drop-bad-boxes' in err and 'nothing was written' in err
    assert sorted(p.name for p in coco_root.rglob('*')) == before


def test_coco_drop_bad_boxes_drops_and_counts(coco_root, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '250')  # one header line, for _report_cell
    val_file = coco_root / 'annotations' / 'instances_val2017.json'
    data = json.loads(val_file.read_text())
    for i in (3, 9):  # one box hanging off the right edge, one at negative y
        ann = data['annotations'][i]
        image = _image_of(data, ann)
        ann['bbox'] = [image['width'] - 5, 10, 40, 10] if i == 3 else [5, -30, 10, 40]
    val_file.write_text(json.dumps(data))
    assert main(['prepare', 'coco-ov', '--root', str(coco_root), '--drop-bad-boxes']) == 0
    out = capsys.readouterr().out
    val = json.loads((coco_root / 'annotations' / 'instances_val2017_ov65.json').read_text())
    kept = {a['id'] for a in val['annotations']}
    assert data['annotations'][3]['id'] not in kept and data['annotations'][9]['id'] not in kept
    assert _report_cell(out, 'val', 'dropped: bad box') == '2', out


def test_rounding_past_the_border_is_tolerated(coco_root, capsys):
    val_file = coco_root / 'annotations' / 'instances_val2017.json'
    data = json.loads(val_file.read_text())
    ann = data['annotations'][7]
    image = _image_of(data, ann)
    ann['bbox'] = [-0.4, 1.0, image['width'] + 0.3, image['height'] - 1 + BOX_BORDER_TOLERANCE]
    val_file.write_text(json.dumps(data))
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 0
    ann['bbox'] = [0.0, 1.0, image['width'] + BOX_BORDER_TOLERANCE + 0.5, 10.0]
    val_file.write_text(json.dumps(data))
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 1
    assert "field 'bbox'" in capsys.readouterr().err


def test_dataset_loading_keeps_mmdets_rule(fixtures_dir, tmp_path):
    """The dataset classes are not stricter than mmdet: a box partly outside is kept (clipped later)."""
    from ovd.data.datasets import OVCocoDataset
    data = json.loads((fixtures_dir / COCO).read_text())
    ann = data['annotations'][0]
    image = _image_of(data, ann)
    ann['bbox'] = [image['width'] - 10, 0, 40, 10]
    (tmp_path / 'a.json').write_text(json.dumps(data))
    ds = OVCocoDataset(ann_file=str(tmp_path / 'a.json'), unknown_categories='drop', test_mode=True, pipeline=[])
    assert ds.load_stats['dropped_bad_box'] == 0


def test_objects365_box_outside(tmp_path, capsys):
    root = tmp_path / 'objects365'
    (root / 'annotations').mkdir(parents=True)
    objects365_file(root / 'annotations' / 'zhiyuan_objv2_train.json')
    data = objects365_file(root / 'annotations' / 'zhiyuan_objv2_val.json')
    data['annotations'][1]['bbox'] = [218, 211, 20, 20]
    data['images'][1].update(width=168, height=161)  # the example of the issue
    (root / 'annotations' / 'zhiyuan_objv2_val.json').write_text(json.dumps(data))
    with pytest.warns(UserWarning):
        assert main(['prepare', 'objects365', '--root', str(root)]) == 1
    err = capsys.readouterr().err
    assert "zhiyuan_objv2_val.json: annotations[1] (id=2): field 'bbox': box [x, y, w, h] = [218, 211, 20, 20] " \
        'reaches outside its image (image_id 2: 168x161' in err
    with pytest.warns(UserWarning):
        assert main(['prepare', 'objects365', '--root', str(root), '--drop-bad-boxes']) == 0
    val = json.loads((root / 'annotations' / 'objects365_v2_val_ovd.json').read_text())
    assert 2 not in [a['id'] for a in val['annotations']]


def _flickr_box(root, split):
    image_id = (root / f'{split}.txt').read_text().split()[0]
    xml = root / 'Annotations' / f'{image_id}.xml'
    text = xml.read_text()
    width = int(re.search(r'<width>(\d+)</width>', text).group(1))
    return xml, text, width


def test_flickr30k_box_outside(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '250')  # one header line, for _report_cell
    generate_flickr30k(tmp_path, splits={'train': 2, 'val': 2, 'test': 2}, seed=7)
    xml, text, width = _flickr_box(tmp_path, 'val')
    assert main(['prepare', 'flickr30k', '--root', str(tmp_path)]) == 0  # the clean synthetic release passes
    capsys.readouterr()
    xml.write_text(re.sub(r'<xmax>\d+</xmax>', '<xmax>9132</xmax>', text, count=1))
    assert main(['prepare', 'flickr30k', '--root', str(tmp_path), '--force']) == 1
    err = capsys.readouterr().err
    assert re.search(rf"{xml.name}: object \d+: field 'bndbox': box reaches outside the {width}x\d+ image: "
                     r'xmin..xmax, ymin..ymax = \d+..9132', err), err
    assert 'nothing was written' in err
    assert main(['prepare', 'flickr30k', '--root', str(tmp_path), '--force', '--drop-bad-boxes']) == 0
    # one box dropped and counted in the report
    assert _report_cell(capsys.readouterr().out, 'val', 'dropped: bad boxes') == '1'
    # a box ending on the last pixel (xmax == width, 1-based inclusive) is inside
    xml.write_text(re.sub(r'<xmax>\d+</xmax>', f'<xmax>{width}</xmax>', text, count=1))
    assert main(['prepare', 'flickr30k', '--root', str(tmp_path), '--force']) == 0
    assert (tmp_path / OUTPUT_DIR).is_dir()


def test_prepare_report_fits_80_columns(coco_root, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '80')
    assert main(['prepare', 'coco-ov', '--root', str(coco_root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = [line for line in lines if line[:1] in '┏┃┡│└']
    assert table and max(len(line) for line in table) <= 80
    # the output paths, too long for the table, are listed whole below it
    for split, name in (('train', 'instances_train2017_ov_base.json'), ('val', 'instances_val2017_ov65.json')):
        assert f'{split}: {coco_root / "annotations" / name}' in lines
