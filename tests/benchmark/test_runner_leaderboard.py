"""Leaderboard CSVs from run records: metric mapping, deduplication, deltas against paper rows, reference CSV
checks, and concurrent builds while records appear (no corrupted or duplicated rows)."""
import csv
import multiprocessing as mp
import time

import pytest

from ovd.fileio import atomic_write_json
from ovd.benchmark.leaderboard import build_leaderboard, read_table_csv
from ovd.benchmark.run_records import SCHEMA, RecordError, load_records, validate_record
from ovd.evaluation.metric_names import column_for, normalize_metrics, protocol_of_evaluator
from ovd.benchmark.references import ReferenceError, load_references

REF_HEADER = 'ref_id,method,variant,protocol,metric,value,backbone,training_data,config,citation,note\n'


def record(run_id: str, protocol: str, metrics: dict, finished_at: float = 1.0, **extra) -> dict:
    rec = dict(schema=SCHEMA, run_id=run_id, method=extra.pop('method', 'glip'), protocol=protocol,
               metrics=metrics, status='done', finished_at=finished_at, seed=0, experiment='exp',
               eval_config={'path': extra.pop('eval_config', 'configs/x.py')},
               checkpoint={'path': 'a.pth', 'sha256': 'ab' * 32})
    rec.update(extra)
    return rec


def write_records(root, records):
    for i, rec in enumerate(records):
        atomic_write_json(root / f'entry{i}' / 'records' / f'{rec["protocol"]}.json', rec)


@pytest.mark.parametrize('key, protocol, column', [
    ('coco/bbox_mAP', 'coco', 'AP'), ('coco/bbox_mAP_50', 'coco', 'AP50'), ('coco/bbox_mAP_s', 'coco', 'APs'),
    ('coco/bbox_AP50', 'coco', 'AP50'), ('objects365/bbox_APl', 'objects365', 'APl'),
    ('lvis/bbox_APr', 'lvis', 'APr'), ('lvis-fixed/bbox_AP', 'lvis-fixed', 'AP'), ('lvis/segm_APf', 'lvis', 'mask_APf'),
    ('lvis_fixed_ap/APc', 'lvis-fixed', 'APc'), ('lvis/bbox_AP50_novel', 'lvis', 'AP50_novel'),
    ('ov-coco-65/bbox_AP50_novel', 'ov-coco-65', 'AP50_novel'), ('ov-coco-80/bbox_AP50_all', 'ov-coco-80', 'AP50_all'),
    ('flickr30k-any-box/R@5', 'flickr30k-any-box', 'R@5'),
    ('flickr30k/flickr30k-any-box/R@1', 'flickr30k-any-box', 'R@1'),
    ('flickr30k-any-box/people/R@1', 'flickr30k-any-box', ''), ('flickr30k-any-box/UB', 'flickr30k-any-box', ''),
    ('coco/bbox_AR@100', 'coco', ''), ('coco/bbox_mAP_copypaste', 'coco', ''), ('loss', 'coco', ''),
    ('lvis/bbox_APs', 'lvis', ''), ('ov-coco-65/segm_AP50_novel', 'ov-coco-65', ''),
])
def test_metric_keys_map_to_columns_by_table(key, protocol, column):
    assert column_for(key, protocol) == column


def test_normalize_scales_fractions_and_drops_uncomputable():
    raw = {'coco/bbox_mAP': 0.1234, 'coco/bbox_mAP_50': 0.5, 'coco/bbox_mAP_l': -1.0, 'coco/bbox_mAP_copypaste': 3}
    assert normalize_metrics(raw, 'coco') == {'AP': 12.34, 'AP50': 50.0}
    assert normalize_metrics({'lvis/bbox_APr': 17.6}, 'lvis-fixed', 'percent') == {'APr': 17.6}
    assert normalize_metrics({'flickr30k-any-box/R@1': 0.5}, 'lvis') == {}  # not an LVIS column


def test_protocol_read_off_the_test_evaluator():
    assert protocol_of_evaluator(dict(type='CocoMetric')) == 'coco'
    assert protocol_of_evaluator([dict(type='OVDetectionMetric', protocol='ov-coco-65')]) == 'ov-coco-65'
    assert protocol_of_evaluator(dict(type='Flickr30kRecallMetric', protocol='merged-box')) == 'flickr30k-merged-box'
    assert protocol_of_evaluator(dict(type='SomethingElse')) == ''


def test_record_validation_names_file_and_field(tmp_path):
    good = record('s/e/lvis', 'lvis', {'AP': 1.0})
    assert validate_record(good, 'x.json') is good
    with pytest.raises(RecordError, match=r"x.json: missing field 'seed'"):
        validate_record({k: v for k, v in good.items() if k != 'seed'}, 'x.json')
    with pytest.raises(RecordError, match=r"x.json: field 'metrics.AP' is not a number"):
        validate_record(dict(good, metrics={'AP': 'high'}), 'x.json')
    bad = tmp_path / 'records' / 'b.json'
    bad.parent.mkdir()
    bad.write_text('{"schema": ')
    with pytest.raises(RecordError, match='b.json: not valid JSON'):
        load_records([str(bad)])
    records, problems = load_records([str(bad)], strict=False)
    assert records == [] and 'b.json' in problems[0]


def test_tables_rows_deltas_and_dedupe(tmp_path):
    refs = tmp_path / 'refs.csv'
    refs.write_text(REF_HEADER +
                    'ref-a,glip,GLIP-T,lvis-fixed,APr,17.6,Swin-T,O365,configs/glip/lvis.py,"Li et al., 2022",\n'
                    'ref-a,glip,GLIP-T,lvis-fixed,AP,26.0,Swin-T,O365,configs/glip/lvis.py,"Li et al., 2022",\n'
                    'ref-b,baron,BARON,ov-coco-80,AP50_novel,34.0,R50,COCO base,,"Wu et al., 2023",\n')
    root = tmp_path / 'sweep'
    write_records(root, [
        # matched to ref-a through its eval config: deltas 18.6-17.6 and 25.5-26.0
        record('s/glip/lvis', 'lvis-fixed', {'APr': 18.6, 'AP': 25.5, 'APc': 24.0}, eval_config='configs/glip/lvis.py'),
        # an older record of the same run: dropped, the newer one is kept
        record('s/glip/lvis', 'lvis-fixed', {'APr': 1.0, 'AP': 1.0}, finished_at=0.5,
               eval_config='configs/glip/lvis.py'),
        # linked by name; only AP50_novel has a paper value
        record('s/baron/ovcoco', 'ov-coco-80', {'AP50_novel': 30.25, 'AP50_base': 50.0}, method='baron',
               reference='ref-b'),
    ])
    board = build_leaderboard([str(root)], str(tmp_path / 'out'), references=str(refs), strict=True)
    assert board.records == 2 and board.duplicates == 1
    lvis = read_table_csv(str(tmp_path / 'out' / 'leaderboard_lvis.csv'))
    assert [(r['source'], r['variant']) for r in lvis] == [('paper', 'GLIP-T'), ('ours', 'exp')]
    ours = lvis[1]
    assert (ours['APr'], ours['AP'], ours['APc'], ours['delta_APr'], ours['delta_AP']) == \
        ('18.60', '25.50', '24.00', '1.00', '-0.50')
    assert ours['protocol'] == 'fixed' and ours['reference'] == 'ref-a' and ours['checkpoint_sha256'] == 'ab' * 6
    assert lvis[0]['citation'] == 'Li et al., 2022' and lvis[0]['APr'] == '17.60'
    ov = read_table_csv(str(tmp_path / 'out' / 'leaderboard_ov_coco.csv'))
    ours = next(r for r in ov if r['source'] == 'ours')
    assert ours['delta_AP50_novel'] == '-3.75' and ours['delta_AP50_base'] == ''
    with open(tmp_path / 'out' / 'leaderboard_flickr30k.csv') as f:
        header = next(csv.reader(f))
    assert header[:6] == ['source', 'method', 'variant', 'protocol', 'dataset', 'training_data']
    assert {'R@1', 'R@5', 'R@10', 'delta_R@1'} <= set(header)


@pytest.mark.parametrize('line, message', [
    ('r,m,v,lvis,APx,1,b,t,,cite,\n', "field 'metric' is 'APx', not a lvis column"),
    ('r,m,v,lvis,APr,high,b,t,,cite,\n', "field 'value' is not a number: 'high'"),
    ('r,m,v,lvis-std,APr,1,b,t,,cite,\n', "field 'protocol' is 'lvis-std'"),
    ('r,m,v,lvis,APr,1,b,t,,,\n', "field 'citation' is empty"),
    ('r,m,v,lvis,APr,1,b,t,,cite,\nr,m,v,lvis,APr,2,b,t,,cite,\n', "'r' gives 'APr' twice"),
    ('r,m,v,lvis,APr,1,b,t,,cite,\nr,m,v2,lvis,AP,2,b,t,,cite,\n', "field 'variant' is 'v2'"),
    ('r,m,v,lvis,APr,1,b,t,,cite,a note, with a comma\n', '12 fields, the header has 11'),
])
def test_reference_csv_errors(tmp_path, line, message):
    path = tmp_path / 'refs.csv'
    path.write_text(REF_HEADER + line)
    with pytest.raises(ReferenceError) as err:
        load_references(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_shipped_reference_results_load(repo_root):
    refs = load_references(str(repo_root / 'benchmarks' / 'reference_results.csv'))
    assert refs['mdetr-r101-flickr30k-any'].metrics == {'R@1': 83.4, 'R@5': 93.5, 'R@10': 95.3}
    assert refs['baron-kd-ens-lvis'].metrics == {'mask_APr': 19.2, 'mask_AP': 26.5}
    assert refs['glip-t-coco-zeroshot'].metrics == {'AP': 46.6}
    assert all(r.citation for r in refs.values())
    assert refs['baron-kd-r50fpn-ovcoco'].notes[0].endswith('(ovdet #11 #24)')  # quoted note kept whole


def test_shipped_reference_configs_exist_and_declare_the_protocol(repo_root):
    """Our runs of a config get the delta against its paper row only if the row names the config."""
    from ovd.benchmark.spec import _detect_protocol
    refs = load_references(str(repo_root / 'benchmarks' / 'reference_results.csv'))
    with_config = [r for r in refs.values() if r.config]
    assert len(with_config) >= 20
    for ref in with_config:
        assert (repo_root / ref.config).is_file(), ref.config
        assert _detect_protocol(ref.config, [repo_root], ref.ref_id) == ref.protocol, ref.ref_id


def _finish_job_and_build(args):
    root, out, i = args
    rec = record(f's/e{i}/coco', 'coco', {'AP': float(i)}, finished_at=time.time())
    atomic_write_json(f'{root}/e{i}/records/coco.json', rec)
    for _ in range(3):
        build_leaderboard([root], out, references=None, include_references=False)
    return i


def test_concurrent_builds_never_corrupt_or_duplicate(tmp_path):
    root, out = str(tmp_path / 'sweep'), str(tmp_path / 'board')
    ctx = mp.get_context('fork')
    with ctx.Pool(6) as pool:
        pending = pool.map_async(_finish_job_and_build, [(root, out, i) for i in range(12)])
        seen = 0
        while not pending.ready():  # readers meanwhile only ever see whole files
            try:
                rows = read_table_csv(f'{out}/leaderboard_coco.csv')
            except FileNotFoundError:
                continue
            assert all(r['source'] == 'ours' and r['AP'] != '' for r in rows)
            assert len({r['run_id'] for r in rows}) == len(rows)
            seen += 1
        pending.get()
    build_leaderboard([root], out, include_references=False)
    rows = read_table_csv(f'{out}/leaderboard_coco.csv')
    assert sorted(r['run_id'] for r in rows) == sorted(f's/e{i}/coco' for i in range(12))


def _write_then_build(args):
    root, out, round_no, i, barrier = args
    barrier.wait()  # every process of the round finishes its job at the same moment
    rec = record(f's/r{round_no}e{i}/coco', 'coco', {'AP': float(i)}, finished_at=time.time())
    atomic_write_json(f'{root}/r{round_no}e{i}/records/coco.json', rec)
    build_leaderboard([root], out, references=None, include_references=False)


def test_concurrent_finishing_jobs_lose_no_row(tmp_path):
    """What every finishing job does (write its record, rebuild the leaderboard), 8 at once, several rounds:
    after each round the CSV has exactly one row per record, with no final rebuild to hide a lost row."""
    root, out = str(tmp_path / 'sweep'), str(tmp_path / 'board')
    ctx = mp.get_context('fork')
    workers = 8
    for round_no in range(4):
        barrier = ctx.Barrier(workers)
        procs = [ctx.Process(target=_write_then_build, args=((root, out, round_no, i, barrier),))
                 for i in range(workers)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        rows = read_table_csv(f'{out}/leaderboard_coco.csv')
        expected = sorted(f's/r{r}e{i}/coco' for r in range(round_no + 1) for i in range(workers))
        assert sorted(r['run_id'] for r in rows) == expected, f'round {round_no}: {len(rows)} rows'
