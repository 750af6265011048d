"""The probe table of docs/bad_inputs.md, run: each bad input gives its one-line error (file, record, field), the
documented exit status, no traceback, and leaves every file as it was. The table and this file list the same
probes, so the document stays true."""
import json
import re
import shutil
from pathlib import Path

import pytest

from ovd.cli import main

DOC = Path(__file__).resolve().parents[2] / 'docs' / 'bad_inputs.md'
SMOKE = 'configs/smoke/faster-rcnn_r18_tiny_synth-coco.py'
EXPERIMENTS = ('experiments:\n'
               f'  - {{name: a, method: smoke, train: {SMOKE}, evaluate: [{{protocol: coco}}]}}\n'
               f'  - {{name: b, method: smoke, train: {SMOKE}, evaluate: [{{protocol: coco}}]}}\n')
SPEC = 'name: probe\nroot: sw\n' + EXPERIMENTS
REF_HEADER = 'ref_id,method,variant,protocol,metric,value,backbone,training_data,config,citation,note\n'


def doc_rows():
    rows = {}
    for line in DOC.read_text(encoding='utf-8').splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 5 and re.fullmatch(r'[a-z][a-z0-9-]+', cells[0]) and cells[0] != 'probe':
            rows[cells[0]] = (cells[1].strip('`'), int(cells[3]), cells[4].strip('`'))
    return rows


# -- inputs --------------------------------------------------------------------------------------------------
def spec(d: Path, text: str) -> None:
    (d / 'spec.yaml').write_text(text)


def alias_bomb() -> str:
    """Nine levels of nine aliases under a key the spec loader walks (~700 bytes, 9**9 leaves expanded)."""
    lines = ['name: probe', 'description:', '  - &a0 [x, x, x, x, x, x, x, x, x]']
    for i in range(1, 9):
        lines.append(f'  - &a{i} [' + ', '.join([f'*a{i - 1}'] * 9) + ']')
    return '\n'.join(lines) + '\n' + EXPERIMENTS


def sweep_entries(d: Path):
    from ovd.benchmark.spec import load_spec
    from ovd.benchmark.state import EntryDir
    spec(d, SPEC)
    sweep = load_spec('spec.yaml')
    dirs = [EntryDir(sweep.root, e.id) for e in sweep.entries]
    for e, edir in zip(sweep.entries, dirs):
        edir.write_entry(e)
    assert [e.id for e in sweep.entries] == ['a-s0', 'b-s0']
    return dirs


def run_record(d: Path, **changes) -> Path:
    rec = dict(schema='ovd.run_record/1', run_id='probe/e/coco', method='smoke', protocol='coco',
               metrics={'AP': 12.5}, status='done', finished_at=1.0, seed=0)
    rec.update(changes)
    path = d / 'sw' / 'e' / 'records' / 'coco.json'
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rec))
    return path


def refs(d: Path, body: bytes) -> None:
    run_record(d)
    (d / 'refs.csv').write_bytes(body)


def coco_gt(d: Path, pred=None, **changes):
    gt = dict(images=[dict(id=1, height=20, width=30)], categories=[dict(id=1, name='cat')],
              annotations=[dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 5, 5], area=25, iscrowd=0)])
    for key, value in changes.items():
        gt[key] = value
    (d / 'gt.json').write_text(json.dumps(gt))
    pred = pred or [dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5], score=0.9)]
    (d / 'pred.json').write_text(json.dumps(pred))
    return gt


def coco_root(d: Path, fixtures_dir: Path, image_field: str, value: float) -> None:
    ann = d / 'coco' / 'annotations'
    ann.mkdir(parents=True)
    data = json.loads((fixtures_dir / 'coco_instances_val2014_100.json').read_text())
    shutil.copy(fixtures_dir / 'coco_instances_val2014_100.json', ann / 'instances_train2017.json')
    data['images'][0][image_field] = value
    (ann / 'instances_val2017.json').write_text(json.dumps(data))


def lvis_root(d: Path, change) -> None:
    from ovd.data.vocab import get_vocabulary
    vocab = get_vocabulary('lvis_v1')
    cats = [dict(id=c.id, name=c.name, synonyms=list(c.synonyms), frequency=c.frequency, synset='x.n.01')
            for c in vocab]
    images = [dict(id=100, height=480, width=640, neg_category_ids=[], not_exhaustive_category_ids=[],
                   coco_url='http://images.cocodataset.org/train2017/000000000100.jpg')]
    anns = [dict(id=1, image_id=100, category_id=cats[0]['id'], bbox=[10.0, 20.0, 30.0, 40.0], area=1200.0)]
    data = dict(images=images, annotations=anns, categories=cats)
    change(data)
    path = d / 'lvis' / 'annotations' / 'lvis_v1_train.json'
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))


def _frequency_z(data):
    data['categories'][0]['frequency'] = 'z'


def _neg_unknown(data):
    data['images'][0]['neg_category_ids'] = [99999]


LVIS_CATS = [dict(id=1, name='cat', frequency='r'), dict(id=2, name='dog', frequency='f')]

# probe -> builds its input in the (current) folder; the command comes from the table
PROBES = {
    'sweep-name-dotdot': lambda d, fx: spec(d, "name: '..'\n" + EXPERIMENTS),
    'sweep-name-slash': lambda d, fx: spec(d, 'name: a/b\n' + EXPERIMENTS),
    'sweep-name-hidden': lambda d, fx: spec(d, 'name: .hidden\n' + EXPERIMENTS),
    'yaml-alias-bomb': lambda d, fx: spec(d, alias_bomb()),
    'yaml-duplicate-key': lambda d, fx: spec(d, 'name: a\nname: b\n' + EXPERIMENTS),
    'yaml-malformed': lambda d, fx: spec(d, 'name: [\n'),
    'yaml-not-utf8': lambda d, fx: (d / 'spec.yaml').write_bytes(b'name: \xff\n'),
    'spec-is-folder': lambda d, fx: (d / 'spec.yaml').mkdir(),
    'slurm-time-banana': lambda d, fx: spec(d, 'name: p\ndefaults: {resources: {time: banana}}\n' + EXPERIMENTS),
    'yaml-base60-time': lambda d, fx: spec(d, 'name: p\ndefaults: {resources: {time: 1:30:00}}\n' + EXPERIMENTS),
    'workers-zero': lambda d, fx: spec(d, SPEC),
    'entry-json-truncated': lambda d, fx: sweep_entries(d)[0].entry_file.write_text('{"id": "a-s0", "hash'),
    'status-json-folder': lambda d, fx: sweep_entries(d)[0].status_file.mkdir(),
    'lb-missing-folder': lambda d, fx: None,
    'lb-record-truncated': lambda d, fx: run_record(d).write_text('{"schema": "ovd.run'),
    'lb-record-not-utf8': lambda d, fx: run_record(d).write_bytes(b'{"schema": "\xff"}'),
    'lb-record-unknown-protocol': lambda d, fx: run_record(d, protocol='coco-typo'),
    'lb-record-nan-metric': lambda d, fx: run_record(d, metrics={'AP': float('nan')}),
    'lb-references-not-utf8': lambda d, fx: refs(d, REF_HEADER.encode() + b'a,glip,\xff\n'),
    'lb-references-folder': lambda d, fx: (run_record(d), (d / 'refs.csv').mkdir()),
    'lb-references-nan': lambda d, fx: refs(d, (REF_HEADER + 'r,glip,T,coco,AP,nan,,,,"X, 2022",\n').encode()),
    'lb-out-is-file': lambda d, fx: (run_record(d), (d / 'board').write_text('not a folder')),
    'eval-gt-folder': lambda d, fx: (coco_gt(d), (d / 'gt.json').unlink(), (d / 'gt.json').mkdir()),
    'eval-gt-image-height-nan': lambda d, fx: coco_gt(d, images=[dict(id=1, height=float('nan'), width=30)]),
    'eval-gt-duplicate-ann-id': lambda d, fx: coco_gt(d, annotations=[
        dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 5, 5]),
        dict(id=1, image_id=1, category_id=1, bbox=[2, 2, 5, 5])]),
    'eval-gt-inverted-box': lambda d, fx: coco_gt(d, annotations=[
        dict(id=1, image_id=1, category_id=1, bbox=[10, 10, -5, 8])]),
    'eval-gt-rle-size': lambda d, fx: coco_gt(d, annotations=[
        dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 2, 2], segmentation=dict(size=[5, 5], counts='0'))],
        pred=[dict(image_id=1, category_id=1, score=0.9, segmentation=dict(size=[20, 30], counts='0'))]),
    'eval-lvis-frequency-z': lambda d, fx: coco_gt(d, categories=[dict(id=1, name='cat', frequency='z')],
                                                   images=[dict(id=1, height=20, width=30, neg_category_ids=[],
                                                                not_exhaustive_category_ids=[])]),
    'eval-lvis-neg-unknown': lambda d, fx: coco_gt(d, categories=LVIS_CATS, images=[
        dict(id=1, height=20, width=30, neg_category_ids=[99], not_exhaustive_category_ids=[])]),
    'prepare-image-height-nan': lambda d, fx: coco_root(d, fx, 'height', float('nan')),
    'prepare-image-width-inf': lambda d, fx: coco_root(d, fx, 'width', float('inf')),
    'prepare-lvis-frequency-z': lambda d, fx: lvis_root(d, _frequency_z),
    'prepare-lvis-neg-unknown': lambda d, fx: lvis_root(d, _neg_unknown),
}


def snapshot(root: Path):
    return {str(p.relative_to(root)): (p.is_dir(), p.stat().st_size if p.is_file() else 0, p.stat().st_mtime_ns)
            for p in root.rglob('*')}


def test_doc_table_and_probes_list_the_same_inputs():
    assert sorted(doc_rows()) == sorted(PROBES)


@pytest.mark.parametrize('probe', sorted(PROBES))
def test_bad_input_gives_one_line_error_and_writes_nothing(probe, tmp_path, monkeypatch, capsys, request):
    command, status, expected = doc_rows()[probe]
    fixtures = request.getfixturevalue('fixtures_dir') if probe.startswith('prepare-image') else None
    monkeypatch.chdir(tmp_path)
    PROBES[probe](tmp_path, fixtures)
    argv = command.split()[1:]
    if argv[:2] == ['leaderboard', 'build'] and '--references' not in argv:
        argv.append('--no-references')
    before = snapshot(tmp_path)
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        rc = exit_.code
    err = capsys.readouterr().err
    assert rc == status, err
    assert expected in err, err
    assert 'Traceback' not in err
    if probe != 'lb-record-nan-metric':  # the one probe whose table is written (showing NaN)
        assert snapshot(tmp_path) == before
    else:
        assert 'NaN' in (tmp_path / 'board' / 'leaderboard_coco.csv').read_text()
